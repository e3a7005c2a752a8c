//! The bytes of a firmware file in memory: mapped copy-on-write from the file
//! until a change needs to resize them, then an owned vector.
//!
//! Mapping instead of reading means a run that only looks (inspect, `--fs ls`,
//! `--fs get`) copies nothing, and one that edits copies only the pages it
//! changes: for a 4 MB image, reading and zeroing memory was most of such a
//! run's time. The mapping is private, so nothing ever reaches the file through it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use memmap2::{MmapMut, MmapOptions};

/// The most bytes a file mpimg reads as a firmware (or an image to write)
/// may hold: 384 MiB. Flash is at most 128 MiB; as Intel HEX (16 data bytes
/// in a 44-byte line) a whole 128 MiB flash is 352 MiB, as UF2 256 MiB.
/// Without a limit, `/dev/zero` or a huge file would be read until memory
/// runs out.
pub const MAX_INPUT_LEN: u64 = 384 << 20;

/// A file longer than [`MAX_INPUT_LEN`] (or a stream that does not end
/// before it), as the reason of an `std::io::Error` (kind `InvalidData`).
#[derive(Debug, thiserror::Error)]
#[error("it holds more than {} MB, more than any firmware (flash is at most 128 MB; {} MB as Intel HEX or UF2)", MAX_INPUT_LEN >> 20, MAX_INPUT_LEN >> 20)]
pub struct TooLarge;

fn too_large() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, TooLarge)
}

/// Read the whole file at `path` (a regular file, a pipe, a device), but no
/// more than [`MAX_INPUT_LEN`] bytes.
///
/// Errors: those of opening and reading, and [`TooLarge`] (kind `InvalidData`).
pub fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() > MAX_INPUT_LEN {
        return Err(too_large());
    }
    let mut data = Vec::new();
    file.take(MAX_INPUT_LEN + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_INPUT_LEN {
        return Err(too_large());
    }
    Ok(data)
}

/// Owned or mapped file contents.
pub enum FileBytes {
    /// Bytes in a vector.
    Owned(Vec<u8>),
    /// A private (copy-on-write) mapping of the file.
    Mapped(MmapMut),
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if matches!(self, Self::Mapped(_)) { "Mapped" } else { "Owned" };
        write!(f, "FileBytes::{kind}({} bytes)", self.as_slice().len())
    }
}

impl FileBytes {
    /// Map `path` privately (copy-on-write). Empty files, which cannot be
    /// mapped, and files that cannot be mapped (pipes, some network file
    /// systems) are read instead. A file (or stream) longer than
    /// [`MAX_INPUT_LEN`] is refused with [`TooLarge`].
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "it is a directory"));
        }
        if meta.is_file() && meta.len() > MAX_INPUT_LEN {
            return Err(too_large());
        }
        if meta.is_file() && meta.len() > 0 {
            // SAFETY: the mapping is private (MAP_PRIVATE): our writes never reach
            // the file. If another program truncates the file while we run, reads
            // of the vanished pages fault; that is the accepted cost of mapping,
            // as for any tool that maps its input.
            if let Ok(map) = unsafe { MmapOptions::new().map_copy(&file) } {
                return Ok(Self::Mapped(map));
            }
        }
        read_capped(path).map(Self::Owned)
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Self::Owned(v) => v,
            Self::Mapped(m) => m,
        }
    }

    /// The bytes, to change in place (a mapping copies only the pages changed).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            Self::Owned(v) => v,
            Self::Mapped(m) => m,
        }
    }

    /// The bytes as a vector that may change length (copies a mapping once).
    pub fn vec_mut(&mut self) -> &mut Vec<u8> {
        if let Self::Mapped(m) = self {
            *self = Self::Owned(m.to_vec());
        }
        match self {
            Self::Owned(v) => v,
            Self::Mapped(_) => unreachable!("converted to Owned just above"),
        }
    }

    /// Their number.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes as a vector (copies a mapping).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Self::Owned(v) => v,
            Self::Mapped(m) => m.to_vec(),
        }
    }
}

impl From<Vec<u8>> for FileBytes {
    fn from(v: Vec<u8>) -> Self {
        Self::Owned(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_file_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        std::fs::write(&p, [1u8, 2, 3, 4]).unwrap();
        let mut b = FileBytes::open(&p).unwrap();
        assert!(matches!(b, FileBytes::Mapped(_)));
        b.as_mut_slice()[0] = 9;
        b.vec_mut().push(5);
        assert_eq!(b.as_slice(), &[9, 2, 3, 4, 5]);
        assert_eq!(std::fs::read(&p).unwrap(), vec![1, 2, 3, 4]);
        std::fs::write(&p, []).unwrap();
        assert!(FileBytes::open(&p).unwrap().is_empty());
        assert!(FileBytes::open(dir.path()).is_err());
    }
}
