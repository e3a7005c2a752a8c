//! What the commands need from a mounted filesystem, littlefs or FAT alike.

use super::path::FsPath;
use super::FsError;

/// Deeper directory trees than this are taken for a loop in a damaged image.
pub const MAX_DEPTH: usize = 255;

/// One directory entry (or the result of a stat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as text; invalid UTF-8 in a littlefs name is replaced.
    pub name: String,
    /// False when `name` had to be repaired (such an entry is not copied out).
    pub name_exact: bool,
    /// A directory (else a file).
    pub is_dir: bool,
    /// A file's length in bytes (0 for a directory).
    pub size: u64,
    /// Modification time, seconds since 1970 (UTC), when the filesystem has one.
    pub mtime: Option<i64>,
}

/// Space accounting in the filesystem's own allocation unit, as the board's
/// `os.statvfs` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes per unit (littlefs block, FAT cluster).
    pub unit: u32,
    /// Units in the filesystem.
    pub total: u32,
    /// Units in use.
    pub used: u32,
}

/// A mounted filesystem on one partition.
pub trait Volume {
    /// "littlefs 2.0", "FAT12", ...
    fn describe(&mut self) -> String;
    /// The entry at `path`, `None` if there is none. The root is a directory.
    fn stat(&mut self, path: &FsPath) -> Result<Option<Entry>, FsError>;
    /// The entries of a directory sorted by name; with `mtimes`, modification
    /// times are filled in where the filesystem keeps them.
    fn list(&mut self, dir: &FsPath, mtimes: bool) -> Result<Vec<Entry>, FsError>;
    /// The contents of a file.
    fn read_file(&mut self, path: &FsPath) -> Result<Vec<u8>, FsError>;
    /// A file's contents and its modification time where the filesystem keeps
    /// that with the file (littlefs's mtime attribute, read in the same path
    /// lookup). FAT keeps it in the directory entry, which `list` reports, so
    /// it gives `None` here.
    fn read_file_with_mtime(&mut self, path: &FsPath) -> Result<(Vec<u8>, Option<i64>), FsError>;
    /// How coarse the modification times the filesystem keeps are, in
    /// seconds (FAT keeps even seconds); what `sync` compares them to.
    fn mtime_resolution(&self) -> i64 {
        1
    }
    /// Create or replace a file (its parent must exist); `mtime_ns` is
    /// nanoseconds since 1970. `absent` tells that the caller knows nothing
    /// is at `path` yet, which saves looking (an old file is removed first,
    /// so its space can be reused).
    fn write_file(&mut self, path: &FsPath, data: &[u8], mtime_ns: u64, absent: bool) -> Result<(), FsError>;
    /// Create one directory (its parent must exist).
    fn mkdir(&mut self, path: &FsPath) -> Result<(), FsError>;
    /// Remove a file or an empty directory.
    fn remove(&mut self, path: &FsPath) -> Result<(), FsError>;
    /// Rename within this filesystem; an existing file at `to` is replaced.
    fn rename(&mut self, from: &FsPath, to: &FsPath) -> Result<(), FsError>;
    /// Space used and free.
    fn usage(&mut self) -> Result<Usage, FsError>;
    /// Lines for `--fs info`, label and value.
    fn info(&mut self) -> Result<Vec<(String, String)>, FsError>;
    /// Grow to `blocks` blocks; returns the old count (littlefs only).
    fn grow(&mut self, blocks: u32) -> Result<u32, FsError>;
    /// Unmount, reporting anything that failed on the way out.
    fn finish(self: Box<Self>) -> Result<(), FsError>;
}

/// Make `path` and any missing parents; an existing directory is fine.
pub fn makedirs(vol: &mut dyn Volume, path: &FsPath) -> Result<(), FsError> {
    let mut p = FsPath::root(&path.part);
    for name in &path.names {
        p = p.join(name);
        match vol.stat(&p)? {
            Some(e) if e.is_dir => {}
            Some(_) => return Err(FsError::NotADirectory(p.to_string())),
            None => vol.mkdir(&p)?,
        }
    }
    Ok(())
}
