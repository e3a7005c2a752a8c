//! `sync SRC DEST`: make a directory of the filesystem hold what a directory
//! on this computer holds, writing only the files that differ.
//!
//! A file differs when its size or its modification time differs (littlefs
//! keeps the time MicroPython-style, to the nanosecond, compared to the
//! second; FAT keeps it to 2 seconds), or with `checksum` when its contents
//! do (the filesystem's copy is read). The time compared is the one a copy
//! gets: with `SOURCE_DATE_EPOCH` set every copy gets that time, so only
//! the size tells files apart, unless `checksum`. Files and directories only in DEST
//! are removed with `delete`. Names matching an `exclude` pattern (see
//! [`super::glob`]) are neither copied nor removed. What a sync that finds
//! nothing to do reads is the filesystem's metadata (directories and the
//! times kept with them): the files' data is read only with `checksum`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::glob::Glob;
use super::host::{self, HostKind};
use super::path::FsPath;
use super::volume::{makedirs, Entry, Volume, MAX_DEPTH};
use super::FsError;

/// How to sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// Remove what is only in DEST (`--delete`).
    pub delete: bool,
    /// Compare contents, not size and time (`--checksum`).
    pub checksum: bool,
    /// Patterns of names to leave alone (`--exclude`).
    pub exclude: Vec<String>,
}

/// What a sync did. Paths are `PART:/path`; directories end in `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The directory on this computer.
    pub source: String,
    /// The directory in the filesystem.
    pub dest: String,
    /// Files and directories created.
    pub added: Vec<String>,
    /// Files rewritten because they differed.
    pub updated: Vec<String>,
    /// Files and directories removed (`delete`, or a file where SRC has a directory).
    pub deleted: Vec<String>,
    /// Files and directories that were there and the same already (DEST
    /// itself counts when it is not the root): directories count in every
    /// list, so a second identical sync has as many unchanged as the first added.
    pub unchanged: u32,
    /// Entries of SRC an `exclude` pattern skipped.
    pub excluded: u32,
}

impl SyncReport {
    /// Whether anything in the filesystem changed.
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.updated.is_empty() && self.deleted.is_empty())
    }
}

struct Run<'a> {
    vol: &'a mut dyn Volume,
    log: &'a mut dyn Write,
    opts: &'a SyncOptions,
    globs: Vec<Glob>,
    report: SyncReport,
}

/// Sync the host directory `src` into the filesystem directory `dest`
/// (made if missing), logging one line per change and the counts to `log`.
///
/// Errors: [`FsError::NotADirectory`] when SRC or DEST is not a directory,
/// host and filesystem errors as the other commands give them.
pub fn sync(
    vol: &mut dyn Volume,
    log: &mut dyn Write,
    src: &Path,
    dest: &FsPath,
    opts: &SyncOptions,
) -> Result<SyncReport, FsError> {
    // SRC itself may be a link to a directory (named, so followed, as by put).
    let kind = match host::kind(src)? {
        HostKind::Symlink => host::kind_followed(src)?,
        k => k,
    };
    if !matches!(kind, HostKind::Dir) {
        return Err(FsError::NotADirectory(src.display().to_string()));
    }
    let report = SyncReport { source: src.display().to_string(), dest: dest.to_string(), ..SyncReport::default() };
    let globs = opts.exclude.iter().map(|p| Glob::new(p)).collect();
    let mut run = Run { vol, log, opts, globs, report };
    match run.vol.stat(dest)? {
        Some(e) if e.is_dir => {
            if !dest.is_root() {
                run.report.unchanged += 1;
            }
        }
        Some(_) => return Err(FsError::NotADirectory(dest.to_string())),
        None => {
            makedirs(run.vol, dest)?;
            run.note("added", &format!("{dest}/"))?;
        }
    }
    run.dir(src, dest, "", 0)?;
    let r = &run.report;
    let line = format!(
        "sync {} -> {}: {} added, {} updated, {} deleted, {} unchanged{}",
        r.source,
        r.dest,
        r.added.len(),
        r.updated.len(),
        r.deleted.len(),
        r.unchanged,
        if r.excluded > 0 { format!(", {} excluded", r.excluded) } else { String::new() }
    );
    run.line(&line)?;
    Ok(run.report)
}

/// Seconds since 1970 of a time in nanoseconds.
fn secs(ns: u64) -> i64 {
    (ns / 1_000_000_000) as i64
}

impl Run<'_> {
    fn line(&mut self, text: &str) -> Result<(), FsError> {
        self.log.write_all(format!("{text}\n").as_bytes()).map_err(FsError::Output)
    }

    /// One change: logged, and recorded under `what`.
    fn note(&mut self, what: &str, path: &str) -> Result<(), FsError> {
        self.line(&format!("{what} {path}"))?;
        let list = match what {
            "added" => &mut self.report.added,
            "updated" => &mut self.report.updated,
            _ => &mut self.report.deleted,
        };
        list.push(path.to_string());
        Ok(())
    }

    fn excluded(&self, rel: &str, is_dir: bool) -> bool {
        self.globs.iter().any(|g| g.matches(rel, is_dir))
    }

    fn warn(&mut self, text: &str) -> Result<(), FsError> {
        self.line(&format!("warning: {text}"))
    }

    /// Sync host directory `src` into `dest` (which exists); `rel` is where
    /// they are relative to the top, for the patterns.
    fn dir(&mut self, src: &Path, dest: &FsPath, rel: &str, depth: usize) -> Result<(), FsError> {
        if depth > MAX_DEPTH {
            return Err(FsError::TooDeep(dest.part.clone()));
        }
        let mut bad = Vec::new();
        let entries = host::list_dir(src, &mut |p| bad.push(p))?;
        for p in bad {
            self.warn(&format!("skipping '{}': its name is not valid UTF-8", p.display()))?;
        }
        let mut have: Vec<Entry> = self.vol.list(dest, true)?;
        let mut seen = Vec::with_capacity(entries.len());
        for (name, path) in entries {
            let child_rel = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let kind = host::kind(&path)?;
            if self.excluded(&child_rel, matches!(kind, HostKind::Dir)) {
                self.report.excluded += 1;
                // Kept out of DEST's list below, so `delete` leaves it alone.
                seen.push(name);
                continue;
            }
            let target = dest.join(&name);
            let old = have.iter().position(|e| e.name == name).map(|i| have.swap_remove(i));
            match kind {
                HostKind::Symlink => {
                    self.warn(&format!("skipping symbolic link '{}'", path.display()))?;
                    continue;
                }
                HostKind::Other => {
                    self.warn(&format!("skipping '{}': not a file or directory", path.display()))?;
                    continue;
                }
                HostKind::Dir => {
                    match &old {
                        Some(e) if e.is_dir => self.report.unchanged += 1,
                        Some(_) => {
                            self.vol.remove(&target)?;
                            self.note("deleted", &target.to_string())?;
                            self.new_dir(&target)?;
                        }
                        None => self.new_dir(&target)?,
                    }
                    self.dir(&path, &target, &child_rel, depth + 1)?;
                }
                HostKind::File => self.file(&path, &target, old.as_ref())?,
            }
            seen.push(name);
        }
        if self.opts.delete {
            for e in have.into_iter().filter(|e| !seen.contains(&e.name)) {
                let child_rel = if rel.is_empty() { e.name.clone() } else { format!("{rel}/{}", e.name) };
                if !self.excluded(&child_rel, e.is_dir) && e.name_exact {
                    self.delete(&dest.join(&e.name), e.is_dir, depth)?;
                }
            }
        }
        Ok(())
    }

    fn new_dir(&mut self, target: &FsPath) -> Result<(), FsError> {
        target.check_names()?;
        self.vol.mkdir(target)?;
        self.note("added", &format!("{target}/"))
    }

    /// Copy the host file `src` to `target` unless `old` (what is there) is the same.
    fn file(&mut self, src: &Path, target: &FsPath, old: Option<&Entry>) -> Result<(), FsError> {
        let (size, mtime_ns) = host::stat_file(src)?;
        let same = match old {
            Some(e) if e.is_dir => {
                self.delete(target, true, 0)?;
                false
            }
            Some(e) if e.size != size => false,
            Some(_) if self.opts.checksum => self.vol.read_file(target)? == host::read_file(src)?.0,
            Some(e) => {
                let res = self.vol.mtime_resolution();
                e.mtime.is_some_and(|t| t.div_euclid(res) == secs(mtime_ns).div_euclid(res))
            }
            None => false,
        };
        if same {
            self.report.unchanged += 1;
            return Ok(());
        }
        let (data, mtime_ns) = host::read_file(src)?;
        let absent = old.is_none_or(|e| e.is_dir);
        self.vol.write_file(target, &data, mtime_ns, absent)?;
        self.note(if absent { "added" } else { "updated" }, &target.to_string())
    }

    /// Remove `path` (a directory with everything in it), one line per entry.
    fn delete(&mut self, path: &FsPath, is_dir: bool, depth: usize) -> Result<(), FsError> {
        if depth > MAX_DEPTH {
            return Err(FsError::TooDeep(path.part.clone()));
        }
        if is_dir {
            for e in self.vol.list(path, false)? {
                self.delete(&path.join(&e.name), e.is_dir, depth + 1)?;
            }
        }
        self.vol.remove(path)?;
        self.note("deleted", &if is_dir { format!("{path}/") } else { path.to_string() })
    }
}
