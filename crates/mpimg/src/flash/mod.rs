//! The one flash abstraction: read, write and erase at *flash* offsets.
//!
//! Every operation that touches flash contents (table edits, filesystems, OTA,
//! checks) is written once against [`Flash`]. A firmware file is one backend
//! ([`FileFlash`]: flash from the chip's bootloader offset on, held in memory);
//! a serial-attached device is another (`DeviceFlash`, with the `device`
//! feature).

mod bytes;
#[cfg(feature = "device")]
pub mod device;
mod file;

pub use bytes::{read_capped, FileBytes, TooLarge, MAX_INPUT_LEN};
#[cfg(feature = "device")]
pub use device::{DeviceFlash, DeviceOptions};
pub use file::{same_file, write_atomically, FileFlash, FileStamp};

use thiserror::Error;

/// The erase granularity of ESP32 SPI NOR flash (one sector).
pub const SECTOR_SIZE: u32 = 0x1000;

/// Errors raised by a flash backend. Offsets are flash offsets, lengths bytes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FlashError {
    /// An access before the first byte the backend holds (a file starts at the bootloader offset).
    #[error("flash access at {offset:#x} (+{len:#x}) is before the start of the image ({start:#x})")]
    BeforeStart {
        /// Where the access starts.
        offset: u32,
        /// Its length.
        len: u32,
        /// The backend's first flash offset.
        start: u32,
    },
    /// An access past the end of the flash.
    #[error("flash access at {offset:#x} (+{len:#x}) is past the end of flash ({size:#x})")]
    PastEnd {
        /// Where the access starts.
        offset: u32,
        /// Its length.
        len: u32,
        /// The flash size (or how far a file may grow).
        size: u32,
    },
    /// An erase that does not cover whole 4 KB sectors.
    #[error("erase at {offset:#x} (+{len:#x}) is not aligned to 4 KB sectors")]
    Unaligned {
        /// Where the erase starts.
        offset: u32,
        /// Its length.
        len: u32,
    },
    /// The device failed (the link, or a write that did not verify).
    #[cfg(feature = "device")]
    #[error(transparent)]
    Device(#[from] device::DeviceError),
}

/// Read, write and erase flash at absolute flash offsets.
///
/// Operations are written once over this trait. Where a file and a device
/// differ, they differ by a property asked here, never by the backend's type:
/// a file stores less than the whole flash ([`Flash::stored_end`]), a device
/// knows its real flash size ([`Flash::detected_size`]) and is slow to read
/// ([`Flash::reads_are_slow`]).
pub trait Flash {
    /// Flash offset of the first addressable byte (a file starts at the bootloader offset).
    fn start(&self) -> u32;

    /// Flash offset one past the last byte that holds data.
    ///
    /// For a file this is where the file ends; reads past it return 0xFF (erased).
    /// For a device it is the flash size.
    fn data_end(&self) -> u32;

    /// Largest addressable flash offset + 1 (a file may grow up to this).
    fn capacity(&self) -> u32;

    /// Where the stored data ends when the backend holds less than the whole
    /// flash: a firmware file ends here, and everything past it reads as
    /// erased (0xFF) without being stored. `None` when every offset below
    /// [`Flash::capacity`] is real flash (a device).
    fn stored_end(&self) -> Option<u32> {
        None
    }

    /// How many of the `len` bytes at `offset` hold stored data: all of them
    /// on a device, and on a file those before its end (0 for a range that
    /// starts past it).
    fn stored_len(&self, offset: u32, len: u32) -> u32 {
        match self.stored_end() {
            Some(end) => end.saturating_sub(offset).min(len),
            None => len,
        }
    }

    /// The flash size the hardware reports (a device's JEDEC id), in bytes;
    /// `None` when there is no hardware to ask (a file).
    fn detected_size(&self) -> Option<u32> {
        None
    }

    /// Whether reads cost real time (a serial link): operations then read no
    /// more than they need, e.g. image headers instead of whole images.
    fn reads_are_slow(&self) -> bool {
        false
    }

    /// Read `buf.len()` bytes at `offset`. Bytes past [`Flash::data_end`] read as 0xFF.
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError>;

    /// Read like [`Flash::read`], for bytes known to hold data (an image
    /// whose length its headers give): a device reads them as they are,
    /// without first asking which parts are erased. The default reads.
    fn read_dense(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.read(offset, buf)
    }

    /// Replace the bytes at `offset` with `data` (any alignment; a device backend
    /// erases and reprograms the sectors it touches, preserving the rest).
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError>;

    /// Set `len` bytes at `offset` to 0xFF; both must be multiples of [`SECTOR_SIZE`].
    fn erase(&mut self, offset: u32, len: u32) -> Result<(), FlashError>;

    /// Like [`Flash::write`], as one piece: a device sends every sector the
    /// range touches in one compressed transfer (none skipped as unchanged
    /// on its own), so that a link cut off half way leaves all of it or none
    /// of it when the transfer fits one frame of the loader (16 KB
    /// compressed: a bootloader does). Where it cannot be one piece, the
    /// range's first sector (an image's header) is written last: a cut then
    /// leaves the old header, and an edit that compares headers runs again.
    /// What a cut left is in the device's error (`DeviceError::Interrupted`,
    /// its `torn`). A file needs none of this (nothing reaches the disk before
    /// it is saved); this default, for other backends, writes the first
    /// sector last.
    fn write_whole(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        let head = ((offset / SECTOR_SIZE + 1) * SECTOR_SIZE - offset) as usize;
        if head < data.len() {
            self.write(offset + head as u32, &data[head..])?;
        }
        self.write(offset, &data[..head.min(data.len())])
    }

    /// Drop everything stored from `offset` on, if this backend stores less than
    /// the whole flash: a file is shortened to `offset` (what lies past its end
    /// reads as erased). Returns false when the backend cannot (a device), and
    /// the caller must erase instead.
    fn trim_end(&mut self, offset: u32) -> bool {
        let _ = offset;
        false
    }

    /// The bytes at `offset` without copying, when the backend holds them in
    /// memory and they lie within [`Flash::data_end`]; `None` otherwise (read instead).
    fn peek(&self, offset: u32, len: u32) -> Option<&[u8]> {
        let _ = (offset, len);
        None
    }

    /// Whether the flash holds exactly `data` at `offset`, checked where the
    /// bytes are: a device hashes the range itself (only the MD5 crosses the
    /// link, and no cached copy stands in for the flash); other backends
    /// compare what [`Flash::read`] gives.
    fn holds(&mut self, offset: u32, data: &[u8]) -> Result<bool, FlashError> {
        Ok(self.read_vec(offset, u32::try_from(data.len()).unwrap_or(u32::MAX))? == data)
    }

    /// Read `len` bytes at `offset` into a new vector.
    fn read_vec(&mut self, offset: u32, len: u32) -> Result<Vec<u8>, FlashError> {
        let mut buf = vec![0u8; len as usize];
        self.read(offset, &mut buf)?;
        Ok(buf)
    }

    /// Read `len` bytes known to hold data (see [`Flash::read_dense`]) into a new vector.
    fn read_vec_dense(&mut self, offset: u32, len: u32) -> Result<Vec<u8>, FlashError> {
        let mut buf = vec![0u8; len as usize];
        self.read_dense(offset, &mut buf)?;
        Ok(buf)
    }
}

/// Check that an erase range is sector aligned.
pub fn check_erase_alignment(offset: u32, len: u32) -> Result<(), FlashError> {
    if !offset.is_multiple_of(SECTOR_SIZE) || !len.is_multiple_of(SECTOR_SIZE) {
        return Err(FlashError::Unaligned { offset, len });
    }
    Ok(())
}

/// Round `n` up to a multiple of `align` (a power of two). Past the last
/// multiple below 4 GB (only offsets read from a damaged table or a CSV get
/// there) the result is `u32::MAX`, which is no valid offset: the caller's
/// range checks refuse it instead of a wrapped-around 0.
pub fn align_up(n: u32, align: u32) -> u32 {
    n.checked_next_multiple_of(align).unwrap_or(u32::MAX)
}

/// The reason of an I/O error as people say it (`no such file`), for
/// messages about files on this computer.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only".into(),
        ErrorKind::StorageFull => "the disk is full".into(),
        ErrorKind::QuotaExceeded => "the disk quota is used up".into(),
        ErrorKind::FileTooLarge => "the file would be larger than this system allows (a file size limit)".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_rounds_and_saturates_at_the_top() {
        assert_eq!(align_up(0, SECTOR_SIZE), 0);
        assert_eq!(align_up(1, SECTOR_SIZE), 0x1000);
        assert_eq!(align_up(0x1000, SECTOR_SIZE), 0x1000);
        assert_eq!(align_up(0xFFFF_0000, 0x10000), 0xFFFF_0000);
        // Found by fuzzing: this overflowed (a panic in debug builds, 0 in release).
        assert_eq!(align_up(0xFFFF_0001, 0x10000), u32::MAX);
        assert_eq!(align_up(u32::MAX, SECTOR_SIZE), u32::MAX);
    }
}
