//! A small safe wrapper over the C littlefs (compiled by `mpimg-littlefs-sys`
//! with `LFS_MULTIVERSION`), shaped for how MicroPython uses littlefs v2.
//!
//! - [`Config`]: geometry and buffer sizes ([`Config::micropython`] gives the
//!   values of MicroPython's `VfsLfs2`), plus the on-disk version to write.
//! - [`BlockDevice`]: what littlefs calls to read, program, erase and sync blocks.
//! - [`Filesystem`]: format, mount, and the file, directory and attribute operations.
//! - [`File`]: an open file, closed when dropped.
//!
//! All `unsafe` code of mpimg lives in this crate (`fs.rs`, `file.rs`,
//! `device.rs`); each block says why it is sound.

mod config;
mod device;
mod error;
mod file;
mod fs;
mod types;

pub use config::{Config, DISK_VERSION_2_0, DISK_VERSION_2_1};
pub use device::{BlockDevice, DeviceError};
pub use error::Error;
pub use file::File;
pub use fs::{format, Filesystem};
pub use types::{Attribute, DirEntry, FileType, FsInfo, OpenFlags};

/// The longest file name littlefs stores (bytes, without a terminator).
pub const NAME_MAX: usize = mpimg_littlefs_sys::LFS_NAME_MAX as usize;

/// The largest custom attribute littlefs stores (bytes).
pub const ATTR_MAX: usize = mpimg_littlefs_sys::LFS_ATTR_MAX as usize;
