//! mpimg: inspect and edit MicroPython ESP32 firmware images and devices.
//!
//! Layers, bottom up:
//! - [`format`]: pure binary formats (image header and segments, descriptors,
//!   partition table, otadata, chip table);
//! - [`flash`]: the one flash abstraction with its file (and later device) backends;
//! - [`ops`]: operations written once over [`flash::Flash`] (table edits, reads, writes, checks);
//! - [`fs`]: littlefs and FAT filesystems in partitions, through a block cache over [`flash::Flash`];
//! - `cli`: parse, plan, execute, report.

pub mod cli;
pub mod flash;
pub mod format;
pub mod fs;
pub mod ops;
