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
//! A run is, in this order:
//! 1. [`plan`]: every read and every check, the new filesystems made in
//!    memory and read back; nothing is written, so every refusal (a tree that
//!    does not fit, a filesystem that would be lost) comes before any write;
//! 2. the table is committed ([`crate::ops::update::commit`]), leaving the
//!    partitions of [`CarryPlan::keep`] alone;
//! 3. [`recreate`]: the prepared blocks are written (one erase and write per
//!    run of blocks, through the block cache);
//! 4. [`verify`]: each filesystem is checked on the flash and read back at
//!    its new place and compared.
//!
//! [`job`] runs these steps for a whole edit, file or device alike; on a
//! device it saves a host [`backup`] of what is carried (through a
//! [`store::BackupStore`]) between 1 and 2, removes it after 4, and lets the
//! same edit run again finish from it after a cut link.

mod apply;
pub mod backup;
mod error;
pub mod job;
mod plan;
pub mod store;

use serde::Serialize;

use crate::flash::Flash;
use crate::format::partition::PartitionTable;
use crate::format::partition::{Partition, TYPE_DATA};
use crate::fs::tree::build::Built;
use crate::fs::tree::{Tree, TreeStats};
use crate::ops::firmware::Firmware;
use crate::ops::plan::Plan;
use crate::Error;

pub use apply::{recreate, verify};
pub use error::CarryError;
pub use plan::{plan, plan_within, Repairs};

/// One partition of a table (with the implicit `vfs`, which is in none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Its name.
    pub name: String,
    /// Partition type (0 app, 1 data).
    pub ptype: u8,
    /// Partition subtype.
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
    /// In table order, the implicit `vfs` last.
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

/// The layouts before and after changing `fw`'s table to `new` (meant for
/// `new_flash_size` bytes of flash), each with MicroPython ≥ 1.26's implicit
/// `vfs` where the app makes one and that table has no `vfs` (on a device it
/// reaches the end of the detected flash, as MicroPython takes it).
pub fn layouts<F: Flash>(fw: &mut Firmware<F>, new: &PartitionTable, new_flash_size: u32) -> (Layout, Layout) {
    let old = fw.table.clone();
    let old_vfs = fw.implicit_vfs_of(&old, fw.flash_size());
    let new_vfs = fw.implicit_vfs_of(new, new_flash_size);
    (Layout::of(&old, old_vfs.as_ref()), Layout::of(new, new_vfs.as_ref()))
}

/// Plan keeping the filesystems of `fw` through the table and header edit
/// `edit` (see [`plan`]): every read and check, nothing written. An edit
/// that changes neither the table nor the flash size keeps everything as it is.
///
/// Errors: [`Error::Carry`] when a filesystem would be lost or does not fit, and flash errors.
pub fn plan_edit<F: Flash>(fw: &mut Firmware<F>, edit: &Plan, discard: bool) -> Result<CarryPlan, Error> {
    if edit.table == fw.table && edit.flash_size == fw.flash_size() && edit.repairs == Repairs::default() {
        return Ok(CarryPlan::default());
    }
    let (old, new) = layouts(fw, &edit.table, edit.flash_size);
    Ok(plan_within(&mut fw.flash, &old, &new, discard, edit.repairs)?)
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
    /// What happens to it.
    pub action: Action,
    /// Where it was.
    pub from: Place,
    /// Where it is after the run (None: deleted).
    pub to: Option<Place>,
    /// Files, directories and file bytes (None when left as it is: not read).
    pub contents: Option<TreeStats>,
    /// Bytes the filesystem spans (littlefs blocks, FAT sectors) after the run.
    pub fs_size: u32,
}

/// "37 files (412 KiB)": for messages.
fn files(stats: &TreeStats) -> String {
    let s = if stats.files == 1 { "" } else { "s" };
    let kb = match stats.bytes {
        1 => "1 byte".to_owned(),
        n if n < 1024 => format!("{n} bytes"),
        n => format!("{} KiB", (n + 512) / 1024),
    };
    format!("{} file{s} ({kb})", stats.files)
}

/// The blocks a plan writes for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writes {
    /// Nothing.
    None,
    /// Erase the whole partition at `offset` (`size` bytes), then write the image at its start.
    Image {
        /// Flash offset of the partition.
        offset: u32,
        /// Its size in bytes.
        size: u32,
        /// The filesystem made for it.
        built: Built,
    },
    /// Whole 4 KB blocks at these flash offsets (a grown littlefs's changed metadata).
    Blocks(Vec<(u32, Vec<u8>)>),
}

/// One filesystem partition's part of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPlan {
    /// What it does, as reported.
    pub carried: Carried,
    /// The whole tree, read before anything was written (moved or shrunk
    /// filesystems): what the new one is checked against, and what a host
    /// backup would keep.
    pub tree: Option<Tree>,
    /// What is written after the table.
    pub writes: Writes,
}

/// Everything a run does to keep the filesystems of the old table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CarryPlan {
    /// One per filesystem partition of the old table the edit touches.
    pub parts: Vec<PartPlan>,
    /// Flash offsets of the new table's partitions whose bytes the plan owns:
    /// committing the table must not erase them.
    pub keep: Vec<u32>,
}

impl CarryPlan {
    /// Whether committing it writes any filesystem (what a device keeps a backup for).
    pub fn writes_anything(&self) -> bool {
        self.parts.iter().any(|p| p.writes != Writes::None)
    }

    /// The lines (and `--json` entries) of the plan.
    pub fn carried(&self) -> Vec<Carried> {
        self.parts.iter().map(|p| p.carried.clone()).collect()
    }
}
