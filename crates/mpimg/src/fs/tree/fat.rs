//! Taking a tree from a mounted FAT volume and putting one into a fresh one,
//! with each entry's creation, access and modification times as stored.
//!
//! What does not carry over: the read-only, hidden and system flags (`fatfs`
//! cannot set them, and MicroPython never sets them: its files are archive
//! files, its directories plain directories), the 8.3 short names (made anew
//! from the long names), and a directory's times: `fatfs` stamps a directory
//! with its clock whenever it writes an entry into it (a directory is made
//! at its old modification time, which its first entry then overwrites).

use std::io::{Read, Write};

use super::super::detect::FatType;
use super::super::fat::{FatVolume, FileTime};
use super::super::path::FsPath;
use super::super::run::MAX_DEPTH;
use super::super::FsError;
use super::{show, FatStamp, FatTimes, Meta, Node, NodeKind, Survey, Tree, TreeKind, TreeStats};

fn stamp(dt: fatfs::DateTime) -> FatStamp {
    FatStamp {
        year: dt.date.year,
        month: dt.date.month,
        day: dt.date.day,
        hour: dt.time.hour,
        min: dt.time.min,
        sec: dt.time.sec,
        millis: dt.time.millis,
    }
}

fn date_stamp(d: fatfs::Date) -> FatStamp {
    FatStamp { year: d.year, month: d.month, day: d.day, hour: 0, min: 0, sec: 0, millis: 0 }
}

fn date_time(s: FatStamp) -> fatfs::DateTime {
    fatfs::DateTime {
        date: fatfs::Date { year: s.year, month: s.month, day: s.day },
        time: fatfs::Time { hour: s.hour, min: s.min, sec: s.sec, millis: s.millis },
    }
}

fn fs_path(vol: &FatVolume, path: &[u8]) -> FsPath {
    FsPath::parse(&vol.part, &show(path))
}

struct Found {
    path: Vec<u8>,
    is_dir: bool,
    size: u64,
    times: FatTimes,
}

/// The entries of directory `dir` (`` is the root), sorted by name.
fn list(vol: &FatVolume, dir: &[u8]) -> Result<Vec<Found>, FsError> {
    vol.start();
    let p = fs_path(vol, dir);
    vol.check_dirs(&p, true).map_err(|e| vol.err(e, "list", &p))?;
    let root = vol.fs.root_dir();
    let d = if dir.is_empty() { Ok(root) } else { root.open_dir(&p.rel()) };
    let d = d.map_err(|e| vol.err(e, "list", &p))?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e.map_err(|e| vol.err(e, "list", &p))?;
        let name = e.file_name();
        if name == "." || name == ".." {
            continue;
        }
        let times =
            FatTimes { created: stamp(e.created()), accessed: date_stamp(e.accessed()), modified: stamp(e.modified()) };
        let mut path = dir.to_vec();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name.as_bytes());
        out.push(Found { path, is_dir: e.is_dir(), size: if e.is_dir() { 0 } else { e.len() }, times });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(
    vol: &mut FatVolume,
    dir: &[u8],
    depth: usize,
    visit: &mut dyn FnMut(&mut FatVolume, Found) -> Result<(), FsError>,
) -> Result<(), FsError> {
    if depth > MAX_DEPTH {
        return Err(FsError::TooDeep(vol.part.clone()));
    }
    for f in list(vol, dir)? {
        let sub = f.is_dir.then(|| f.path.clone());
        visit(vol, f)?;
        if let Some(sub) = sub {
            walk(vol, &sub, depth + 1, visit)?;
        }
    }
    Ok(())
}

fn kind(vol: &FatVolume) -> TreeKind {
    let mut label = [b' '; 11];
    let stored = vol.fs.volume_label_as_bytes();
    let n = stored.len().min(11);
    label[..n].copy_from_slice(&stored[..n]);
    TreeKind::Fat { volume_id: vol.fs.volume_id(), label }
}

pub(super) fn survey(vol: &mut FatVolume, fat_type: FatType, fs_size: u32) -> Result<Survey, FsError> {
    let mut stats = TreeStats::default();
    walk(vol, b"", 0, &mut |_, f| {
        if f.is_dir {
            stats.dirs += 1;
        } else {
            stats.files += 1;
            stats.bytes += f.size;
        }
        Ok(())
    })?;
    Ok(Survey { kind: kind(vol), describe: fat_type.name().into(), fs_size, stats })
}

pub(super) fn read(vol: &mut FatVolume) -> Result<Tree, FsError> {
    let mut nodes = Vec::new();
    walk(vol, b"", 0, &mut |vol, f| {
        let kind = if f.is_dir {
            NodeKind::Dir
        } else {
            vol.start();
            let p = fs_path(vol, &f.path);
            let mut data = Vec::with_capacity(f.size as usize);
            let r = vol.check_dirs(&p, false).and_then(|_| vol.fs.root_dir().open_file(&p.rel()));
            let r = r.and_then(|mut file| file.read_to_end(&mut data));
            r.map_err(|e| vol.err(e, "read", &p))?;
            NodeKind::File(data)
        };
        nodes.push(Node { path: f.path, kind, meta: Meta::Fat(f.times) });
        Ok(())
    })?;
    Ok(Tree { kind: kind(vol), root_attrs: Vec::new(), nodes })
}

/// Put every node of `tree` into `vol` (freshly formatted).
pub(super) fn write(vol: &mut FatVolume, tree: &Tree) -> Result<(), FsError> {
    for node in &tree.nodes {
        let p = fs_path(vol, &node.path);
        let times = match node.meta {
            Meta::Fat(t) => Some(t),
            Meta::Littlefs(_) => None,
        };
        vol.start();
        match &node.kind {
            NodeKind::Dir => {
                // A new directory entry takes all its times from the clock.
                let _clock = times.map(|t| FileTime::set_exact(date_time(t.modified)));
                vol.fs.root_dir().create_dir(&p.rel()).map_err(|e| vol.err(e, "mkdir", &p))?;
            }
            NodeKind::File(data) => {
                let r = vol.fs.root_dir().create_file(&p.rel()).and_then(|mut f| {
                    f.truncate()?;
                    f.write_all(data)?;
                    // After the write, which stamps the modification time from the clock.
                    #[allow(deprecated)]
                    if let Some(t) = times {
                        f.set_created(date_time(t.created));
                        f.set_accessed(date_time(t.accessed).date);
                        f.set_modified(date_time(t.modified));
                    }
                    f.flush()
                });
                r.map_err(|e| vol.err(e, "write", &p))?;
            }
        }
    }
    Ok(())
}
