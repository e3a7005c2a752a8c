//! Which filesystem a partition holds, from its first two blocks (pure).
//!
//! As MicroPython decides at boot: littlefs v2 if "littlefs" stands at byte 8
//! of block 0 or block 1 (its superblock pair; block 0 may be mid-rewrite),
//! else FAT if block 0 is a FAT boot sector.

/// The littlefs v2 superblock name, at offset 8 of a superblock block.
pub const LFS_MAGIC: &[u8; 8] = b"littlefs";
const LFS_MAGIC_AT: usize = 8;

/// What the start of a partition holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// littlefs (its magic in block 0 or 1).
    Littlefs,
    /// FAT, with its boot sector.
    Fat(FatBootSector),
    /// Neither.
    Nothing,
}

/// Whether `block` (the start of a block) carries the littlefs magic.
pub fn has_lfs_magic(block: &[u8]) -> bool {
    block.get(LFS_MAGIC_AT..LFS_MAGIC_AT + LFS_MAGIC.len()) == Some(&LFS_MAGIC[..])
}

/// Decide from the first two blocks of a partition.
pub fn detect(block0: &[u8], block1: &[u8]) -> Detected {
    if has_lfs_magic(block0) || has_lfs_magic(block1) {
        return Detected::Littlefs;
    }
    match FatBootSector::parse(block0) {
        Some(bs) => Detected::Fat(bs),
        None => Detected::Nothing,
    }
}

/// FAT variant, decided by the number of clusters (as every FAT driver does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatType {
    /// Fewer than 4085 clusters.
    Fat12,
    /// Fewer than 65525 clusters.
    Fat16,
    /// More.
    Fat32,
}

impl FatType {
    /// `FAT12`, `FAT16` or `FAT32`.
    pub fn name(self) -> &'static str {
        match self {
            FatType::Fat12 => "FAT12",
            FatType::Fat16 => "FAT16",
            FatType::Fat32 => "FAT32",
        }
    }
}

/// The geometry fields of a FAT boot sector (BIOS parameter block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatBootSector {
    /// Bytes per sector (MicroPython: 4096).
    pub bytes_per_sector: u16,
    /// Sectors per cluster.
    pub sectors_per_cluster: u8,
    /// Sectors before the first FAT.
    pub reserved_sectors: u16,
    /// Number of FATs.
    pub fats: u8,
    /// Entries in the root directory (FAT12/16).
    pub root_entries: u16,
    /// Sectors in the volume.
    pub total_sectors: u32,
    /// Sectors per FAT.
    pub sectors_per_fat: u32,
    /// Media descriptor byte.
    pub media: u8,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl FatBootSector {
    /// Parse a boot sector; `None` unless it is plausibly FAT (signature,
    /// jump instruction, power-of-two sizes, non-zero counts, consistent layout).
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 512 || b[510] != 0x55 || b[511] != 0xAA || !(b[0] == 0xEB || b[0] == 0xE9) {
            return None;
        }
        let bytes_per_sector = le16(b, 11);
        let sectors_per_cluster = b[13];
        let reserved_sectors = le16(b, 14);
        let fats = b[16];
        let root_entries = le16(b, 17);
        let total16 = le16(b, 19);
        let media = b[21];
        let fat16 = le16(b, 22);
        let total32 = le32(b, 32);
        let fat32 = le32(b, 36);
        let bps_ok = bytes_per_sector.is_power_of_two() && (512..=4096).contains(&bytes_per_sector);
        let spc_ok = sectors_per_cluster.is_power_of_two();
        if !bps_ok || !spc_ok || reserved_sectors == 0 || fats == 0 {
            return None;
        }
        let total_sectors = if total16 != 0 { u32::from(total16) } else { total32 };
        let sectors_per_fat = if fat16 != 0 { u32::from(fat16) } else { fat32 };
        let bs = FatBootSector {
            bytes_per_sector,
            sectors_per_cluster,
            reserved_sectors,
            fats,
            root_entries,
            total_sectors,
            sectors_per_fat,
            media,
        };
        if sectors_per_fat == 0 || bs.first_data_sector_wide() >= u64::from(total_sectors) {
            return None;
        }
        Some(bs)
    }

    /// Sectors taken by the fixed root directory (0 on FAT32).
    pub fn root_dir_sectors(&self) -> u32 {
        (u32::from(self.root_entries) * 32).div_ceil(u32::from(self.bytes_per_sector))
    }

    /// First sector of the data area (`u32::MAX` if past what a `u32`
    /// numbers: only a boot sector [`FatBootSector::parse`] refuses has that).
    pub fn first_data_sector(&self) -> u32 {
        u32::try_from(self.first_data_sector_wide()).unwrap_or(u32::MAX)
    }

    /// The first sector of the data area without overflow: a damaged boot
    /// sector's FATs can take more than 2^32 sectors.
    fn first_data_sector_wide(&self) -> u64 {
        u64::from(self.reserved_sectors)
            + u64::from(self.fats) * u64::from(self.sectors_per_fat)
            + u64::from(self.root_dir_sectors())
    }

    /// Number of data clusters.
    pub fn clusters(&self) -> u32 {
        self.total_sectors.saturating_sub(self.first_data_sector()) / u32::from(self.sectors_per_cluster)
    }

    /// Bytes per cluster.
    pub fn cluster_size(&self) -> u32 {
        u32::from(self.bytes_per_sector) * u32::from(self.sectors_per_cluster)
    }

    /// FAT12 below 4085 clusters, FAT16 below 65525, else FAT32.
    pub fn fat_type(&self) -> FatType {
        match self.clusters() {
            n if n < 4085 => FatType::Fat12,
            n if n < 65525 => FatType::Fat16,
            _ => FatType::Fat32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boot sector MicroPython's VfsFat.mkfs writes on a 2 MB partition with
    /// 4096-byte sectors: FAT12, 1 sector per cluster, 1 reserved sector, 1 FAT
    /// of 1 sector, 512 root entries (4 sectors), 512 sectors.
    fn micropython_2mb() -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[..11].copy_from_slice(b"\xEB\xFE\x90MSDOS5.0");
        b[11..13].copy_from_slice(&4096u16.to_le_bytes());
        b[13] = 1;
        b[14..16].copy_from_slice(&1u16.to_le_bytes());
        b[16] = 1;
        b[17..19].copy_from_slice(&512u16.to_le_bytes());
        b[19..21].copy_from_slice(&512u16.to_le_bytes());
        b[21] = 0xF8;
        b[22..24].copy_from_slice(&1u16.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xAA;
        b
    }

    #[test]
    fn fat_geometry_of_a_micropython_volume() {
        let bs = FatBootSector::parse(&micropython_2mb()).unwrap();
        assert_eq!((bs.root_dir_sectors(), bs.first_data_sector(), bs.clusters()), (4, 6, 506));
        assert_eq!((bs.fat_type(), bs.cluster_size()), (FatType::Fat12, 4096));
        assert_eq!(detect(&micropython_2mb(), &[0xFF; 4096]), Detected::Fat(bs));
    }

    #[test]
    fn littlefs_magic_in_either_block_wins_over_fat() {
        let mut b1 = vec![0xFFu8; 4096];
        b1[8..16].copy_from_slice(b"littlefs");
        assert_eq!(detect(&micropython_2mb(), &b1), Detected::Littlefs);
        assert_eq!(detect(&b1, &[0u8; 4096]), Detected::Littlefs);
        assert_eq!(detect(&[0xFF; 4096], &[0xFF; 4096]), Detected::Nothing);
    }

    #[test]
    fn implausible_boot_sectors_are_not_fat() {
        let good = micropython_2mb();
        let broken: [(usize, u8); 6] = [(510, 0), (0, 0x00), (12, 0x03), (13, 3), (16, 0), (22, 0)];
        for (at, v) in broken {
            let mut b = good.clone();
            b[at] = v;
            assert_eq!(FatBootSector::parse(&b), None, "byte {at} = {v:#x}");
        }
        assert_eq!(FatBootSector::parse(&good[..100]), None);
    }

    /// Two FATs of 2^31 sectors each number more sectors than a `u32`: the
    /// sum once overflowed (a panic in debug builds) instead of refusing.
    #[test]
    fn fats_larger_than_a_u32_of_sectors_are_not_fat() {
        let mut b = micropython_2mb();
        b[16] = 2;
        b[22..24].copy_from_slice(&0u16.to_le_bytes());
        b[36..40].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        b[19..21].copy_from_slice(&0u16.to_le_bytes());
        b[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(FatBootSector::parse(&b), None);
    }
}
