//! littlefs error codes as a Rust error type.

use thiserror::Error;

/// An error returned by littlefs (its negative `LFS_ERR_*` codes), or by this
/// wrapper before calling into littlefs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error("block device I/O error")]
    Io,
    #[error("corrupted filesystem")]
    Corrupt,
    #[error("no such file or directory")]
    NoEntry,
    #[error("entry already exists")]
    Exists,
    #[error("not a directory")]
    NotDir,
    #[error("is a directory")]
    IsDir,
    #[error("directory not empty")]
    NotEmpty,
    #[error("bad file handle")]
    BadFile,
    #[error("file too large")]
    TooLarge,
    #[error("invalid parameter (or an unsupported on-disk version)")]
    Invalid,
    #[error("no space left on the filesystem")]
    NoSpace,
    #[error("out of memory")]
    NoMemory,
    #[error("no such attribute")]
    NoAttr,
    #[error("file name too long")]
    NameTooLong,
    #[error("littlefs error {0}")]
    Other(i32),
    /// A path handed to the wrapper contains a NUL byte (C strings cannot carry it).
    #[error("path contains a NUL byte")]
    PathHasNul,
    /// The configuration breaks one of littlefs's rules (the C library does not
    /// check them itself in this build, so the wrapper does).
    #[error("invalid littlefs configuration: {0}")]
    Config(&'static str),
}

impl Error {
    /// Map a negative littlefs return code to an error.
    pub(crate) fn from_code(code: i32) -> Self {
        use mpimg_littlefs_sys as sys;
        match code {
            sys::lfs_error_LFS_ERR_IO => Error::Io,
            sys::lfs_error_LFS_ERR_CORRUPT => Error::Corrupt,
            sys::lfs_error_LFS_ERR_NOENT => Error::NoEntry,
            sys::lfs_error_LFS_ERR_EXIST => Error::Exists,
            sys::lfs_error_LFS_ERR_NOTDIR => Error::NotDir,
            sys::lfs_error_LFS_ERR_ISDIR => Error::IsDir,
            sys::lfs_error_LFS_ERR_NOTEMPTY => Error::NotEmpty,
            sys::lfs_error_LFS_ERR_BADF => Error::BadFile,
            sys::lfs_error_LFS_ERR_FBIG => Error::TooLarge,
            sys::lfs_error_LFS_ERR_INVAL => Error::Invalid,
            sys::lfs_error_LFS_ERR_NOSPC => Error::NoSpace,
            sys::lfs_error_LFS_ERR_NOMEM => Error::NoMemory,
            sys::lfs_error_LFS_ERR_NOATTR => Error::NoAttr,
            sys::lfs_error_LFS_ERR_NAMETOOLONG => Error::NameTooLong,
            other => Error::Other(other),
        }
    }

    /// Turn a littlefs return value into a result: negative is an error.
    pub(crate) fn check(code: i32) -> Result<u32, Self> {
        if code < 0 {
            Err(Self::from_code(code))
        } else {
            Ok(code as u32)
        }
    }
}
