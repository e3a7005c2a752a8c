//! Why a table edit cannot keep the files of a filesystem, or what went wrong keeping them.

use thiserror::Error;

use crate::fs::tree::codec::CodecError;
use crate::fs::FsError;

/// Why a table edit cannot keep the files (nothing has been written), or
/// what went wrong keeping them.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CarryError {
    /// A filesystem whose partition the edit deletes or re-types (and the caller did not say to discard it).
    #[error(
        "partition '{name}' holds {files} in a {filesystem} filesystem, and this edit {how}: the files would be lost"
    )]
    WouldLose {
        /// The partition.
        name: String,
        /// "littlefs 2.0", "FAT16", ...
        filesystem: String,
        /// "37 files (412 KiB)".
        files: String,
        /// "deletes the partition", "re-types it as nvs".
        how: String,
    },
    /// A tree that needs more room than its new partition has.
    #[error("the {files} of '{name}' do not fit its new size, {new_size:#x} bytes ({} blocks): {filesystem} needs {needed_blocks} blocks ({} bytes) for them, so '{name}' must be at least {min_size:#x} bytes", new_size / 4096, u64::from(*needed_blocks) * 4096)]
    DoesNotFit {
        /// The partition.
        name: String,
        /// "littlefs 2.0", "FAT16", ...
        filesystem: String,
        /// "37 files (412 KiB)".
        files: String,
        /// Its new size in bytes.
        new_size: u32,
        /// 4 KB blocks the files take at the smallest size that holds them.
        needed_blocks: u32,
        /// That smallest size in bytes.
        min_size: u32,
    },
    /// A filesystem that cannot be read, which the edit would overwrite.
    #[error("partition '{name}' holds a {filesystem} filesystem that cannot be read ({source}), and this edit would overwrite it")]
    Unreadable {
        /// The partition.
        name: String,
        /// What it seems to be.
        filesystem: String,
        /// Why it cannot be read.
        source: Box<FsError>,
    },
    /// A bug: the filesystem made for the new place does not hold the tree.
    #[error("the copy of '{name}' made for its new place differs from the original ({detail}); nothing was written. This is a bug in mpimg: please report it")]
    CopyDiffers {
        /// The partition.
        name: String,
        /// The first difference.
        detail: String,
    },
    /// The filesystem written does not read back as it should.
    #[error("'{name}' at {offset:#x} does not read back as it was written ({detail}): the flash (or the link to it) is faulty")]
    Verify {
        /// The partition (its new name).
        name: String,
        /// Its flash offset.
        offset: u32,
        /// The first difference, or the error reading it.
        detail: String,
    },
    /// A backup that cannot be read, or does not hold what its edit needs.
    #[error("the backup {location} cannot be used: {source}")]
    BadBackup {
        /// Where it is.
        location: String,
        /// What is wrong with it.
        #[source]
        source: CodecError,
    },
    /// A pending backup of this board from another table edit.
    #[error("a table edit on this board made on {made} did not finish: its backup of the files is {location}, and this run asks for another change")]
    OtherChange {
        /// Where the backup is.
        location: String,
        /// When it was made.
        made: String,
    },
    /// The edit to resume was found, but the board's table is neither its old nor its new one.
    #[error("the partition table on this board is neither the one before nor the one after the table edit made on {made} that did not finish (its backup of the files is {location}): the board was changed since")]
    TableChanged {
        /// Where the backup is.
        location: String,
        /// When it was made.
        made: String,
    },
    /// Reading or making a filesystem failed.
    #[error(transparent)]
    Fs(#[from] FsError),
}
