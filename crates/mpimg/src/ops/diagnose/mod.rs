//! Diagnoses: every problem mpimg can find in a firmware (a file, a device's
//! flash, or a file about to be flashed to a board) that keeps the board
//! from booting, from mounting its filesystem, or from using its flash, each
//! with a stable [`Code`], a [`Severity`], one line saying what is wrong, and
//! the [`Fix`] that makes it go away.
//!
//! The checks, by where they look:
//! - [`images`]: the bootloader and the apps (chip, chip revision, checksum
//!   and SHA-256, an app larger than its partition) and the order the
//!   bootloader tries the apps in (otadata selecting an empty or invalid slot);
//! - [`sizes`]: the flash size in the bootloader header against the board's,
//!   the table against the flash, each filesystem against its partition and
//!   against the app's MicroPython.
//!
//! A bootloader that is not where the chip starts it is found before a
//! firmware can be opened: see [`super::place`] and [`misplaced`].
//!
//! The fix is typed ([`Fix`]); the command line turns it into the exact
//! command for the file or port (the library knows nothing of options).

pub mod images;
pub mod sizes;

use serde::Serialize;

use crate::flash::Flash;
use crate::format::chip::Chip;

use super::firmware::Firmware;
use super::place::Misplaced;

/// A stable name for each kind of problem (the `code` of `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Code {
    /// The bootloader image is at another flash offset than the chip starts it from.
    BootloaderOffset,
    /// The firmware is for another chip than the board.
    WrongChip,
    /// An image needs another chip revision than the board has.
    ChipRevision,
    /// The app is built for another chip than the bootloader.
    AppChipMismatch,
    /// The bootloader image fails its checksum or SHA-256 (or is not an image).
    BootloaderInvalid,
    /// The app the bootloader starts with fails its checksum or SHA-256 (or is not an image).
    AppInvalid,
    /// The app partition the bootloader starts with holds no app image.
    NoApp,
    /// otadata selects an OTA slot that holds no app image.
    OtaEmptySlot,
    /// otadata selects an OTA slot whose app image is invalid.
    OtaInvalidSlot,
    /// An app image longer than its partition.
    AppTooBig,
    /// The bootloader header's flash size is not the board's.
    FlashSizeMismatch,
    /// A partition ends past the end of the flash.
    TablePastFlash,
    /// A filesystem whose size is not its partition's.
    FsSizeMismatch,
    /// A littlefs on-disk version the app's MicroPython cannot mount.
    LittlefsVersion,
    /// A littlefs or FAT filesystem that does not mount, for no reason
    /// another diagnosis names (its size, its version).
    FsCorrupt,
}

impl Code {
    /// The code as `--json` and the human report name it (`flash-size-mismatch`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BootloaderOffset => "bootloader-offset",
            Code::WrongChip => "wrong-chip",
            Code::ChipRevision => "chip-revision",
            Code::AppChipMismatch => "app-chip-mismatch",
            Code::BootloaderInvalid => "bootloader-invalid",
            Code::AppInvalid => "app-invalid",
            Code::NoApp => "no-app",
            Code::OtaEmptySlot => "ota-empty-slot",
            Code::OtaInvalidSlot => "ota-invalid-slot",
            Code::AppTooBig => "app-too-big",
            Code::FlashSizeMismatch => "flash-size-mismatch",
            Code::TablePastFlash => "table-past-flash",
            Code::FsSizeMismatch => "fs-size-mismatch",
            Code::LittlefsVersion => "littlefs-version",
            Code::FsCorrupt => "fs-corrupt",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The board works, but not as it could (part of its flash unused, an app
    /// the bootloader has to skip).
    Warning,
    /// The board does not boot, or MicroPython cannot mount its filesystem.
    Error,
}

/// What makes a problem go away. The command line names the options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Fix {
    /// Fit the firmware to the board (`--fit`): put it at the chip's
    /// bootloader offset, set the header's flash size to the board's, make the
    /// last filesystem partition end at the end of the flash (files kept),
    /// renew a bootloader digest a header edit left stale, and make again a
    /// littlefs the app cannot read (at on-disk version 2.0) and a filesystem
    /// larger than its partition (at its size), files kept.
    Fit,
    /// Grow the littlefs in `part` to fill its partition.
    GrowFs {
        /// The partition.
        part: String,
    },
    /// Give `part` the size `size` (bytes; later partitions shift up).
    Resize {
        /// The partition.
        part: String,
        /// Its new size in bytes.
        size: u32,
    },
    /// Erase partition `part` (otadata: the bootloader then starts with factory, else ota_0).
    Erase {
        /// The partition.
        part: String,
    },
    /// Flash a whole firmware built for this board (its chip and revision),
    /// which the user has to supply.
    FlashFirmware,
    /// Write an image the user supplies into `part` (`bootloader` or an app partition).
    WriteImage {
        /// The region written.
        part: String,
    },
    /// Make a new, empty filesystem in `part` (`--fs mkfs`): for one that
    /// does not mount, whose files no reader can get back.
    Mkfs {
        /// The partition.
        part: String,
        /// Make FAT (else littlefs), the kind that was there.
        fat: bool,
    },
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// Which kind of problem.
    pub code: Code,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong, in one line (flash offsets, sizes in bytes).
    pub message: String,
    /// What makes it go away (None: nothing mpimg can do, the message says why).
    pub fix: Option<Fix>,
}

impl Diagnosis {
    fn new(code: Code, severity: Severity, message: String, fix: Option<Fix>) -> Self {
        Diagnosis { code, severity, message, fix }
    }
}

/// The board a firmware is on, or about to be flashed to, as it reports itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    /// Its chip.
    pub chip: &'static Chip,
    /// Its chip revision, major × 100 + minor (None: not known).
    pub revision: Option<u16>,
    /// Its flash size in bytes (from the flash chip's JEDEC id).
    pub flash_size: u32,
}

/// How far to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    /// Verify the checksum and SHA-256 of the bootloader and the apps the
    /// bootloader tries (on a slow backend that reads each image whole).
    pub verify: bool,
}

/// Diagnose `fw`, on `board` when it is on one or about to be flashed to one
/// (None: a firmware file on its own, checked against its own header). The
/// diagnoses come in a fixed order: images, then sizes; errors are not
/// repeated as consequences (an app that is too big is not also invalid).
///
/// Reads on a slow backend (a device): the image headers, otadata, the first
/// blocks of each filesystem partition; the images whole only with `verify`.
pub fn diagnose<F: Flash>(fw: &mut Firmware<F>, board: Option<&Board>, depth: Depth) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    images::check(fw, board, depth, &mut out);
    sizes::check(fw, board, &mut out);
    out
}

/// A board whose flash holds a bootloader image at another offset than its
/// chip starts one from (see [`super::place::find_misplaced`]): written at
/// the wrong offset (the same chip; `--fit` moves it), or a firmware for
/// another chip.
pub fn misplaced(board: &Board, m: &Misplaced) -> Diagnosis {
    let (chip, at) = (board.chip.name, board.chip.bootloader_offset);
    if m.chip.name == chip {
        Diagnosis::new(
            Code::BootloaderOffset,
            Severity::Error,
            format!(
                "the bootloader is at {:#x}, but an {chip} starts it from {at:#x}: the firmware was written at the wrong offset",
                m.offset
            ),
            Some(Fix::Fit),
        )
    } else {
        Diagnosis::new(
            Code::WrongChip,
            Severity::Error,
            format!(
                "the bootloader at {:#x} is for {}, but the board is an {chip} (it starts a bootloader from {at:#x})",
                m.offset, m.chip.name
            ),
            Some(Fix::FlashFirmware),
        )
    }
}

/// `v0.3`: a chip revision as ESP-IDF prints it (major × 100 + minor).
pub fn revision_name(full: u16) -> String {
    format!("v{}.{}", full / 100, full % 100)
}

/// A chip revision as a device reports it (`v3.1`) as major × 100 + minor.
pub fn parse_revision(text: &str) -> Option<u16> {
    let (major, minor) = text.trim_start_matches('v').split_once('.')?;
    Some(major.parse::<u16>().ok()? * 100 + minor.parse::<u16>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_and_codes() {
        assert_eq!(parse_revision("v3.1"), Some(301));
        assert_eq!(parse_revision("v0.0"), Some(0));
        assert_eq!(parse_revision("3"), None);
        assert_eq!(revision_name(3), "v0.3");
        assert_eq!(revision_name(301), "v3.1");
        assert_eq!(serde_json::to_value(Code::FlashSizeMismatch).unwrap(), "flash-size-mismatch");
        assert_eq!(Code::OtaEmptySlot.to_string(), "ota-empty-slot");
    }
}
