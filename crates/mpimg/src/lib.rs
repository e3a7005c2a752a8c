//! mpimg: inspect and edit MicroPython ESP32 firmware images and devices.
//!
//! The entry points:
//! - [`Firmware::open_file`] opens a firmware file (and `Firmware::open_device`,
//!   with the `device` feature, the firmware in a serial-attached device's flash);
//! - [`Firmware::partitions`] lists the partitions as the board will have them,
//!   MicroPython ≥ 1.26's implicit `vfs` included;
//! - [`Firmware::filesystem`] gives a [`Filesystem`] handle to read, write and
//!   list the files in a partition, whose changes reach the flash only with
//!   [`Filesystem::commit`];
//! - [`Firmware::save`] writes a changed firmware file;
//! - every operation returns the one [`Error`] type.
//!
//! ```
//! # fn main() -> Result<(), mpimg::Error> {
//! # let Some(path) = mpimg::doc_support::firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return Ok(()) };
//! let mut fw = mpimg::Firmware::open_file(&path)?;
//! for p in fw.partitions() {
//!     println!("{:<10} {:#010x} {:#010x}{}", p.name, p.offset, p.size, if p.implicit { " (implicit)" } else { "" });
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Layers, bottom up:
//! - [`format`](mod@format): pure binary formats (image header and segments, descriptors,
//!   partition table, otadata, chip table): bytes in, typed values out;
//! - [`flash`]: the one flash abstraction with its file and device backends;
//! - [`ops`]: operations written once over [`flash::Flash`] (table edits, reads, writes, checks);
//! - [`fs`]: littlefs and FAT filesystems in partitions, through a block cache over [`flash::Flash`].
//!
//! The command line (`src/main.rs` and its `cli` modules) is part of the
//! binary only.
//!
//! Cargo features: `device` (on by default) adds the device backend (espflash,
//! serialport, progress bars, libdeflate); without it the library works on
//! firmware files alone. `cli` (on by default) builds the `mpimg` binary (clap,
//! comfy-table). A library user who wants neither writes
//! `mpimg = { version = "0.1", default-features = false }`.

#![deny(missing_docs)]

mod error;
pub mod flash;
pub mod format;
pub mod fs;
pub mod ops;

pub use error::Error;
pub use format::partition::PartitionView;
pub use fs::{Filesystem, FsKind};
pub use ops::firmware::Firmware;

#[doc(hidden)]
pub mod doc_support {
    //! Finding the real firmware images for the documentation's examples.

    use std::path::PathBuf;

    /// The real firmware image `name` (`$MPIMG_FIRMWARE_DIR`, else
    /// `../shared/firmware` beside the workspace). `None` when it is absent,
    /// so an example skips; under `CI=true` an absent image is a failure.
    pub fn firmware(name: &str) -> Option<PathBuf> {
        let dir = std::env::var_os("MPIMG_FIRMWARE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/firmware"));
        let path = dir.join(name);
        if path.is_file() {
            return Some(path);
        }
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{} is required under CI=true", path.display());
        None
    }
}
