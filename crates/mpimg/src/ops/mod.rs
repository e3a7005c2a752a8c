//! Operations written once over the flash abstraction: table edits, partition
//! reads and writes, bootloader header updates and image checks.

pub mod arglist;
pub mod layout;

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
