//! File backend of the flash abstraction: a firmware file held in memory.
//!
//! The file's first byte is flash offset `start` (the chip's bootloader offset).
//! Reads past the end of the file return 0xFF, writes past it extend the file
//! (filling any gap with 0xFF), and [`Flash::trim_end`] shortens it. Nothing
//! touches the disk until [`FileFlash::save`], which writes a whole new file
//! atomically (temporary file in the same directory, then rename), or
//! [`FileFlash::save_in_place`], which writes only the changed byte ranges
//! back into the file they came from (`--in-place`).
//!
//! Files on this computer can fail too: a full disk (a save leaves no part of
//! a new file, and an in-place save that needs more room takes it before it
//! changes a byte), an output that is a symbolic link (written through: the
//! file it points to is replaced, the link stays), an output that is no
//! regular file (a FIFO, `/dev/null`, `/dev/stdout`: written into, never
//! replaced), and an input that another
//! program changes while mpimg works on it ([`FileStamp`]: the caller
//! refuses to write from it).

use std::io::Write;
use std::path::Path;

use super::bytes::FileBytes;
use super::{check_erase_alignment, Flash, FlashError};

/// A firmware file (or any flash dump) as a [`Flash`] backend.
#[derive(Debug)]
pub struct FileFlash {
    data: FileBytes,
    start: u32,
    capacity: u32,
    /// Length when loaded, and the byte ranges (file offsets, end exclusive)
    /// changed since: what an in-place save must write.
    loaded_len: usize,
    changed: Vec<(usize, usize)>,
    /// The file the bytes came from and its stamp then (see [`FileFlash::changed_source`]).
    source: Option<(std::path::PathBuf, FileStamp)>,
}

impl FileFlash {
    /// Wrap `data` whose first byte is at flash offset `start`.
    /// `capacity` bounds how far writes may extend the file.
    pub fn new(data: impl Into<FileBytes>, start: u32, capacity: u32) -> Self {
        let data = data.into();
        Self { loaded_len: data.len(), data, start, capacity, changed: Vec::new(), source: None }
    }

    /// The bytes of the file as they stand now.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_slice()
    }

    /// Take the bytes out of the backend.
    pub fn into_bytes(self) -> Vec<u8> {
        self.data.into_vec()
    }

    /// Say which file the bytes came from, and how it looked before they were read.
    pub fn set_source(&mut self, path: &Path, stamp: FileStamp) {
        self.source = Some((path.to_path_buf(), stamp));
    }

    /// The file the bytes came from, if another program changed (or
    /// replaced, or removed) it since: writing from these bytes would mix
    /// what mpimg read with what is there now (a mapped file's untouched
    /// pages show the file as it is).
    pub fn changed_source(&self) -> Option<&Path> {
        let (path, stamp) = self.source.as_ref()?;
        match FileStamp::now(path) {
            Ok(now) if now == *stamp => None,
            _ => Some(path),
        }
    }

    /// Change the flash offset of the first byte (after the chip is known).
    pub fn set_start(&mut self, start: u32) {
        self.start = start;
    }

    /// Write the contents to `path` atomically (see [`write_atomically`]).
    /// On error nothing is left behind.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        write_atomically(path, self.data.as_slice())
    }

    /// The changed byte ranges, sorted, merged and cut to the current length.
    pub fn changed_ranges(&self) -> Vec<(usize, usize)> {
        let len = self.data.len();
        let mut r: Vec<(usize, usize)> =
            self.changed.iter().map(|&(lo, hi)| (lo, hi.min(len))).filter(|&(lo, hi)| lo < hi).collect();
        r.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(r.len());
        for (lo, hi) in r {
            match merged.last_mut() {
                Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        merged
    }

    /// Write the changes back into `path`, the file these bytes were loaded
    /// from: only the changed ranges are written, and the file is cut if it
    /// became shorter. Returns the number of bytes written.
    ///
    /// Like any in-place edit (and like mp-image-tool-esp32's `--fs`), this is
    /// not atomic: if the process dies while writing, the file holds part of
    /// the change. A file that grows gets its new end first: if the disk is
    /// full, that fails before any old byte changed, and the file is cut back
    /// to what it was (the rest only overwrites bytes the file has). If the
    /// file's length is no longer what was loaded (another program changed it
    /// meanwhile), the whole contents are saved atomically instead, so nothing
    /// is patched into the wrong file.
    pub fn save_in_place(&self, path: &Path) -> std::io::Result<usize> {
        use std::io::{Seek, SeekFrom};
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        if file.metadata()?.len() != self.loaded_len as u64 {
            drop(file);
            self.save(path)?;
            return Ok(self.data.len());
        }
        let data = self.data.as_slice();
        let old = self.loaded_len;
        let mut written = 0;
        if data.len() > old {
            let grown = file.seek(SeekFrom::Start(old as u64)).and_then(|_| file.write_all(&data[old..]));
            if let Err(e) = grown {
                let _ = file.set_len(old as u64);
                return Err(e);
            }
            written += data.len() - old;
        }
        for (lo, hi) in self.changed_ranges() {
            let hi = hi.min(old);
            if lo >= hi {
                continue;
            }
            file.seek(SeekFrom::Start(lo as u64))?;
            file.write_all(&data[lo..hi])?;
            written += hi - lo;
        }
        if data.len() < self.loaded_len {
            file.set_len(data.len() as u64)?;
        }
        Ok(written)
    }

    fn range(&self, offset: u32, len: usize) -> Result<(usize, usize), FlashError> {
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        if offset < self.start {
            return Err(FlashError::BeforeStart { offset, len: len32, start: self.start });
        }
        let end = u64::from(offset) + len as u64;
        if end > u64::from(self.capacity) {
            return Err(FlashError::PastEnd { offset, len: len32, size: self.capacity });
        }
        let lo = (offset - self.start) as usize;
        Ok((lo, lo + len))
    }
}

/// Write `data` to `path` through a temporary file in the same directory and a rename.
///
/// When `path` already exists (`--in-place`, or an output written again) the
/// temporary file is synced before the rename, so a crash cannot leave an empty
/// file where the old one was. A new file is not synced: if a crash corrupts
/// it, nothing the user had is lost (the input is never touched), and the sync
/// would cost more than everything else a typical edit does. On any error
/// (a full disk) the temporary file is removed: no part of a new file is left.
///
/// A `path` that is a symbolic link is written through: the file it points to
/// (however many links deep; created if it does not exist yet) is replaced,
/// and the link stays, as `cp` onto a link does.
///
/// A `path` that is not a regular file (a FIFO, a character device such as
/// `/dev/null` or a tty) or that leads to a file another program opened
/// (`/dev/stdout`, `/dev/fd/N`: links into `/proc`) is never replaced: the
/// data is written straight into it, appended, as `cp` and esptool do. Such
/// a write is not atomic (a reader may get part of it); opening a FIFO waits
/// for its reader.
pub fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let (target, stream) = output_target(path)?;
    if stream {
        let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
        return f.write_all(data).and_then(|()| f.flush());
    }
    let path = &target;
    let replacing = path.exists();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.mpimg-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        if replacing {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The file `path` names once symbolic links are followed (the path itself
/// when it is no link), and whether it is a stream to write into rather
/// than a file to replace: it exists and is not a regular file (nor a
/// directory, which the rename then refuses), or one of its links lies in
/// `/proc` (an open file of some process: its name there is no path to
/// rename onto), or it lies in `/dev` itself. Errors after 40 links (a loop).
fn output_target(path: &Path) -> std::io::Result<(std::path::PathBuf, bool)> {
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() && !m.is_dir() {
            return Ok((path.to_path_buf(), true));
        }
    }
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                if std::fs::canonicalize(dir).is_ok_and(|d| d.starts_with("/proc")) {
                    return Ok((path.to_path_buf(), true));
                }
                let target = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            // Never a rename into /dev itself: a device node replaced by a regular
            // file (by some other program) is still written into, not swapped again.
            // (Its subdirectories, /dev/shm say, hold ordinary files.)
            _ => {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let in_dev = std::fs::canonicalize(dir).is_ok_and(|d| d == Path::new("/dev"));
                return Ok((if in_dev { path.to_path_buf() } else { p }, in_dev));
            }
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// Whether `a` and `b` name the same file on disk (through another path, a
/// hard link or a symbolic link). False when either does not exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => FileStamp::identity(&x) == FileStamp::identity(&y),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
    }
}

/// What a file looked like when mpimg opened it: its identity on disk, its
/// length and its modification time. A file whose stamp is no longer this
/// was changed (or replaced) by another program while mpimg ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    identity: (u64, u64),
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    /// The stamp of `meta`.
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        FileStamp { identity: FileStamp::identity(meta), len: meta.len(), modified: meta.modified().ok() }
    }

    /// The stamp of the file at `path` now.
    pub fn now(path: &Path) -> std::io::Result<FileStamp> {
        std::fs::metadata(path).map(|m| FileStamp::of(&m))
    }

    #[cfg(unix)]
    fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }

    #[cfg(not(unix))]
    fn identity(_: &std::fs::Metadata) -> (u64, u64) {
        (0, 0)
    }
}

impl Flash for FileFlash {
    fn start(&self) -> u32 {
        self.start
    }

    fn data_end(&self) -> u32 {
        self.start + self.data.len() as u32
    }

    fn stored_end(&self) -> Option<u32> {
        Some(self.data_end())
    }

    fn peek(&self, offset: u32, len: u32) -> Option<&[u8]> {
        let lo = offset.checked_sub(self.start)? as usize;
        self.bytes().get(lo..lo.checked_add(len as usize)?)
    }

    fn capacity(&self) -> u32 {
        self.capacity
    }

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let (lo, hi) = self.range(offset, buf.len())?;
        let data = self.data.as_slice();
        let have = data.len();
        if lo >= have {
            buf.fill(0xFF);
        } else if hi <= have {
            buf.copy_from_slice(&data[lo..hi]);
        } else {
            let n = have - lo;
            buf[..n].copy_from_slice(&data[lo..]);
            buf[n..].fill(0xFF);
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        let (lo, hi) = self.range(offset, data.len())?;
        let have = self.data.len();
        // Rewriting what is there changes nothing: no copy of a mapped page,
        // nothing for an in-place save to write.
        if hi <= have && self.data.as_slice()[lo..hi] == *data {
            return Ok(());
        }
        if hi > have {
            self.data.vec_mut().resize(hi, 0xFF);
        }
        self.data.as_mut_slice()[lo..hi].copy_from_slice(data);
        // A write past the end also adds the 0xFF gap before it.
        self.changed.push((lo.min(have), hi));
        Ok(())
    }

    /// Nothing reaches the disk before the file is saved, so any write is
    /// whole already: only the bytes that differ are changed (and an
    /// in-place save writes only those).
    fn write_whole(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        let (lo, hi) = self.range(offset, data.len())?;
        if hi > self.data.len() {
            return self.write(offset, data);
        }
        let old = self.data.as_slice()[lo..hi].to_vec();
        let mut i = 0;
        while i < data.len() {
            if old[i] == data[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < data.len() && old[i] != data[i] {
                i += 1;
            }
            self.write(offset + start as u32, &data[start..i])?;
        }
        Ok(())
    }

    fn erase(&mut self, offset: u32, len: u32) -> Result<(), FlashError> {
        check_erase_alignment(offset, len)?;
        let (lo, hi) = self.range(offset, len as usize)?;
        // Past the end of the file everything reads as erased already: an
        // erase never makes the file longer (a baked filesystem's file ends at
        // its last written block, not at the end of the partition).
        let have = self.data.len();
        let hi = hi.min(have);
        if lo < hi && self.data.as_slice()[lo..hi].iter().any(|&b| b != 0xFF) {
            self.data.as_mut_slice()[lo..hi].fill(0xFF);
            self.changed.push((lo, hi));
        }
        Ok(())
    }

    fn trim_end(&mut self, offset: u32) -> bool {
        let keep = offset.saturating_sub(self.start) as usize;
        if keep < self.data.len() {
            self.data.vec_mut().truncate(keep);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_end_are_erased_and_writes_extend() {
        let mut f = FileFlash::new(vec![1, 2, 3, 4], 0x1000, 0x40_0000);
        let mut buf = [0u8; 6];
        f.read(0x1002, &mut buf).unwrap();
        assert_eq!(buf, [3, 4, 0xFF, 0xFF, 0xFF, 0xFF]);
        f.write(0x1006, &[9]).unwrap();
        assert_eq!(f.bytes(), &[1, 2, 3, 4, 0xFF, 0xFF, 9]);
        assert_eq!(f.data_end(), 0x1007);
    }

    #[test]
    fn erase_fills_never_extends_trim_end_truncates() {
        let mut f = FileFlash::new(vec![0u8; 0x3000], 0, 0x40_0000);
        f.erase(0x1000, 0x1000).unwrap();
        assert!(f.bytes()[0x1000..0x2000].iter().all(|&b| b == 0xFF));
        assert_eq!(f.bytes()[0x2000], 0);
        f.erase(0x2000, 0x2000).unwrap();
        assert_eq!(f.bytes().len(), 0x3000);
        assert!(f.bytes()[0x2000..].iter().all(|&b| b == 0xFF));
        f.erase(0x8000, 0x1000).unwrap();
        assert_eq!(f.bytes().len(), 0x3000);
        assert!(f.trim_end(0x1800));
        assert_eq!(f.bytes().len(), 0x1800);
        assert!(f.trim_end(0x9000));
        assert_eq!(f.bytes().len(), 0x1800);
        assert!(matches!(f.erase(0x10, 0x1000), Err(FlashError::Unaligned { .. })));
    }

    #[test]
    fn access_before_start_or_past_capacity_fails() {
        let mut f = FileFlash::new(vec![0u8; 16], 0x1000, 0x2000);
        let mut b = [0u8; 4];
        assert!(matches!(f.read(0x0, &mut b), Err(FlashError::BeforeStart { .. })));
        assert!(matches!(f.write(0x1FFF, &[0, 0]), Err(FlashError::PastEnd { .. })));
    }

    /// Where two byte strings first differ (None: equal), for short failure messages.
    fn first_difference(a: &[u8], b: &[u8]) -> Option<(usize, Option<u8>, Option<u8>)> {
        (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)).map(|i| (i, a.get(i).copied(), b.get(i).copied()))
    }

    #[test]
    fn changed_ranges_are_merged_sorted_and_cut_to_the_length() {
        let mut f = FileFlash::new(vec![0u8; 0x3000], 0x1000, 0x40_0000);
        assert_eq!(f.changed_ranges(), vec![]);
        f.write(0x2800, &[1; 0x10]).unwrap();
        f.write(0x1010, &[2; 0x10]).unwrap();
        f.write(0x1018, &[3; 0x10]).unwrap();
        f.erase(0x3000, 0x1000).unwrap();
        // Writing what is there, or erasing what is erased, changes nothing.
        f.write(0x1100, &[0; 0x10]).unwrap();
        f.erase(0x3000, 0x1000).unwrap();
        assert_eq!(f.changed_ranges(), vec![(0x10, 0x28), (0x1800, 0x1810), (0x2000, 0x3000)]);
        // Past the end: the 0xFF gap is part of the change.
        f.write(0x4100, &[4; 0x10]).unwrap();
        assert_eq!(f.changed_ranges().last(), Some(&(0x2000, 0x3110)));
        assert!(f.trim_end(0x2000));
        assert_eq!(f.changed_ranges(), vec![(0x10, 0x28)]);
    }

    #[test]
    fn in_place_save_writes_only_the_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fw.bin");
        std::fs::write(&p, vec![0u8; 0x3000]).unwrap();
        let mut f = FileFlash::new(FileBytes::open(&p).unwrap(), 0x1000, 0x40_0000);
        f.write(0x1010, &[7; 0x10]).unwrap();
        f.erase(0x3000, 0x1000).unwrap();
        // A byte changed on disk (not through our copy) in a range we did not
        // change survives: only the changed ranges are written.
        {
            use std::io::{Seek, SeekFrom};
            let mut other = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
            other.seek(SeekFrom::Start(0x1000)).unwrap();
            other.write_all(&[0x55]).unwrap();
        }
        assert_eq!(f.save_in_place(&p).unwrap(), 0x10 + 0x1000);
        let got = std::fs::read(&p).unwrap();
        let mut want = vec![0u8; 0x3000];
        want[0x10..0x20].fill(7);
        want[0x1000] = 0x55;
        want[0x2000..].fill(0xFF);
        assert_eq!(first_difference(&got, &want), None);

        // Growing past the end, then shrinking.
        let mut f = FileFlash::new(FileBytes::open(&p).unwrap(), 0x1000, 0x40_0000);
        f.write(0x5000, &[9; 4]).unwrap();
        assert_eq!(f.save_in_place(&p).unwrap(), 0x1004);
        let got = std::fs::read(&p).unwrap();
        assert_eq!(got.len(), 0x4004);
        assert!(got[0x3000..0x4000].iter().all(|&b| b == 0xFF));
        assert_eq!(&got[0x4000..], &[9; 4]);
        let mut f = FileFlash::new(FileBytes::open(&p).unwrap(), 0x1000, 0x40_0000);
        assert!(f.trim_end(0x2000));
        assert_eq!(f.save_in_place(&p).unwrap(), 0);
        assert_eq!(first_difference(&std::fs::read(&p).unwrap(), &want[..0x1000]), None);
    }

    #[test]
    fn in_place_save_of_a_file_changed_meanwhile_saves_everything() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fw.bin");
        std::fs::write(&p, vec![1u8; 0x100]).unwrap();
        let mut f = FileFlash::new(std::fs::read(&p).unwrap(), 0, 0x40_0000);
        f.write(0, &[2]).unwrap();
        std::fs::write(&p, vec![3u8; 0x80]).unwrap();
        assert_eq!(f.save_in_place(&p).unwrap(), 0x100);
        let mut want = vec![1u8; 0x100];
        want[0] = 2;
        assert_eq!(std::fs::read(&p).unwrap(), want);
    }

    #[test]
    fn atomic_save_writes_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        FileFlash::new(vec![5, 6, 7], 0, 16).save(&p).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), vec![5, 6, 7]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_written_through_and_loops_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink("b", d.join("a")).unwrap();
        std::os::unix::fs::symlink("sub/c", d.join("b")).unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        write_atomically(&d.join("a"), b"data").unwrap();
        assert_eq!(std::fs::read(d.join("sub/c")).unwrap(), b"data");
        assert!(std::fs::symlink_metadata(d.join("a")).unwrap().file_type().is_symlink());
        assert!(same_file(&d.join("a"), &d.join("sub/c")));
        assert!(!same_file(&d.join("a"), &d.join("missing")));
        std::os::unix::fs::symlink("loop2", d.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", d.join("loop2")).unwrap();
        let e = write_atomically(&d.join("loop1"), b"x").unwrap_err();
        assert_eq!(e.to_string(), "too many levels of symbolic links");
    }

    #[test]
    fn a_source_changed_after_loading_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fw.bin");
        std::fs::write(&p, [1u8; 64]).unwrap();
        let stamp = FileStamp::now(&p).unwrap();
        let mut f = FileFlash::new(FileBytes::open(&p).unwrap(), 0, 0x1000);
        assert_eq!(f.changed_source(), None);
        f.set_source(&p, stamp);
        assert_eq!(f.changed_source(), None);
        std::fs::write(&p, [2u8; 65]).unwrap();
        assert_eq!(f.changed_source(), Some(p.as_path()));
        std::fs::remove_file(&p).unwrap();
        assert_eq!(f.changed_source(), Some(p.as_path()));
    }
}
