//! NOR flash backed by a file: erase sets whole 4 KB sectors to 0xFF,
//! programming can only clear bits (new = old AND data), so writing over
//! unerased data corrupts it exactly as real flash does. Every change is
//! written through to the file, which outlives the simulator.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub const SECTOR: u32 = 0x1000;

/// Flash access errors (the loaders turn these into protocol error codes).
#[derive(Debug, thiserror::Error)]
pub enum NorError {
    #[error("flash range {offset:#x}+{len:#x} is past the end of the {size:#x}-byte flash")]
    OutOfRange { offset: u32, len: u32, size: u32 },
    #[error("erase range {offset:#x}+{len:#x} is not aligned to 4 KB sectors")]
    Unaligned { offset: u32, len: u32 },
    #[error("flash file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the flash is not powered")]
    Unpowered,
    #[error("flash file {path} is {actual} bytes, larger than the {size}-byte flash: pass a matching --flash-size or another --flash-file")]
    FileTooLarge { path: PathBuf, actual: u64, size: u32 },
}

/// Counters for statistics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NorCounters {
    pub sectors_erased: u64,
    pub sectors_written: u64,
    pub bytes_written: u64,
}

#[derive(Debug)]
pub struct NorFlash {
    data: Vec<u8>,
    file: File,
    path: PathBuf,
    /// Sectors programmed since their last erase (counted once each).
    programmed: Vec<bool>,
    /// An unpowered flash (ESP32-P4 before the host powers it) fails every
    /// read, erase and program.
    powered: bool,
    pub counters: NorCounters,
    /// Flash range erased or programmed since [`NorFlash::take_touched`]
    /// last asked (start, end exclusive).
    touched: Option<(u32, u32)>,
}

impl NorFlash {
    /// Open (or create, erased) the flash file; a shorter file is padded
    /// with 0xFF to `size`.
    pub fn open(path: &Path, size: u32) -> Result<Self, NorError> {
        let io_err = |source| NorError::Io { path: path.to_path_buf(), source };
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        if len > u64::from(size) {
            return Err(NorError::FileTooLarge { path: path.to_path_buf(), actual: len, size });
        }
        let mut data = vec![0xFF; size as usize];
        file.read_exact_at(&mut data[..len as usize], 0).map_err(io_err)?;
        if len < u64::from(size) {
            file.write_all_at(&data[len as usize..], len).map_err(io_err)?;
        }
        Ok(NorFlash {
            data,
            file,
            path: path.to_path_buf(),
            programmed: vec![false; (size / SECTOR) as usize],
            powered: true,
            counters: NorCounters::default(),
            touched: None,
        })
    }

    pub fn size(&self) -> u32 {
        self.data.len() as u32
    }

    /// Power the flash on or off (its contents stay).
    pub fn set_powered(&mut self, on: bool) {
        self.powered = on;
    }

    pub fn is_powered(&self) -> bool {
        self.powered
    }

    fn touch(&mut self, offset: u32, len: u32) {
        let (lo, hi) = (offset, offset + len);
        self.touched = Some(self.touched.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }

    /// The range erased or programmed since the last call (None: nothing).
    pub fn take_touched(&mut self) -> Option<(u32, u32)> {
        self.touched.take()
    }

    fn check(&self, offset: u32, len: u32) -> Result<(), NorError> {
        if !self.powered {
            return Err(NorError::Unpowered);
        }
        if u64::from(offset) + u64::from(len) > self.data.len() as u64 {
            return Err(NorError::OutOfRange { offset, len, size: self.size() });
        }
        Ok(())
    }

    fn persist(&self, offset: u32, len: u32) -> Result<(), NorError> {
        let r = offset as usize..offset as usize + len as usize;
        self.file
            .write_all_at(&self.data[r], u64::from(offset))
            .map_err(|source| NorError::Io { path: self.path.clone(), source })
    }

    pub fn read(&self, offset: u32, len: u32) -> Result<&[u8], NorError> {
        self.check(offset, len)?;
        Ok(&self.data[offset as usize..offset as usize + len as usize])
    }

    /// Erase whole sectors; both bounds must be sector aligned.
    pub fn erase(&mut self, offset: u32, len: u32) -> Result<(), NorError> {
        if !offset.is_multiple_of(SECTOR) || !len.is_multiple_of(SECTOR) {
            return Err(NorError::Unaligned { offset, len });
        }
        self.check(offset, len)?;
        self.data[offset as usize..(offset + len) as usize].fill(0xFF);
        for s in offset / SECTOR..(offset + len) / SECTOR {
            self.programmed[s as usize] = false;
        }
        self.counters.sectors_erased += u64::from(len / SECTOR);
        self.touch(offset, len);
        self.persist(offset, len)
    }

    /// Erase every sector that overlaps `offset..offset+len`.
    pub fn erase_covering(&mut self, offset: u32, len: u32) -> Result<(), NorError> {
        if len == 0 {
            return Ok(());
        }
        let start = offset / SECTOR * SECTOR;
        let end = (u64::from(offset) + u64::from(len)).div_ceil(u64::from(SECTOR)) * u64::from(SECTOR);
        let end = end.min(u64::from(u32::MAX)) as u32;
        self.erase(start, end - start)
    }

    pub fn erase_all(&mut self) -> Result<(), NorError> {
        self.erase(0, self.size())
    }

    /// Program: each byte becomes old AND new.
    pub fn program(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorError> {
        let len = bytes.len() as u32;
        self.check(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        for (d, s) in self.data[offset as usize..].iter_mut().zip(bytes) {
            *d &= *s;
        }
        for s in offset / SECTOR..=(offset + len - 1) / SECTOR {
            if !self.programmed[s as usize] {
                self.programmed[s as usize] = true;
                self.counters.sectors_written += 1;
            }
        }
        self.counters.bytes_written += u64::from(len);
        self.touch(offset, len);
        self.persist(offset, len)
    }

    /// Copy an image in verbatim (the factory state before a test).
    pub fn load_image(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorError> {
        let len = bytes.len() as u32;
        if u64::from(offset) + u64::from(len) > self.data.len() as u64 {
            return Err(NorError::OutOfRange { offset, len, size: self.size() });
        }
        self.data[offset as usize..(offset + len) as usize].copy_from_slice(bytes);
        self.persist(offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_ands_and_erase_restores() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        let mut f = NorFlash::open(&p, 0x4000).unwrap();
        f.program(0x10, &[0xF0, 0x0F]).unwrap();
        f.program(0x10, &[0x3C, 0xFF]).unwrap();
        assert_eq!(f.read(0x10, 2).unwrap(), &[0x30, 0x0F]);
        assert_eq!(std::fs::read(&p).unwrap()[0x10..0x12], [0x30, 0x0F]);
        assert!(matches!(f.erase(0x10, 0x1000), Err(NorError::Unaligned { .. })));
        f.erase(0, 0x1000).unwrap();
        assert_eq!(f.read(0x10, 2).unwrap(), &[0xFF, 0xFF]);
        assert_eq!(f.counters, NorCounters { sectors_erased: 1, sectors_written: 1, bytes_written: 4 });
        assert!(matches!(f.program(0x3FFF, &[0, 0]), Err(NorError::OutOfRange { .. })));
    }

    #[test]
    fn unpowered_flash_fails_and_keeps_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = NorFlash::open(&dir.path().join("f.bin"), 0x2000).unwrap();
        f.program(0, &[0x12]).unwrap();
        f.set_powered(false);
        assert!(matches!(f.read(0, 1), Err(NorError::Unpowered)));
        assert!(matches!(f.erase(0, 0x1000), Err(NorError::Unpowered)));
        assert!(matches!(f.program(1, &[0]), Err(NorError::Unpowered)));
        f.set_powered(true);
        assert_eq!(f.read(0, 2).unwrap(), &[0x12, 0xFF]);
    }
}
