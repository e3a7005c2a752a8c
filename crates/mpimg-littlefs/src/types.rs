//! Plain values the wrapper hands in and out.

/// What kind of entry a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    File,
    Dir,
}

/// One entry of a directory, or the result of `stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name as stored (littlefs names are bytes, usually UTF-8).
    pub name: Vec<u8>,
    pub file_type: FileType,
    /// Size in bytes (0 for directories).
    pub size: u32,
}

impl DirEntry {
    /// The name as text (invalid UTF-8 replaced), for display.
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// What `lfs_fs_stat` reports about a mounted filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsInfo {
    /// On-disk version, e.g. 0x0002_0000 for 2.0.
    pub disk_version: u32,
    pub block_size: u32,
    pub block_count: u32,
    pub name_max: u32,
    pub file_max: u32,
    pub attr_max: u32,
}

/// A custom attribute written together with a file (as `lfs_file_opencfg` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute type (MicroPython keeps the modification time as type 1).
    pub kind: u8,
    pub value: Vec<u8>,
}

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFlags {
    /// Read an existing file.
    Read,
    /// Create the file, or truncate it if it exists, and write it.
    CreateTruncate,
}

impl OpenFlags {
    pub(crate) fn bits(self) -> i32 {
        use mpimg_littlefs_sys as sys;
        let bits = match self {
            OpenFlags::Read => sys::lfs_open_flags_LFS_O_RDONLY,
            OpenFlags::CreateTruncate => {
                sys::lfs_open_flags_LFS_O_WRONLY | sys::lfs_open_flags_LFS_O_CREAT | sys::lfs_open_flags_LFS_O_TRUNC
            }
        };
        bits as i32
    }
}
