//! A filesystem's whole tree, taken from a partition with everything needed
//! to make the same filesystem again at another place or size: every
//! directory and file with its exact name and bytes, littlefs's custom
//! attributes of every type (type 1 is MicroPython's mtime: u64 little-endian
//! nanoseconds since 1970) and FAT's entry times.
//!
//! - [`survey`]: which filesystem a partition holds (by content, as
//!   MicroPython decides at boot), its size and how many files it holds,
//!   from the directories alone (no file data is read).
//! - [`read`]: the whole [`Tree`], through the block cache (on a device each
//!   block is read once).
//! - [`build::build`]: a new filesystem of the same kind holding a tree, made
//!   in memory for a partition of a given size; [`build::smallest_size`].
//! - [`Tree::difference`]: how two trees differ, to check a copy.
//!
//! A tree is plain owned data, so it can be kept aside (in memory, or written
//! to a host backup with [`codec`]) while its partition is moved.

pub mod build;
pub mod codec;
mod fat;
mod lfs;

use mpimg_littlefs::Attribute;

use super::cache::{BlockCache, Region};
use super::detect::{Detected, FatType};
use super::fat::FatVolume;
use super::lfs::LfsVolume;
use super::{FsError, FsPartition};

/// Which filesystem a tree comes from, and what a copy of it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeKind {
    /// littlefs at this on-disk version (0x0002_0000 is 2.0, 0x0002_0001 is 2.1).
    Littlefs {
        /// The on-disk version littlefs records in its superblock.
        disk_version: u32,
    },
    /// FAT, with the volume serial number and label of its boot sector (the
    /// FAT variant follows from the size of the volume).
    Fat {
        /// The volume serial number of the boot sector.
        volume_id: u32,
        /// The volume label of the boot sector (11 bytes, space padded).
        label: [u8; 11],
    },
}

impl TreeKind {
    /// "littlefs 2.0", "FAT".
    pub fn describe(&self) -> String {
        match self {
            TreeKind::Littlefs { disk_version } => format!("littlefs {}.{}", disk_version >> 16, disk_version & 0xFFFF),
            TreeKind::Fat { .. } => "FAT".into(),
        }
    }
}

/// A FAT date and time as a directory entry stores it (2-second steps, plus
/// 10 ms steps in a creation time; a last-access date has no time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FatStamp {
    /// Year (1980..=2107).
    pub year: u16,
    /// Month, 1..=12.
    pub month: u16,
    /// Day of the month, 1..=31.
    pub day: u16,
    /// Hour, 0..=23.
    pub hour: u16,
    /// Minute, 0..=59.
    pub min: u16,
    /// Second, 0..=58 (FAT keeps 2-second steps).
    pub sec: u16,
    /// Milliseconds, 0..=990 (a creation time's 10 ms steps; 0 otherwise).
    pub millis: u16,
}

/// The times of a FAT directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FatTimes {
    /// When the entry was created.
    pub created: FatStamp,
    /// When it was last read: a date only (time fields 0).
    pub accessed: FatStamp,
    /// When the file was last written.
    pub modified: FatStamp,
}

/// What a file or directory carries besides its name and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// littlefs custom attributes, sorted by type, values exactly as stored.
    Littlefs(Vec<Attribute>),
    /// FAT entry times.
    Fat(FatTimes),
}

/// A directory, or a file with its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A directory (what it holds are the nodes that follow it).
    Dir,
    /// A file with its whole contents.
    File(Vec<u8>),
}

/// One directory or file of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Names from the root joined by `/`, without a leading `/`, as stored
    /// (littlefs names are bytes, not necessarily UTF-8).
    pub path: Vec<u8>,
    /// Directory or file.
    pub kind: NodeKind,
    /// Attributes or times.
    pub meta: Meta,
}

/// A whole filesystem tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// The filesystem it comes from.
    pub kind: TreeKind,
    /// Custom attributes of littlefs's root directory (empty for FAT).
    pub root_attrs: Vec<Attribute>,
    /// Every directory and file, depth first, each directory's entries in
    /// name order, a directory before what it holds.
    pub nodes: Vec<Node>,
}

/// Counts of a tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TreeStats {
    /// Files (not directories).
    pub files: u32,
    /// Directories, the root not counted.
    pub dirs: u32,
    /// Bytes in files.
    pub bytes: u64,
}

impl Tree {
    /// How many files and directories it holds, and the bytes in its files.
    pub fn stats(&self) -> TreeStats {
        let mut s = TreeStats::default();
        for n in &self.nodes {
            match &n.kind {
                NodeKind::Dir => s.dirs += 1,
                NodeKind::File(d) => {
                    s.files += 1;
                    s.bytes += d.len() as u64;
                }
            }
        }
        s
    }

    /// The first way `other` differs from this tree, `None` if it holds the
    /// same: kind (and littlefs version), paths in order, file bytes,
    /// littlefs attributes, FAT file times. The times of a FAT directory do
    /// not count: `fatfs` stamps a directory with its clock whenever it writes
    /// an entry into it, so a copy cannot keep them.
    pub fn difference(&self, other: &Tree) -> Option<String> {
        if self.kind != other.kind {
            return Some(format!("{:?} instead of {:?}", other.kind, self.kind));
        }
        if self.root_attrs != other.root_attrs {
            return Some("the root directory's attributes differ".into());
        }
        for i in 0..self.nodes.len().max(other.nodes.len()) {
            let (a, b) = match (self.nodes.get(i), other.nodes.get(i)) {
                (Some(a), Some(b)) => (a, b),
                (Some(a), None) => return Some(format!("'{}' is missing", show(&a.path))),
                (None, Some(b)) => return Some(format!("'{}' is extra", show(&b.path))),
                (None, None) => break,
            };
            let name = show(&a.path);
            if a.path != b.path {
                return Some(format!("'{}' instead of '{name}'", show(&b.path)));
            }
            match (&a.kind, &b.kind) {
                (NodeKind::Dir, NodeKind::Dir) => {}
                (NodeKind::File(x), NodeKind::File(y)) if x == y => {}
                (NodeKind::File(_), NodeKind::File(_)) => return Some(format!("the contents of '{name}' differ")),
                _ => return Some(format!("'{name}' changed between file and directory")),
            }
            let same_meta = match (&a.meta, &b.meta, &a.kind) {
                (Meta::Fat(_), Meta::Fat(_), NodeKind::Dir) => true,
                (x, y, _) => x == y,
            };
            if !same_meta {
                return Some(match (&a.meta, &b.meta) {
                    (Meta::Fat(x), Meta::Fat(y)) => format!("the times of '{name}' differ: {y:?} instead of {x:?}"),
                    _ => format!("the attributes or times of '{name}' differ"),
                });
            }
        }
        None
    }
}

/// A path for messages.
pub(crate) fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// `dir/name` (or `name` at the root).
fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// What a partition holds, found without reading any file's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// The filesystem found.
    pub kind: TreeKind,
    /// "littlefs 2.0", "FAT12", ...
    pub describe: String,
    /// Bytes the filesystem spans (littlefs blocks, FAT sectors), from the
    /// partition's start; at most the partition's size.
    pub fs_size: u32,
    /// What it holds.
    pub stats: TreeStats,
}

/// The partition's range, and what its first blocks say it holds.
fn detect_part(cache: &mut BlockCache, part: &FsPartition) -> Result<(Region, Detected), FsError> {
    super::run::detect_partition(cache, part)
}

/// Which filesystem `part` holds and what is in it; `None` when it holds
/// none (blank, or something else). Reads the directories, not the files.
pub fn survey(cache: &mut BlockCache, part: &FsPartition) -> Result<Option<Survey>, FsError> {
    let (region, found) = detect_part(cache, part)?;
    Ok(Some(match found {
        Detected::Nothing => return Ok(None),
        Detected::Littlefs => {
            let mut vol = LfsVolume::mount(cache, &part.name, region)?;
            let r = lfs::survey(&mut vol);
            Box::new(vol).finish_after(r)?
        }
        Detected::Fat(boot) => {
            let fat_type: FatType = boot.fat_type();
            let fs_size = boot.total_sectors * u32::from(boot.bytes_per_sector);
            let mut vol = FatVolume::mount(cache, &part.name, region, boot)?;
            let r = fat::survey(&mut vol, fat_type, fs_size);
            Box::new(vol).finish_after(r)?
        }
    }))
}

/// Read the whole tree of `part` (an error if it holds no filesystem).
pub fn read(cache: &mut BlockCache, part: &FsPartition) -> Result<Tree, FsError> {
    let (region, found) = detect_part(cache, part)?;
    match found {
        Detected::Nothing => Err(FsError::NoFilesystem(part.name.clone())),
        Detected::Littlefs => {
            let mut vol = LfsVolume::mount(cache, &part.name, region)?;
            let r = lfs::read(&mut vol);
            Box::new(vol).finish_after(r)
        }
        Detected::Fat(boot) => {
            let mut vol = FatVolume::mount(cache, &part.name, region, boot)?;
            let r = fat::read(&mut vol);
            Box::new(vol).finish_after(r)
        }
    }
}

/// Unmounting after work: the work's error first, else the unmount's.
trait FinishAfter {
    fn finish_after<R>(self: Box<Self>, r: Result<R, FsError>) -> Result<R, FsError>;
}

impl<V: super::volume::Volume + ?Sized> FinishAfter for V {
    fn finish_after<R>(self: Box<Self>, r: Result<R, FsError>) -> Result<R, FsError> {
        match r {
            Ok(v) => self.finish().map(|_| v),
            Err(e) => {
                let _ = self.finish();
                Err(e)
            }
        }
    }
}
