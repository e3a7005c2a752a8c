//! A block cache between the filesystems and the flash.
//!
//! Flash is cut into 4 KB blocks (the erase sector of ESP32 flash). A block is
//! read from the flash at most once per run (neighbouring missing blocks in one
//! read); writes and erases change the cached copy and mark it dirty; nothing
//! reaches the flash until [`BlockCache::flush`], which writes the dirty blocks
//! as contiguous runs, each erased first. [`BlockCache::discard`] drops all
//! unflushed changes instead (what a failed run does, so a failure never leaves
//! a half-changed filesystem behind). The counters are what costs time on a device.

use std::collections::BTreeSet;
use std::fmt;

use crate::flash::{Flash, SECTOR_SIZE};

use super::FsError;

/// The cache's block size: one flash erase sector.
pub const BLOCK_SIZE: u32 = SECTOR_SIZE;
const BS: usize = BLOCK_SIZE as usize;

/// How much flash traffic a run caused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Blocks read from the flash.
    pub blocks_read: u32,
    /// Flash read requests (neighbouring blocks are read together).
    pub read_ops: u32,
    /// Blocks written to the flash.
    pub blocks_written: u32,
    /// Blocks erased on the flash.
    pub blocks_erased: u32,
    /// Contiguous runs flushed (each one erase and at most a few writes).
    pub write_runs: u32,
}

impl fmt::Display for CacheStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "blocks read: {} (in {} reads), blocks written: {}, blocks erased: {} (in {} runs)",
            self.blocks_read, self.read_ops, self.blocks_written, self.blocks_erased, self.write_runs
        )
    }
}

/// A write-back cache of 4 KB flash blocks over a [`Flash`].
pub struct BlockCache<'f> {
    flash: &'f mut dyn Flash,
    /// Cached blocks by block number (flash offset / 4 KB); a flat table
    /// because lookups happen for every small read littlefs makes.
    blocks: Vec<Option<Box<[u8]>>>,
    dirty: BTreeSet<u32>,
    stats: CacheStats,
    /// `None` while writes are allowed, else the read-only command running.
    read_only: Option<String>,
    /// Flash offset the flash must hold data up to after a flush, erased
    /// blocks included (see [`BlockCache::cover`]).
    cover: u32,
}

impl<'f> BlockCache<'f> {
    /// An empty cache over `flash`.
    pub fn new(flash: &'f mut dyn Flash) -> Self {
        BlockCache {
            flash,
            blocks: Vec::new(),
            dirty: BTreeSet::new(),
            stats: CacheStats::default(),
            read_only: None,
            cover: 0,
        }
    }

    fn cached(&self, idx: u32) -> Option<&[u8]> {
        self.blocks.get(idx as usize).and_then(|b| b.as_deref())
    }

    fn insert(&mut self, idx: u32, data: Box<[u8]>) {
        let i = idx as usize;
        if i >= self.blocks.len() {
            self.blocks.resize_with(i + 1, || None);
        }
        self.blocks[i] = Some(data);
    }

    /// The flash under the cache (its size limits, its kind).
    pub fn flash(&self) -> &dyn Flash {
        &*self.flash
    }

    /// Counters so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Whether there are changes not yet flushed.
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Refuse writes (with `command` named in the error) until called with `None`.
    pub fn set_read_only(&mut self, command: Option<&str>) {
        self.read_only = command.map(str::to_owned);
    }

    fn check_writable(&self) -> Result<(), FsError> {
        match &self.read_only {
            Some(cmd) => Err(FsError::WriteInReadOnly(cmd.clone())),
            None => Ok(()),
        }
    }

    /// Load the blocks `first..=last` that are not cached, reading runs of
    /// neighbouring missing blocks in one flash request each.
    fn load(&mut self, first: u32, last: u32) -> Result<(), FsError> {
        let mut b = first;
        while b <= last {
            if self.cached(b).is_some() {
                b += 1;
                continue;
            }
            let start = b;
            while b <= last && self.cached(b).is_none() {
                b += 1;
            }
            let n = b - start;
            let data = self.flash.read_vec(start * BLOCK_SIZE, n * BLOCK_SIZE)?;
            for (i, chunk) in data.chunks_exact(BS).enumerate() {
                self.insert(start + i as u32, chunk.into());
            }
            self.stats.blocks_read += n;
            self.stats.read_ops += 1;
        }
        Ok(())
    }

    /// Read `buf.len()` bytes at flash offset `offset` (any alignment).
    pub fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FsError> {
        if buf.is_empty() {
            return Ok(());
        }
        let end = u64::from(offset) + buf.len() as u64;
        let last = ((end - 1) / u64::from(BLOCK_SIZE)) as u32;
        let mut done = 0usize;
        let mut pos = offset;
        while done < buf.len() {
            let at = (pos % BLOCK_SIZE) as usize;
            let n = (BS - at).min(buf.len() - done);
            let idx = pos / BLOCK_SIZE;
            if self.cached(idx).is_none() {
                self.load(idx, last)?;
            }
            // `load` just filled the slot (or returned the flash's error).
            let Some(blk) = self.cached(idx) else {
                return Err(FsError::CacheLost { block: idx });
            };
            buf[done..done + n].copy_from_slice(&blk[at..at + n]);
            done += n;
            pos += n as u32;
        }
        Ok(())
    }

    /// Replace the bytes at flash offset `offset` with `data` in the cache.
    /// Blocks written whole are not read first.
    pub fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), FsError> {
        self.check_writable()?;
        let mut done = 0usize;
        let mut pos = offset;
        while done < data.len() {
            let idx = pos / BLOCK_SIZE;
            let at = (pos % BLOCK_SIZE) as usize;
            let n = (BS - at).min(data.len() - done);
            let new = &data[done..done + n];
            // Bytes written over the same bytes change nothing (FAT rewrites
            // its sectors as they are): the block does not become dirty.
            let same = self.cached(idx).is_some_and(|blk| blk[at..at + n] == *new);
            if same {
            } else if n == BS {
                self.insert(idx, new.into());
                self.dirty.insert(idx);
            } else {
                self.load(idx, idx)?;
                if let Some(Some(blk)) = self.blocks.get_mut(idx as usize) {
                    if blk[at..at + n] != *new {
                        blk[at..at + n].copy_from_slice(new);
                        self.dirty.insert(idx);
                    }
                }
            }
            done += n;
            pos += n as u32;
        }
        Ok(())
    }

    /// Erase whole blocks: `offset` and `len` are multiples of 4 KB. Nothing is read.
    pub fn erase(&mut self, offset: u32, len: u32) -> Result<(), FsError> {
        self.check_writable()?;
        crate::flash::check_erase_alignment(offset, len)?;
        for idx in offset / BLOCK_SIZE..(offset + len) / BLOCK_SIZE {
            match self.blocks.get_mut(idx as usize) {
                Some(Some(blk)) => blk.fill(0xFF),
                _ => self.insert(idx, vec![0xFF; BS].into_boxed_slice()),
            }
            self.dirty.insert(idx);
        }
        Ok(())
    }

    /// Ask that after the next flush the flash holds data up to flash offset
    /// `end`, erased blocks included: a firmware file whose data ends earlier
    /// is extended with 0xFF (a device holds all its flash already).
    ///
    /// Why: a file ends at its last non-blank byte, but a filesystem can use
    /// a blank block, e.g. the unwritten half of a littlefs metadata pair. If
    /// the file stopped before it, flashing the file would leave whatever the
    /// board had there, and a stale metadata block from an earlier filesystem
    /// can outrank the new half (littlefs picks the higher revision).
    pub fn cover(&mut self, end: u32) {
        self.cover = self.cover.max(end);
    }

    /// Write every dirty block to the flash: each run of neighbouring dirty
    /// blocks is erased, then its blocks that are not blank are written
    /// (blank ones are already blank after the erase); then a file is
    /// extended as [`BlockCache::cover`] asked. Returns whether anything was
    /// written. On error the blocks not yet flushed stay dirty.
    pub fn flush(&mut self) -> Result<bool, FsError> {
        if self.dirty.is_empty() {
            self.cover = 0;
            return Ok(false);
        }
        let dirty: Vec<u32> = self.dirty.iter().copied().collect();
        for run in runs(&dirty) {
            let (first, count) = (run[0], run.len() as u32);
            self.flash.erase(first * BLOCK_SIZE, count * BLOCK_SIZE)?;
            self.stats.blocks_erased += count;
            self.stats.write_runs += 1;
            let block = |b: u32| self.cached(b).unwrap_or(&[]);
            let blank: Vec<bool> = run.iter().map(|&b| is_blank(block(b))).collect();
            let mut i = 0;
            while i < run.len() {
                if blank[i] {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < run.len() && !blank[i] {
                    i += 1;
                }
                let mut data = Vec::with_capacity((i - start) * BS);
                for &b in &run[start..i] {
                    data.extend_from_slice(self.cached(b).unwrap_or(&[]));
                }
                self.flash.write(run[start] * BLOCK_SIZE, &data)?;
                self.stats.blocks_written += (i - start) as u32;
            }
            for b in run {
                self.dirty.remove(b);
            }
        }
        if self.cover > self.flash.data_end() {
            // One erased byte at the end: a file fills the gap before it with 0xFF.
            self.flash.write(self.cover - 1, &[0xFF])?;
        }
        self.cover = 0;
        Ok(true)
    }

    /// The unflushed changes as (flash offset, block) pairs in offset order,
    /// taken out of the cache, which then holds (and, once read again, sees)
    /// the flash as it is: changes worked out now, to be written later.
    pub fn take_changes(&mut self) -> Vec<(u32, Vec<u8>)> {
        let out = self.dirty.iter().map(|&b| (b * BLOCK_SIZE, self.cached(b).unwrap_or(&[]).to_vec())).collect();
        self.discard();
        out
    }

    /// Forget every unflushed change (the cached copies of those blocks too).
    pub fn discard(&mut self) {
        self.cover = 0;
        for b in std::mem::take(&mut self.dirty) {
            if let Some(slot) = self.blocks.get_mut(b as usize) {
                *slot = None;
            }
        }
    }
}

fn is_blank(block: &[u8]) -> bool {
    block.iter().all(|&b| b == 0xFF)
}

/// Split sorted block numbers into runs of consecutive numbers.
fn runs(sorted: &[u32]) -> Vec<&[u32]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=sorted.len() {
        if i == sorted.len() || sorted[i] != sorted[i - 1] + 1 {
            out.push(&sorted[start..i]);
            start = i;
        }
    }
    out
}

/// A partition's byte range within the flash, as the filesystems see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Its flash offset.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
}

impl Region {
    /// Number of whole 4 KB blocks in the region.
    pub fn blocks(&self) -> u32 {
        self.size / BLOCK_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;

    #[test]
    fn each_block_is_read_once_and_neighbours_together() {
        let mut data = vec![0u8; 0x6000];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i / 0x1000) as u8;
        }
        let mut f = FileFlash::new(data, 0x1000, 0x40_0000);
        let mut c = BlockCache::new(&mut f);
        let mut buf = vec![0u8; 0x1800];
        c.read(0x1800, &mut buf).unwrap();
        assert_eq!((buf[0], buf[0x7FF], buf[0x800], buf[0x17FF]), (0, 0, 1, 1));
        c.read(0x2000, &mut buf[..16]).unwrap();
        c.read(0x3000, &mut buf[..0x1000]).unwrap();
        assert_eq!(c.stats(), CacheStats { blocks_read: 3, read_ops: 2, ..Default::default() });
        // Past the end of the file the flash is blank.
        c.read(0x10000, &mut buf[..4]).unwrap();
        assert_eq!(&buf[..4], &[0xFF; 4]);
        assert!(!c.is_dirty());
        assert!(!c.flush().unwrap());
    }

    #[test]
    fn flush_writes_runs_erasing_first_and_skips_blank_blocks() {
        let mut f = FileFlash::new(vec![0u8; 0x8000], 0, 0x40_0000);
        let mut c = BlockCache::new(&mut f);
        c.write(0x1010, &[1, 2, 3]).unwrap(); // partial: block 1 read first
        c.write(0x2000, &[9u8; 0x1000]).unwrap(); // whole: block 2 not read
        c.erase(0x3000, 0x1000).unwrap(); // blank: erased, not written
        c.write(0x5000, &[7u8; 0x1000]).unwrap();
        assert_eq!(c.stats().blocks_read, 1);
        assert!(c.flush().unwrap());
        assert_eq!(
            c.stats(),
            CacheStats { blocks_read: 1, read_ops: 1, blocks_written: 3, blocks_erased: 4, write_runs: 2 }
        );
        drop(c);
        let b = f.bytes();
        assert_eq!(&b[0x1000..0x1013], &[0u8; 16].iter().chain(&[1, 2, 3]).copied().collect::<Vec<_>>()[..]);
        assert!(b[0x2000..0x3000].iter().all(|&x| x == 9));
        assert!(b[0x3000..0x4000].iter().all(|&x| x == 0xFF));
        assert!(b[0x4000..0x5000].iter().all(|&x| x == 0));
        assert!(b[0x5000..0x6000].iter().all(|&x| x == 7));
        assert_eq!(b.len(), 0x8000);
    }

    #[test]
    fn writes_past_the_end_of_a_file_extend_it() {
        let mut f = FileFlash::new(vec![0u8; 0x1000], 0x1000, 0x40_0000);
        let mut c = BlockCache::new(&mut f);
        c.erase(0x4000, 0x2000).unwrap();
        c.write(0x4000, b"data").unwrap();
        c.flush().unwrap();
        drop(c);
        assert_eq!(f.bytes().len(), 0x4000);
        assert!(f.bytes()[0x1000..0x3000].iter().all(|&x| x == 0xFF));
        assert_eq!(&f.bytes()[0x3000..0x3004], b"data");
    }

    #[test]
    fn discard_forgets_changes_and_read_only_refuses_writes() {
        let mut f = FileFlash::new(vec![5u8; 0x2000], 0, 0x40_0000);
        let mut c = BlockCache::new(&mut f);
        c.write(0x0, &[1]).unwrap();
        c.discard();
        let mut b = [0u8; 1];
        c.read(0, &mut b).unwrap();
        assert_eq!(b, [5]);
        c.set_read_only(Some("ls"));
        assert_eq!(
            c.write(0, &[1]).unwrap_err().to_string(),
            "internal error: the read-only command 'ls' tried to write to flash"
        );
        assert!(c.erase(0, 0x1000).is_err());
        c.set_read_only(None);
        c.erase(0, 0x1000).unwrap();
        assert!(c.is_dirty());
        assert_eq!(
            c.erase(0x10, 0x1000).unwrap_err().to_string(),
            "erase at 0x10 (+0x1000) is not aligned to 4 KB sectors"
        );
    }

    #[test]
    fn cover_extends_a_file_over_erased_blocks_on_flush_only() {
        let mut f = FileFlash::new(vec![0u8; 0x1000], 0x1000, 0x40_0000);
        let mut c = BlockCache::new(&mut f);
        c.erase(0x3000, 0x3000).unwrap();
        c.write(0x3000, b"data").unwrap();
        c.cover(0x5000);
        c.flush().unwrap();
        // Nothing dirty: no flush, and a cover asked then is dropped.
        c.cover(0x9000);
        assert!(!c.flush().unwrap());
        c.write(0x1000, &[1]).unwrap();
        c.cover(0x4000); // already covered: nothing to add
        c.flush().unwrap();
        c.write(0x1000, &[2]).unwrap();
        c.cover(0x7000);
        c.discard();
        assert!(!c.flush().unwrap());
        drop(c);
        let b = f.bytes();
        assert_eq!(b.len(), 0x4000);
        assert_eq!((b[0], &b[0x2000..0x2004]), (1, &b"data"[..]));
        assert!(b[0x1000..0x2000].iter().chain(&b[0x2004..]).all(|&x| x == 0xFF));
    }

    #[test]
    fn writing_the_same_bytes_changes_nothing() {
        let mut f = FileFlash::new(vec![5u8; 0x3000], 0, 0x40_0000);
        let mut c = BlockCache::new(&mut f);
        c.write(0x10, &[5, 5, 5]).unwrap();
        c.write(0x1000, &[5u8; 0x1000]).unwrap(); // a whole block, not cached yet: dirty
        c.write(0x2000, &[5u8; 0x10]).unwrap();
        assert!(c.is_dirty());
        assert!(c.flush().unwrap());
        assert_eq!(c.stats().blocks_written, 1, "only the whole block written blind");
        c.write(0x1000, &[5u8; 0x1000]).unwrap(); // cached now and the same
        c.write(0x2008, &[5u8; 8]).unwrap();
        assert!(!c.is_dirty());
        assert!(!c.flush().unwrap());
    }

    #[test]
    fn changes_are_taken_out_and_the_flash_left_as_it_was() {
        let mut f = FileFlash::new(vec![5u8; 0x3000], 0, 0x40_0000);
        let mut c = BlockCache::new(&mut f);
        c.write(0x1004, &[1, 2]).unwrap();
        c.erase(0x2000, 0x1000).unwrap();
        let changes = c.take_changes();
        assert_eq!(
            changes.iter().map(|(o, d)| (*o, d.len())).collect::<Vec<_>>(),
            vec![(0x1000, 0x1000), (0x2000, 0x1000)]
        );
        assert_eq!(&changes[0].1[..8], &[5, 5, 5, 5, 1, 2, 5, 5]);
        assert!(changes[1].1.iter().all(|&b| b == 0xFF));
        assert!(!c.is_dirty());
        let mut b = [0u8; 2];
        c.read(0x1004, &mut b).unwrap();
        assert_eq!(b, [5, 5]);
        assert!(!c.flush().unwrap());
    }

    #[test]
    fn runs_split_at_gaps() {
        assert_eq!(runs(&[1, 2, 3, 7, 9, 10]), vec![&[1, 2, 3][..], &[7], &[9, 10]]);
        assert!(runs(&[]).is_empty());
    }
}
