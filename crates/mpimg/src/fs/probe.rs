//! What a partition's filesystem says about its own size and version, read
//! from its first blocks (littlefs: the superblock, through a mount that
//! takes the block count from it; FAT: the boot sector), without listing a
//! directory. The facts a board needs to mount it: MicroPython refuses a
//! littlefs whose block count is not the partition's, and up to v1.21 a
//! littlefs at on-disk version 2.1.

use mpimg_littlefs::{Config, Filesystem};

use super::cache::{BlockCache, Region, BLOCK_SIZE};
use super::detect::{detect, has_lfs_magic, Detected};
use super::lfs::LfsDev;
use super::FsPartition;
use crate::flash::Flash;

/// What a partition holds, as its filesystem describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// No littlefs or FAT filesystem (blank, or something else).
    Nothing,
    /// littlefs, with its superblock's facts.
    Littlefs {
        /// On-disk version (0x0002_0000 is 2.0, 0x0002_0001 is 2.1).
        disk_version: u32,
        /// Blocks the superblock says the filesystem has.
        block_count: u32,
        /// Its block size in bytes (MicroPython: 4096).
        block_size: u32,
    },
    /// FAT, with the bytes its boot sector says the volume spans.
    Fat {
        /// Sectors × bytes per sector.
        bytes: u64,
    },
    /// littlefs magic, but the superblock cannot be read: the reason.
    Unreadable(String),
}

/// Probe the filesystem of `part` in `flash` (reads at most its first two
/// blocks and the superblock's metadata pair). A partition that does not
/// lie within the flash, or is under two blocks, holds [`Probe::Nothing`].
pub fn probe(flash: &mut dyn Flash, part: &FsPartition) -> Probe {
    probe_cached(&mut BlockCache::new(flash), part)
}

/// [`probe`] through a block cache the caller keeps (its blocks are read once for both).
pub fn probe_cached(cache: &mut BlockCache, part: &FsPartition) -> Probe {
    let end = u64::from(part.offset) + u64::from(part.size);
    if end > u64::from(cache.flash().capacity())
        || !part.offset.is_multiple_of(BLOCK_SIZE)
        || part.size < 2 * BLOCK_SIZE
    {
        return Probe::Nothing;
    }
    let region = Region { offset: part.offset, size: part.size };
    let mut b0 = vec![0u8; BLOCK_SIZE as usize];
    let mut b1 = vec![0u8; BLOCK_SIZE as usize];
    if let Err(e) = cache.read(region.offset, &mut b0) {
        return Probe::Unreadable(e.to_string());
    }
    if !has_lfs_magic(&b0) {
        if let Err(e) = cache.read(region.offset + BLOCK_SIZE, &mut b1) {
            return Probe::Unreadable(e.to_string());
        }
    }
    match detect(&b0, &b1) {
        Detected::Nothing => Probe::Nothing,
        Detected::Fat(boot) => Probe::Fat { bytes: u64::from(boot.total_sectors) * u64::from(boot.bytes_per_sector) },
        Detected::Littlefs => superblock(cache, region),
    }
}

/// Mount with a block count of 0 (littlefs then takes the superblock's) and
/// any 2.x version, and read what the superblock says.
fn superblock(cache: &mut BlockCache, region: Region) -> Probe {
    let dev = LfsDev::new(cache, region);
    match Filesystem::mount(dev, &Config::micropython(0)) {
        Ok(mut fs) => {
            let info = fs.fs_stat();
            let _ = fs.unmount();
            match info {
                Ok(i) => Probe::Littlefs {
                    disk_version: i.disk_version,
                    block_count: i.block_count,
                    block_size: i.block_size,
                },
                Err(e) => Probe::Unreadable(format!("fs_stat: {e}")),
            }
        }
        Err((e, _)) => Probe::Unreadable(format!("mount: {e}")),
    }
}

/// littlefs's on-disk version 2.1 (littlefs ≥ 2.6 writes it).
pub const LFS_DISK_2_1: u32 = 0x0002_0001;

/// "2.0", "2.1": an on-disk version as littlefs numbers it.
pub fn disk_version_name(v: u32) -> String {
    format!("{}.{}", v >> 16, v & 0xFFFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;
    use mpimg_littlefs as lfs;

    fn part(offset: u32, size: u32) -> FsPartition {
        FsPartition { name: "vfs".into(), offset, size, implicit: false }
    }

    #[test]
    fn blank_and_littlefs_and_fat() {
        let mut f = FileFlash::new(vec![0xFF; 0x40000], 0, 0x40000);
        assert_eq!(probe(&mut f, &part(0x10000, 0x30000)), Probe::Nothing);
        // A partition past the flash, or of one block, holds nothing.
        assert_eq!(probe(&mut f, &part(0x30000, 0x20000)), Probe::Nothing);
        assert_eq!(probe(&mut f, &part(0x10000, 0x1000)), Probe::Nothing);
        let mut dev = f;
        {
            let mut cache = BlockCache::new(&mut dev);
            let region = Region { offset: 0x10000, size: 0x20000 };
            let mut d = LfsDev::new(&mut cache, region);
            let cfg = Config::micropython(32).with_disk_version(lfs::DISK_VERSION_2_0);
            lfs::format(&mut d, &cfg).unwrap();
            cache.flush().unwrap();
        }
        // Formatted for 32 blocks in a partition of 48: the superblock says 32.
        assert_eq!(
            probe(&mut dev, &part(0x10000, 0x30000)),
            Probe::Littlefs { disk_version: 0x0002_0000, block_count: 32, block_size: 4096 }
        );
        let mut boot = vec![0u8; 512];
        boot[0] = 0xEB;
        boot[11..13].copy_from_slice(&4096u16.to_le_bytes());
        boot[13] = 1;
        boot[14..16].copy_from_slice(&1u16.to_le_bytes());
        boot[16] = 1;
        boot[17..19].copy_from_slice(&512u16.to_le_bytes());
        boot[19..21].copy_from_slice(&40u16.to_le_bytes());
        boot[21] = 0xF8;
        boot[22..24].copy_from_slice(&1u16.to_le_bytes());
        boot[510] = 0x55;
        boot[511] = 0xAA;
        dev.erase(0x10000, 0x2000).unwrap();
        dev.write(0x10000, &boot).unwrap();
        assert_eq!(probe(&mut dev, &part(0x10000, 0x30000)), Probe::Fat { bytes: 40 * 4096 });
    }
}
