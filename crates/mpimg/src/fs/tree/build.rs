//! Making a filesystem that holds a given tree, in memory, for a partition of
//! a given size: littlefs at the tree's on-disk version with MicroPython's
//! configuration and a block count of the partition's size; FAT laid out as
//! MicroPython's `VfsFat.mkfs` does, keeping the volume's serial and label.
//! Nothing touches a flash: the result is the partition's bytes, to be
//! written once every check has passed.

use crate::flash::FileFlash;

use super::super::cache::{BlockCache, Region, BLOCK_SIZE};
use super::super::detect::FatBootSector;
use super::super::fat::FatVolume;
use super::super::lfs::LfsVolume;
use super::super::volume::Volume;
use super::super::FsError;
use super::{fat, lfs, FinishAfter, Tree, TreeKind};

/// The largest partition [`smallest_size`] looks at (the largest flash an
/// image header describes).
const MAX_SIZE: u32 = 128 << 20;

/// A filesystem made for a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The partition's bytes from its start up to its last block that is not
    /// blank; the rest of the partition is blank (0xFF).
    pub image: Vec<u8>,
    /// 4 KB blocks the filesystem uses: littlefs's distinct blocks in use, or FAT's
    /// reserved sectors, FAT, root directory and clusters in use.
    pub used_blocks: u32,
}

/// Make a filesystem of `tree`'s kind holding `tree`, for partition `part`
/// of `size` bytes. [`FsError::NoSpace`] or [`FsError::PartitionTooSmall`]
/// when it does not fit.
pub fn build(tree: &Tree, part: &str, size: u32) -> Result<Built, FsError> {
    let mut flash = FileFlash::new(Vec::new(), 0, size);
    let region = Region { offset: 0, size };
    let used_blocks = {
        let mut cache = BlockCache::new(&mut flash);
        let used = match &tree.kind {
            TreeKind::Littlefs { disk_version } => {
                let mut vol = LfsVolume::format(&mut cache, part, region, *disk_version)?;
                let r = lfs::write(&mut vol, tree).and_then(|_| lfs::blocks_in_use(&mut vol));
                Box::new(vol).finish_after(r)?
            }
            TreeKind::Fat { volume_id, label } => {
                FatVolume::mkfs_with(&mut cache, part, region, *volume_id, *label)?;
                let mut b0 = vec![0u8; BLOCK_SIZE as usize];
                cache.read(0, &mut b0)?;
                let boot = FatBootSector::parse(&b0).ok_or_else(|| FsError::Fat {
                    part: part.to_owned(),
                    op: "mkfs".into(),
                    source: std::io::Error::other("no boot sector after formatting"),
                })?;
                let meta = u64::from(boot.first_data_sector()) * u64::from(boot.bytes_per_sector);
                let mut vol = FatVolume::mount(&mut cache, part, region, boot)?;
                let r = fat::write(&mut vol, tree).and_then(|_| vol.usage());
                let u = Box::new(vol).finish_after(r)?;
                let bytes = meta + u64::from(u.used) * u64::from(u.unit);
                bytes.div_ceil(u64::from(BLOCK_SIZE)) as u32
            }
        };
        cache.flush()?;
        used
    };
    Ok(Built { image: flash.into_bytes(), used_blocks })
}

/// Whether an error of [`build`] means "does not fit".
pub fn is_no_room(e: &FsError) -> bool {
    matches!(e, FsError::NoSpace { .. } | FsError::PartitionTooSmall { .. })
}

/// The smallest partition size (a multiple of 4 KB) [`build`] puts `tree`
/// into, with what it builds there. `fits` is a size known, or expected, to
/// hold it (the size it came from); larger ones are tried if it does not.
pub fn smallest_size(tree: &Tree, part: &str, fits: u32) -> Result<(u32, Built), FsError> {
    let attempt = |blocks: u32| match build(tree, part, blocks * BLOCK_SIZE) {
        Ok(b) => Ok(Some(b)),
        Err(e) if is_no_room(&e) => Ok(None),
        Err(e) => Err(e),
    };
    let mut hi = (fits / BLOCK_SIZE).max(2);
    let mut best = loop {
        if let Some(b) = attempt(hi)? {
            break b;
        }
        if hi >= MAX_SIZE / BLOCK_SIZE {
            return Err(FsError::NoSpace { part: part.to_owned(), path: "/".into() });
        }
        hi = (hi * 2).min(MAX_SIZE / BLOCK_SIZE);
    };
    // The smallest size that fits lies in (lo, hi].
    let mut lo = 1;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match attempt(mid)? {
            Some(b) => {
                hi = mid;
                best = b;
            }
            None => lo = mid,
        }
    }
    Ok((hi * BLOCK_SIZE, best))
}
