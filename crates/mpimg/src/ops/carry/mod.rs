//! Table edits carry the user's files along: every littlefs or FAT
//! filesystem (found by content, MicroPython ≥ 1.26's implicit `vfs`
//! included) whose bytes a new table would invalidate is kept.
//!
//! For each data partition of the old table, matched to the new table by
//! name (else, for a rename, by the same place and size):
//! - same place and size: kept as it is (a renamed partition is not erased);
//! - same offset, larger: littlefs is grown to fill it (`lfs_fs_grow`), a FAT
//!   volume stays at its size;
//! - moved and/or shrunk: its whole [`Tree`] is read, then made again at the
//!   new place as the same kind (littlefs at the same on-disk version, with
//!   MicroPython's configuration and a block count of the new size);
//! - deleted, or re-typed to app or to a subtype ESP-IDF owns (nvs, ota,
//!   phy, coredump, nvs_keys, efuse): refused unless the caller discards it.
//!
//! A run is, in this order (so a device flow can put a host backup of the
//! trees, and a check of it, around the same steps):
//! 1. [`plan`]: every read and every check, the new filesystems made in
//!    memory and read back; nothing is written, so every refusal (a tree that
//!    does not fit, a filesystem that would be lost) comes before any write;
//! 2. the caller commits the table ([`crate::ops::update`]), leaving the
//!    partitions of [`CarryPlan::keep`] alone;
//! 3. [`recreate`]: the prepared blocks are written (one erase and write per
//!    run of blocks, through the block cache);
//! 4. [`verify`]: each filesystem is read back at its new place and compared.

mod apply;
mod plan;

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use crate::format::partition::PartitionTable;
use crate::format::partition::{Partition, TYPE_DATA};
use crate::fs::tree::build::Built;
use crate::fs::tree::{Tree, TreeStats};
use crate::fs::FsError;

pub use apply::{recreate, verify};
pub use plan::plan;

/// One partition of a table (with the implicit `vfs`, which is in none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub name: String,
    pub ptype: u8,
    pub subtype: u8,
    /// Flash offset, bytes.
    pub offset: u32,
    /// Bytes.
    pub size: u32,
    /// MicroPython ≥ 1.26's implicit `vfs`: not in the table.
    pub implicit: bool,
}

/// The partitions of one layout, old or new.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub slots: Vec<Slot>,
}

impl Layout {
    /// Every partition of `table`, and `implicit_vfs` (see
    /// [`crate::ops::firmware::implicit_vfs`]) if MicroPython makes one.
    pub fn of(table: &PartitionTable, implicit_vfs: Option<&Partition>) -> Layout {
        let slot = |p: &Partition, implicit: bool| Slot {
            name: p.name(),
            ptype: p.ptype,
            subtype: p.subtype,
            offset: p.offset,
            size: p.size,
            implicit,
        };
        let mut slots: Vec<Slot> = table.entries.iter().map(|p| slot(p, false)).collect();
        slots.extend(implicit_vfs.map(|p| slot(p, true)));
        Layout { slots }
    }
}

/// The layouts before and after a table edit from `old` (on `old_flash`
/// bytes of flash) to `new` (on `new_flash` bytes), with MicroPython ≥ 1.26's
/// implicit `vfs` on either side when `implicit_vfs` (the app makes one) and
/// that table has no `vfs`. On a device both flash sizes are the detected
/// size (MicroPython takes the implicit `vfs` to the end of the real flash).
pub fn layouts(
    old: &PartitionTable,
    old_flash: u32,
    new: &PartitionTable,
    new_flash: u32,
    implicit_vfs: bool,
) -> (Layout, Layout) {
    let side = |t: &PartitionTable, flash: u32| Layout::of(t, crate::ops::firmware::implicit_vfs(t, implicit_vfs, flash).as_ref());
    (side(old, old_flash), side(new, new_flash))
}

/// Data subtypes ESP-IDF components own and format as their own (ota, phy,
/// nvs, coredump, nvs_keys, efuse): a filesystem re-typed to one is lost.
fn idf_owned(subtype: u8) -> bool {
    subtype <= 0x05
}

/// Whether a filesystem can stay in `slot`: a data partition whose subtype
/// no ESP-IDF component claims (MicroPython mounts `vfs` by name, whatever
/// its subtype says).
fn holds_a_filesystem(slot: &Slot) -> bool {
    slot.ptype == TYPE_DATA && !idf_owned(slot.subtype)
}

/// Where a partition lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Place {
    /// Flash offset, bytes.
    pub offset: u32,
    /// Bytes.
    pub size: u32,
    /// MicroPython ≥ 1.26's implicit `vfs` (from the end of the table to the end of flash).
    pub implicit: bool,
}

impl Place {
    fn of(s: &Slot) -> Place {
        Place { offset: s.offset, size: s.size, implicit: s.implicit }
    }
}

/// What happens to one filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Same place and size (under a new name, maybe): left as it is.
    Unchanged,
    /// littlefs at the same offset, grown to fill the larger partition.
    Grown,
    /// A FAT volume at the same offset in a larger partition, left at its size.
    KeptSize,
    /// Read whole, then made again at its new place and size.
    Recreated,
    /// Dropped, as the caller asked (the partition is deleted or re-typed).
    Discarded,
}

/// What a run does (or did) with one filesystem partition of the old table:
/// the line it prints, and an element of `result.filesystems` in `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Carried {
    /// Name in the old table.
    pub partition: String,
    /// Name in the new table (differs after a rename; None: deleted).
    pub new_name: Option<String>,
    /// "littlefs 2.0", "littlefs 2.1", "FAT12", ...
    pub filesystem: String,
    pub action: Action,
    pub from: Place,
    /// None: deleted.
    pub to: Option<Place>,
    /// Files, directories and file bytes (None when left as it is: not read).
    pub contents: Option<TreeStats>,
    /// Bytes the filesystem spans (littlefs blocks, FAT sectors) after the run.
    pub fs_size: u32,
}

/// Bytes as people read them: `139 bytes`, `412 kB` (1024 bytes).
fn amount(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else {
        format!("{} kB", (bytes + 512) / 1024)
    }
}

fn files(stats: &TreeStats) -> String {
    let s = if stats.files == 1 { "" } else { "s" };
    format!("{} file{s} ({})", stats.files, amount(stats.bytes))
}

impl fmt::Display for Carried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.partition;
        let what = self.contents.as_ref().map(files);
        let to = self.to.unwrap_or(self.from);
        match self.action {
            Action::Unchanged => {
                write!(f, "Kept '{name}' ({}) as it was, at {:#x}, {:#x} bytes", self.filesystem, to.offset, to.size)?;
                match &self.new_name {
                    Some(n) if n != name => write!(f, ", now named '{n}'"),
                    _ => Ok(()),
                }
            }
            Action::Grown => write!(
                f,
                "Kept {} of '{name}': {} grown in place to {:#x} bytes",
                what.unwrap_or_default(),
                self.filesystem,
                to.size
            ),
            Action::KeptSize => write!(
                f,
                "Kept {} of '{name}': the partition grew to {:#x} bytes, the {} volume stays {:#x} bytes",
                what.unwrap_or_default(),
                to.size,
                self.filesystem,
                self.fs_size
            ),
            Action::Recreated if to.offset == self.from.offset => {
                write!(f, "Kept {} of '{name}': shrunk to {:#x} bytes", what.unwrap_or_default(), to.size)
            }
            Action::Recreated => {
                write!(f, "Kept {} of '{name}': moved to {:#x}, {:#x} bytes", what.unwrap_or_default(), to.offset, to.size)
            }
            Action::Discarded => {
                let why = if self.new_name.is_some() { "re-typed" } else { "deleted" };
                write!(f, "Discarded {} of '{name}' ({why}, --discard-fs)", what.unwrap_or_default())
            }
        }
    }
}

/// The blocks a plan writes for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writes {
    None,
    /// Erase the whole partition at `offset` (`size` bytes), then write the image at its start.
    Image { offset: u32, size: u32, built: Built },
    /// Whole 4 KB blocks at these flash offsets (a grown littlefs's changed metadata).
    Blocks(Vec<(u32, Vec<u8>)>),
}

/// One filesystem partition's part of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPlan {
    pub carried: Carried,
    /// The whole tree, read before anything was written (moved or shrunk
    /// filesystems): what the new one is checked against, and what a host
    /// backup would keep.
    pub tree: Option<Tree>,
    pub writes: Writes,
}

/// Everything a run does to keep the filesystems of the old table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CarryPlan {
    pub parts: Vec<PartPlan>,
    /// Flash offsets of the new table's partitions whose bytes the plan owns:
    /// committing the table must not erase them.
    pub keep: Vec<u32>,
}

impl CarryPlan {
    /// The lines (and `--json` entries) of the plan.
    pub fn carried(&self) -> Vec<Carried> {
        self.parts.iter().map(|p| p.carried.clone()).collect()
    }
}

/// Why a table edit cannot keep the files (nothing has been written), or
/// what went wrong keeping them.
#[derive(Debug, Error)]
pub enum CarryError {
    #[error("partition '{name}' holds {files} in a {filesystem} filesystem, and this edit {how}: the files would be lost. Copy them out first (--fs get {name}:/ DIR), then run the edit again with --discard-fs")]
    WouldLose { name: String, filesystem: String, files: String, how: String },
    #[error("the {files} of '{name}' do not fit its new size, {new_size:#x} bytes ({} blocks): {filesystem} needs {needed_blocks} blocks ({} bytes) for them, so '{name}' must be at least {min_size:#x} bytes; choose a layout that leaves it that much, or first remove files (--fs rm) in a run of their own", new_size / 4096, u64::from(*needed_blocks) * 4096)]
    DoesNotFit { name: String, filesystem: String, files: String, new_size: u32, needed_blocks: u32, min_size: u32 },
    #[error("partition '{name}' holds a {filesystem} filesystem that cannot be read ({source}), and this edit would overwrite it: save what you can with --fs get, then run the edit again with --discard-fs")]
    Unreadable { name: String, filesystem: String, source: Box<FsError> },
    #[error("the copy of '{name}' made for its new place differs from the original ({detail}); nothing was written. This is a bug in mpimg: please report it")]
    CopyDiffers { name: String, detail: String },
    #[error("'{name}' at {offset:#x} does not read back as it was written ({detail}): the flash (or the link to it) is faulty; a firmware file is left as it was (no output is written)")]
    Verify { name: String, offset: u32, detail: String },
    #[error(transparent)]
    Fs(#[from] FsError),
}
