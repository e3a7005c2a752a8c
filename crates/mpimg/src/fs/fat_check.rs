//! The numbers of a FAT volume that `fatfs` trusts, checked before it uses
//! them (pure: bytes in, a verdict out).
//!
//! `fatfs` 0.3.6 turns a cluster number into a sector as
//! `first_data_sector + (cluster - 2) * sectors_per_cluster` in `u32`: a
//! cluster number of 0 or 1 (from a directory entry, a FAT entry or the
//! FAT32 root) underflows, and one far past the last cluster overflows
//! (a panic in debug builds, a wild read in release ones). Its boot sector
//! check leaves the active FAT of a FAT32 volume unchecked too, and a FAT
//! too small for the clusters (it only warns). So a volume is refused at
//! mount when its geometry, the FAT32 root cluster or any FAT entry of a
//! data cluster is out of range ([`Geometry::new`], [`Geometry::check_fat`]),
//! and a directory is refused, before `fatfs` opens anything in it, when
//! one of its entries is ([`Geometry::check_dir`]).
//!
//! The layout is Microsoft's FAT specification ("FAT: General Overview of
//! On-Disk Format", 1.03): the BIOS parameter block, FAT entry values, and
//! 32-byte directory entries with long names in entries of attribute 0x0F.

use super::detect::{FatBootSector, FatType};

/// The first cluster number of the data area (0 and 1 are the FAT's own).
const FIRST_CLUSTER: u32 = 2;
/// Size of a directory entry, in bytes.
const DIR_ENTRY: usize = 32;
/// The largest number of clusters FAT32 can number (0x0FFFFFF7 is "bad").
const FAT32_MAX_CLUSTERS: u32 = 0x0FFF_FFF5;

/// Where a FAT volume keeps its parts, in bytes from the partition's start,
/// from a boot sector that passed [`Geometry::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// FAT12, FAT16 or FAT32 (by the number of clusters).
    pub fat_type: FatType,
    /// Where the FAT `fatfs` reads (the first, or FAT32's active one) starts.
    pub fat_start: u64,
    /// Where the fixed root directory starts (FAT12/16; the data area on FAT32).
    pub root_start: u64,
    /// Size of the fixed root directory (0 on FAT32).
    pub root_len: u64,
    /// Where cluster 2 starts.
    pub data_start: u64,
    /// Bytes per cluster.
    pub cluster_size: u64,
    /// Number of data clusters: clusters 2 to `clusters + 1` exist.
    pub clusters: u32,
    /// First cluster of the root directory (FAT32; 0 on FAT12/16).
    pub root_cluster: u32,
}

/// A directory's entries: the fixed root of FAT12/16, or a cluster chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirAt {
    /// The fixed root directory.
    Root,
    /// The chain starting at this cluster.
    Cluster(u32),
}

/// What a FAT entry says of the cluster after one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Free, bad or end of chain: no next cluster.
    None,
    /// This cluster (any other value: `fatfs` follows it).
    Cluster(u32),
}

fn le16(b: &[u8], at: usize) -> u32 {
    u32::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Geometry {
    /// The geometry of the volume whose boot sector is `head` (its first 512
    /// bytes at least) parsed as `boot`, in a partition of `part_size` bytes.
    ///
    /// Errors: what is wrong, for [`super::FsError::Corrupt`]: a volume
    /// larger than the partition, a FAT that cannot number all clusters,
    /// FAT32's active FAT not among its FATs or its root cluster out of range.
    pub fn new(head: &[u8], boot: &FatBootSector, part_size: u32) -> Result<Self, String> {
        let bps = u64::from(boot.bytes_per_sector);
        let total = u64::from(boot.total_sectors);
        if total * bps > u64::from(part_size) {
            return Err(format!("the volume ({} sectors) is larger than the partition", boot.total_sectors));
        }
        let fat_len = u64::from(boot.sectors_per_fat) * bps;
        let root_len = u64::from(boot.root_dir_sectors()) * bps;
        let fats_end = u64::from(boot.reserved_sectors) * bps + u64::from(boot.fats) * fat_len;
        let data_start = fats_end + root_len;
        if data_start >= total * bps {
            return Err(format!("its FATs and root directory take all of its {} sectors", boot.total_sectors));
        }
        let fat_type = boot.fat_type();
        let clusters = boot.clusters();
        // fatfs takes the FAT type from the 16-bit FAT size being 0 (FAT32)
        // and refuses a volume whose cluster count says otherwise; so do we,
        // before reading FAT32's fields from a FAT12/16 boot sector.
        if head.len() < 512 {
            return Err("the boot sector is cut short".into());
        }
        let laid_out = if le16(head, 22) == 0 { "FAT32" } else { "FAT12/16" };
        if (laid_out == "FAT32") != (fat_type == FatType::Fat32) {
            return Err(format!(
                "its {clusters} clusters make it {}, but its boot sector is laid out for {laid_out}",
                fat_type.name()
            ));
        }
        let bits = match fat_type {
            FatType::Fat12 => 12,
            FatType::Fat16 => 16,
            FatType::Fat32 => 32,
        };
        // fatfs counts the FAT's entries as a u32 of bits.
        if fat_len * 8 > u64::from(u32::MAX) {
            return Err(format!("the FAT ({} sectors) is larger than any FAT can be", boot.sectors_per_fat));
        }
        let entries = fat_len * 8 / bits;
        if entries < u64::from(clusters) + u64::from(FIRST_CLUSTER) {
            return Err(format!("the FAT has {entries} entries, too few for the volume's {clusters} clusters"));
        }
        let mut geo = Geometry {
            fat_type,
            fat_start: u64::from(boot.reserved_sectors) * bps,
            root_start: fats_end,
            root_len,
            data_start,
            cluster_size: u64::from(boot.cluster_size()),
            clusters,
            root_cluster: 0,
        };
        if fat_type == FatType::Fat32 {
            if clusters > FAT32_MAX_CLUSTERS {
                return Err(format!("the volume has {clusters} clusters, more than FAT32 can number"));
            }
            // Extended flags: bit 7 set means only the FAT numbered in bits 0-3 is in use.
            let flags = le16(head, 40);
            if flags & 0x80 != 0 {
                let active = flags & 0x0F;
                if active >= u32::from(boot.fats) {
                    return Err(format!("the active FAT is number {active}, but the volume has {} FATs", boot.fats));
                }
                geo.fat_start += u64::from(active) * fat_len;
            }
            geo.root_cluster = le32(head, 44);
            geo.cluster_ok(geo.root_cluster).map_err(|why| format!("the root directory starts at {why}"))?;
        }
        Ok(geo)
    }

    /// The last cluster number of the data area.
    pub fn last_cluster(&self) -> u32 {
        self.clusters + 1
    }

    /// `Err` (as "cluster N, which is ...") unless `n` numbers a data cluster.
    fn cluster_ok(&self, n: u32) -> Result<(), String> {
        if n < FIRST_CLUSTER {
            Err(format!("cluster {n}, which is reserved"))
        } else if n > self.last_cluster() {
            Err(format!("cluster {n}, past the last cluster ({})", self.last_cluster()))
        } else {
            Ok(())
        }
    }

    /// Bytes of the FAT that hold the entries of the data clusters (and of
    /// the two reserved ones before them): what [`Geometry::check_fat`] reads.
    pub fn fat_used_len(&self) -> usize {
        let n = u64::from(self.clusters) + u64::from(FIRST_CLUSTER);
        let bytes = match self.fat_type {
            FatType::Fat12 => (n * 3).div_ceil(2),
            FatType::Fat16 => n * 2,
            FatType::Fat32 => n * 4,
        };
        bytes as usize
    }

    /// Where the entry of cluster `n` lies in the FAT, and its length in
    /// bytes (a FAT12 entry shares its two bytes with a neighbour).
    fn entry_span(&self, n: u32) -> (usize, usize) {
        let n = n as usize;
        match self.fat_type {
            FatType::Fat12 => (n + n / 2, 2),
            FatType::Fat16 => (n * 2, 2),
            FatType::Fat32 => (n * 4, 4),
        }
    }

    /// The entry of cluster `n` from the bytes at its [`Geometry::entry_span`],
    /// as `fatfs` reads it (FAT32's top four bits dropped).
    fn decode(&self, n: u32, b: &[u8]) -> u32 {
        match self.fat_type {
            FatType::Fat12 if n.is_multiple_of(2) => le16(b, 0) & 0xFFF,
            FatType::Fat12 => le16(b, 0) >> 4,
            FatType::Fat16 => le16(b, 0),
            FatType::Fat32 => le32(b, 0) & 0x0FFF_FFFF,
        }
    }

    /// The entry of cluster `n` in `fat` (the FAT from its start); `None` past `fat`.
    fn entry(&self, fat: &[u8], n: u32) -> Option<u32> {
        let (at, len) = self.entry_span(n);
        fat.get(at..at + len).map(|b| self.decode(n, b))
    }

    /// What `fatfs` makes of FAT entry value `v`.
    fn next(&self, v: u32) -> Next {
        let bad = match self.fat_type {
            FatType::Fat12 => 0xFF7,
            FatType::Fat16 => 0xFFF7,
            FatType::Fat32 => 0x0FFF_FFF7,
        };
        // Free (0), bad, and end of chain (every value above bad).
        if v == 0 || v >= bad {
            Next::None
        } else {
            Next::Cluster(v)
        }
    }

    /// Check every data cluster's entry in `fat` (the active FAT from its
    /// start, at least [`Geometry::fat_used_len`] bytes): each is free, bad,
    /// end of chain, or a data cluster number.
    ///
    /// Errors: the first entry that is not, said as "the FAT entry of cluster
    /// N points at cluster M, which is reserved" (or "past the last cluster").
    pub fn check_fat(&self, fat: &[u8]) -> Result<(), String> {
        for n in FIRST_CLUSTER..=self.last_cluster() {
            let Some(v) = self.entry(fat, n) else {
                return Err(format!("the FAT ends before the entry of cluster {n}"));
            };
            if let Next::Cluster(next) = self.next(v) {
                self.cluster_ok(next).map_err(|why| format!("the FAT entry of cluster {n} points at {why}"))?;
            }
        }
        Ok(())
    }

    /// Which directory's entries start at byte `at` of the partition (where
    /// the first read of a directory listing went); `None` if no directory's
    /// can.
    pub fn dir_at(&self, at: u64) -> Option<DirAt> {
        if self.root_len > 0 && at == self.root_start {
            return Some(DirAt::Root);
        }
        let off = at.checked_sub(self.data_start)?;
        if off % self.cluster_size != 0 {
            return None;
        }
        let n = u32::try_from(off / self.cluster_size).ok()?.checked_add(FIRST_CLUSTER)?;
        self.cluster_ok(n).ok().map(|_| DirAt::Cluster(n))
    }

    /// Check the first cluster of every entry of the directory at `dir`
    /// (whose path `path` the messages give), reading the partition with
    /// `read(offset, buf)`: each is 0 (no cluster) or a data cluster number.
    /// The chain of a directory is followed through the FAT as `fatfs`
    /// follows it, for at most as many clusters as the volume has.
    ///
    /// Errors: `Ok(Err(what))` for what is wrong, as "the directory entry
    /// '/lib/x.py' points at cluster 1, which is reserved" (or "past the
    /// last cluster (N)"), or as a loop of the directory's clusters;
    /// `Err` for a failed read.
    pub fn check_dir<E, R>(&self, dir: DirAt, path: &str, read: &mut R) -> Result<Result<(), String>, E>
    where
        R: FnMut(u64, &mut [u8]) -> Result<(), E>,
    {
        let mut names = LongName::default();
        let mut buf = Vec::new();
        let mut cluster = match dir {
            DirAt::Root => {
                buf.resize(self.root_len as usize, 0);
                read(self.root_start, &mut buf)?;
                let (_, r) = self.check_entries(&buf, path, &mut names);
                return Ok(r);
            }
            DirAt::Cluster(n) => n,
        };
        buf.resize(self.cluster_size as usize, 0);
        let mut fat = [0u8; 4];
        for _ in 0..self.clusters {
            if let Err(why) = self.cluster_ok(cluster) {
                return Ok(Err(format!("the directory '{path}' continues at {why}")));
            }
            read(self.data_start + u64::from(cluster - FIRST_CLUSTER) * self.cluster_size, &mut buf)?;
            match self.check_entries(&buf, path, &mut names) {
                (_, Err(e)) => return Ok(Err(e)),
                (true, Ok(())) => return Ok(Ok(())),
                (false, Ok(())) => {}
            }
            // The FAT as it is now (fatfs may have written to it since the mount).
            let (at, len) = self.entry_span(cluster);
            read(self.fat_start + at as u64, &mut fat[..len])?;
            match self.next(self.decode(cluster, &fat[..len])) {
                Next::None => return Ok(Ok(())),
                Next::Cluster(n) => cluster = n,
            }
        }
        Ok(Err(format!("the clusters of the directory '{path}' loop")))
    }

    /// Check the entries in `buf` (part of one directory); whether its end
    /// marker came, and the verdict.
    fn check_entries(&self, buf: &[u8], path: &str, names: &mut LongName) -> (bool, Result<(), String>) {
        for e in buf.chunks_exact(DIR_ENTRY) {
            match e[0] {
                0x00 => return (true, Ok(())),
                0xE5 => {
                    names.clear();
                    continue;
                }
                _ => {}
            }
            let attrs = e[11];
            if attrs & 0x0F == 0x0F {
                names.add(e);
                continue;
            }
            let name = names.take(e);
            // Volume labels are not files: fatfs skips them.
            if attrs & 0x08 != 0 {
                continue;
            }
            let hi = if self.fat_type == FatType::Fat32 { le16(e, 20) << 16 } else { 0 };
            let first = hi | le16(e, 26);
            if first != 0 {
                if let Err(why) = self.cluster_ok(first) {
                    let sep = if path.ends_with('/') { "" } else { "/" };
                    return (false, Err(format!("the directory entry '{path}{sep}{name}' points at {why}")));
                }
            }
        }
        (false, Ok(()))
    }
}

/// The long name being gathered from the entries before a short entry.
#[derive(Debug, Default)]
struct LongName {
    /// (sequence number, checksum, 13 UTF-16 units) of each part seen.
    parts: Vec<(u8, u8, [u16; 13])>,
}

impl LongName {
    fn clear(&mut self) {
        self.parts.clear();
    }

    fn add(&mut self, e: &[u8]) {
        // The last part (highest number) comes first and carries bit 0x40.
        if e[0] & 0x40 != 0 {
            self.parts.clear();
        }
        let mut units = [0u16; 13];
        let at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
        for (u, &i) in units.iter_mut().zip(at.iter()) {
            *u = u16::from_le_bytes([e[i], e[i + 1]]);
        }
        self.parts.push((e[0] & 0x1F, e[13], units));
    }

    /// The name of short entry `e`: its long name if the parts before it
    /// number down to 1 and carry its checksum, else its 8.3 name.
    fn take(&mut self, e: &[u8]) -> String {
        let parts = std::mem::take(&mut self.parts);
        let sum = e[..11].iter().fold(0u8, |s, &b| s.rotate_right(1).wrapping_add(b));
        let count = parts.len();
        let whole = count > 0
            && parts.iter().enumerate().all(|(i, &(seq, check, _))| usize::from(seq) == count - i && check == sum);
        if whole {
            let units: Vec<u16> = parts.iter().rev().flat_map(|p| p.2).take_while(|&u| u != 0).collect();
            return String::from_utf16_lossy(&units);
        }
        short_name(e)
    }
}

/// The 8.3 name of a short entry as `fatfs` shows it (non-ASCII as U+FFFD).
fn short_name(e: &[u8]) -> String {
    let show = |b: &[u8]| -> String {
        let end = b.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
        b[..end].iter().map(|&c| if c.is_ascii() { char::from(c) } else { '\u{FFFD}' }).collect()
    };
    let mut base = e[..8].to_vec();
    // 0x05 stands for a first byte of 0xE5 (which marks a deleted entry).
    if base[0] == 0x05 {
        base[0] = 0xE5;
    }
    let (base, ext) = (show(&base), show(&e[8..11]));
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FAT12 volume of 64 4 KB sectors: 1 reserved, 1 FAT, a root of 512
    /// entries (4 sectors), 58 clusters of one sector.
    fn boot() -> (Vec<u8>, FatBootSector) {
        let mut b = vec![0u8; 512];
        b[0] = 0xEB;
        b[11..13].copy_from_slice(&4096u16.to_le_bytes());
        b[13] = 1;
        b[14..16].copy_from_slice(&1u16.to_le_bytes());
        b[16] = 1;
        b[17..19].copy_from_slice(&512u16.to_le_bytes());
        b[19..21].copy_from_slice(&64u16.to_le_bytes());
        b[22..24].copy_from_slice(&1u16.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xAA;
        let bs = FatBootSector::parse(&b).unwrap();
        (b, bs)
    }

    /// A FAT32 volume of 70000 512-byte sectors: 32 reserved, 2 FATs of 547
    /// sectors, 68874 clusters of one sector; root at cluster `root`, FAT
    /// flags `flags`.
    fn fat32(root: u32, flags: u16) -> (Vec<u8>, FatBootSector) {
        let mut b = vec![0u8; 512];
        b[0] = 0xEB;
        b[11..13].copy_from_slice(&512u16.to_le_bytes());
        b[13] = 1;
        b[14..16].copy_from_slice(&32u16.to_le_bytes());
        b[16] = 2;
        b[32..36].copy_from_slice(&70000u32.to_le_bytes());
        b[36..40].copy_from_slice(&547u32.to_le_bytes());
        b[40..42].copy_from_slice(&flags.to_le_bytes());
        b[44..48].copy_from_slice(&root.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xAA;
        let bs = FatBootSector::parse(&b).unwrap();
        (b, bs)
    }

    #[test]
    fn fat32_root_cluster_and_active_fat_are_checked() {
        let size = 70000 * 512;
        let (head, bs) = fat32(2, 0);
        let g = Geometry::new(&head, &bs, size).unwrap();
        assert_eq!(
            (g.fat_type, g.clusters, g.root_cluster, g.fat_start, g.data_start),
            (FatType::Fat32, 68874, 2, 16384, 576512)
        );
        // Only FAT 1 in use: fatfs reads that one.
        let (head, bs) = fat32(2, 0x81);
        assert_eq!(Geometry::new(&head, &bs, size).unwrap().fat_start, 16384 + 547 * 512);
        let (head, bs) = fat32(2, 0x82);
        assert_eq!(
            Geometry::new(&head, &bs, size).unwrap_err(),
            "the active FAT is number 2, but the volume has 2 FATs"
        );
        let (head, bs) = fat32(1, 0);
        assert_eq!(
            Geometry::new(&head, &bs, size).unwrap_err(),
            "the root directory starts at cluster 1, which is reserved"
        );
        let (head, bs) = fat32(68876, 0);
        assert_eq!(
            Geometry::new(&head, &bs, size).unwrap_err(),
            "the root directory starts at cluster 68876, past the last cluster (68875)"
        );
        // A 16-bit FAT size on a volume of FAT32's size: fatfs would refuse it too.
        let (mut head, _) = fat32(2, 0);
        head[22..24].copy_from_slice(&547u16.to_le_bytes());
        let bs = FatBootSector::parse(&head).unwrap();
        assert_eq!(
            Geometry::new(&head, &bs, size).unwrap_err(),
            "its 68874 clusters make it FAT32, but its boot sector is laid out for FAT12/16"
        );
        // A FAT too small to number the clusters (fatfs only warns).
        let (mut head, _) = fat32(2, 0);
        head[36..40].copy_from_slice(&500u32.to_le_bytes());
        let bs = FatBootSector::parse(&head).unwrap();
        assert_eq!(
            Geometry::new(&head, &bs, size).unwrap_err(),
            "the FAT has 64000 entries, too few for the volume's 68968 clusters"
        );
    }

    fn fat12(entries: &[(u32, u32)]) -> Vec<u8> {
        let mut fat = vec![0u8; 4096];
        for &(n, v) in entries {
            let at = (n + n / 2) as usize;
            let old = u16::from_le_bytes([fat[at], fat[at + 1]]);
            let new = if n % 2 == 0 { (old & 0xF000) | v as u16 } else { (old & 0x000F) | ((v as u16) << 4) };
            fat[at..at + 2].copy_from_slice(&new.to_le_bytes());
        }
        fat
    }

    #[test]
    fn geometry_of_a_small_fat12_volume() {
        let (head, bs) = boot();
        let g = Geometry::new(&head, &bs, 64 * 4096).unwrap();
        assert_eq!(
            (g.fat_type, g.fat_start, g.root_start, g.root_len, g.data_start),
            (FatType::Fat12, 4096, 8192, 16384, 24576)
        );
        assert_eq!((g.clusters, g.last_cluster(), g.fat_used_len()), (58, 59, 90));
        assert_eq!(
            Geometry::new(&head, &bs, 63 * 4096).unwrap_err(),
            "the volume (64 sectors) is larger than the partition"
        );
        assert_eq!(
            (g.dir_at(8192), g.dir_at(24576), g.dir_at(24576 + 4096 * 57)),
            (Some(DirAt::Root), Some(DirAt::Cluster(2)), Some(DirAt::Cluster(59)))
        );
        assert_eq!((g.dir_at(24577), g.dir_at(24576 + 4096 * 58), g.dir_at(4096)), (None, None, None));
    }

    #[test]
    fn fat_entries_must_number_data_clusters() {
        let (head, bs) = boot();
        let g = Geometry::new(&head, &bs, 64 * 4096).unwrap();
        // Free, a chain 2 -> 3 -> 59 -> end, bad.
        assert_eq!(g.check_fat(&fat12(&[(0, 0xFF8), (1, 0xFFF), (2, 3), (3, 59), (59, 0xFFF), (4, 0xFF7)])), Ok(()));
        assert_eq!(
            g.check_fat(&fat12(&[(7, 1)])).unwrap_err(),
            "the FAT entry of cluster 7 points at cluster 1, which is reserved"
        );
        assert_eq!(
            g.check_fat(&fat12(&[(3, 60)])).unwrap_err(),
            "the FAT entry of cluster 3 points at cluster 60, past the last cluster (59)"
        );
        // 0xFF0-0xFF6 are no end marker to fatfs: it follows them.
        assert_eq!(
            g.check_fat(&fat12(&[(59, 0xFF6)])).unwrap_err(),
            "the FAT entry of cluster 59 points at cluster 4086, past the last cluster (59)"
        );
        assert_eq!(g.check_fat(&fat12(&[])[..89]).unwrap_err(), "the FAT ends before the entry of cluster 59");
    }

    fn entry(name: &[u8; 11], attrs: u8, cluster: u16) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(name);
        e[11] = attrs;
        e[26..28].copy_from_slice(&cluster.to_le_bytes());
        e
    }

    #[test]
    fn directory_entries_must_number_data_clusters() {
        let (head, bs) = boot();
        let g = Geometry::new(&head, &bs, 64 * 4096).unwrap();
        let mut disk = vec![0u8; 64 * 4096];
        let root = 8192;
        disk[root..root + 32].copy_from_slice(&entry(b"VOLUME     ", 0x08, 1));
        disk[root + 32..root + 64].copy_from_slice(&entry(b"DELETED PY ", 0x20, 1));
        disk[root + 32] = 0xE5;
        disk[root + 64..root + 96].copy_from_slice(&entry(b"LIB        ", 0x10, 2));
        disk[root + 96..root + 128].copy_from_slice(&entry(b"EMPTY   TXT", 0x20, 0));
        let mut read = |at: u64, buf: &mut [u8]| -> Result<(), ()> {
            buf.copy_from_slice(&disk[at as usize..at as usize + buf.len()]);
            Ok(())
        };
        assert_eq!(g.check_dir(DirAt::Root, "/", &mut read), Ok(Ok(())));
        let lib = 24576;
        disk[lib..lib + 32].copy_from_slice(&entry(b".          ", 0x10, 2));
        disk[lib + 32..lib + 64].copy_from_slice(&entry(b"..         ", 0x10, 0));
        disk[lib + 64..lib + 96].copy_from_slice(&entry(b"BOOT    PY ", 0x20, 1));
        let mut read = |at: u64, buf: &mut [u8]| -> Result<(), ()> {
            buf.copy_from_slice(&disk[at as usize..at as usize + buf.len()]);
            Ok(())
        };
        assert_eq!(
            g.check_dir(DirAt::Cluster(2), "/LIB", &mut read),
            Ok(Err("the directory entry '/LIB/BOOT.PY' points at cluster 1, which is reserved".into()))
        );
    }
}
