//! Filesystems inside firmware images and on devices: littlefs as MicroPython
//! keeps it, and FAT.
//!
//! Layers, bottom up: [`cache`] (4 KB blocks over a [`Flash`], each read once,
//! writes kept until the end), [`detect`] (which filesystem a partition holds),
//! the littlefs and FAT volumes, and two ways in: the [`Filesystem`] handle
//! (read, write and list files from a program) and the commands
//! ([`FsCommand`], what `mpimg --fs` runs).
//!
//! The commands' entry point is [`run_fs`]. It is all or nothing: commands run
//! against the cache, and only when all of them succeeded are the changed
//! blocks written to the flash (one erase and write per run of neighbouring
//! blocks). If a command fails, every change of the run is dropped and the
//! flash is left exactly as it was; what `get` already wrote on this computer
//! stays there. The one exception is a failure while flushing itself: on a
//! file held in memory that cannot happen short of running out of capacity
//! (checked before), but on a device the link can fail half way. littlefs
//! then holds its files as before the run, or with some of the run's
//! changes, never a damaged filesystem: the flush keeps littlefs's own write
//! order (see [`cache`]), and running the same commands again completes them.
//! A FAT volume has no such order and can be left damaged.

pub mod cache;
pub mod command;
pub mod detect;
mod error;
pub mod fat;
pub mod fat_check;
pub mod glob;
mod handle;
mod host;
pub mod lfs;
pub mod path;
pub mod probe;
mod run;
pub mod sync;
pub mod time;
pub mod tree;
pub mod volume;

use std::collections::BTreeSet;

pub use cache::{BlockCache, CacheStats};
pub use command::{commands_modify_flash, FsCommand, FsKind, COMMANDS};
pub use error::FsError;
pub use handle::Filesystem;
pub use run::{open as open_volume, DEFAULT_PARTITION};
pub use volume::{Entry, Usage};

use crate::flash::Flash;

/// A partition a filesystem may live in, as the caller knows it from the
/// partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsPartition {
    /// Label, as used in paths (`vfs2:/lib`).
    pub name: String,
    /// Flash offset (4 KB aligned).
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// True for MicroPython >= 1.26's implicit `vfs`: not in the table, made
    /// at boot from the end of the table to the end of the flash.
    pub implicit: bool,
}

/// What a run of `--fs` commands did to the flash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FsRunReport {
    /// Whether anything was written to the flash.
    pub changed: bool,
    /// Partitions a changing command ran on, sorted.
    pub partitions_changed: Vec<String>,
    /// Flash traffic of the run.
    pub stats: CacheStats,
    /// What each `sync` did, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync: Vec<sync::SyncReport>,
}

/// Run `commands` (each `[cmd, args...]`, in order) on the filesystems of
/// `parts` inside `flash`: [`FsCommand::parse`] each, then [`run_fs`].
pub fn run_fs_commands(
    flash: &mut dyn Flash,
    parts: &[FsPartition],
    commands: &[Vec<String>],
    out: &mut dyn std::io::Write,
    log: &mut dyn std::io::Write,
) -> Result<FsRunReport, FsError> {
    let parsed = commands.iter().map(|c| FsCommand::parse(c)).collect::<Result<Vec<_>, _>>()?;
    run_fs(flash, parts, &parsed, out, log)
}

/// Run `commands` in order on the filesystems of `parts` inside `flash`.
/// Listings and file contents go to `out`, progress and warnings to `log`.
/// Reading commands (ls, cat, get, df, info) never write to the flash. See
/// the module documentation for what a failure leaves.
///
/// Times written come from this thread's [`time::TimeSource`] when the caller
/// set one ([`time::with_time_source`]), else from `SOURCE_DATE_EPOCH` or the
/// clock; an invalid `SOURCE_DATE_EPOCH` is [`FsError::SourceDateEpoch`].
pub fn run_fs(
    flash: &mut dyn Flash,
    parts: &[FsPartition],
    commands: &[FsCommand],
    out: &mut dyn std::io::Write,
    log: &mut dyn std::io::Write,
) -> Result<FsRunReport, FsError> {
    let source = match time::current_source() {
        Some(s) => s,
        None => time::TimeSource::from_env()?,
    };
    time::with_time_source(source, || run_commands(flash, parts, commands, out, log))
}

fn run_commands(
    flash: &mut dyn Flash,
    parts: &[FsPartition],
    commands: &[FsCommand],
    out: &mut dyn std::io::Write,
    log: &mut dyn std::io::Write,
) -> Result<FsRunReport, FsError> {
    let mut cache = BlockCache::new(flash);
    let mut io = run::Io { out, log, changed: BTreeSet::new(), syncs: Vec::new() };
    for cmd in commands {
        cache.set_read_only(if cmd.modifies_flash() { None } else { Some(cmd.name()) });
        if let Err(e) = run::execute(&mut cache, parts, &mut io, cmd) {
            cache.discard();
            return Err(e);
        }
    }
    cache.set_read_only(None);
    let changed = cache.flush()?;
    Ok(FsRunReport {
        changed,
        partitions_changed: io.changed.into_iter().collect(),
        stats: cache.stats(),
        sync: io.syncs,
    })
}
