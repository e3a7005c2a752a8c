//! [`Filesystem`]: the filesystem of one partition as a library handle, to
//! read, write and list files without the `--fs` command language.
//!
//! Changes collect in a block cache and reach the flash only with
//! [`Filesystem::commit`], all at once. A handle dropped with changes not
//! committed drops them, and says so on stderr (it never panics): a change
//! cannot be lost without a word.

use super::cache::{BlockCache, CacheStats};
use super::command::FsKind;
use super::path::FsPath;
use super::run::{format, with_volume};
use super::time::now_ns;
use super::volume::{Entry, Usage};
use super::FsPartition;
use crate::error::Error;
use crate::flash::Flash;

/// The filesystem (littlefs or FAT, detected) in one partition of a flash.
///
/// Paths are absolute within the partition (`/lib/main.py`; a leading `/` may
/// be left out). See [`crate::Firmware::filesystem`] for an example.
#[must_use = "changes reach the flash only with commit()"]
pub struct Filesystem<'f> {
    cache: BlockCache<'f>,
    part: FsPartition,
}

impl<'f> Filesystem<'f> {
    /// A handle on the filesystem of `part` in `flash`. Nothing is read yet: a
    /// partition without a filesystem fails at the first file operation
    /// ([`crate::fs::FsError::NoFilesystem`]) and can be formatted with [`Filesystem::format`].
    pub fn new(flash: &'f mut dyn Flash, part: FsPartition) -> Self {
        Filesystem { cache: BlockCache::new(flash), part }
    }

    /// The partition it is in.
    pub fn partition(&self) -> &FsPartition {
        &self.part
    }

    fn path(&self, path: &str) -> FsPath {
        FsPath::parse(&self.part.name, path)
    }

    /// What filesystem it is: `littlefs 2.0`, `FAT12`, ...
    pub fn describe(&mut self) -> Result<String, Error> {
        Ok(with_volume(&mut self.cache, &self.part, |v| Ok(v.describe()))?)
    }

    /// Make a new, empty filesystem of `kind` as MicroPython makes it (littlefs
    /// with MicroPython's `/boot.py`), replacing whatever the partition held.
    pub fn format(&mut self, kind: FsKind) -> Result<(), Error> {
        Ok(format(&mut self.cache, &self.part, kind, now_ns())?)
    }

    /// The entries of directory `dir`, sorted by name, with modification times.
    pub fn list(&mut self, dir: &str) -> Result<Vec<Entry>, Error> {
        let dir = self.path(dir);
        Ok(with_volume(&mut self.cache, &self.part, |v| v.list(&dir, true))?)
    }

    /// The contents of file `path`.
    ///
    /// Errors: [`crate::fs::FsError::NotFound`] and [`crate::fs::FsError::IsADirectory`] among others.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, Error> {
        let p = self.path(path);
        Ok(with_volume(&mut self.cache, &self.part, |v| match v.stat(&p)? {
            None => Err(super::FsError::NotFound(p.to_string())),
            Some(e) if e.is_dir => Err(super::FsError::IsADirectory(p.to_string())),
            Some(_) => v.read_file(&p),
        })?)
    }

    /// Create or replace file `path` (its directory must exist) with `data`,
    /// modified now.
    pub fn write(&mut self, path: &str, data: &[u8]) -> Result<(), Error> {
        let p = self.path(path);
        p.check_names()?;
        Ok(with_volume(&mut self.cache, &self.part, |v| v.write_file(&p, data, now_ns(), false))?)
    }

    /// Make directory `path` (its parent must exist).
    pub fn mkdir(&mut self, path: &str) -> Result<(), Error> {
        let p = self.path(path);
        p.check_names()?;
        Ok(with_volume(&mut self.cache, &self.part, |v| v.mkdir(&p))?)
    }

    /// Remove file or empty directory `path`.
    pub fn remove(&mut self, path: &str) -> Result<(), Error> {
        let p = self.path(path);
        Ok(with_volume(&mut self.cache, &self.part, |v| v.remove(&p))?)
    }

    /// Space used and free, as the board's `os.statvfs` reports it.
    pub fn usage(&mut self) -> Result<Usage, Error> {
        Ok(with_volume(&mut self.cache, &self.part, |v| v.usage())?)
    }

    /// Whether there are changes not committed yet.
    pub fn has_changes(&self) -> bool {
        self.cache.is_dirty()
    }

    /// Write every change to the flash (one erase and write per run of
    /// neighbouring 4 KB blocks) and return the flash traffic of the handle.
    pub fn commit(mut self) -> Result<CacheStats, Error> {
        self.cache.flush()?;
        Ok(self.cache.stats())
    }

    /// Drop every change, leaving the flash as it was.
    pub fn discard(mut self) {
        self.cache.discard();
    }
}

impl Drop for Filesystem<'_> {
    fn drop(&mut self) {
        if self.cache.is_dirty() {
            // A report, not a panic: dropping may happen while unwinding already.
            eprintln!(
                "mpimg: changes to the filesystem in '{}' were dropped: call commit() to write them, or discard()",
                self.part.name
            );
            self.cache.discard();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;

    fn vfs() -> FsPartition {
        FsPartition { name: "vfs".into(), offset: 0x10000, size: 0x20000, implicit: false }
    }

    #[test]
    fn changes_reach_the_flash_only_with_commit() {
        let mut flash = FileFlash::new(Vec::new(), 0, 0x40000);
        let mut fs = Filesystem::new(&mut flash, vfs());
        assert!(matches!(fs.list("/"), Err(Error::Fs(super::super::FsError::NoFilesystem(_)))));
        fs.format(FsKind::Littlefs).unwrap();
        fs.write("/a.txt", b"one").unwrap();
        assert!(fs.has_changes());
        // Dropped: nothing written (and a note on stderr).
        drop(fs);
        assert_eq!(flash.bytes().len(), 0);
        let mut fs = Filesystem::new(&mut flash, vfs());
        fs.format(FsKind::Littlefs).unwrap();
        fs.mkdir("/lib").unwrap();
        fs.write("lib/a.txt", b"one").unwrap();
        let stats = fs.commit().unwrap();
        assert!(stats.blocks_written > 0);
        let mut fs = Filesystem::new(&mut flash, vfs());
        assert_eq!(fs.describe().unwrap(), "littlefs 2.0");
        assert_eq!(fs.read("/lib/a.txt").unwrap(), b"one");
        let names: Vec<String> = fs.list("/").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["boot.py", "lib"]);
        fs.remove("/lib/a.txt").unwrap();
        fs.discard();
        assert_eq!(Filesystem::new(&mut flash, vfs()).read("/lib/a.txt").unwrap(), b"one");
    }
}
