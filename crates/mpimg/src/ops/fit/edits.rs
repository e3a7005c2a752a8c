//! Fitting the firmware of a run: the user's table edits, then the fit
//! planned on the table they leave, merged into one set of edits.

use crate::error::Error;
use crate::flash::Flash;
use crate::format::partition::{PartitionTable, TableError, TABLE_OFFSET};
use crate::fs::probe::{probe, Probe};
use crate::ops::carry::job::{finish, plan_change, prepare};
use crate::ops::diagnose::images::{image_state, ImageState};
use crate::ops::firmware::{open_bytes, Firmware, Opened};
use crate::ops::layout::PartSpec;
use crate::ops::plan::{plan, TableEdits};
use crate::ops::walk::walk_image;

use super::{is_fs_partition, plan_fit, Fit, FitError};

/// How a firmware is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitGoal {
    /// The flash size to fit to, in bytes.
    pub target: u32,
    /// Also grow a firmware made for a smaller flash (see [`plan_fit`]).
    pub grow: bool,
    /// Also repair what makes a board not start or not mount its files
    /// without being a size: renew the bootloader's SHA-256 when only it
    /// fails (the checksum is good: a header was changed without renewing
    /// it), and make a littlefs the app's MicroPython cannot read (2.1 for
    /// v1.21 and older) again at on-disk version 2.0.
    pub repair: bool,
}

/// The table edits that fit `fw` (after the user's `edits`) to `goal` (see
/// [`plan_fit`]): `edits` with the flash size set and the last partition
/// resized to fill the flash (`size 0`), and the [`Fit`] itself.
/// `app_image_size` is the first app's image length (as for [`plan`]).
///
/// A partition the user's edits size (see `user_sized`) is not grown by
/// the fit; one that would have to shrink is refused.
///
/// Errors: those of [`plan`] for the user's edits, and [`Error::Fit`]
/// ([`FitError::Conflict`] for a partition the user sized past the flash).
pub fn fit_edits<F: Flash>(
    fw: &mut Firmware<F>,
    edits: &TableEdits,
    goal: FitGoal,
    app_image_size: u32,
) -> Result<(TableEdits, Fit), Error> {
    // The table and size the user's edits leave (a table past the header's
    // flash is what a fit is for: without edits, it is not planned).
    let (table, header_size) = if edits.is_empty() {
        (fw.table.clone(), fw.flash_size())
    } else {
        match plan(fw, edits, app_image_size) {
            Ok(asked) => (asked.table, asked.flash_size),
            // `-f SIZE --fit`: a table that ends past SIZE is what the fit
            // shrinks, so the user's other edits are planned at the header's size.
            Err(Error::Table(TableError::PastFlashEnd { .. })) if edits.flash_size == Some(goal.target) => {
                let at_header = TableEdits { flash_size: None, ..edits.clone() };
                let asked = plan(fw, &at_header, app_image_size)?;
                (asked.table, asked.flash_size)
            }
            Err(e) => return Err(e),
        }
    };
    let mut fit = plan_fit(&table, header_size, goal.target, goal.grow)?;
    if let Some(r) = fit.resize.take() {
        match user_sized(edits, &r.name) {
            None => fit.resize = Some(r),
            // The user's size wins over growing to fill the flash.
            Some(_) if r.to > r.from => {}
            Some(option) => {
                return Err(FitError::Conflict {
                    name: r.name,
                    option,
                    end: r.offset + r.from,
                    flash_size: goal.target,
                }
                .into())
            }
        }
    }
    if goal.repair {
        let bl = fw.bootloader_offset();
        let state = image_state(&mut fw.flash, bl, TABLE_OFFSET - bl, true);
        fit.renew_digest = matches!(state, ImageState::Image { digest_only: true, .. });
        fit.lfs_version = lfs_version_for_app(fw);
        fit.refit = larger_than_partition(fw);
    }
    let mut merged = edits.clone();
    if let Some(size) = fit.header {
        merged.flash_size = Some(size);
    }
    if let Some(r) = &fit.resize {
        merged.resize.push(PartSpec::sized(&r.name, 0));
    }
    Ok((merged, fit))
}

/// The edits a fit to `goal` amounts to, whatever the table holds now:
/// `edits` with the flash size set to the target and the last filesystem
/// partition of `table` resized to fill the flash. Planned from the table a
/// growing fit (`goal.grow`) started from, they give the table it made; so
/// the re-run of a fit cut off on a device, which finds nothing left to fit,
/// finds that fit's host backup (see [`crate::ops::carry::job`]).
pub fn whole_fit_edits(table: &PartitionTable, edits: &TableEdits, goal: FitGoal) -> TableEdits {
    let mut whole = edits.clone();
    whole.flash_size = Some(goal.target);
    let last = table.entries.iter().max_by_key(|p| p.end()).filter(|p| is_fs_partition(p));
    if let Some(last) = last.filter(|p| user_sized(edits, &p.name()).is_none()) {
        whole.resize.push(PartSpec::sized(&last.name(), 0));
    }
    whole
}

/// The option of `edits` that sets partition `name`'s size or place, if
/// any: a fit leaves such a partition as the user asked (a whole table
/// given with `--table` or `--from-csv` sets every partition).
fn user_sized(edits: &TableEdits, name: &str) -> Option<&'static str> {
    if edits.from_csv.is_some() {
        Some("--from-csv")
    } else if edits.layout.is_some() {
        Some("--table")
    } else if edits.resize.iter().any(|s| s.name == name) {
        Some("--resize")
    } else if edits.add.iter().any(|s| s.name == name) {
        Some("--add")
    } else {
        None
    }
}

/// The filesystems of `fw` that span more than their partition (as the
/// board has them: MicroPython ≥ 1.26's implicit `vfs` to the end of a
/// device's flash).
fn larger_than_partition<F: Flash>(fw: &mut Firmware<F>) -> Vec<String> {
    let parts = fw.fs_partitions();
    parts
        .iter()
        .filter(|p| {
            let span = match probe(&mut fw.flash, p) {
                Probe::Littlefs { block_count, .. } => u64::from(block_count) * 4096,
                Probe::Fat { bytes } => bytes,
                _ => 0,
            };
            span > u64::from(p.size)
        })
        .map(|p| p.name.clone())
        .collect()
}

/// littlefs's on-disk version 2.0.
const LFS_2_0: u32 = 0x0002_0000;

/// The on-disk version a littlefs of `fw` must be made again at for its
/// app: 2.0, when the app's MicroPython reads no other (v1.21 and older) and
/// a data partition holds a newer littlefs. None when nothing needs it.
fn lfs_version_for_app<F: Flash>(fw: &mut Firmware<F>) -> Option<u32> {
    let old_app = fw.micropython().and_then(|b| b.release()).is_some_and(|v| v <= (1, 21));
    if !old_app {
        return None;
    }
    let parts = fw.fs_partitions();
    let newer = parts
        .iter()
        .any(|p| matches!(probe(&mut fw.flash, p), Probe::Littlefs { disk_version, .. } if disk_version > LFS_2_0));
    newer.then_some(LFS_2_0)
}

/// Fit a whole firmware image (a firmware file's bytes) to a board's flash
/// of `goal.target` bytes, as `--flash` fits it: the same edits, planned and
/// committed on a copy in memory, the files of a resized filesystem carried
/// along. Returns the image to write and what the fit changed (the image as
/// given when nothing needed fitting).
///
/// Errors: [`Error::Fit`] when no fit places it, and those of opening the
/// image, planning and carrying.
pub fn fit_image(image: &[u8], goal: FitGoal) -> Result<(Vec<u8>, Fit), Error> {
    let Opened::Firmware(mut fw) = open_bytes(image.to_vec())? else {
        return Err(Error::AppImageOnly { what: "fit".into() });
    };
    let app_size =
        fw.table.first_app().cloned().and_then(|p| walk_image(&mut fw.flash, p.offset, p.size)).map_or(0, |w| w.1);
    let none = TableEdits::default();
    let (edits, fit) = fit_edits(&mut fw, &none, goal, app_size)?;
    if fit.is_empty() {
        return Ok((image.to_vec(), fit));
    }
    let mut change = plan_change(&mut fw, &edits, app_size, None)?;
    change.plan.renew_digest = fit.renew_digest;
    change.plan.repairs = fit.repairs();
    change.plan.check_fits(Some(goal.target), edits.flash_size, true)?;
    let prepared = prepare(&mut fw, change, false, None)?;
    finish(&mut fw, &prepared, None)?;
    Ok((fw.flash.bytes().to_vec(), fit))
}
