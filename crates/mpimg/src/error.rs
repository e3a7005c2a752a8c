//! The one error type of the library, [`Error`]: every operation on a
//! firmware (file or device) and its filesystems returns it.
//!
//! Each variant keeps the error it comes from as its `source` where there is
//! one. Messages say what is wrong in the library's terms (partitions, flash
//! offsets, files); advice that names command-line options is not part of
//! them: the `mpimg` binary adds it when it shows an error.

use std::path::PathBuf;

use thiserror::Error;

use crate::flash::{io_reason, FlashError};
use crate::format::csv::CsvError;
use crate::format::image::ImageError;
use crate::format::otadata::OtaError;
use crate::format::partition::TableError;
use crate::fs::FsError;
use crate::ops::EditError;

/// Everything that can go wrong while opening, inspecting or changing a
/// firmware or its filesystems.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A read, write or erase of the flash failed (on a device: the link).
    #[error(transparent)]
    Flash(#[from] FlashError),
    /// An image (bootloader or app) could not be read or changed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The partition table is invalid, or an edit would make it so.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A table edit could not be made.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// A firmware could not be fitted to a flash size.
    #[error(transparent)]
    Fit(#[from] crate::ops::fit::FitError),
    /// A filesystem operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A table edit cannot keep the files of a filesystem it moves, or keeping them failed.
    /// Boxed: it carries filesystem errors and counts, and would make every `Result` large.
    #[error(transparent)]
    Carry(Box<crate::ops::carry::CarryError>),
    /// The otadata partition could not be read, or an OTA update planned.
    #[error(transparent)]
    Ota(#[from] OtaError),
    /// A device write cut off half way (or not verified), with what that
    /// leaves on the board: whether it still starts, and why not.
    #[cfg(feature = "device")]
    #[error("{source}. {leaves}")]
    Interrupted {
        /// The device's report: what was and was not written.
        source: crate::flash::device::DeviceError,
        /// What the board is left with.
        leaves: CutLeaves,
    },
    /// Connecting to a device failed (the flash errors of a connected device are [`Error::Flash`]).
    #[cfg(feature = "device")]
    #[error(transparent)]
    Device(#[from] crate::flash::device::DeviceError),
    /// A file on this computer could not be read.
    #[error("cannot read '{}': {}", path.display(), io_reason(source))]
    Read {
        /// The file, as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A directory given as FILENAME that holds no `flasher_args.json`.
    #[error("'{}' is a directory, neither a firmware file nor a build directory (it has no flasher_args.json): give a firmware (.bin, .hex, .uf2), an app image (.app-bin), or the build directory of an ESP-IDF or MicroPython build", path.display())]
    NotABuild {
        /// The directory, as given.
        path: PathBuf,
    },
    /// A file on this computer could not be written.
    #[error("cannot write '{}': {}", path.display(), io_reason(source))]
    Write {
        /// The file, as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The input file was changed by another program while mpimg worked on it.
    #[error("'{}' changed while mpimg was working on it (another program wrote to it): nothing was written; run the command again once it is left alone", path.display())]
    InputChanged {
        /// The input file.
        path: PathBuf,
    },
    /// A file to write is the input file itself (by another path, a hard link or a symbolic link).
    #[error("'{}' is the input file itself", path.display())]
    OutputIsInput {
        /// The file to write, as given.
        path: PathBuf,
    },
    /// An ESP-IDF partition table CSV file could not be read.
    #[error("cannot read CSV file '{}': {source}", path.display())]
    ReadCsv {
        /// The CSV file, as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An ESP-IDF partition table CSV file is not valid.
    #[error("{}: {source}", path.display())]
    Csv {
        /// The CSV file, as given.
        path: PathBuf,
        /// The line and the problem.
        #[source]
        source: CsvError,
    },
    /// A firmware file of 0 bytes.
    #[error("the file is empty: expected a MicroPython firmware (.bin) or app image (.app-bin)")]
    Empty,
    /// A file too short for an image header.
    #[error("the file is only {len} byte{}: too short for an ESP32 image header (24 bytes)", if *len == 1 { "" } else { "s" })]
    TooShort {
        /// Its length in bytes.
        len: usize,
    },
    /// A file of erased flash (0xFF) only.
    #[error("the file is all 0xFF (erased flash): it holds no firmware")]
    Erased,
    /// A file that does not start with an image header.
    #[error("not an ESP32 firmware: no image header (0xE9) at the start, found {first}; give a MicroPython .bin or .app-bin file")]
    NotAnImage {
        /// Its first four bytes in hex.
        first: String,
    },
    /// A dump of flash from offset 0 where a file from the bootloader offset on was expected.
    #[error("no image header at the start, but one at file offset {found_at:#x}: this looks like a dump of flash from offset 0; cut the first {found_at:#x} bytes (e.g. dd bs=4096 skip={}) or dump from the bootloader offset", found_at / 4096)]
    WrongStart {
        /// File offset of the image header found.
        found_at: u32,
    },
    /// An image header naming a chip id mpimg does not know.
    #[error("unknown chip id {id} in the image header: mpimg knows {}", crate::format::chip::Chip::names())]
    UnknownChip {
        /// The chip id (image header bytes 12..14).
        id: u16,
    },
    /// A firmware file that ends before the partition table does.
    #[error("the file ends at flash offset {file_end:#x}, before the partition table at 0x8000 ends: it is truncated (or only a bootloader for {chip})")]
    EndsBeforeTable {
        /// The chip of its bootloader.
        chip: &'static str,
        /// Flash offset where the file ends.
        file_end: u32,
    },
    /// A firmware file that ends inside its app image.
    #[error("the firmware file is truncated: the app in '{name}' at {offset:#x} is cut short ({detail})")]
    TruncatedApp {
        /// The app partition.
        name: String,
        /// Its flash offset.
        offset: u32,
        /// What is missing, as the image walk says it.
        detail: String,
    },
    /// Erased flash where the bootloader should be (a blank device).
    #[error("no bootloader found at {offset:#x} (flash is erased there)")]
    NoBootloader {
        /// Flash offset of the bootloader.
        offset: u32,
    },
    /// No bootloader where the chip starts one, but one at another offset.
    #[error(
        "no bootloader at {offset:#x}, but one for {chip} at {found:#x}: the firmware was written at the wrong offset"
    )]
    Misplaced {
        /// Flash offset the chip starts its bootloader from.
        offset: u32,
        /// Flash offset the bootloader was found at.
        found: u32,
        /// The chip its header names.
        chip: &'static str,
    },
    /// A misplaced firmware that is not whole (a move of it cut off half
    /// way): moving it would move a fragment.
    #[error("the firmware at {found:#x} is not whole ({what}): it is not moved")]
    MisplacedNotWhole {
        /// Flash offset its bootloader was found at.
        found: u32,
        /// What is wrong.
        what: String,
    },
    /// Flash at the bootloader offset that is not an image (a device with foreign contents).
    #[error("no bootloader found at {offset:#x}")]
    NotABootloader {
        /// Flash offset of the bootloader.
        offset: u32,
        /// Why it is not an image.
        #[source]
        source: ImageError,
    },
    /// A partition of a firmware file that lies wholly past the file's end.
    #[error("partition '{name}' starts at {offset:#x}, past the end of the firmware file ({file_end:#x}): the file holds none of it")]
    NotInFile {
        /// The partition.
        name: String,
        /// Its flash offset.
        offset: u32,
        /// Flash offset where the file ends.
        file_end: u32,
    },
    /// A partition table without an app partition, where one is needed.
    #[error("the partition table has no app partition")]
    NoAppPartition,
    /// Data too long for the partition it should go to.
    #[error("{len} bytes do not fit partition '{name}' ({size:#x} bytes)")]
    TooBig {
        /// The partition.
        name: String,
        /// Bytes to write.
        len: u64,
        /// The partition's size in bytes.
        size: u32,
    },
    /// An app image (`.app-bin`) where a whole firmware is needed.
    #[error("this is an app image (.app-bin), not a full firmware: it has no partition table to {what}")]
    AppImageOnly {
        /// What needed the table (`edit or read`).
        what: String,
    },
    /// An image that is not a valid image for this chip, about to be written into an app partition or the bootloader.
    #[error("'{file}' is not a valid {chip} app image for '{name}': {why}")]
    BadAppImage {
        /// The image file, as given.
        file: String,
        /// The region it was to go to.
        name: String,
        /// The firmware's chip.
        chip: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// An image for the chip that is not an app (a bootloader, a whole
    /// firmware), about to be written into an app partition.
    #[error("'{file}' is not an app image for '{name}': it is {looks}")]
    NotAnApp {
        /// The image file, as given.
        file: String,
        /// The app partition it was to go to.
        name: String,
        /// What it is instead.
        looks: crate::format::app_kind::NotApp,
    },
    /// An edit names MicroPython ≥ 1.26's implicit `vfs`, which is not in the table.
    #[error("'{name}' is not in the partition table: MicroPython {version} creates it at boot from the end of the table ({start:#x}) to the end of flash")]
    ImplicitVfs {
        /// The partition named (`vfs`).
        name: String,
        /// The MicroPython version of the app.
        version: String,
        /// Flash offset where the table ends (where MicroPython puts `vfs`).
        start: u32,
    },
    /// A table edit that moves the first app partition, where the bootloader looks for the app.
    #[error("the first app partition moved from {old:#x} to {new:#x}: the bootloader would not find the app; keep it at {old:#x}")]
    AppMoved {
        /// Its offset before.
        old: u32,
        /// Its offset after.
        new: u32,
    },
    /// A flash size larger than the device's flash.
    #[error("a flash size of {} MB is larger than the device's flash ({} MB): the device cannot hold that table", asked >> 20, device >> 20)]
    LargerThanDevice {
        /// The flash size asked for, in bytes.
        asked: u32,
        /// The device's flash size, in bytes.
        device: u32,
    },
    /// A new table that ends past the end of the device's flash.
    #[error("the new table ends at {end:#x}, past the end of the device's {} MB flash ({device:#x})", device >> 20)]
    TablePastDevice {
        /// Flash offset where the new table's last partition ends.
        end: u32,
        /// The device's flash size, in bytes.
        device: u32,
    },
    /// A region that is not a data partition where one is needed.
    #[error("'{name}' is not a data partition")]
    NotDataPartition {
        /// The region named.
        name: String,
    },
    /// An OTA update on a table without otadata and two OTA app partitions.
    #[error("the partition table has no otadata and OTA app partitions (ota_0, ota_1)")]
    NoOtaPartitions,
    /// A firmware for one chip about to be flashed to a device with another.
    #[error("the firmware is for {firmware} but the device on {port} is an {device}")]
    WrongChip {
        /// The firmware's chip.
        firmware: &'static str,
        /// The device's port.
        port: String,
        /// The device's chip.
        device: &'static str,
    },
    /// A firmware about to be flashed to a device whose chip revision it does not run on.
    #[error("the firmware {why}, but the {chip} on {port} is revision {revision}: it would not start")]
    ChipRevision {
        /// What the image's header asks (`needs esp32c3 revision v0.3 or later`).
        why: String,
        /// The device's port.
        port: String,
        /// The chip.
        chip: &'static str,
        /// The device's revision (`v0.0`).
        revision: String,
    },
    /// The pieces of a build do not make a firmware image.
    #[error(transparent)]
    Assemble(#[from] crate::ops::assemble::AssembleError),
    /// A build's `flasher_args.json` that cannot be used.
    #[error("{}: {source}", path.display())]
    FlasherArgs {
        /// The json file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: crate::format::flasher_args::FlasherArgsError,
    },
    /// An Intel HEX or UF2 file that does not hold a firmware image.
    #[error("'{}': {source}", path.display())]
    Decode {
        /// The file, as given.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: crate::ops::file_format::DecodeError,
    },
    /// `SOURCE_DATE_EPOCH` is set to something that is not decimal seconds.
    #[error(transparent)]
    SourceDateEpoch(#[from] crate::fs::time::BadSourceDateEpoch),
    /// A firmware image longer than the device's flash.
    #[error("the firmware ({len} bytes from {offset:#x}) does not fit the device's {}MB flash", flash_size >> 20)]
    FirmwareTooBig {
        /// The image's length in bytes.
        len: usize,
        /// Flash offset it starts at.
        offset: u32,
        /// The device's flash size in bytes.
        flash_size: u32,
    },
}

/// The state of a board whose device write was cut off, as
/// [`Error::Interrupted`] says it (see [`crate::ops::cut`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CutLeaves {
    /// `--flash` before its bootloader: the app, table and otadata may be
    /// part old, part new (or, on a blank board, there is no bootloader).
    FirmwareIncomplete,
    /// `--flash` writing its bootloader in one transfer: the old one (or
    /// none) is still there if the transfer did not land.
    BootloaderNotYet,
    /// A bootloader written in several transfers, cut between them.
    BootloaderTorn,
    /// An OTA update cut before it selected the new app.
    CurrentAppStarts,
}

impl std::fmt::Display for CutLeaves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CutLeaves::FirmwareIncomplete => {
                "The board may not start until then: its app, partition table and bootloader are not all the new ones yet"
            }
            CutLeaves::BootloaderNotYet => {
                "The board may not start until then: its bootloader may still be the old one (a blank board has none)"
            }
            CutLeaves::BootloaderTorn => "The board may not start until then: its bootloader may be half written",
            CutLeaves::CurrentAppStarts => "Until then the board starts the app it started before",
        })
    }
}

impl From<crate::ops::carry::CarryError> for Error {
    fn from(e: crate::ops::carry::CarryError) -> Self {
        Error::Carry(Box::new(e))
    }
}
