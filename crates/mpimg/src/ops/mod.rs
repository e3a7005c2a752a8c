//! Operations written once over the flash abstraction: table edits, partition
//! reads and writes, bootloader header updates and image checks.

pub mod arglist;
pub mod carry;
pub mod check;
pub mod device_app;
pub mod firmware;
pub mod inspect;
pub mod layout;
pub mod ota;
pub mod partition_io;
pub mod region;
pub mod update;

use thiserror::Error;

use crate::format::partition::TableError;
use crate::format::size::SizeError;

/// Errors of table edits and option values.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EditError {
    #[error(transparent)]
    Size(#[from] SizeError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("'{text}' is larger than 4 GB")]
    TooLarge { text: String },
    #[error("invalid partition '{item}': use NAME, NAME=SIZE, NAME=SUBTYPE:SIZE or NAME:SUBTYPE:OFFSET:SIZE")]
    BadPartSpec { item: String },
    #[error("invalid {option} item '{item}': use NAME=VALUE[,NAME=VALUE...]")]
    BadPair { option: &'static str, item: String },
    #[error("no partition '{name}' in the table (it has: {have})")]
    NotFound { name: String, have: String },
    #[error("partition '{name}' already exists: pick another name or --delete it first")]
    Exists { name: String },
    #[error("unknown subtype '{subtype}' for partition '{name}': give one, e.g. {name}:fat, {name}:littlefs, {name}:nvs or {name}:ota_0")]
    UnknownSubtype { name: String, subtype: String },
    #[error("no room for partition '{name}' at {offset:#x} (size {size:#x}): flash ends at {flash_size:#x}")]
    NoRoom { name: String, offset: u32, size: u32, flash_size: u32 },
    #[error("partition '{name}' would move to {offset:#x}, past the end of flash ({flash_size:#x}): make room first (--delete, a smaller --resize, or -f)")]
    ShiftedOut { name: String, offset: u32, flash_size: u32 },
    #[error("the app ({app} bytes) does not fit '{name}' ({size:#x} bytes): use -a SIZE to set the app partition size")]
    AppTooBig { name: String, size: u32, app: u32 },
}

/// Errors of operations on a firmware (file or device).
#[derive(Debug, Error)]
pub enum OpError {
    #[error(transparent)]
    Flash(#[from] crate::flash::FlashError),
    #[error(transparent)]
    Image(#[from] crate::format::image::ImageError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Fs(#[from] crate::fs::FsError),
    /// Boxed: it carries filesystem errors and counts, and would make every `Result` here large.
    #[error(transparent)]
    Carry(Box<carry::CarryError>),
    #[error("the file is empty: expected a MicroPython firmware (.bin) or app image (.app-bin)")]
    Empty,
    #[error("the file is only {len} bytes: too short for an ESP32 image header (24 bytes)")]
    TooShort { len: usize },
    #[error("the file is all 0xFF (erased flash): it holds no firmware")]
    Erased,
    #[error("not an ESP32 firmware: no image header (0xE9) at the start, found {first}; give a MicroPython .bin or .app-bin file")]
    NotAnImage { first: String },
    #[error("no image header at the start, but one at file offset {found_at:#x}: this looks like a dump of flash from offset 0; cut the first {found_at:#x} bytes (e.g. dd bs=4096 skip={}) or dump from the bootloader offset", found_at / 4096)]
    WrongStart { found_at: u32 },
    #[error("unknown chip id {id} in the image header: mpimg knows esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c5, esp32c6, esp32c61, esp32h2, esp32p4")]
    UnknownChip { id: u16 },
    #[error("the file ends at flash offset {file_end:#x}, before the partition table at 0x8000 ends: it is truncated (or only a bootloader for {chip})")]
    EndsBeforeTable { chip: &'static str, file_end: u32 },
    #[error("the firmware file is truncated: the app in '{name}' at {offset:#x} is cut short ({detail})")]
    TruncatedApp { name: String, offset: u32, detail: String },
    #[error("no bootloader found at {offset:#x} (flash is erased there): flash a firmware with --flash")]
    NoBootloader { offset: u32 },
    #[error("partition '{name}' starts at {offset:#x}, past the end of the firmware file ({file_end:#x}): the file holds none of it")]
    NotInFile { name: String, offset: u32, file_end: u32 },
    #[error("{len} bytes do not fit partition '{name}' ({size:#x} bytes)")]
    TooBig { name: String, len: u64, size: u32 },
    #[error("this is an app image (.app-bin), not a full firmware: it has no partition table to {what}; write it into a firmware with --write factory=FILE (or ota_0=FILE), or to a device with --ota-update")]
    AppImageOnly { what: String },
    #[error("'{file}' is not a valid {chip} app image for '{name}': {why}")]
    BadAppImage { file: String, name: String, chip: &'static str, why: String },
    #[error("'{name}' is not in the partition table: MicroPython {version} creates it at boot from the end of the table ({start:#x}) to the end of flash; to pin it, add it first: --add vfs:fat:{start:#x}:SIZE (0 = to the end of flash)")]
    ImplicitVfs { name: String, version: String, start: u32 },
    #[error("the first app partition moved from {old:#x} to {new:#x}: the bootloader would not find the app; keep it at {old:#x}")]
    AppMoved { old: u32, new: u32 },
    #[error("-f {}M is larger than the device's flash ({} MB): the device cannot hold that table; use -f {}M or less", asked >> 20, device >> 20, device >> 20)]
    LargerThanDevice { asked: u32, device: u32 },
    #[error("the new table ends at {end:#x}, past the end of the device's {} MB flash ({device:#x}): set the flash size with -f {}M and fit the table to it (e.g. --resize vfs=0)", device >> 20, device >> 20)]
    TablePastDevice { end: u32, device: u32 },
    #[error("{option} needs a serial-attached device (e.g. /dev/ttyUSB0 or u0), not a firmware file")]
    DeviceOnly { option: &'static str },
    #[error("{0}")]
    Io(String),
}

impl From<carry::CarryError> for OpError {
    fn from(e: carry::CarryError) -> Self {
        OpError::Carry(Box::new(e))
    }
}
