//! Where host backups are kept: a small interface ([`BackupStore`]) so the
//! operations stay testable without a disk, and its one real kind, a
//! directory on this computer ([`DirStore`]).
//!
//! A directory holds a pending backup as `mpimg-backup-PORT-MAC-TIME.bin`
//! (e.g. `mpimg-backup-ttyUSB0-240ac4123456-20251129T101500Z.bin`); one kept
//! after its edit finished (`--keep-backup`) is renamed to end in
//! `-done.bin`, and is no longer looked at by a re-run.
//!
//! A store may also keep an index directory (the user's state directory, the
//! same wherever mpimg runs): each pending backup leaves a pointer there,
//! `NAME.path` holding the backup's absolute path, so a re-run from another
//! directory (or with another `--backup-dir`) still finds it. The pointer is
//! written after the backup and removed when its edit finishes; one whose
//! backup is gone (moved away to give it up) is dropped.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fs::time::Civil;

use super::backup::Board;

/// Keeps host backups.
pub trait BackupStore {
    /// Keep `bytes` under `name` durably and atomically (a cut never leaves a
    /// part of a backup behind): when this returns, the backup survives a
    /// crash of this computer. Returns where it is, as the user is told.
    fn save(&mut self, name: &str, bytes: &[u8]) -> Result<String, Error>;
    /// Where the pending backups are (those not yet finished).
    fn pending(&mut self) -> Result<Vec<String>, Error>;
    /// The bytes of the backup at `location`.
    fn load(&mut self, location: &str) -> Result<Vec<u8>, Error>;
    /// The edit of the backup at `location` is finished: remove the backup,
    /// or (`keep`) keep it as a finished one; returns where it is kept.
    fn finish(&mut self, location: &str, keep: bool) -> Result<Option<String>, Error>;
}

const PREFIX: &str = "mpimg-backup-";
const PENDING: &str = ".bin";
const DONE: &str = "-done.bin";

/// The file name of a backup of `board` made at `created` (seconds since 1970):
/// the port's last part and the MAC, letters and digits only, and the UTC time.
pub fn backup_name(board: &Board, created: u64) -> String {
    let keep = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).collect::<String>();
    let port = board.port.strip_prefix("/dev/").unwrap_or(&board.port);
    let mac = board.mac.as_deref().map(keep).unwrap_or_else(|| "nomac".into());
    let t = Civil::from_unix(i64::try_from(created).unwrap_or(0));
    format!(
        "{PREFIX}{}-{}-{:04}{:02}{:02}T{:02}{:02}{:02}Z{PENDING}",
        keep(port),
        mac.to_ascii_lowercase(),
        t.year,
        t.month,
        t.day,
        t.hour,
        t.min,
        t.sec
    )
}

/// Backups as files in a directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
    index: Option<PathBuf>,
}

impl DirStore {
    /// Backups in `dir` (which is created when the first backup is saved).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirStore { dir: dir.into(), index: None }
    }

    /// Also keep a pointer to each pending backup in `index` (created when
    /// needed), and find pending backups through the pointers there. The
    /// pointers are a convenience: failing to write one does not fail a save.
    pub fn with_index(mut self, index: Option<PathBuf>) -> Self {
        self.index = index;
        self
    }

    /// The pointer to the backup at `path` in the index.
    fn pointer(&self, path: &Path) -> Option<PathBuf> {
        let name = path.file_name()?.to_string_lossy().into_owned();
        Some(self.index.as_ref()?.join(format!("{name}.path")))
    }

    /// Leave a pointer to the backup at `path` in the index (best effort:
    /// the backup itself is saved already, and a re-run from this
    /// directory finds it without).
    fn point_to(&self, path: &Path) {
        let (Some(index), Some(pointer), Ok(abs)) = (&self.index, self.pointer(path), std::fs::canonicalize(path))
        else {
            return;
        };
        let _ =
            std::fs::create_dir_all(index).and_then(|()| std::fs::write(&pointer, abs.as_os_str().as_encoded_bytes()));
    }

    /// The pending backups the index points to (absolute paths); pointers
    /// to backups that are gone or finished are removed.
    fn pointed(&self) -> Vec<PathBuf> {
        let Some(entries) = self.index.as_ref().and_then(|i| std::fs::read_dir(i).ok()) else { return Vec::new() };
        let mut found = Vec::new();
        for e in entries.filter_map(Result::ok) {
            let pointer = e.path();
            if pointer.extension().is_none_or(|x| x != "path") {
                continue;
            }
            let Ok(target) = std::fs::read_to_string(&pointer) else { continue };
            let target = PathBuf::from(target);
            if target.is_file() {
                found.push(target);
            } else {
                let _ = std::fs::remove_file(&pointer);
            }
        }
        found
    }

    /// Remove the pointer to the backup at `path` (before it is removed or renamed).
    fn unpoint(&self, path: &Path) {
        let (Some(pointer), Ok(abs)) = (self.pointer(path), std::fs::canonicalize(path)) else { return };
        if std::fs::read_to_string(&pointer).is_ok_and(|t| Path::new(&t) == abs) {
            let _ = std::fs::remove_file(pointer);
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        if self.dir.as_os_str().is_empty() || self.dir == Path::new(".") {
            PathBuf::from(name)
        } else {
            self.dir.join(name)
        }
    }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    |source| Error::Write { path: path.into(), source }
}

impl BackupStore for DirStore {
    fn save(&mut self, name: &str, bytes: &[u8]) -> Result<String, Error> {
        if self.path("x") != Path::new("x") {
            std::fs::create_dir_all(&self.dir).map_err(write_err(&self.dir))?;
        }
        // Never over another backup (two runs in one second): a suffix before the extension.
        let mut path = self.path(name);
        let stem = name.strip_suffix(PENDING).unwrap_or(name);
        for i in 2.. {
            if !path.exists() {
                break;
            }
            path = self.path(&format!("{stem}-{i}{PENDING}"));
        }
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.path(&format!(".{file_name}.tmp"));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            // The only copy of the user's files until the edit is done: on the disk before anything is erased.
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            if let Ok(d) = std::fs::File::open(self.path(".")) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(write_err(&path))?;
        self.point_to(&path);
        Ok(path.display().to_string())
    }

    fn pending(&mut self) -> Result<Vec<String>, Error> {
        let dir = self.path(".");
        let pending = |n: &str| n.starts_with(PREFIX) && n.ends_with(PENDING) && !n.ends_with(DONE);
        let names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(e) => e.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(Error::Read { path: dir, source }),
        };
        let mut found: Vec<(String, String)> = names
            .into_iter()
            .filter(|n| pending(n))
            .map(|n| (n.clone(), self.path(&n).display().to_string()))
            .collect();
        // Backups in other directories, by their pointers (those here are found already).
        let here: Vec<PathBuf> = found.iter().filter_map(|(_, p)| std::fs::canonicalize(p).ok()).collect();
        for p in self.pointed() {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if pending(&name) && !here.contains(&p) {
                found.push((name, p.display().to_string()));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, p)| p).collect())
    }

    fn load(&mut self, location: &str) -> Result<Vec<u8>, Error> {
        std::fs::read(location).map_err(|source| Error::Read { path: location.into(), source })
    }

    fn finish(&mut self, location: &str, keep: bool) -> Result<Option<String>, Error> {
        let path = Path::new(location);
        self.unpoint(path);
        if !keep {
            std::fs::remove_file(path).map_err(write_err(path))?;
            return Ok(None);
        }
        let done = match location.strip_suffix(PENDING) {
            Some(stem) => format!("{stem}{DONE}"),
            None => format!("{location}{DONE}"),
        };
        std::fs::rename(path, &done).map_err(write_err(path))?;
        Ok(Some(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_port_mac_and_time() {
        let b = Board { port: "/dev/ttyUSB0".into(), mac: Some("24:0A:C4:12:34:56".into()) };
        assert_eq!(backup_name(&b, 1_764_411_300), "mpimg-backup-ttyUSB0-240ac4123456-20251129T101500Z.bin");
        let b = Board { port: "COM3".into(), mac: None };
        assert_eq!(backup_name(&b, 0), "mpimg-backup-COM3-nomac-19700101T000000Z.bin");
    }

    #[test]
    fn saved_pending_finished() {
        let d = tempfile::tempdir().unwrap();
        let mut s = DirStore::new(d.path().join("backups"));
        assert_eq!(s.pending().unwrap(), Vec::<String>::new());
        let a = s.save("mpimg-backup-x.bin", b"one").unwrap();
        let b = s.save("mpimg-backup-x.bin", b"two").unwrap();
        assert!(b.ends_with("mpimg-backup-x-2.bin"), "{b}");
        std::fs::write(d.path().join("backups/other.bin"), b"").unwrap();
        assert_eq!(s.pending().unwrap(), vec![b.clone(), a.clone()], "sorted by name");
        assert_eq!(s.load(&b).unwrap(), b"two");
        assert_eq!(s.finish(&a, false).unwrap(), None);
        let kept = s.finish(&b, true).unwrap().unwrap();
        assert!(kept.ends_with("mpimg-backup-x-2-done.bin"), "{kept}");
        assert_eq!(std::fs::read(&kept).unwrap(), b"two");
        assert_eq!(s.pending().unwrap(), Vec::<String>::new());
        let names: Vec<String> = std::fs::read_dir(d.path().join("backups"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn an_index_finds_backups_kept_elsewhere() {
        let d = tempfile::tempdir().unwrap();
        let index = d.path().join("state/pending");
        let mut here = DirStore::new(d.path().join("one")).with_index(Some(index.clone()));
        let a = here.save("mpimg-backup-a.bin", b"a").unwrap();
        let abs_a = std::fs::canonicalize(&a).unwrap().display().to_string();
        // Another directory finds it through the pointer, and its own too.
        let mut there = DirStore::new(d.path().join("two")).with_index(Some(index.clone()));
        let b = there.save("mpimg-backup-b.bin", b"b").unwrap();
        assert_eq!(there.pending().unwrap(), vec![abs_a.clone(), b.clone()]);
        // The first directory lists its own by its path, once.
        assert_eq!(here.pending().unwrap().len(), 2);
        assert_eq!(here.pending().unwrap()[0], a);
        // Finishing removes the pointer; without an index only the directory counts.
        assert_eq!(there.finish(&abs_a, false).unwrap(), None);
        assert_eq!(there.pending().unwrap(), vec![b.clone()]);
        assert_eq!(DirStore::new(d.path().join("one")).pending().unwrap(), Vec::<String>::new());
        // A backup moved away (given up) drops its pointer.
        std::fs::rename(&b, d.path().join("given-up.bin")).unwrap();
        assert_eq!(here.pending().unwrap(), Vec::<String>::new());
        assert_eq!(std::fs::read_dir(&index).unwrap().count(), 0);
    }
}
