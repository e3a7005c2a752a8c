//! Operations written once over the flash abstraction: opening a firmware
//! ([`firmware`]), inspecting it ([`inspect`], [`summary`], [`walk`]), table
//! edits ([`layout`], planned by [`plan`], committed by [`update`], keeping
//! the files of the filesystems they move with [`carry`]), partition
//! reads and writes ([`region`], [`partition_io`]), image checks ([`check`]),
//! OTA ([`ota`]), backing up a whole board ([`backup`]), flashing a whole
//! image to a device (`flash_image`), what a device write cut off half way
//! leaves ([`cut`]), where a firmware sits in flash ([`place`]), diagnoses
//! with their fixes ([`diagnose`]), fitting a firmware to a flash size
//! ([`fit`]), assembling an image from a build's pieces
//! ([`assemble`]), and firmware files as Intel HEX or UF2 ([`file_format`]).
//!
//! Nothing here knows the command line: operations take typed values, and
//! their errors say what is wrong, not which option to use.

pub mod assemble;
pub mod backup;
pub mod carry;
pub mod check;
pub mod cut;
pub mod diagnose;
pub mod file_format;
pub mod firmware;
pub mod fit;
#[cfg(feature = "device")]
pub mod flash_image;
pub mod inspect;
pub mod layout;
pub mod ota;
pub mod partition_io;
pub mod place;
pub mod plan;
pub mod region;
pub mod summary;
pub mod update;
pub mod walk;

use thiserror::Error;

use crate::format::partition::TableError;

/// Why a table edit could not be made.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditError {
    /// The edit made the table invalid.
    #[error(transparent)]
    Table(#[from] TableError),
    /// No partition of that name.
    #[error("no partition '{name}' in the table (it has: {have})")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names the table has, comma separated.
        have: String,
    },
    /// A partition of that name exists already.
    #[error("partition '{name}' already exists")]
    Exists {
        /// The name.
        name: String,
    },
    /// A subtype name mpimg does not know (and none inferred from the name).
    #[error("unknown subtype '{subtype}' for partition '{name}'")]
    UnknownSubtype {
        /// The partition.
        name: String,
        /// The subtype given or inferred.
        subtype: String,
    },
    /// A new partition that does not fit before the end of flash.
    #[error("no room for partition '{name}' at {offset:#x} (size {size:#x}): flash ends at {flash_size:#x}")]
    NoRoom {
        /// The partition.
        name: String,
        /// Its flash offset.
        offset: u32,
        /// Its size in bytes.
        size: u32,
        /// The flash size in bytes.
        flash_size: u32,
    },
    /// A resize that pushes a later partition past the end of flash.
    #[error("partition '{name}' would move to {offset:#x}, past the end of flash ({flash_size:#x})")]
    ShiftedOut {
        /// The partition pushed out.
        name: String,
        /// Where it would start.
        offset: u32,
        /// The flash size in bytes.
        flash_size: u32,
    },
    /// An app partition smaller than the app image it holds.
    #[error("the app ({app} bytes) does not fit '{name}' ({size:#x} bytes); it needs at least {:#x} bytes", app_size_for(*app))]
    AppTooBig {
        /// The app partition.
        name: String,
        /// Its size in bytes.
        size: u32,
        /// The app image's length in bytes.
        app: u32,
    },
}

/// The least app partition size that holds an app image of `app` bytes:
/// rounded up to the 64 KB (0x10000) that app partitions are aligned to.
pub fn app_size_for(app: u32) -> u64 {
    u64::from(app).div_ceil(0x10000) * 0x10000
}
