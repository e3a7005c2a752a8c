//! FAT through the `fatfs` crate, on a partition through the block cache.
//!
//! `mkfs` lays the volume out as MicroPython's `VfsFat.mkfs` does on ESP32
//! (oofatfs `f_mkfs` with `FM_FAT | FM_SFD`): 4096-byte sectors, one FAT, 512
//! root directory entries, no partition table, media 0xF8, cluster size chosen
//! by volume size, and it wipes the partition first, so no stale littlefs
//! superblock in blocks 0-1 can make MicroPython try littlefs instead.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;

use fatfs::{FileSystem, FormatVolumeOptions, FsOptions, TimeProvider};

use super::cache::{BlockCache, Region, BLOCK_SIZE};
use super::detect::FatBootSector;
use super::fat_check::Geometry;
use super::path::FsPath;
use super::time::{now_ns, Civil};
use super::volume::{Entry, Usage, Volume};
use super::FsError;

/// FAT sector size MicroPython uses on ESP32 flash (`MICROPY_FATFS_MAX_SS`).
pub const SECTOR_SIZE: u16 = 4096;
/// Root directory entries oofatfs's `f_mkfs` reserves.
pub const ROOT_ENTRIES: u16 = 512;

/// A FAT directory holds at most 65536 entries; more means its clusters loop.
const MAX_DIR_ENTRIES: usize = 65_536;
const LOOPING_DIR: &str = "a directory has more than 65536 entries (its clusters loop)";

/// The block cache, shared by `fatfs` (through [`FatIo`]) and the checks
/// that read a directory's entries before `fatfs` may use them.
type SharedCache<'c, 'f> = Rc<RefCell<&'c mut BlockCache<'f>>>;

/// A partition of the cached flash as a seekable byte stream for `fatfs`.
/// Reads share a budget per operation so a crafted cluster loop ends in an
/// error instead of running forever.
pub struct FatIo<'c, 'f> {
    cache: SharedCache<'c, 'f>,
    region: Region,
    pos: u64,
    budget: Rc<Cell<u64>>,
    probe: Rc<Cell<Probe>>,
}

/// Where the next read starts, once armed: the first read of a directory
/// listing is where its entries live, which identifies the directory
/// (`fatfs` does not tell a directory's first cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Off,
    Armed,
    Hit(u64),
}

fn cache_err(e: FsError) -> io::Error {
    io::Error::other(e)
}

impl Read for FatIo<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.probe.get() == Probe::Armed {
            self.probe.set(Probe::Hit(self.pos));
        }
        let left = u64::from(self.region.size).saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        let budget = self.budget.get();
        if n as u64 > budget {
            return Err(io::Error::other("read budget exhausted: the FAT structures loop"));
        }
        self.budget.set(budget - n as u64);
        self.cache.borrow_mut().read(self.region.offset + self.pos as u32, &mut buf[..n]).map_err(cache_err)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for FatIo<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pos + buf.len() as u64 > u64::from(self.region.size) {
            return Err(io::Error::other("write past the end of the partition"));
        }
        self.cache.borrow_mut().write(self.region.offset + self.pos as u32, buf).map_err(cache_err)?;
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for FatIo<'_, '_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let size = i128::from(self.region.size);
        let new = match pos {
            SeekFrom::Start(n) => i128::from(n),
            SeekFrom::Current(d) => i128::from(self.pos) + i128::from(d),
            SeekFrom::End(d) => size + i128::from(d),
        };
        if !(0..=size).contains(&new) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek outside the partition"));
        }
        self.pos = new as u64;
        Ok(self.pos)
    }
}

/// File and directory times for `fatfs`: UTC now (or `SOURCE_DATE_EPOCH`),
/// or, while a file is being written, that file's own time (`fatfs` stamps
/// files from its clock, so this is how a copied file keeps its mtime).
#[derive(Debug)]
struct UtcClock;

static CLOCK: UtcClock = UtcClock;

thread_local! {
    static FILE_TIME: Cell<Option<fatfs::DateTime>> = const { Cell::new(None) };
}

/// Sets the clock to a file's time until dropped.
pub(super) struct FileTime;

impl FileTime {
    fn set(unix_secs: i64) -> Self {
        Self::set_exact(fat_date_time(unix_secs))
    }

    /// The clock reads `at` exactly (a directory entry takes its times from it).
    pub(super) fn set_exact(at: fatfs::DateTime) -> Self {
        FILE_TIME.with(|t| t.set(Some(at)));
        FileTime
    }
}

impl Drop for FileTime {
    fn drop(&mut self) {
        FILE_TIME.with(|t| t.set(None));
    }
}

fn fat_date_time(unix_secs: i64) -> fatfs::DateTime {
    // FAT dates run from 1980 to 2107.
    let c = Civil::from_unix(unix_secs.clamp(315_532_800, 4_354_819_199));
    fatfs::DateTime {
        date: fatfs::Date { year: c.year as u16, month: c.month as u16, day: c.day as u16 },
        time: fatfs::Time { hour: c.hour as u16, min: c.min as u16, sec: c.sec as u16, millis: 0 },
    }
}

impl TimeProvider for UtcClock {
    fn get_current_date(&self) -> fatfs::Date {
        self.get_current_date_time().date
    }
    fn get_current_date_time(&self) -> fatfs::DateTime {
        FILE_TIME.with(Cell::get).unwrap_or_else(|| fat_date_time((now_ns() / 1_000_000_000) as i64))
    }
}

fn unix_of(dt: fatfs::DateTime) -> i64 {
    Civil {
        year: i64::from(dt.date.year),
        month: u32::from(dt.date.month),
        day: u32::from(dt.date.day),
        hour: u32::from(dt.time.hour),
        min: u32::from(dt.time.min),
        sec: u32::from(dt.time.sec),
    }
    .to_unix()
}

/// Sectors per cluster as oofatfs picks them for FAT12/16 (`f_mkfs`, au = 0):
/// 1 below 4096 sectors (16 MB at 4 KB sectors), then doubling at 4, 16, 64,
/// 256 and 512 times that.
fn oofatfs_sectors_per_cluster(sectors: u32) -> u32 {
    let n = sectors / 4096;
    let bounds = [1u32, 4, 16, 64, 256, 512];
    1 << bounds.iter().take_while(|&&b| b <= n).count()
}

/// A mounted FAT filesystem.
pub struct FatVolume<'c, 'f> {
    pub(super) fs: FileSystem<FatIo<'c, 'f>>,
    pub(super) part: String,
    region: Region,
    boot: FatBootSector,
    geo: Geometry,
    cache: SharedCache<'c, 'f>,
    budget: Rc<Cell<u64>>,
    probe: Rc<Cell<Probe>>,
    /// Where each directory listed since the last removal or rename has its
    /// entries (partition offset), and its path.
    listed: RefCell<HashMap<u64, String>>,
    /// Directories (upper-case paths) whose entries' clusters were checked
    /// since the last removal or rename: `fatfs` may open what they hold.
    checked: RefCell<HashSet<String>>,
}

fn corrupt(part: &str, detail: impl ToString) -> FsError {
    FsError::Corrupt { part: part.to_owned(), kind: "FAT", detail: detail.to_string() }
}

/// Pull one of our own errors back out of an `io::Error` from `fatfs`.
fn unwrap_ours(e: io::Error) -> Result<FsError, io::Error> {
    if e.get_ref().is_some_and(|r| r.is::<FsError>()) {
        if let Some(inner) = e.into_inner() {
            return match inner.downcast::<FsError>() {
                Ok(ours) => Ok(*ours),
                Err(other) => Err(io::Error::other(other)),
            };
        }
        return Err(io::Error::other("unknown error"));
    }
    Err(e)
}

impl<'c, 'f> FatVolume<'c, 'f> {
    fn budget_for(region: Region) -> u64 {
        64 * u64::from(region.size) + (16 << 20)
    }

    /// Mount the FAT filesystem of partition `part` whose boot sector is `boot`.
    ///
    /// Reads the boot sector and the part of the FAT that numbers the data
    /// clusters, and refuses ([`FsError::Corrupt`]) a volume whose geometry or
    /// FAT holds a number `fatfs` would compute with out of range (see
    /// [`super::fat_check`]); directories are checked as they are opened.
    pub fn mount(
        cache: &'c mut BlockCache<'f>,
        part: &str,
        region: Region,
        boot: FatBootSector,
    ) -> Result<Self, FsError> {
        let mut head = [0u8; 512];
        cache.read(region.offset, &mut head)?;
        let fs_bytes = u64::from(boot.total_sectors) * u64::from(boot.bytes_per_sector);
        if fs_bytes > u64::from(region.size) {
            // Not corrupt: the partition shrank under it (fs-size-mismatch).
            return Err(FsError::FatLargerThanPartition { part: part.to_owned(), fs_bytes, part_size: region.size });
        }
        let geo = Geometry::new(&head, &boot, region.size).map_err(|e| corrupt(part, e))?;
        let mut fat = vec![0u8; geo.fat_used_len()];
        // Within the volume, which lies within the partition (checked above).
        cache.read(region.offset + geo.fat_start as u32, &mut fat)?;
        geo.check_fat(&fat).map_err(|e| corrupt(part, e))?;
        let cache = Rc::new(RefCell::new(cache));
        let budget = Rc::new(Cell::new(Self::budget_for(region)));
        let probe = Rc::new(Cell::new(Probe::Off));
        let io = FatIo { cache: cache.clone(), region, pos: 0, budget: budget.clone(), probe: probe.clone() };
        let options = FsOptions::new().update_accessed_date(false).time_provider(&CLOCK);
        let fs = FileSystem::new(io, options).map_err(|e| match unwrap_ours(e) {
            Ok(ours) => ours,
            Err(e) => corrupt(part, e),
        })?;
        Ok(FatVolume {
            fs,
            part: part.to_owned(),
            region,
            boot,
            geo,
            cache,
            budget,
            probe,
            listed: RefCell::default(),
            checked: RefCell::default(),
        })
    }

    /// Format the partition as MicroPython's `VfsFat.mkfs` does (see the module doc).
    pub fn mkfs(cache: &'c mut BlockCache<'f>, part: &str, region: Region, now_ns: u64) -> Result<(), FsError> {
        Self::mkfs_with(cache, part, region, (now_ns / 1_000_000_000) as u32, *b"NO NAME    ")
    }

    /// [`FatVolume::mkfs`] with a given volume serial number and label (a
    /// copy of a volume keeps the original's).
    pub fn mkfs_with(
        cache: &'c mut BlockCache<'f>,
        part: &str,
        region: Region,
        volume_id: u32,
        label: [u8; 11],
    ) -> Result<(), FsError> {
        let sectors = region.size / u32::from(SECTOR_SIZE);
        // oofatfs refuses volumes under 22 sectors (at 4 KB); so do we.
        if sectors < 22 {
            return Err(FsError::PartitionTooSmall { name: part.to_owned(), size: region.size, min: 22 * BLOCK_SIZE });
        }
        cache.erase(region.offset, region.blocks() * BLOCK_SIZE)?;
        let spc = oofatfs_sectors_per_cluster(sectors);
        let budget = Rc::new(Cell::new(Self::budget_for(region)));
        let cache = Rc::new(RefCell::new(cache));
        let io = FatIo { cache, region, pos: 0, budget, probe: Rc::new(Cell::new(Probe::Off)) };
        let options = FormatVolumeOptions::new()
            .bytes_per_sector(SECTOR_SIZE)
            .total_sectors(sectors)
            .bytes_per_cluster(spc * u32::from(SECTOR_SIZE))
            .fats(1)
            .max_root_dir_entries(ROOT_ENTRIES)
            .media(0xF8)
            .sectors_per_track(63)
            .heads(255)
            .drive_num(0x80)
            .volume_id(volume_id)
            .volume_label(label);
        fatfs::format_volume(io, options).map_err(|e| match unwrap_ours(e) {
            Ok(ours) => ours,
            Err(e) => FsError::Fat { part: part.to_owned(), op: "mkfs".into(), source: e },
        })
    }

    pub(super) fn start(&self) {
        self.budget.set(Self::budget_for(self.region));
    }

    pub(super) fn err(&self, e: io::Error, op: &str, path: &FsPath) -> FsError {
        let e = match unwrap_ours(e) {
            Ok(ours) => return ours,
            Err(e) => e,
        };
        let p = path.to_string();
        let msg = e.to_string();
        match (e.kind(), msg.as_str()) {
            (io::ErrorKind::NotFound, _) => FsError::NotFound(p),
            (io::ErrorKind::AlreadyExists, _) => FsError::Exists(p),
            (_, "No space left on device") => FsError::NoSpace { part: self.part.clone(), path: path.abs() },
            (_, "Directory not empty") => FsError::NotEmpty(p),
            (_, "Is a directory") => FsError::IsADirectory(p),
            (_, "Not a directory") => FsError::NotADirectory(p),
            (_, "File name too long") => {
                let name = path.name().unwrap_or_default().to_owned();
                FsError::NameTooLong { len: name.len(), name }
            }
            (_, msg) if msg.starts_with("read budget") || msg == LOOPING_DIR => corrupt(&self.part, msg),
            _ => FsError::Fat { part: self.part.clone(), op: format!("{op} '{}'", path.abs()), source: e },
        }
    }

    fn dir(&self, path: &FsPath) -> io::Result<fatfs::Dir<'_, FatIo<'c, 'f>>> {
        let root = self.fs.root_dir();
        if path.is_root() {
            Ok(root)
        } else {
            root.open_dir(&path.rel())
        }
    }

    /// Check the entries of each directory from the root down to `path`
    /// (down to its parent unless `with_self`), so that `fatfs` may open
    /// anything on the way: none of them names a cluster out of range.
    /// Directories checked once are not read again until a removal or rename.
    pub(super) fn check_dirs(&self, path: &FsPath, with_self: bool) -> io::Result<()> {
        let mut dirs = Vec::new();
        let mut next = if with_self { Some(path.clone()) } else { path.parent() };
        while let Some(d) = next {
            next = d.parent();
            dirs.push(d);
        }
        for dir in dirs.iter().rev() {
            self.check_dir(dir)?;
        }
        Ok(())
    }

    /// Check the entries of directory `path`, whose parent was checked.
    fn check_dir(&self, path: &FsPath) -> io::Result<()> {
        let key = path.abs().chars().flat_map(char::to_uppercase).collect::<String>();
        if self.checked.borrow().contains(&key) {
            return Ok(());
        }
        let dir = self.dir(path)?;
        // Where `fatfs` reads the directory's first entry tells which it is.
        self.probe.set(Probe::Armed);
        let first = dir.iter().next();
        let hit = self.probe.replace(Probe::Off);
        if let Some(Err(e)) = first {
            return Err(e);
        }
        if let Probe::Hit(at) = hit {
            let Some(loc) = self.geo.dir_at(at) else {
                let msg = format!("the entries of '{}' are not at a cluster's start ({at:#x})", path.abs());
                return Err(io::Error::other(corrupt(&self.part, msg)));
            };
            let region = self.region;
            let mut read = |off: u64, buf: &mut [u8]| self.cache.borrow_mut().read(region.offset + off as u32, buf);
            match self.geo.check_dir(loc, &path.abs(), &mut read) {
                Ok(Ok(())) => {}
                Ok(Err(msg)) => return Err(io::Error::other(corrupt(&self.part, msg))),
                Err(e) => return Err(cache_err(e)),
            }
        }
        self.checked.borrow_mut().insert(key);
        Ok(())
    }

    fn entries(&self, path: &FsPath) -> io::Result<Vec<Entry>> {
        self.check_dirs(path, true)?;
        let dir = self.dir(path)?;
        self.probe.set(Probe::Armed);
        let mut iter = dir.iter();
        let first = iter.next();
        if let Probe::Hit(at) = self.probe.replace(Probe::Off) {
            self.check_one_path(at, path)?;
        }
        let mut out = Vec::new();
        for e in first.into_iter().chain(iter) {
            let e = e?;
            if out.len() >= MAX_DIR_ENTRIES {
                return Err(io::Error::other(LOOPING_DIR));
            }
            let name = e.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let is_dir = e.is_dir();
            let mtime = if is_dir { None } else { Some(unix_of(e.modified())) };
            out.push(Entry { name, name_exact: true, is_dir, size: if is_dir { 0 } else { e.len() }, mtime });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A directory has one path. Reaching the entries of one already listed
    /// by another path means the tree loops (a directory inside itself) or
    /// two entries share a directory: only a damaged volume has that, and
    /// walking on would never end (or would list the same files twice).
    fn check_one_path(&self, at: u64, path: &FsPath) -> io::Result<()> {
        let upper = |s: &str| s.chars().flat_map(char::to_uppercase).collect::<String>();
        let mut listed = self.listed.borrow_mut();
        match listed.get(&at) {
            Some(first) if upper(first) != upper(&path.abs()) => Err(io::Error::other(corrupt(
                &self.part,
                format!("'{}' is the directory '{first}' again: the directory tree loops", path.abs()),
            ))),
            Some(_) => Ok(()),
            None => {
                listed.insert(at, path.abs());
                Ok(())
            }
        }
    }

    /// Forget where directories were: after a removal their space may hold
    /// another one, after a rename they have another path.
    fn forget_listed(&self) {
        self.listed.borrow_mut().clear();
        self.checked.borrow_mut().clear();
    }

    /// Copy a directory tree to a new place (fatfs cannot move a directory to
    /// another parent without leaving its `..` entry stale).
    fn copy_tree(&mut self, from: &FsPath, to: &FsPath) -> Result<(), FsError> {
        self.mkdir(to)?;
        for e in self.entries(from).map_err(|e| self.err(e, "list", from))? {
            let (src, dst) = (from.join(&e.name), to.join(&e.name));
            if e.is_dir {
                self.copy_tree(&src, &dst)?;
            } else {
                let data = self.read_file(&src)?;
                let mtime = e.mtime.map_or_else(now_ns, |s| (s.max(0) as u64) * 1_000_000_000);
                self.write_file(&dst, &data, mtime, true)?;
            }
        }
        Ok(())
    }

    fn remove_tree(&mut self, path: &FsPath) -> Result<(), FsError> {
        for e in self.entries(path).map_err(|e| self.err(e, "list", path))? {
            let p = path.join(&e.name);
            if e.is_dir {
                self.remove_tree(&p)?;
            } else {
                self.remove(&p)?;
            }
        }
        self.remove(path)
    }
}

impl Volume for FatVolume<'_, '_> {
    fn describe(&mut self) -> String {
        self.boot.fat_type().name().to_owned()
    }

    fn stat(&mut self, path: &FsPath) -> Result<Option<Entry>, FsError> {
        self.start();
        let (Some(parent), Some(name)) = (path.parent(), path.name()) else {
            return Ok(Some(Entry { name: "/".into(), name_exact: true, is_dir: true, size: 0, mtime: None }));
        };
        let entries = match self.entries(&parent) {
            Ok(v) => v,
            Err(e) => {
                return match self.err(e, "stat", path) {
                    FsError::NotFound(_) | FsError::NotADirectory(_) => Ok(None),
                    other => Err(other),
                }
            }
        };
        let upper = |s: &str| s.chars().flat_map(char::to_uppercase).collect::<String>();
        Ok(entries.into_iter().find(|e| upper(&e.name) == upper(name)))
    }

    fn list(&mut self, dir: &FsPath, _mtimes: bool) -> Result<Vec<Entry>, FsError> {
        self.start();
        self.entries(dir).map_err(|e| self.err(e, "list", dir))
    }

    fn read_file(&mut self, path: &FsPath) -> Result<Vec<u8>, FsError> {
        self.start();
        let mut data = Vec::new();
        let r = self.check_dirs(path, false).and_then(|_| self.fs.root_dir().open_file(&path.rel()));
        let r = r.and_then(|mut f| f.read_to_end(&mut data));
        r.map_err(|e| self.err(e, "read", path))?;
        Ok(data)
    }

    fn mtime_resolution(&self) -> i64 {
        2
    }

    fn read_file_with_mtime(&mut self, path: &FsPath) -> Result<(Vec<u8>, Option<i64>), FsError> {
        Ok((self.read_file(path)?, None))
    }

    fn write_file(&mut self, path: &FsPath, data: &[u8], mtime_ns: u64, absent: bool) -> Result<(), FsError> {
        path.check_names()?;
        match if absent { None } else { self.stat(path)? } {
            Some(e) if e.is_dir => return Err(FsError::IsADirectory(path.to_string())),
            Some(_) => self.remove(path)?,
            None => {}
        }
        self.start();
        let rel = path.rel();
        self.check_dirs(path, false).map_err(|e| self.err(e, "write", path))?;
        let clock = FileTime::set((mtime_ns / 1_000_000_000) as i64);
        let r = self.fs.root_dir().create_file(&rel).and_then(|mut f| {
            f.truncate()?;
            f.write_all(data)?;
            f.flush()
        });
        drop(clock);
        if let Err(e) = r {
            let err = self.err(e, "write", path);
            let _ = self.fs.root_dir().remove(&rel);
            return Err(err);
        }
        Ok(())
    }

    fn mkdir(&mut self, path: &FsPath) -> Result<(), FsError> {
        path.check_names()?;
        if self.stat(path)?.is_some() {
            return Err(FsError::Exists(path.to_string()));
        }
        self.start();
        let r = self.check_dirs(path, false).and_then(|_| self.fs.root_dir().create_dir(&path.rel()));
        r.map(|_| ()).map_err(|e| self.err(e, "mkdir", path))
    }

    fn remove(&mut self, path: &FsPath) -> Result<(), FsError> {
        self.start();
        self.check_dirs(path, false).map_err(|e| self.err(e, "remove", path))?;
        self.forget_listed();
        self.fs.root_dir().remove(&path.rel()).map_err(|e| self.err(e, "remove", path))
    }

    fn rename(&mut self, from: &FsPath, to: &FsPath) -> Result<(), FsError> {
        to.check_names()?;
        let Some(src) = self.stat(from)? else { return Err(FsError::NotFound(from.to_string())) };
        if let Some(dst) = self.stat(to)? {
            if dst.is_dir || src.is_dir {
                return Err(FsError::Exists(to.to_string()));
            }
            self.remove(to)?;
        }
        if src.is_dir && from.parent() != to.parent() {
            self.copy_tree(from, to)?;
            return self.remove_tree(from);
        }
        self.start();
        self.check_dirs(from, false)
            .and_then(|_| self.check_dirs(to, false))
            .map_err(|e| self.err(e, "rename", from))?;
        self.forget_listed();
        let root = self.fs.root_dir();
        root.rename(&from.rel(), &root, &to.rel()).map_err(|e| self.err(e, "rename", from))
    }

    fn usage(&mut self) -> Result<Usage, FsError> {
        self.start();
        let root = FsPath::root(&self.part);
        let s = self.fs.stats().map_err(|e| self.err(e, "stats", &root))?;
        // FAT32 keeps its free count in the FSInfo sector, and fatfs counts it
        // down on each allocation: a stale 0 there wraps below zero.
        let used = s.total_clusters().saturating_sub(s.free_clusters());
        Ok(Usage { unit: s.cluster_size(), total: s.total_clusters(), used })
    }

    fn info(&mut self) -> Result<Vec<(String, String)>, FsError> {
        let u = self.usage()?;
        let b = &self.boot;
        let size = u64::from(b.total_sectors) * u64::from(b.bytes_per_sector);
        Ok(vec![
            ("FAT Type".into(), b.fat_type().name().into()),
            ("Sector Size".into(), b.bytes_per_sector.to_string()),
            ("Cluster Size".into(), b.cluster_size().to_string()),
            ("FATs".into(), b.fats.to_string()),
            ("Root Entries".into(), b.root_entries.to_string()),
            ("Image Size".into(), format!("{size}  /  {size:#X}")),
            ("Clusters Total".into(), u.total.to_string()),
            ("Clusters Used".into(), u.used.to_string()),
            ("Clusters Free".into(), (u.total - u.used).to_string()),
        ])
    }

    fn grow(&mut self, _blocks: u32) -> Result<u32, FsError> {
        Err(FsError::GrowFat { part: self.part.clone() })
    }

    fn finish(self: Box<Self>) -> Result<(), FsError> {
        let part = self.part.clone();
        self.fs.unmount().map_err(|e| match unwrap_ours(e) {
            Ok(ours) => ours,
            Err(e) => FsError::Fat { part, op: "unmount".into(), source: e },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_size_follows_oofatfs() {
        // 2 MB and 6 MB vfs partitions: one 4 KB sector per cluster.
        assert_eq!(oofatfs_sectors_per_cluster(512), 1);
        assert_eq!(oofatfs_sectors_per_cluster(1536), 1);
        assert_eq!(oofatfs_sectors_per_cluster(4096), 2);
        assert_eq!(oofatfs_sectors_per_cluster(16383), 2);
        assert_eq!(oofatfs_sectors_per_cluster(16384), 4);
    }

    #[test]
    fn fat_dates_clamp_to_the_fat_range() {
        let d = fat_date_time(0);
        assert_eq!((d.date.year, d.date.month, d.date.day), (1980, 1, 1));
        let d = fat_date_time(1_717_286_400 + 3_723);
        assert_eq!((d.date.year, d.date.month, d.date.day, d.time.hour, d.time.min, d.time.sec), (2024, 6, 2, 1, 2, 3));
        assert_eq!(unix_of(d), 1_717_286_400 + 3_723);
    }

    use crate::flash::Flash;

    fn run(flash: &mut crate::flash::FileFlash, cmds: &[&[&str]]) -> (Result<(), FsError>, String) {
        let parts = [crate::fs::FsPartition { name: "vfs".into(), offset: 0, size: 0x40000, implicit: false }];
        let cmds: Vec<Vec<String>> = cmds.iter().map(|c| c.iter().map(|w| w.to_string()).collect()).collect();
        let mut out = Vec::new();
        let r = crate::fs::run_fs_commands(flash, &parts, &cmds, &mut out, &mut io::sink());
        (r.map(|_| ()), String::from_utf8(out).unwrap())
    }

    /// Found by the `fat` fuzz target: `/lib` held, among its
    /// entries, the root's entry for `LIB`, i.e. itself. Every walk went
    /// 255 levels deep, resolving the path from the root at each level (over
    /// ten seconds per input under the fuzzer). The same volume, made small.
    #[test]
    fn a_directory_inside_itself_is_a_corrupt_volume() {
        let mut flash = crate::flash::FileFlash::new(vec![0xFF; 0x40000], 0, 0x40000);
        run(&mut flash, &[&["mkfs", "vfs", "fat"], &["mkdir", "/lib/sub"], &["rename", "/lib/sub", "/lib/s"]])
            .0
            .unwrap();
        // Directories listed again by the same path (stat lists the parent) are no loop.
        let (r, out) =
            run(&mut flash, &[&["ls", "-l", "/lib", "/LIB/s"], &["rm", "/lib/s"], &["mkdir", "/t"], &["ls"]]);
        assert_eq!((r.is_ok(), out.lines().last()), (true, Some("t/")), "{r:?}");
        let bytes = flash.bytes().to_vec();
        let boot = FatBootSector::parse(&bytes[..0x1000]).unwrap();
        let bps = usize::from(boot.bytes_per_sector);
        let root = (usize::from(boot.reserved_sectors) + usize::from(boot.fats) * boot.sectors_per_fat as usize) * bps;
        let lib = (root..root + usize::from(boot.root_entries) * 32)
            .step_by(32)
            .find(|&at| &bytes[at..at + 11] == b"LIB        ")
            .unwrap();
        let cluster = usize::from(u16::from_le_bytes([bytes[lib + 26], bytes[lib + 27]]));
        assert_eq!(cluster, 2);
        let lib_dir = boot.first_data_sector() as usize * bps + (cluster - 2) * boot.cluster_size() as usize;
        // In the first free slot of `/lib`: the entry of `/lib` itself.
        let free = (lib_dir..lib_dir + bps).step_by(32).find(|&at| bytes[at] == 0).unwrap();
        flash.write(free as u32, &bytes[lib..lib + 32]).unwrap();

        // The advice (save with --fs get, then --fs mkfs) is the command line's to add.
        let looped = "the FAT filesystem on 'vfs' is corrupt ('/lib/LIB' is the directory '/lib' again: the \
                      directory tree loops)";
        let (r, out) = run(&mut flash, &[&["ls"]]);
        assert_eq!((r.unwrap_err().to_string(), out.as_str()), (looped.to_string(), "lib/\nt/\nlib/LIB/\n"));
        let (r, _) = run(&mut flash, &[&["mkdir", "/x"], &["rename", "/lib", "/x/lib"]]);
        assert_eq!(r.unwrap_err().to_string(), looped);
        let (r, _) = run(&mut flash, &[&["rm", "/lib"]]);
        assert_eq!(r.unwrap_err().to_string(), looped);
    }
}
