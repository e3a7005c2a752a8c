//! littlefs as MicroPython keeps it, on a partition through the block cache.
//!
//! Mount keeps the on-disk version: a first mount accepts any 2.x and reads the
//! version with `lfs_fs_stat`, the real mount is pinned to it, so writing to a
//! 2.0 filesystem never upgrades it to 2.1 (MicroPython up to v1.21 cannot
//! mount 2.1). `mkfs` writes 2.0 and the `boot.py` of MicroPython's first boot.
//! File times are custom attribute 1 (u64 LE nanoseconds since 1970), as
//! MicroPython's VfsLfs2 stores them.
//!
//! Every mount allocates new blocks from the lowest free block up (littlefs
//! itself starts at a pseudo-random block to spread a board's wear): a baked
//! filesystem is packed at the start of its partition, so the image file ends
//! right after its last block. Blocks already in use are never moved.

use std::collections::HashMap;

use mpimg_littlefs::{self as lfs, Attribute, BlockDevice, Config, DeviceError, FileType, Filesystem, FsInfo};

use super::cache::{BlockCache, Region, BLOCK_SIZE};
use super::path::FsPath;
use super::volume::{Entry, Usage, Volume};
use super::FsError;

/// Tell the cache which blocks the filesystem uses before the first change
/// of a mount, so it keeps littlefs's write order when it flushes (see
/// [`BlockCache::protect`]). Blocks a damaged filesystem names past the
/// partition are left out; if the walk fails, every block of the partition
/// is protected: each change then goes out in the order it was made. A
/// flash error is returned.
fn protect_used_blocks(fs: &mut Filesystem<LfsDev<'_, '_>>, region: Region) -> Result<(), FsError> {
    let (first, blocks) = (region.offset / BLOCK_SIZE, region.blocks());
    let mut used = Vec::new();
    if fs.traverse(&mut |b| used.extend((b < blocks).then(|| first + b))).is_err() {
        if let Some(e) = fs.device_mut().error.take() {
            return Err(e);
        }
        used = (first..first + region.blocks()).collect();
    }
    fs.device_mut().cache.protect(used);
    Ok(())
}

/// MicroPython's attribute type for a file's modification time.
pub const ATTR_MTIME: u8 = 1;

/// What MicroPython's first boot (`inisetup.py`) writes to `/boot.py`.
pub const BOOT_PY: &str = "\
# This file is executed on every boot (including wake-boot from deepsleep)
#import esp
#esp.osdebug(None)
#import webrepl
#webrepl.start()
";

/// More entries than this in one directory only happen in a damaged image.
pub(crate) const DIR_LIMIT: usize = 100_000;

/// The littlefs block device: one partition of the cached flash. Flash
/// errors are kept here (littlefs only learns "I/O error") and reported after.
pub struct LfsDev<'c, 'f> {
    cache: &'c mut BlockCache<'f>,
    region: Region,
    error: Option<FsError>,
}

impl<'c, 'f> LfsDev<'c, 'f> {
    /// The littlefs block device of `region`, through `cache`.
    pub fn new(cache: &'c mut BlockCache<'f>, region: Region) -> Self {
        LfsDev { cache, region, error: None }
    }

    fn addr(&self, block: u32, off: u32, len: usize) -> Result<u32, DeviceError> {
        if block >= self.region.blocks() || off as usize + len > BLOCK_SIZE as usize {
            return Err(DeviceError::Corrupt);
        }
        Ok(self.region.offset + block * BLOCK_SIZE + off)
    }

    fn fail(&mut self, e: FsError) -> DeviceError {
        self.error.get_or_insert(e);
        DeviceError::Io
    }
}

impl BlockDevice for LfsDev<'_, '_> {
    fn read(&mut self, block: u32, off: u32, buf: &mut [u8]) -> Result<(), DeviceError> {
        let at = self.addr(block, off, buf.len())?;
        self.cache.read(at, buf).map_err(|e| self.fail(e))
    }

    fn prog(&mut self, block: u32, off: u32, data: &[u8]) -> Result<(), DeviceError> {
        let at = self.addr(block, off, data.len())?;
        self.cache.write(at, data).map_err(|e| self.fail(e))
    }

    fn erase(&mut self, block: u32) -> Result<(), DeviceError> {
        let at = self.addr(block, 0, BLOCK_SIZE as usize)?;
        self.cache.erase(at, BLOCK_SIZE).map_err(|e| self.fail(e))
    }
}

fn version_string(v: u32) -> String {
    format!("{}.{}", v >> 16, v & 0xFFFF)
}

/// A mounted littlefs filesystem.
pub struct LfsVolume<'c, 'f> {
    pub(super) fs: Filesystem<LfsDev<'c, 'f>>,
    pub(super) part: String,
    region: Region,
    pub(super) info: FsInfo,
    /// The metadata pair of each directory listed since the last change, and
    /// its path (see [`LfsVolume::check_one_path`]).
    listed: HashMap<u64, String>,
    /// The blocks in use were given to the cache to protect (on the first change).
    protected: bool,
}

fn corrupt(part: &str, detail: impl ToString) -> FsError {
    FsError::Corrupt { part: part.to_owned(), kind: "littlefs", detail: detail.to_string() }
}

impl<'c, 'f> LfsVolume<'c, 'f> {
    /// Mount the littlefs filesystem of partition `part`, keeping its on-disk version.
    ///
    /// Errors: [`FsError::FsLargerThanPartition`] when its superblock counts
    /// more blocks than the partition has; [`FsError::Corrupt`] when it does not mount.
    pub fn mount(cache: &'c mut BlockCache<'f>, part: &str, region: Region) -> Result<Self, FsError> {
        Self::mount_with(cache, part, region, false)
    }

    /// [`LfsVolume::mount`], also when the filesystem counts more blocks than
    /// `region` holds (a partition cut short by the end of the flash, or
    /// shrunk without its filesystem): for reading what it holds. A block
    /// past the region reads as an error, so only a filesystem whose used
    /// blocks all lie within the region reads whole.
    pub fn mount_spanning(cache: &'c mut BlockCache<'f>, part: &str, region: Region) -> Result<Self, FsError> {
        Self::mount_with(cache, part, region, true)
    }

    fn mount_with(cache: &'c mut BlockCache<'f>, part: &str, region: Region, spanning: bool) -> Result<Self, FsError> {
        let dev = LfsDev::new(cache, region);
        let mount = |dev: LfsDev<'c, 'f>, cfg: &Config| {
            Filesystem::mount(dev, cfg)
                .map_err(|(e, mut dev)| dev.error.take().unwrap_or_else(|| corrupt(part, format!("mount: {e}"))))
        };
        // First mount: accept 2.0 or 2.1 and any size, to learn both.
        let mut probe = mount(dev, &Config::micropython(0))?;
        let info = probe.fs_stat().map_err(|e| corrupt(part, format!("fs_stat: {e}")))?;
        let (_, dev) = probe.unmount();
        if info.block_size != BLOCK_SIZE {
            return Err(corrupt(part, format!("block size {} instead of {BLOCK_SIZE}", info.block_size)));
        }
        if info.block_count > region.blocks() && !spanning {
            return Err(FsError::FsLargerThanPartition {
                part: part.to_owned(),
                fs_blocks: info.block_count,
                part_blocks: region.blocks(),
            });
        }
        let cfg = Config::micropython(info.block_count).with_disk_version(info.disk_version);
        let mut fs = mount(dev, &cfg)?;
        // New blocks go to the lowest free ones, so what mpimg writes is packed
        // at the start of the partition and a file can end right after it
        // (littlefs's own start is pseudo-random; see `allocate_from_start`).
        fs.allocate_from_start();
        Ok(LfsVolume { fs, part: part.to_owned(), region, info, listed: HashMap::new(), protected: false })
    }

    /// Make a new filesystem on the partition as MicroPython would, but at
    /// on-disk version 2.0 (readable by every MicroPython with littlefs v2):
    /// the whole partition is erased, then formatted, then `/boot.py` written.
    pub fn mkfs(cache: &'c mut BlockCache<'f>, part: &str, region: Region, now_ns: u64) -> Result<(), FsError> {
        let mut vol = LfsVolume::format(cache, part, region, lfs::DISK_VERSION_2_0)?;
        vol.write_file(&FsPath::parse(part, "/boot.py"), BOOT_PY.as_bytes(), now_ns, true)?;
        Box::new(vol).finish()
    }

    /// Erase the whole partition and make an empty filesystem on it with
    /// MicroPython's configuration, a block count of the partition's size and
    /// the given on-disk version; return it mounted.
    pub fn format(
        cache: &'c mut BlockCache<'f>,
        part: &str,
        region: Region,
        disk_version: u32,
    ) -> Result<Self, FsError> {
        let blocks = region.blocks();
        if blocks < 2 {
            return Err(FsError::PartitionTooSmall { name: part.to_owned(), size: region.size, min: 2 * BLOCK_SIZE });
        }
        cache.erase(region.offset, blocks * BLOCK_SIZE)?;
        let mut dev = LfsDev::new(cache, region);
        let cfg = Config::micropython(blocks).with_disk_version(disk_version);
        if let Err(e) = lfs::format(&mut dev, &cfg) {
            return Err(dev.error.take().unwrap_or_else(|| FsError::Littlefs {
                part: part.to_owned(),
                op: "mkfs".into(),
                source: e,
            }));
        }
        LfsVolume::mount(dev.cache, part, region)
    }

    /// [`LfsVolume::err`] for a path given as stored bytes (`a/b`, `` for the root).
    pub(super) fn err_at(&mut self, e: lfs::Error, op: &str, path: &[u8]) -> FsError {
        let p = FsPath::parse(&self.part.clone(), &String::from_utf8_lossy(path));
        self.err(e, op, &p)
    }

    /// Turn a littlefs error on `path` into a helpful one (a flash error the
    /// device kept comes first).
    fn err(&mut self, e: lfs::Error, op: &str, path: &FsPath) -> FsError {
        if let Some(flash) = self.fs.device_mut().error.take() {
            return flash;
        }
        let p = path.to_string();
        match e {
            lfs::Error::NoEntry => FsError::NotFound(p),
            lfs::Error::Exists => FsError::Exists(p),
            lfs::Error::IsDir => FsError::IsADirectory(p),
            lfs::Error::NotDir => FsError::NotADirectory(p),
            lfs::Error::NotEmpty => FsError::NotEmpty(p),
            lfs::Error::NoSpace => FsError::NoSpace { part: self.part.clone(), path: path.abs() },
            lfs::Error::NameTooLong => {
                let name = path.name().unwrap_or_default().to_owned();
                FsError::NameTooLong { len: name.len(), name }
            }
            lfs::Error::Corrupt => corrupt(&self.part, format!("{op} '{}'", path.abs())),
            other => FsError::Littlefs { part: self.part.clone(), op: format!("{op} '{}'", path.abs()), source: other },
        }
    }

    fn mtime(&mut self, path: &str) -> Option<i64> {
        let mut buf = [0u8; 8];
        match self.fs.getattr(path, ATTR_MTIME, &mut buf) {
            Ok(Some(8)) => Some(seconds_of_mtime(buf)),
            _ => None,
        }
    }

    /// When the partition reaches past the end of a firmware file and this
    /// run changed something, make the file hold every block the filesystem
    /// uses, blank ones too (see [`BlockCache::cover`]). A device holds all
    /// its flash, so nothing is traversed there.
    fn cover_used_blocks(&mut self) -> Result<(), FsError> {
        let end = self.region.offset + self.region.size;
        let cache = &self.fs.device().cache;
        if !cache.is_dirty() || cache.flash().data_end() >= end {
            return Ok(());
        }
        let mut top = 0;
        let root = FsPath::root(&self.part);
        self.fs.traverse(&mut |b| top = top.max(b)).map_err(|e| self.err(e, "traverse", &root))?;
        let covered = self.region.offset + (top + 1).min(self.region.blocks()) * BLOCK_SIZE;
        self.fs.device_mut().cache.cover(covered);
        Ok(())
    }

    /// A directory has one path. Reaching the metadata pair of one already
    /// listed by another path means the tree loops (a directory inside itself)
    /// or two entries share a directory: only a damaged filesystem has that,
    /// and walking on would never end (or list the same files twice).
    fn check_one_path(&mut self, head: [u32; 2], dir: &FsPath) -> Result<(), FsError> {
        let key = (u64::from(head[0].min(head[1])) << 32) | u64::from(head[0].max(head[1]));
        match self.listed.get(&key) {
            Some(first) if *first != dir.abs() => Err(corrupt(
                &self.part,
                format!("'{}' is the directory '{first}' again: the directory tree loops", dir.abs()),
            )),
            Some(_) => Ok(()),
            None => {
                self.listed.insert(key, dir.abs());
                Ok(())
            }
        }
    }

    /// Before a change: the first of this mount protects the blocks in use
    /// (a walk of the filesystem, which only changes need).
    fn before_change(&mut self) -> Result<(), FsError> {
        if !self.protected {
            protect_used_blocks(&mut self.fs, self.region)?;
            self.protected = true;
        }
        Ok(())
    }

    /// The filesystem's on-disk version as mounted.
    pub fn disk_version(&self) -> u32 {
        self.info.disk_version
    }
}

/// MicroPython's mtime attribute (u64 little-endian nanoseconds) in seconds.
fn seconds_of_mtime(le_ns: [u8; 8]) -> i64 {
    (u64::from_le_bytes(le_ns) / 1_000_000_000) as i64
}

impl Volume for LfsVolume<'_, '_> {
    fn describe(&mut self) -> String {
        format!("littlefs {}", version_string(self.info.disk_version))
    }

    fn stat(&mut self, path: &FsPath) -> Result<Option<Entry>, FsError> {
        match self.fs.stat(path.abs()) {
            Ok(e) => Ok(Some(Entry {
                name: path.name().unwrap_or("/").to_owned(),
                name_exact: true,
                is_dir: e.file_type == FileType::Dir,
                size: u64::from(e.size),
                mtime: None,
            })),
            Err(lfs::Error::NoEntry) | Err(lfs::Error::NotDir) => Ok(None),
            Err(e) => Err(self.err(e, "stat", path)),
        }
    }

    fn list(&mut self, dir: &FsPath, mtimes: bool) -> Result<Vec<Entry>, FsError> {
        let (head, raw) = self.fs.read_dir_with_head(dir.abs(), DIR_LIMIT).map_err(|e| self.err(e, "list", dir))?;
        self.check_one_path(head, dir)?;
        let mut out = Vec::with_capacity(raw.len());
        for e in raw {
            let name = String::from_utf8(e.name.clone());
            let name_exact = name.is_ok();
            let name = name.unwrap_or_else(|_| e.name_lossy());
            let mtime = if mtimes && e.file_type == FileType::File && name_exact {
                self.mtime(&dir.join(&name).abs())
            } else {
                None
            };
            out.push(Entry { name, name_exact, is_dir: e.file_type == FileType::Dir, size: u64::from(e.size), mtime });
        }
        Ok(out)
    }

    fn read_file(&mut self, path: &FsPath) -> Result<Vec<u8>, FsError> {
        self.fs.read_file(path.abs()).map_err(|e| self.err(e, "read", path))
    }

    fn read_file_with_mtime(&mut self, path: &FsPath) -> Result<(Vec<u8>, Option<i64>), FsError> {
        let (data, attr) =
            self.fs.read_file_with_attr(path.abs(), ATTR_MTIME, 8).map_err(|e| self.err(e, "read", path))?;
        let mtime = attr.and_then(|v| <[u8; 8]>::try_from(v).ok()).map(seconds_of_mtime);
        Ok((data, mtime))
    }

    fn write_file(&mut self, path: &FsPath, data: &[u8], mtime_ns: u64, absent: bool) -> Result<(), FsError> {
        path.check_names()?;
        self.before_change()?;
        // A change may move metadata pairs (compaction, relocation) or free one.
        self.listed.clear();
        let exists = match if absent { Err(lfs::Error::NoEntry) } else { self.fs.stat(path.abs()) } {
            Ok(e) if e.file_type == FileType::Dir => return Err(FsError::IsADirectory(path.to_string())),
            Ok(_) => true,
            Err(_) => false,
        };
        let attrs = [Attribute { kind: ATTR_MTIME, value: mtime_ns.to_le_bytes().to_vec() }];
        // An old copy stays until the new one is complete: littlefs commits a
        // file when it is closed, so a device cut off half way holds one or
        // the other. Only when both do not fit is the old one removed first
        // (its blocks are then reused for the new one).
        let first = self.fs.write_file(path.abs(), data, &attrs);
        let retry = match first {
            Ok(()) => return Ok(()),
            Err(lfs::Error::NoSpace) if exists => {
                self.fs.remove(path.abs()).map_err(|e| self.err(e, "remove", path))?;
                self.fs.write_file(path.abs(), data, &attrs)
            }
            Err(e) if exists => return Err(self.err(e, "write", path)),
            Err(e) => Err(e),
        };
        if let Err(e) = retry {
            let err = self.err(e, "write", path);
            // Leave no truncated file behind (littlefs may have created it).
            let _ = self.fs.remove(path.abs());
            return Err(err);
        }
        Ok(())
    }

    fn mkdir(&mut self, path: &FsPath) -> Result<(), FsError> {
        path.check_names()?;
        self.before_change()?;
        // A change may move metadata pairs (compaction, relocation) or free one.
        self.listed.clear();
        self.fs.mkdir(path.abs()).map_err(|e| self.err(e, "mkdir", path))
    }

    fn remove(&mut self, path: &FsPath) -> Result<(), FsError> {
        self.before_change()?;
        // A change may move metadata pairs (compaction, relocation) or free one.
        self.listed.clear();
        self.fs.remove(path.abs()).map_err(|e| self.err(e, "remove", path))
    }

    fn rename(&mut self, from: &FsPath, to: &FsPath) -> Result<(), FsError> {
        to.check_names()?;
        self.before_change()?;
        // A change may move metadata pairs (compaction, relocation) or free one.
        self.listed.clear();
        self.fs.rename(from.abs(), to.abs()).map_err(|e| self.err(e, "rename", from))
    }

    fn usage(&mut self) -> Result<Usage, FsError> {
        let root = FsPath::root(&self.part);
        let used = self.fs.used_blocks().map_err(|e| self.err(e, "traverse", &root))?;
        Ok(Usage { unit: self.info.block_size, total: self.info.block_count, used })
    }

    fn info(&mut self) -> Result<Vec<(String, String)>, FsError> {
        let u = self.usage()?;
        let size = u64::from(u.total) * u64::from(u.unit);
        let mut lines = vec![
            ("Disk Version".into(), version_string(self.info.disk_version)),
            ("Name Max".into(), self.info.name_max.to_string()),
            ("Image Size".into(), format!("{size}  /  {size:#X}")),
            ("Block Size".into(), format!("{}  /  {:#X}", u.unit, u.unit)),
            ("Blocks Total".into(), u.total.to_string()),
            ("Blocks Used".into(), u.used.to_string()),
            ("Blocks Free".into(), u.total.saturating_sub(u.used).to_string()),
        ];
        if u.total < self.region.blocks() {
            let note = format!("{} (the filesystem is smaller: run --fs grow {})", self.region.blocks(), self.part);
            lines.push(("Partition Blocks".into(), note));
        }
        Ok(lines)
    }

    fn grow(&mut self, blocks: u32) -> Result<u32, FsError> {
        let old = self.info.block_count;
        if blocks > self.region.blocks() {
            return Err(FsError::GrowPastPartition {
                part: self.part.clone(),
                blocks,
                part_blocks: self.region.blocks(),
            });
        }
        if blocks < old {
            return Err(FsError::GrowShrink { part: self.part.clone(), now: old, asked: blocks });
        }
        let root = FsPath::root(&self.part);
        self.before_change()?;
        self.fs.grow(blocks).map_err(|e| self.err(e, "grow", &root))?;
        self.info = self.fs.fs_stat().map_err(|e| self.err(e, "fs_stat", &root))?;
        Ok(old)
    }

    fn finish(mut self: Box<Self>) -> Result<(), FsError> {
        let cover = self.cover_used_blocks();
        let part = self.part.clone();
        let (result, mut dev) = self.fs.unmount();
        if let Some(e) = dev.error.take() {
            return Err(e);
        }
        cover?;
        result.map_err(|e| corrupt(&part, format!("unmount: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;

    fn run(flash: &mut FileFlash, cmds: &[&[&str]]) -> (Result<(), FsError>, String) {
        let parts = [crate::fs::FsPartition { name: "vfs".into(), offset: 0, size: 0x10000, implicit: false }];
        let cmds: Vec<Vec<String>> = cmds.iter().map(|c| c.iter().map(|w| w.to_string()).collect()).collect();
        let mut out = Vec::new();
        let r = crate::fs::run_fs_commands(flash, &parts, &cmds, &mut out, &mut std::io::sink());
        (r.map(|_| ()), String::from_utf8(out).unwrap())
    }

    /// Listing the same directory again, or a directory whose metadata pair
    /// was freed and reused by another after a change, is no loop.
    #[test]
    fn changes_between_listings_are_no_loop() {
        let mut flash = FileFlash::new(vec![0xFF; 0x10000], 0, 0x10000);
        let (r, out) = run(
            &mut flash,
            &[
                &["mkfs"],
                &["mkdir", "/a/b", "/c"],
                &["ls", "/", "/a"],
                &["rm", "/a"],
                &["mkdir", "/d/e"],
                &["rename", "/c", "/d/c"],
                &["ls"],
            ],
        );
        assert!(r.is_ok(), "{r:?}");
        assert!(out.ends_with("boot.py\nd/\nd/c/\nd/e/\n"), "{out}");
    }
}
