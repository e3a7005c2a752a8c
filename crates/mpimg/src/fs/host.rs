//! This computer's side of `get` and `put`: reading sources, writing into a
//! destination without ever leaving it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::path::is_safe_host_name;
use super::FsError;

/// What a local path is, without following a final symbolic link.
pub enum HostKind {
    File,
    Dir,
    Symlink,
    Other,
}

pub fn kind(path: &Path) -> Result<HostKind, FsError> {
    let meta = fs::symlink_metadata(path).map_err(|e| FsError::host(path, e))?;
    let t = meta.file_type();
    Ok(if t.is_symlink() {
        HostKind::Symlink
    } else if t.is_dir() {
        HostKind::Dir
    } else if t.is_file() {
        HostKind::File
    } else {
        HostKind::Other
    })
}

/// What a local path is, following symbolic links to what they point at
/// (a link to a link to a file is a file). A link that points nowhere is
/// an error naming the link.
pub fn kind_followed(path: &Path) -> Result<HostKind, FsError> {
    let meta = fs::metadata(path).map_err(|e| FsError::host(path, e))?;
    Ok(if meta.is_dir() {
        HostKind::Dir
    } else if meta.is_file() {
        HostKind::File
    } else {
        HostKind::Other
    })
}

/// A local file's contents and the modification time to store for it (ns
/// since 1970): its own, or `SOURCE_DATE_EPOCH` (see [`super::time`]).
pub fn read_file(path: &Path) -> Result<(Vec<u8>, u64), FsError> {
    let data = fs::read(path).map_err(|e| FsError::host(path, e))?;
    let own = fs::metadata(path).and_then(|m| m.modified()).ok();
    Ok((data, super::time::file_time_ns(own)))
}

/// A local file's size in bytes and the modification time a copy of it
/// gets (ns since 1970, see [`read_file`]), without reading it.
pub fn stat_file(path: &Path) -> Result<(u64, u64), FsError> {
    let meta = fs::metadata(path).map_err(|e| FsError::host(path, e))?;
    Ok((meta.len(), super::time::file_time_ns(meta.modified().ok())))
}

/// Entries of a local directory as (name, path), sorted by name, so images
/// built from the same tree come out the same. Names that are not UTF-8 are
/// reported through `skipped`.
pub fn list_dir(dir: &Path, skipped: &mut dyn FnMut(PathBuf)) -> Result<Vec<(String, PathBuf)>, FsError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| FsError::host(dir, e))? {
        let e = e.map_err(|e| FsError::host(dir, e))?;
        match e.file_name().into_string() {
            Ok(name) => out.push((name, e.path())),
            Err(_) => skipped(e.path()),
        }
    }
    out.sort();
    Ok(out)
}

/// `dir/name` for a name read from an image, refusing names that could step
/// out of `dir` and existing symbolic links (which could point anywhere).
pub fn child(dir: &Path, name: &str, image_dir: &str) -> Result<PathBuf, FsError> {
    if !is_safe_host_name(name) {
        return Err(FsError::UnsafeName { dir: image_dir.to_owned(), name: name.escape_debug().to_string() });
    }
    let p = dir.join(name);
    if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(FsError::HostSymlink(p));
    }
    Ok(p)
}

/// Make `path` a directory if it is not one yet.
pub fn ensure_dir(path: &Path) -> Result<(), FsError> {
    if path.is_dir() {
        return Ok(());
    }
    fs::create_dir(path).map_err(|e| FsError::host(path, e))
}

/// Write a local file and set its modification time (seconds since 1970).
pub fn write_file(path: &Path, data: &[u8], mtime: Option<i64>) -> Result<(), FsError> {
    let mut f = fs::File::create(path).map_err(|e| FsError::host(path, e))?;
    f.write_all(data).map_err(|e| FsError::host(path, e))?;
    if let Some(secs) = mtime.filter(|&s| s >= 0) {
        // Best effort: a filesystem that cannot keep the time still gets the data.
        let _ = f.set_modified(UNIX_EPOCH + Duration::from_secs(secs as u64));
    }
    Ok(())
}
