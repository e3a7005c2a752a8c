//! Running `--fs` commands over the block cache: each command mounts what it
//! needs, works, unmounts; the cache carries blocks from one command to the next.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::cache::{BlockCache, Region, BLOCK_SIZE};
use super::command::{FsCommand, FsKind};
use super::detect::{detect, Detected};
use super::fat::FatVolume;
use super::host::{self, HostKind};
use super::lfs::LfsVolume;
use super::path::{names_directory, parse_paths, FsPath};
use super::sync::{sync, SyncReport};
use super::time::{now_ns, Civil};
use super::volume::{makedirs, Entry, Volume};
use super::{FsError, FsPartition};

/// The partition a bare path refers to.
pub const DEFAULT_PARTITION: &str = "vfs";
/// Deeper directory trees than this are taken for a loop in a damaged image.
pub(crate) use super::volume::MAX_DEPTH;

/// Where command output and progress go, and what was changed.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub log: &'a mut dyn Write,
    pub changed: BTreeSet<String>,
    /// What each `sync` did.
    pub syncs: Vec<SyncReport>,
}

impl Io<'_> {
    fn out(&mut self, text: &str) -> Result<(), FsError> {
        self.out.write_all(text.as_bytes()).map_err(FsError::Output)
    }
    fn log(&mut self, text: &str) -> Result<(), FsError> {
        // One write per line: an unbuffered stderr would otherwise see two.
        self.log.write_all(format!("{text}\n").as_bytes()).map_err(FsError::Output)
    }
    fn warn(&mut self, text: &str) -> Result<(), FsError> {
        self.log(&format!("warning: {text}"))
    }
}

fn find<'p>(parts: &'p [FsPartition], name: &str) -> Result<&'p FsPartition, FsError> {
    parts.iter().find(|p| p.name == name).ok_or_else(|| FsError::NoPartition(name.to_owned()))
}

/// The partition's range, checked against the flash.
fn region(cache: &BlockCache, part: &FsPartition) -> Result<Region, FsError> {
    let capacity = cache.flash().capacity();
    if u64::from(part.offset) + u64::from(part.size) > u64::from(capacity) {
        return Err(FsError::PartitionPastFlash {
            name: part.name.clone(),
            offset: part.offset,
            size: part.size,
            capacity,
        });
    }
    if !part.offset.is_multiple_of(BLOCK_SIZE) {
        return Err(FsError::Unaligned { name: part.name.clone(), offset: part.offset });
    }
    Ok(Region { offset: part.offset, size: part.size })
}

/// The range of `part` (checked against the flash) and what its first
/// blocks hold. A partition under two blocks holds nothing.
pub(crate) fn detect_partition(cache: &mut BlockCache, part: &FsPartition) -> Result<(Region, Detected), FsError> {
    let region = region(cache, part)?;
    if region.blocks() < 2 {
        return Ok((region, Detected::Nothing));
    }
    let mut b0 = vec![0u8; BLOCK_SIZE as usize];
    let mut b1 = vec![0u8; BLOCK_SIZE as usize];
    cache.read(region.offset, &mut b0)?;
    // Block 1 only matters when block 0 has no littlefs superblock.
    if !super::detect::has_lfs_magic(&b0) {
        cache.read(region.offset + BLOCK_SIZE, &mut b1)?;
    }
    Ok((region, detect(&b0, &b1)))
}

/// Detect and mount the filesystem of `part`.
pub fn open<'c, 'f>(cache: &'c mut BlockCache<'f>, part: &FsPartition) -> Result<Box<dyn Volume + 'c>, FsError> {
    let (region, found) = detect_partition(cache, part)?;
    Ok(match found {
        Detected::Littlefs => Box::new(LfsVolume::mount(cache, &part.name, region)?),
        Detected::Fat(boot) => Box::new(FatVolume::mount(cache, &part.name, region, boot)?),
        Detected::Nothing => return Err(FsError::NoFilesystem(part.name.clone())),
    })
}

/// Mount `part`, run `f`, unmount (reporting the first error).
pub(crate) fn with_volume<R>(
    cache: &mut BlockCache,
    part: &FsPartition,
    f: impl FnOnce(&mut dyn Volume) -> Result<R, FsError>,
) -> Result<R, FsError> {
    let mut vol = open(cache, part)?;
    match f(&mut *vol) {
        Ok(r) => vol.finish().map(|_| r),
        Err(e) => {
            let _ = vol.finish();
            Err(e)
        }
    }
}

/// Run one parsed command.
pub fn execute(cache: &mut BlockCache, parts: &[FsPartition], io: &mut Io, cmd: &FsCommand) -> Result<(), FsError> {
    match cmd {
        FsCommand::Ls { long, paths } => ls(cache, parts, io, *long, paths),
        FsCommand::Cat { paths } => cat(cache, parts, io, paths),
        FsCommand::Get { sources, dest } => get(cache, parts, io, sources, dest),
        FsCommand::Put { sources, dest } => put(cache, parts, io, sources, dest),
        FsCommand::Mkdir { paths } => mkdir(cache, parts, io, paths),
        FsCommand::Rm { paths } => rm(cache, parts, io, paths),
        FsCommand::Rename { from, to } => rename(cache, parts, io, from, to),
        FsCommand::Mkfs { parts: names, kind } => mkfs(cache, parts, io, names, *kind),
        FsCommand::Df { parts: names } => df(cache, parts, io, names),
        FsCommand::Info { parts: names } => info(cache, parts, io, names),
        FsCommand::Grow { part, blocks } => grow(cache, parts, io, part.as_deref(), *blocks),
        FsCommand::Sync { src, dest, options } => {
            let dest = parse_paths(std::slice::from_ref(dest), DEFAULT_PARTITION).remove(0);
            let part = find(parts, &dest.part)?;
            let report = with_volume(cache, part, |vol| sync(vol, &mut *io.log, src, &dest, options))?;
            if report.changed() {
                io.changed.insert(part.name.clone());
            }
            io.syncs.push(report);
            Ok(())
        }
    }
}

fn paths_or_root(paths: &[String]) -> Vec<(FsPath, bool)> {
    if paths.is_empty() {
        vec![(FsPath::root(DEFAULT_PARTITION), true)]
    } else {
        parsed(paths)
    }
}

/// The paths of one command, each with whether it was written as a
/// directory (a trailing `/`, see [`names_directory`]).
fn parsed(args: &[String]) -> Vec<(FsPath, bool)> {
    parse_paths(args, DEFAULT_PARTITION).into_iter().zip(args.iter().map(|a| names_directory(a))).collect()
}

/// A path written as a directory (`boot.py/`) that names a file is refused,
/// as a shell refuses `cat boot.py/`.
fn file_as_dir(path: &FsPath, dir_form: bool, e: &Entry) -> Result<(), FsError> {
    if dir_form && !e.is_dir {
        return Err(FsError::NotADirectory(path.to_string()));
    }
    Ok(())
}

/// How a directory is shown in the log: `vfs:/lib/`, `vfs:/`.
fn dir_label(p: &FsPath) -> String {
    if p.is_root() {
        p.to_string()
    } else {
        format!("{p}/")
    }
}

/// How a directory on this computer is shown in the log: with one `/` at
/// the end however it was typed (`app`, `app/`, `app//` are all `app/`).
fn host_dir_label(p: &Path) -> String {
    let s = p.display().to_string();
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        "/".to_owned()
    } else {
        format!("{t}/")
    }
}

fn ls_line(e: &Entry, shown: &str, long: bool) -> String {
    if !long {
        return format!("{shown}\n");
    }
    let size = if e.is_dir { "-".to_owned() } else { e.size.to_string() };
    let time = e.mtime.map_or_else(|| "-".to_owned(), |t| Civil::from_unix(t).to_string());
    format!("{size:>9}  {time:<19}  {shown}\n")
}

/// The entry of `path` as its directory lists it (with its time), or the
/// root's stand-in.
fn entry_of(vol: &mut dyn Volume, path: &FsPath, long: bool) -> Result<Entry, FsError> {
    let missing = || FsError::NotFound(path.to_string());
    let (Some(parent), Some(name)) = (path.parent(), path.name()) else {
        return vol.stat(path)?.ok_or_else(missing);
    };
    let stat = vol.stat(path)?.ok_or_else(missing)?;
    // The exact name first; FAT also matches regardless of case.
    let listed = vol.list(&parent, long)?;
    let found = listed
        .iter()
        .position(|e| e.name == name)
        .or_else(|| listed.iter().position(|e| e.name.eq_ignore_ascii_case(name)));
    Ok(found.map_or(stat, |i| listed[i].clone()))
}

fn ls(cache: &mut BlockCache, parts: &[FsPartition], io: &mut Io, long: bool, paths: &[String]) -> Result<(), FsError> {
    for (path, dir_form) in paths_or_root(paths) {
        let part = find(parts, &path.part)?;
        io.log(&format!("ls '{path}'"))?;
        with_volume(cache, part, |vol| {
            let e = entry_of(vol, &path, long)?;
            file_as_dir(&path, dir_form, &e)?;
            if e.is_dir {
                ls_tree(vol, io, &path, "", long, 0)
            } else {
                io.out(&ls_line(&e, path.name().unwrap_or_default(), long))
            }
        })?;
    }
    Ok(())
}

/// Files of a directory, then its subdirectories (with `/`), then each
/// subdirectory the same way: the order mp-image-tool-esp32 prints.
fn ls_tree(
    vol: &mut dyn Volume,
    io: &mut Io,
    dir: &FsPath,
    prefix: &str,
    long: bool,
    depth: usize,
) -> Result<(), FsError> {
    if depth > MAX_DEPTH {
        return Err(FsError::TooDeep(dir.part.clone()));
    }
    let entries = vol.list(dir, long)?;
    for e in entries.iter().filter(|e| !e.is_dir) {
        io.out(&ls_line(e, &format!("{prefix}{}", e.name), long))?;
    }
    for e in entries.iter().filter(|e| e.is_dir) {
        io.out(&ls_line(e, &format!("{prefix}{}/", e.name), long))?;
    }
    for e in entries.iter().filter(|e| e.is_dir) {
        if !e.name_exact {
            io.warn(&format!("not listing '{}{}/': its name is not valid UTF-8", prefix, e.name))?;
            continue;
        }
        ls_tree(vol, io, &dir.join(&e.name), &format!("{prefix}{}/", e.name), long, depth + 1)?;
    }
    Ok(())
}

fn cat(cache: &mut BlockCache, parts: &[FsPartition], io: &mut Io, paths: &[String]) -> Result<(), FsError> {
    for (path, dir_form) in parsed(paths) {
        let part = find(parts, &path.part)?;
        let data = with_volume(cache, part, |vol| match vol.stat(&path)? {
            None => Err(FsError::NotFound(path.to_string())),
            Some(e) if e.is_dir => Err(FsError::IsADirectory(path.to_string())),
            Some(e) => {
                file_as_dir(&path, dir_form, &e)?;
                vol.read_file(&path)
            }
        })?;
        io.out.write_all(&data).map_err(FsError::Output)?;
    }
    Ok(())
}

fn get(
    cache: &mut BlockCache,
    parts: &[FsPartition],
    io: &mut Io,
    sources: &[String],
    dest: &Path,
) -> Result<(), FsError> {
    for (src, dir_form) in parsed(sources) {
        let part = find(parts, &src.part)?;
        with_volume(cache, part, |vol| {
            let e = entry_of(vol, &src, true)?;
            file_as_dir(&src, dir_form, &e)?;
            if e.is_dir {
                host::ensure_dir(dest)?;
                io.log(&format!("{src} -> {}", dest.display()))?;
                return get_tree(vol, io, &src, dest, 0);
            }
            let target = match (dest.is_dir(), src.name()) {
                (true, Some(name)) => dest.join(name),
                _ => dest.to_path_buf(),
            };
            let data = vol.read_file(&src)?;
            host::write_file(&target, &data, e.mtime)?;
            io.log(&format!("{src} -> {}", target.display()))
        })?;
    }
    Ok(())
}

fn get_tree(vol: &mut dyn Volume, io: &mut Io, dir: &FsPath, host_dir: &Path, depth: usize) -> Result<(), FsError> {
    if depth > MAX_DEPTH {
        return Err(FsError::TooDeep(dir.part.clone()));
    }
    // Modification times come with each file's contents (one lookup per
    // file), not with the listing (which would look every file up again).
    for e in vol.list(dir, false)? {
        if !e.name_exact {
            io.warn(&format!("skipping '{}' in '{dir}': its name is not valid UTF-8", e.name.escape_debug()))?;
            continue;
        }
        let target = host::child(host_dir, &e.name, &dir.to_string())?;
        let src = dir.join(&e.name);
        if e.is_dir {
            host::ensure_dir(&target)?;
            io.log(&format!("{src}/ -> {}", target.display()))?;
            get_tree(vol, io, &src, &target, depth + 1)?;
        } else {
            let (data, mtime) = vol.read_file_with_mtime(&src)?;
            host::write_file(&target, &data, e.mtime.or(mtime))?;
            io.log(&format!("{src} -> {}", target.display()))?;
        }
    }
    Ok(())
}

fn put(
    cache: &mut BlockCache,
    parts: &[FsPartition],
    io: &mut Io,
    sources: &[PathBuf],
    dest_arg: &str,
) -> Result<(), FsError> {
    let dest = parse_paths(&[dest_arg.to_owned()], DEFAULT_PARTITION).remove(0);
    let part = find(parts, &dest.part)?;
    with_volume(cache, part, |vol| {
        // DEST must be a directory when written as one (`/lib/`) or when
        // several sources go there, as for cp: never a file made in its place.
        if names_directory(dest_arg) || sources.len() > 1 {
            match vol.stat(&dest)? {
                Some(e) if e.is_dir => {}
                Some(_) => return Err(FsError::NotADirectory(dest.to_string())),
                None => return Err(FsError::NoSuchDirectory(dest.to_string())),
            }
        }
        for src in sources {
            // A link named here is followed, as cp does: the target's bytes
            // under the link's name. Links met inside a directory are not.
            let kind = match host::kind(src)? {
                HostKind::Symlink => host::kind_followed(src)?,
                k => k,
            };
            match kind {
                HostKind::Symlink | HostKind::Other => {
                    io.warn(&format!("skipping '{}': not a file or directory", src.display()))?
                }
                HostKind::File => {
                    let into_dir = vol.stat(&dest)?.is_some_and(|e| e.is_dir);
                    let target = match (into_dir, src.file_name().and_then(|n| n.to_str())) {
                        (true, Some(name)) => dest.join(name),
                        (true, None) => return Err(FsError::BadName(src.display().to_string())),
                        (false, _) => dest.clone(),
                    };
                    put_file(vol, io, src, &target, false)?;
                }
                HostKind::Dir => {
                    let target = match src.file_name() {
                        Some(n) => dest.join(n.to_str().ok_or_else(|| FsError::BadName(src.display().to_string()))?),
                        None => dest.clone(),
                    };
                    makedirs(vol, &target)?;
                    io.log(&format!("{} -> {}", host_dir_label(src), dir_label(&target)))?;
                    put_tree(vol, io, src, &target, 0)?;
                }
            }
        }
        Ok(())
    })?;
    io.changed.insert(part.name.clone());
    Ok(())
}

fn put_file(vol: &mut dyn Volume, io: &mut Io, src: &Path, target: &FsPath, absent: bool) -> Result<(), FsError> {
    if target.is_root() {
        return Err(FsError::IsADirectory(target.to_string()));
    }
    let (data, mtime) = host::read_file(src)?;
    vol.write_file(target, &data, mtime, absent)?;
    io.log(&format!("{} -> {target}", src.display()))
}

fn put_tree(vol: &mut dyn Volume, io: &mut Io, dir: &Path, target: &FsPath, depth: usize) -> Result<(), FsError> {
    if depth > MAX_DEPTH {
        return Err(FsError::TooDeep(target.part.clone()));
    }
    let mut bad = Vec::new();
    let entries = host::list_dir(dir, &mut |p| bad.push(p))?;
    for p in bad {
        io.warn(&format!("skipping '{}': its name is not valid UTF-8", p.display()))?;
    }
    // What the target directory holds already, looked up once rather than per file.
    let existing: HashSet<String> = vol.list(target, false)?.into_iter().map(|e| e.name).collect();
    for (name, path) in entries {
        let dst = target.join(&name);
        match host::kind(&path)? {
            HostKind::Symlink => io.warn(&format!("skipping symbolic link '{}'", path.display()))?,
            HostKind::Other => io.warn(&format!("skipping '{}': not a file or directory", path.display()))?,
            HostKind::File => put_file(vol, io, &path, &dst, !existing.contains(&name))?,
            HostKind::Dir => {
                makedirs(vol, &dst)?;
                io.log(&format!("{} -> {}", host_dir_label(&path), dir_label(&dst)))?;
                put_tree(vol, io, &path, &dst, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn mkdir(cache: &mut BlockCache, parts: &[FsPartition], io: &mut Io, paths: &[String]) -> Result<(), FsError> {
    for path in parse_paths(paths, DEFAULT_PARTITION) {
        let part = find(parts, &path.part)?;
        io.log(&format!("mkdir '{path}'"))?;
        path.check_names()?;
        with_volume(cache, part, |vol| makedirs(vol, &path))?;
        io.changed.insert(part.name.clone());
    }
    Ok(())
}

fn remove_tree(vol: &mut dyn Volume, path: &FsPath, depth: usize) -> Result<(), FsError> {
    if depth > MAX_DEPTH {
        return Err(FsError::TooDeep(path.part.clone()));
    }
    for e in vol.list(path, false)? {
        let child = path.join(&e.name);
        if e.is_dir {
            remove_tree(vol, &child, depth + 1)?;
        } else {
            vol.remove(&child)?;
        }
    }
    if path.is_root() {
        Ok(())
    } else {
        vol.remove(path)
    }
}

fn rm(cache: &mut BlockCache, parts: &[FsPartition], io: &mut Io, paths: &[String]) -> Result<(), FsError> {
    let paths = parsed(paths);
    // The root however spelled (`/`, `//`, `/.`, `vfs:`): refused before
    // anything is removed, since it would empty the whole filesystem.
    if let Some((root, _)) = paths.iter().find(|(p, _)| p.is_root()) {
        let part = find(parts, &root.part)?;
        let fat = with_volume(cache, part, |vol| Ok(vol.describe().starts_with("FAT")))?;
        return Err(FsError::RemoveRoot { part: part.name.clone(), fat });
    }
    for (path, dir_form) in paths {
        let part = find(parts, &path.part)?;
        io.log(&format!("rm '{path}'"))?;
        with_volume(cache, part, |vol| match vol.stat(&path)? {
            None => Err(FsError::NotFound(path.to_string())),
            Some(e) if e.is_dir => remove_tree(vol, &path, 0),
            Some(e) => {
                file_as_dir(&path, dir_form, &e)?;
                vol.remove(&path)
            }
        })?;
        io.changed.insert(part.name.clone());
    }
    Ok(())
}

/// `path` with each name that exists spelled as the filesystem stores it
/// (FAT finds `/D` for `/d`); the names from the first missing one on are
/// kept as given.
fn stored_spelling(vol: &mut dyn Volume, path: &FsPath) -> Result<FsPath, FsError> {
    let mut out = FsPath::root(&path.part);
    for (i, name) in path.names.iter().enumerate() {
        let next = out.join(name);
        if vol.stat(&next)?.is_none() {
            out.names.extend(path.names[i..].iter().cloned());
            return Ok(out);
        }
        let listed = vol.list(&out, false)?;
        let stored = listed
            .iter()
            .find(|e| &e.name == name)
            .or_else(|| listed.iter().find(|e| e.name.eq_ignore_ascii_case(name)))
            .map_or_else(|| name.clone(), |e| e.name.clone());
        out = out.join(&stored);
    }
    Ok(out)
}

fn rename(
    cache: &mut BlockCache,
    parts: &[FsPartition],
    io: &mut Io,
    from_arg: &str,
    to_arg: &str,
) -> Result<(), FsError> {
    let mut paths = parse_paths(&[from_arg.to_owned(), to_arg.to_owned()], DEFAULT_PARTITION);
    let (to, from) = (paths.remove(1), paths.remove(0));
    if from.part != to.part {
        return Err(FsError::CrossPartitionRename { from: from.to_string(), to: to.to_string() });
    }
    if from.is_root() || to.is_root() {
        return Err(FsError::usage("rename", "cannot rename the root directory"));
    }
    let part = find(parts, &from.part)?;
    io.log(&format!("rename '{from}' -> '{to}'"))?;
    let changed = with_volume(cache, part, |vol| {
        let Some(e) = vol.stat(&from)? else {
            return Err(FsError::NotFound(from.to_string()));
        };
        file_as_dir(&from, names_directory(from_arg), &e)?;
        if !e.is_dir && names_directory(to_arg) {
            return Err(FsError::usage(
                "rename",
                format!("'{to_arg}' ends in '/' but '{from}' is a file; give its new path in full"),
            ));
        }
        if from == to {
            return Ok(false);
        }
        // Compared as stored, so that FAT's `/d` -> `/D/sub` is caught too.
        let (stored_from, stored_to) = (stored_spelling(vol, &from)?, stored_spelling(vol, &to)?);
        if stored_to.names.len() > stored_from.names.len() && stored_to.names.starts_with(&stored_from.names) {
            return Err(if e.is_dir {
                FsError::MoveIntoItself { from: from.to_string(), to: to.to_string() }
            } else {
                FsError::NotADirectory(from.to_string())
            });
        }
        // littlefs and FAT name the source in these errors; say which is which.
        match vol.stat(&to)? {
            Some(t) if t.is_dir != e.is_dir => {
                let (what, onto) = if e.is_dir { ("directory", "file") } else { ("file", "directory") };
                return Err(FsError::usage(
                    "rename",
                    format!("cannot rename the {what} '{from}' onto the {onto} '{to}'; remove '{to}' first or choose another name"),
                ));
            }
            _ => {}
        }
        vol.rename(&from, &to).map(|_| true)
    })?;
    if changed {
        io.changed.insert(part.name.clone());
    } else {
        io.log(&format!("rename '{from}': it has that name already; nothing to do"))?;
    }
    Ok(())
}

fn mkfs(
    cache: &mut BlockCache,
    parts: &[FsPartition],
    io: &mut Io,
    names: &[String],
    kind: FsKind,
) -> Result<(), FsError> {
    let default = [DEFAULT_PARTITION.to_owned()];
    for name in if names.is_empty() { &default[..] } else { names } {
        let part = find(parts, name)?;
        let region = region(cache, part)?;
        match kind {
            FsKind::Littlefs => io.log(&format!(
                "mkfs '{name}': littlefs 2.0, {} blocks of {BLOCK_SIZE} bytes, with /boot.py",
                region.blocks()
            ))?,
            FsKind::Fat => io.log(&format!(
                "mkfs '{name}': FAT, {} sectors of 4096 bytes, 1 FAT, 512 root entries",
                region.size / 4096
            ))?,
        }
        format(cache, part, kind, now_ns())?;
        io.changed.insert(name.clone());
    }
    Ok(())
}

/// Make a new filesystem of `kind` on `part` as MicroPython makes it,
/// stamped `now_ns` (nanoseconds since 1970).
pub(crate) fn format(cache: &mut BlockCache, part: &FsPartition, kind: FsKind, now_ns: u64) -> Result<(), FsError> {
    let region = region(cache, part)?;
    match kind {
        FsKind::Littlefs => LfsVolume::mkfs(cache, &part.name, region, now_ns),
        FsKind::Fat => FatVolume::mkfs(cache, &part.name, region, now_ns),
    }
}

/// The partitions `df`/`info` look at: those named, or all with a filesystem.
fn volumes_to_show<'p>(
    cache: &mut BlockCache,
    parts: &'p [FsPartition],
    names: &[String],
    io: &mut Io,
) -> Result<Vec<&'p FsPartition>, FsError> {
    if !names.is_empty() {
        return names.iter().map(|n| find(parts, n)).collect();
    }
    let mut found = Vec::new();
    for part in parts {
        match open(cache, part) {
            Ok(vol) => {
                vol.finish()?;
                found.push(part);
            }
            Err(FsError::NoFilesystem(_)) | Err(FsError::PartitionPastFlash { .. }) => {}
            Err(e) => io.warn(&e.to_string())?,
        }
    }
    if found.is_empty() {
        io.log("no littlefs or FAT filesystem found")?;
    }
    Ok(found)
}

fn df(cache: &mut BlockCache, parts: &[FsPartition], io: &mut Io, names: &[String]) -> Result<(), FsError> {
    let shown = volumes_to_show(cache, parts, names, io)?;
    if shown.is_empty() {
        return Ok(());
    }
    let mut text = format!(
        "{:<12} {:<13} {:>9} {:>9} {:>9} {:>5}\n",
        "Partition", "Filesystem", "Total KiB", "Used KiB", "Free KiB", "Used"
    );
    for part in shown {
        let (kind, u) = with_volume(cache, part, |vol| Ok((vol.describe(), vol.usage()?)))?;
        let kb = |n: u32| u64::from(n) * u64::from(u.unit) / 1024;
        let pct =
            if u.total == 0 { 0 } else { (u64::from(u.used) * 200 + u64::from(u.total)) / (2 * u64::from(u.total)) };
        let free = u.total.saturating_sub(u.used);
        text += &format!(
            "{:<12} {:<13} {:>9} {:>9} {:>9} {:>4}%\n",
            part.name,
            kind,
            kb(u.total),
            kb(u.used),
            kb(free),
            pct
        );
    }
    io.out(&text)
}

fn info(cache: &mut BlockCache, parts: &[FsPartition], io: &mut Io, names: &[String]) -> Result<(), FsError> {
    for part in volumes_to_show(cache, parts, names, io)? {
        let (kind, lines) = with_volume(cache, part, |vol| Ok((vol.describe(), vol.info()?)))?;
        let mut text = format!("Filesystem '{}': {kind}\n", part.name);
        let mut place = format!("{:#x} +{:#x}", part.offset, part.size);
        if part.implicit {
            place += " (implicit vfs of MicroPython >= 1.26: end of the table to the end of flash)";
        }
        text += &format!("  {:<16}{place}\n", "Partition:");
        for (label, value) in lines {
            text += &format!("  {:<16}{value}\n", format!("{label}:"));
        }
        io.out(&text)?;
    }
    Ok(())
}

fn grow(
    cache: &mut BlockCache,
    parts: &[FsPartition],
    io: &mut Io,
    name: Option<&str>,
    blocks: Option<u32>,
) -> Result<(), FsError> {
    let part = find(parts, name.unwrap_or(DEFAULT_PARTITION))?;
    let want = blocks.unwrap_or(part.size / BLOCK_SIZE);
    let old = with_volume(cache, part, |vol| vol.grow(want))?;
    if old == want {
        io.log(&format!("grow '{}': already {want} blocks", part.name))?;
    } else {
        io.log(&format!("grow '{}' from {old} to {want} blocks", part.name))?;
        io.changed.insert(part.name.clone());
    }
    Ok(())
}
