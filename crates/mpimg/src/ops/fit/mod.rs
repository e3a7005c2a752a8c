//! Fitting a firmware to a flash size: the bootloader header gets the size,
//! and the table is made to end at the end of the flash by resizing its last
//! partition, which must be a filesystem partition (MicroPython's `vfs`):
//! shrunk when the table ends past the flash, grown (when asked) to fill a
//! larger flash. MicroPython ≥ 1.26's implicit `vfs` follows the flash size
//! by itself. Nothing else moves: an app partition is never resized, so it
//! never shrinks below its image; a table that only fits by moving other
//! partitions is refused, naming them.
//!
//! [`plan_fit`] is pure (a table and sizes in, a [`Fit`] out); [`fit_edits`]
//! turns it into table edits, planned and committed like any other (the files
//! of a filesystem that shrinks or grows are carried along by the commit).

mod edits;

pub use edits::{fit_edits, fit_image, whole_fit_edits, FitGoal};

use serde::Serialize;
use thiserror::Error;

use crate::format::partition::{Partition, PartitionTable, TYPE_DATA};

/// The smallest filesystem partition a fit leaves (two 4 KB blocks, littlefs's minimum).
pub const MIN_FS_PARTITION: u32 = 0x2000;

/// What fitting changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fit {
    /// The flash size fitted to, in bytes.
    pub flash_size: u32,
    /// The flash size written to the bootloader header (None: it has it already).
    pub header: Option<u32>,
    /// The last partition, resized to end at the end of the flash.
    pub resize: Option<Resized>,
    /// The bootloader's SHA-256 is renewed (its header had been changed without it).
    pub renew_digest: bool,
    /// Every littlefs newer than this on-disk version is made again at it
    /// (0x0002_0000: 2.0, for an app whose MicroPython reads no other).
    pub lfs_version: Option<u32>,
    /// Filesystems larger than their partition, made again at its size.
    pub refit: Vec<String>,
}

impl Fit {
    /// What committing the fit repairs in the filesystems (see [`crate::ops::carry::Repairs`]).
    pub fn repairs(&self) -> crate::ops::carry::Repairs {
        crate::ops::carry::Repairs { max_lfs_version: self.lfs_version, refit: !self.refit.is_empty() }
    }

    /// Whether the fit changes nothing.
    pub fn is_empty(&self) -> bool {
        self.header.is_none()
            && self.resize.is_none()
            && !self.renew_digest
            && self.lfs_version.is_none()
            && self.refit.is_empty()
    }
}

/// A partition resized by a fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resized {
    /// Its name.
    pub name: String,
    /// Its flash offset.
    pub offset: u32,
    /// Its size before, in bytes.
    pub from: u32,
    /// Its size after, in bytes (to the end of the flash).
    pub to: u32,
}

/// Why a firmware cannot be fitted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FitError {
    /// Partitions other than a last filesystem partition end past the flash.
    #[error("the table does not fit the {} flash: {} past its end ({flash_size:#x}); a fit only resizes the last partition, and only a filesystem partition", crate::format::size::flash_label(*flash_size), list(parts))]
    NoFit {
        /// The flash size, in bytes.
        flash_size: u32,
        /// The partitions that end past it: name, offset, end.
        parts: Vec<(String, u32, u32)>,
    },
    /// The last filesystem partition ends past the flash, and the user's
    /// own option sets its size, which a fit does not undo.
    #[error("--fit cannot shrink '{name}', whose size {option} sets: it ends at {end:#x}, past the end of the {} flash ({flash_size:#x})", crate::format::size::flash_label(*flash_size))]
    Conflict {
        /// The partition.
        name: String,
        /// The option that sets it (`--resize`, `--add`, `--table`, `--from-csv`).
        option: &'static str,
        /// Where it ends, a flash offset.
        end: u32,
        /// The flash size, in bytes.
        flash_size: u32,
    },
}

fn list(parts: &[(String, u32, u32)]) -> String {
    let each: Vec<String> = parts.iter().map(|(n, o, e)| format!("'{n}' ({o:#x}..{e:#x})")).collect();
    let verb = if parts.len() == 1 { "ends" } else { "end" };
    format!("{} {verb}", each.join(", "))
}

/// Whether a partition can be resized by a fit: a data partition that holds
/// a filesystem by its subtype or by MicroPython's names (`vfs`, `ffat`).
pub(crate) fn is_fs_partition(p: &Partition) -> bool {
    p.ptype == TYPE_DATA && (p.is_filesystem() || matches!(p.name().as_str(), "vfs" | "ffat"))
}

/// Plan fitting `table`, meant for a header of `header_size` bytes, to a
/// flash of `target` bytes. Without `grow` only a firmware that does not fit
/// changes (header larger than the flash, or the table ending past it); with
/// `grow` the header always becomes `target` and a last filesystem partition
/// that ends before the flash does grows to its end.
///
/// Errors: [`FitError::NoFit`] when partitions other than a last filesystem
/// partition end past the flash, or that partition would keep less than
/// [`MIN_FS_PARTITION`] bytes.
pub fn plan_fit(table: &PartitionTable, header_size: u32, target: u32, grow: bool) -> Result<Fit, FitError> {
    let end = table.end();
    let fits = header_size <= target && end <= target;
    let mut fit = Fit { flash_size: target, ..Fit::default() };
    if fits && !grow {
        return Ok(fit);
    }
    if header_size != target {
        fit.header = Some(target);
    }
    let last = table.entries.iter().max_by_key(|p| p.end()).cloned();
    if end > target {
        let past: Vec<&Partition> = table.entries.iter().filter(|p| p.end() > target).collect();
        let shrinkable = match (&last, past.as_slice()) {
            (Some(l), [only]) if *only == l => {
                is_fs_partition(l) && l.offset.saturating_add(MIN_FS_PARTITION) <= target
            }
            _ => false,
        };
        if !shrinkable {
            let parts = past.iter().map(|p| (p.name(), p.offset, p.end())).collect();
            return Err(FitError::NoFit { flash_size: target, parts });
        }
    }
    if let Some(l) = last.filter(|l| is_fs_partition(l) && (l.end() > target || (grow && l.end() < target))) {
        fit.resize = Some(Resized { name: l.name(), offset: l.offset, from: l.size, to: target - l.offset });
    }
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::partition::{SUBTYPE_FAT, TYPE_APP};

    const MB: u32 = 1 << 20;

    fn table(parts: &[(&str, u8, u8, u32, u32)]) -> PartitionTable {
        PartitionTable {
            entries: parts.iter().map(|&(n, t, s, o, z)| Partition::new(n, t, s, o, z, 0)).collect(),
            ..PartitionTable::default()
        }
    }

    fn generic(vfs_end: u32) -> PartitionTable {
        table(&[
            ("nvs", TYPE_DATA, 2, 0x9000, 0x6000),
            ("phy_init", TYPE_DATA, 1, 0xf000, 0x1000),
            ("factory", TYPE_APP, 0, 0x10000, 0x1f0000),
            ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x200000, vfs_end - 0x200000),
        ])
    }

    #[test]
    fn an_8mb_firmware_on_4mb_shrinks_vfs() {
        let fit = plan_fit(&generic(8 * MB), 8 * MB, 4 * MB, false).unwrap();
        assert_eq!(fit.header, Some(4 * MB));
        assert_eq!(fit.resize, Some(Resized { name: "vfs".into(), offset: 0x200000, from: 0x600000, to: 0x200000 }));
        // A 4 MB firmware on 16 MB fits: nothing changes unless asked to grow.
        assert!(plan_fit(&generic(4 * MB), 4 * MB, 16 * MB, false).unwrap().is_empty());
        let fit = plan_fit(&generic(4 * MB), 4 * MB, 16 * MB, true).unwrap();
        assert_eq!((fit.header, fit.resize.map(|r| r.to)), (Some(16 * MB), Some(0xe00000)));
        // A header larger than the flash with a table that fits: the header only.
        let fit = plan_fit(&generic(4 * MB), 8 * MB, 4 * MB, false).unwrap();
        assert_eq!((fit.header, fit.resize), (Some(4 * MB), None));
        // The same size and nothing past the end: nothing, even when asked to grow.
        assert!(plan_fit(&generic(4 * MB), 4 * MB, 4 * MB, true).unwrap().is_empty());
    }

    #[test]
    fn only_a_last_filesystem_partition_is_resized() {
        // MicroPython 1.26+: the table ends at the app; nothing to resize.
        let v127 = table(&[("nvs", TYPE_DATA, 2, 0x9000, 0x6000), ("factory", TYPE_APP, 0, 0x10000, 0x1f0000)]);
        let fit = plan_fit(&v127, 8 * MB, 4 * MB, true).unwrap();
        assert_eq!((fit.header, fit.resize), (Some(4 * MB), None));
        // An OTA table for 8 MB: ota_1 and vfs both end past 4 MB.
        let ota = table(&[
            ("otadata", TYPE_DATA, 0, 0xd000, 0x2000),
            ("ota_0", TYPE_APP, 0x10, 0x10000, 0x300000),
            ("ota_1", TYPE_APP, 0x11, 0x310000, 0x300000),
            ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x610000, 0x1f0000),
        ]);
        let e = plan_fit(&ota, 8 * MB, 4 * MB, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the table does not fit the 4MB flash: 'ota_1' (0x310000..0x610000), 'vfs' (0x610000..0x800000) end past its end (0x400000); a fit only resizes the last partition, and only a filesystem partition"
        );
        // An app last: refused, never shrunk.
        let app_last = table(&[("nvs", TYPE_DATA, 2, 0x9000, 0x6000), ("factory", TYPE_APP, 0, 0x10000, 0x7f0000)]);
        let e = plan_fit(&app_last, 8 * MB, 4 * MB, false).unwrap_err();
        assert_eq!(e, FitError::NoFit { flash_size: 4 * MB, parts: vec![("factory".into(), 0x10000, 0x800000)] });
        // A filesystem partition that would keep less than two blocks.
        let tight =
            table(&[("factory", TYPE_APP, 0, 0x10000, 0x3f0000), ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x3ff000, 0x2000)]);
        assert!(plan_fit(&tight, 8 * MB, 4 * MB, false).is_err());
        // A last partition that is not a filesystem is not grown.
        let nvs_last = table(&[("factory", TYPE_APP, 0, 0x10000, 0x1f0000), ("nvs2", TYPE_DATA, 2, 0x200000, 0x6000)]);
        let fit = plan_fit(&nvs_last, 4 * MB, 16 * MB, true).unwrap();
        assert_eq!((fit.header, fit.resize), (Some(16 * MB), None));
    }
}
