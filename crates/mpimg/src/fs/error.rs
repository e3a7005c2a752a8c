//! Errors of the filesystem layer. Messages name the partition and path;
//! what to do next, in terms of `--fs` commands and options, is the command
//! line's to add.

use std::path::PathBuf;

use thiserror::Error;

use crate::flash::FlashError;

/// Everything that can go wrong while running filesystem commands.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FsError {
    /// A command word that is not a command.
    #[error("unknown command '{0}'")]
    UnknownCommand(String),
    /// A command with missing or wrong arguments.
    #[error("{cmd}: {msg}")]
    Usage {
        /// The command.
        cmd: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// No partition of that name (among the data partitions and the implicit `vfs`).
    #[error("no partition '{0}' in the partition table")]
    NoPartition(String),
    /// A partition that ends past the end of the flash.
    #[error("partition '{name}' ({offset:#x}+{size:#x}) lies past the end of the flash ({capacity:#x}); check the flash size")]
    PartitionPastFlash {
        /// The partition.
        name: String,
        /// Its flash offset.
        offset: u32,
        /// Its size in bytes.
        size: u32,
        /// Where the flash ends.
        capacity: u32,
    },
    /// A partition that does not start on a 4 KB block.
    #[error("partition '{name}' at {offset:#x} is not 4 KB aligned")]
    Unaligned {
        /// The partition.
        name: String,
        /// Its flash offset.
        offset: u32,
    },
    /// A partition too small for a filesystem.
    #[error("partition '{name}' is only {size} bytes; a filesystem needs at least {min} bytes")]
    PartitionTooSmall {
        /// The partition.
        name: String,
        /// Its size in bytes.
        size: u32,
        /// The smallest size that works, in bytes.
        min: u32,
    },
    /// No littlefs or FAT in the partition.
    #[error("no littlefs or FAT filesystem on '{0}'")]
    NoFilesystem(String),
    /// A filesystem that cannot be read.
    #[error("the {kind} filesystem on '{part}' is corrupt ({detail})")]
    Corrupt {
        /// The partition.
        part: String,
        /// `littlefs` or `FAT`.
        kind: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A littlefs filesystem larger than its partition (a partition that shrank).
    #[error("the littlefs filesystem on '{part}' has {fs_blocks} blocks but the partition only {part_blocks}")]
    FsLargerThanPartition {
        /// The partition.
        part: String,
        /// Blocks of the filesystem.
        fs_blocks: u32,
        /// Blocks of the partition.
        part_blocks: u32,
    },
    /// A FAT volume larger than its partition (a partition that shrank): its
    /// end is cut off, so it is not mounted.
    #[error("the FAT volume on '{part}' is {fs_bytes:#x} bytes, larger than its partition ({part_size:#x} bytes)")]
    FatLargerThanPartition {
        /// The partition.
        part: String,
        /// Bytes the boot sector says the volume spans.
        fs_bytes: u64,
        /// Bytes of the partition.
        part_size: u32,
    },
    /// No file or directory at the path.
    #[error("'{0}': no such file or directory")]
    NotFound(String),
    /// Something exists at the path already.
    #[error("'{0}' already exists")]
    Exists(String),
    /// A directory where a file is needed.
    #[error("'{0}' is a directory")]
    IsADirectory(String),
    /// A file where a directory is needed.
    #[error("'{0}' is not a directory")]
    NotADirectory(String),
    /// A path written with a trailing `/` (a directory) where there is none.
    #[error("'{0}': no such directory")]
    NoSuchDirectory(String),
    /// `rename` of a directory to a path inside itself, which would lose it
    /// (littlefs) or copy it into itself without end (FAT).
    #[error("cannot move directory '{from}' into itself ('{to}')")]
    MoveIntoItself {
        /// The directory renamed.
        from: String,
        /// The path inside it.
        to: String,
    },
    /// `rm` of a partition's root directory (spelled `/`, `//`, `/.`, ...).
    #[error("refusing to remove the root directory of '{part}': that would empty the whole filesystem")]
    RemoveRoot {
        /// The partition.
        part: String,
        /// The filesystem there is FAT (else littlefs).
        fat: bool,
    },
    /// A directory to remove that is not empty.
    #[error("directory '{0}' is not empty")]
    NotEmpty(String),
    /// The filesystem is full.
    #[error("no space left on '{part}' while writing '{path}'; nothing was written to the image")]
    NoSpace {
        /// The partition.
        part: String,
        /// The file being written.
        path: String,
    },
    /// A name longer than the filesystems allow.
    #[error("name '{name}' is {len} bytes long; littlefs and FAT allow at most 255")]
    NameTooLong {
        /// The name.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A name that cannot be a file name.
    #[error("'{0}' is not a valid name here (names may not be empty, '.', '..', or contain '/' or NUL)")]
    BadName(String),
    /// A rename from one partition to another.
    #[error("cannot rename across partitions ('{from}' to '{to}')")]
    CrossPartitionRename {
        /// The path renamed.
        from: String,
        /// The new path.
        to: String,
    },
    /// A name in the image that could escape the directory it is copied to.
    #[error("refusing to write '{name}' found in '{dir}' on this computer: the name could escape the destination directory (the image may be crafted or corrupt)")]
    UnsafeName {
        /// The directory in the image.
        dir: String,
        /// The name.
        name: String,
    },
    /// A symbolic link on this computer where a file is to be written.
    #[error("refusing to write through the symbolic link '{0}' on this computer")]
    HostSymlink(PathBuf),
    /// A file or directory on this computer that could not be read or written.
    #[error("'{path}' on this computer: {source}")]
    Host {
        /// The path on this computer.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Growing a filesystem past its partition.
    #[error("grow {part}: {blocks} blocks do not fit in the partition ({part_blocks} blocks)")]
    GrowPastPartition {
        /// The partition.
        part: String,
        /// Blocks asked for.
        blocks: u32,
        /// Blocks of the partition.
        part_blocks: u32,
    },
    /// Growing a filesystem to fewer blocks than it has.
    #[error("grow {part}: littlefs cannot shrink ({now} blocks now, {asked} asked)")]
    GrowShrink {
        /// The partition.
        part: String,
        /// Blocks it has.
        now: u32,
        /// Blocks asked for.
        asked: u32,
    },
    /// Growing a FAT filesystem.
    #[error("grow {part}: only littlefs can grow in place")]
    GrowFat {
        /// The partition.
        part: String,
    },
    /// littlefs refused an operation.
    #[error("{op} on '{part}' failed: {source}")]
    Littlefs {
        /// The partition.
        part: String,
        /// The operation (and path).
        op: String,
        /// littlefs's error.
        #[source]
        source: mpimg_littlefs::Error,
    },
    /// The FAT implementation refused an operation.
    #[error("{op} on '{part}' failed: {source}")]
    Fat {
        /// The partition.
        part: String,
        /// The operation (and path).
        op: String,
        /// Its error.
        #[source]
        source: std::io::Error,
    },
    /// A bug: a command that only reads tried to write.
    #[error("internal error: the read-only command '{0}' tried to write to flash")]
    WriteInReadOnly(String),
    /// A bug: a block just loaded is not in the cache.
    #[error("internal error: block {block} vanished from the cache")]
    CacheLost {
        /// The block number (flash offset / 4 KB).
        block: u32,
    },
    /// A directory tree deeper than any real one (a loop in a damaged image).
    #[error("directory tree on '{0}' is nested too deeply (more than 255 levels); the filesystem is probably corrupt")]
    TooDeep(String),
    /// Writing what a command prints failed.
    #[error("writing the command output failed: {0}")]
    Output(#[source] std::io::Error),
    /// The flash under the filesystem failed.
    #[error(transparent)]
    Flash(#[from] FlashError),
    /// `SOURCE_DATE_EPOCH` is set to something that is not decimal seconds.
    #[error(transparent)]
    SourceDateEpoch(#[from] super::time::BadSourceDateEpoch),
}

impl FsError {
    pub(crate) fn host(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FsError::Host { path: path.into(), source }
    }

    pub(crate) fn usage(cmd: &'static str, msg: impl Into<String>) -> Self {
        FsError::Usage { cmd, msg: msg.into() }
    }
}
