//! Errors of the filesystem layer; each says what to do next.

use std::path::PathBuf;

use thiserror::Error;

use crate::flash::FlashError;

/// Everything that can go wrong while running `--fs` commands.
#[derive(Debug, Error)]
pub enum FsError {
    #[error("unknown --fs command '{0}'; use one of: ls, cat, get, put, mkdir, rm, rename, mkfs, df, info, grow")]
    UnknownCommand(String),
    #[error("--fs {cmd}: {msg}")]
    Usage { cmd: &'static str, msg: String },
    #[error(
        "no partition '{0}' in the partition table; run mpimg on the image without options to list its partitions"
    )]
    NoPartition(String),
    #[error("partition '{name}' ({offset:#x}+{size:#x}) lies past the end of the flash ({capacity:#x}); check the flash size")]
    PartitionPastFlash { name: String, offset: u32, size: u32, capacity: u32 },
    #[error("partition '{name}' is only {size} bytes; a filesystem needs at least {min} bytes")]
    PartitionTooSmall { name: String, size: u32, min: u32 },
    #[error("no littlefs or FAT filesystem on '{0}'; create one with --fs mkfs {0}")]
    NoFilesystem(String),
    #[error("the {kind} filesystem on '{part}' is corrupt ({detail}); save what you can with --fs get, then recreate it with --fs mkfs {part}")]
    Corrupt { part: String, kind: &'static str, detail: String },
    #[error("the littlefs filesystem on '{part}' has {fs_blocks} blocks but the partition only {part_blocks}; restore the partition size before using it")]
    FsLargerThanPartition { part: String, fs_blocks: u32, part_blocks: u32 },
    #[error("'{0}': no such file or directory (list the filesystem with --fs ls)")]
    NotFound(String),
    #[error("'{0}' already exists")]
    Exists(String),
    #[error("'{0}' is a directory")]
    IsADirectory(String),
    #[error("'{0}' is not a directory")]
    NotADirectory(String),
    #[error("directory '{0}' is not empty")]
    NotEmpty(String),
    #[error("no space left on '{part}' while writing '{path}'; nothing was written to the image. Free space with --fs rm, or enlarge the partition (--resize {part}=SIZE, which grows a littlefs with it)")]
    NoSpace { part: String, path: String },
    #[error("name '{name}' is {len} bytes long; littlefs and FAT allow at most 255")]
    NameTooLong { name: String, len: usize },
    #[error("'{0}' is not a valid name here (names may not be empty, '.', '..', or contain '/' or NUL)")]
    BadName(String),
    #[error("cannot rename across partitions ('{from}' to '{to}'); copy with --fs get and --fs put instead")]
    CrossPartitionRename { from: String, to: String },
    #[error("refusing to write '{name}' found in '{dir}' on this computer: the name could escape the destination directory (the image may be crafted or corrupt)")]
    UnsafeName { dir: String, name: String },
    #[error("refusing to write through the symbolic link '{0}' on this computer")]
    HostSymlink(PathBuf),
    #[error("'{path}' on this computer: {source}")]
    Host { path: PathBuf, source: std::io::Error },
    #[error("--fs grow {part}: {msg}")]
    Grow { part: String, msg: String },
    #[error("{op} on '{part}' failed: {detail}")]
    Littlefs { part: String, op: String, detail: String },
    #[error("{op} on '{part}' failed: {detail}")]
    Fat { part: String, op: String, detail: String },
    #[error("internal error: the read-only command '{0}' tried to write to flash")]
    WriteInReadOnly(String),
    #[error("directory tree on '{0}' is nested too deeply (more than 255 levels); the filesystem is probably corrupt")]
    TooDeep(String),
    #[error("writing the command output failed: {0}")]
    Output(std::io::Error),
    #[error("{0}")]
    Flash(#[from] FlashError),
}

impl FsError {
    pub(crate) fn host(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FsError::Host { path: path.into(), source }
    }

    pub(crate) fn usage(cmd: &'static str, msg: impl Into<String>) -> Self {
        FsError::Usage { cmd, msg: msg.into() }
    }
}
