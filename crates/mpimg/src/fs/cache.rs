//! A block cache between the filesystems and the flash.
//!
//! Flash is cut into 4 KB blocks (the erase sector of ESP32 flash). A block is
//! read from the flash at most once per run (neighbouring missing blocks in one
//! read); writes and erases change the cached copy and mark it dirty; nothing
//! reaches the flash until [`BlockCache::flush`]. [`BlockCache::discard`] drops
//! all unflushed changes instead (what a failed run does, so a failure never
//! leaves a half-changed filesystem behind). The counters are what costs time
//! on a device.
//!
//! The order of a flush matters on a device, where the link can fail half
//! way: littlefs survives losing power at any write because it writes in a
//! careful order (new blocks first, then one commit that makes them part of
//! the filesystem), and a cache that wrote its blocks in address order would
//! throw that away. So the filesystem tells the cache which blocks the
//! filesystem *on the flash* uses ([`BlockCache::protect`]), and the changes
//! are cut into groups that each change at most one of those blocks: a group
//! is flushed as the blocks nobody on the flash uses (erased, then written,
//! in runs), then that one block, written in place as one transfer. Whatever
//! a cut link leaves is then the filesystem before some group, plus unused
//! blocks: no file that was there is lost. A change to a second protected
//! block starts a new group. FAT is not protected this way (it has no safe
//! order to keep): a flush cut short can damage a FAT volume.

use std::collections::{BTreeSet, HashSet};
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
    /// Blocks the filesystem on the flash may use (see [`BlockCache::protect`]).
    protected: HashSet<u32>,
    /// The one protected block the open group (`dirty`) changes, if any.
    group_protected: Option<u32>,
    /// Earlier groups, closed in order: each is flushed before the next.
    sealed: Vec<Group>,
}

/// A closed group of changes: the blocks as they were when it closed, and
/// the one protected block among them.
struct Group {
    blocks: Vec<(u32, Box<[u8]>)>,
    protected: Option<u32>,
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
            protected: HashSet::new(),
            group_protected: None,
            sealed: Vec::new(),
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
        !self.dirty.is_empty() || !self.sealed.is_empty()
    }

    /// Whether the running command may write (see [`BlockCache::set_read_only`]).
    pub fn is_writable(&self) -> bool {
        self.read_only.is_none()
    }

    /// Say that the filesystem as it is on the flash may use these blocks
    /// (block numbers: flash offset / 4 KB), e.g. what a littlefs traversal
    /// finds at mount. Changes to them are then ordered (see the module
    /// documentation); blocks a flushed group wrote count as protected too.
    /// Blocks the open group changed and that were not protected are left
    /// out: the flash holds nothing that uses them before the group lands.
    pub fn protect(&mut self, blocks: impl IntoIterator<Item = u32>) {
        for b in blocks {
            if !self.dirty.contains(&b) {
                self.protected.insert(b);
            }
        }
    }

    /// Before `idx` changes: if it is protected and the open group already
    /// changes another protected block, close the group.
    fn order(&mut self, idx: u32) {
        if !self.protected.contains(&idx) {
            return;
        }
        match self.group_protected {
            Some(b) if b != idx => {
                self.seal();
                self.group_protected = Some(idx);
            }
            _ => self.group_protected = Some(idx),
        }
    }

    /// Close the open group: keep its blocks as they are now, to be flushed
    /// before anything changed later. Its blocks become protected (the
    /// filesystem on the flash uses them once it is flushed).
    fn seal(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        let blocks: Vec<(u32, Box<[u8]>)> =
            dirty.iter().map(|&b| (b, self.cached(b).map_or_else(|| vec![0xFF; BS].into(), Box::from))).collect();
        self.protected.extend(dirty);
        let protected = self.group_protected.take();
        if !blocks.is_empty() {
            self.sealed.push(Group { blocks, protected });
        }
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
                self.order(idx);
                self.insert(idx, new.into());
                self.dirty.insert(idx);
            } else {
                self.load(idx, idx)?;
                if self.cached(idx).is_some_and(|blk| blk[at..at + n] != *new) {
                    self.order(idx);
                    if let Some(Some(blk)) = self.blocks.get_mut(idx as usize) {
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
            self.order(idx);
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

    /// Write every change to the flash, group by group in the order they
    /// were made (see the module documentation). In each group the blocks
    /// that are not protected go first, as runs of neighbouring blocks: each
    /// run is erased, then its blocks that are not blank are written (blank
    /// ones are already blank after the erase). The group's protected block
    /// goes last, written in place (erased if it is blank). Then a file is
    /// extended as [`BlockCache::cover`] asked. Returns whether anything was
    /// written. On error the changes not yet flushed stay.
    pub fn flush(&mut self) -> Result<bool, FsError> {
        if !self.is_dirty() {
            self.cover = 0;
            return Ok(false);
        }
        self.seal();
        let mut done = 0;
        let mut result = Ok(());
        for group in &self.sealed {
            let blocks: Vec<(u32, &[u8])> = group.blocks.iter().map(|(b, d)| (*b, &d[..])).collect();
            if let Err(e) = flush_group(&mut *self.flash, &mut self.stats, &blocks, group.protected) {
                result = Err(e);
                break;
            }
            done += 1;
        }
        self.sealed.drain(..done);
        result?;
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
        let mut blocks: BTreeSet<u32> = self.dirty.clone();
        blocks.extend(self.sealed.iter().flat_map(|g| g.blocks.iter().map(|(b, _)| *b)));
        let out = blocks.iter().map(|&b| (b * BLOCK_SIZE, self.cached(b).unwrap_or(&[]).to_vec())).collect();
        self.discard();
        out
    }

    /// Forget every unflushed change (the cached copies of those blocks too).
    pub fn discard(&mut self) {
        self.cover = 0;
        self.group_protected = None;
        let sealed = std::mem::take(&mut self.sealed).into_iter().flat_map(|g| g.blocks.into_iter().map(|(b, _)| b));
        for b in std::mem::take(&mut self.dirty).into_iter().chain(sealed) {
            if let Some(slot) = self.blocks.get_mut(b as usize) {
                *slot = None;
            }
        }
    }
}

/// Write one group: the blocks (sorted) other than `protected` in runs, each
/// run erased first and its blocks that are not blank written; then
/// `protected` alone, in place.
fn flush_group(
    flash: &mut dyn Flash,
    stats: &mut CacheStats,
    blocks: &[(u32, &[u8])],
    protected: Option<u32>,
) -> Result<(), FsError> {
    let others: Vec<(u32, &[u8])> = blocks.iter().copied().filter(|&(b, _)| Some(b) != protected).collect();
    let numbers: Vec<u32> = others.iter().map(|&(b, _)| b).collect();
    let mut at = 0;
    for run in runs(&numbers) {
        let data = &others[at..at + run.len()];
        at += run.len();
        let (first, count) = (run[0], run.len() as u32);
        flash.erase(first * BLOCK_SIZE, count * BLOCK_SIZE)?;
        stats.blocks_erased += count;
        stats.write_runs += 1;
        let mut i = 0;
        while i < data.len() {
            if is_blank(data[i].1) {
                i += 1;
                continue;
            }
            let start = i;
            while i < data.len() && !is_blank(data[i].1) {
                i += 1;
            }
            let bytes: Vec<u8> = data[start..i].iter().flat_map(|&(_, d)| d.iter().copied()).collect();
            flash.write(data[start].0 * BLOCK_SIZE, &bytes)?;
            stats.blocks_written += (i - start) as u32;
        }
    }
    if let Some((b, d)) = protected.and_then(|p| blocks.iter().find(|&&(b, _)| b == p)) {
        // In place, never erased first: until this one write lands, the
        // filesystem on the flash is the one before the group.
        if is_blank(d) {
            flash.erase(b * BLOCK_SIZE, BLOCK_SIZE)?;
            stats.blocks_erased += 1;
        } else {
            flash.write(b * BLOCK_SIZE, d)?;
            stats.blocks_written += 1;
        }
    }
    Ok(())
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

    /// A flash that logs every write and erase, in order.
    struct Log {
        inner: FileFlash,
        ops: Vec<String>,
    }

    impl Flash for Log {
        fn start(&self) -> u32 {
            self.inner.start()
        }
        fn data_end(&self) -> u32 {
            self.inner.data_end()
        }
        fn capacity(&self) -> u32 {
            self.inner.capacity()
        }
        fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), crate::flash::FlashError> {
            self.inner.read(offset, buf)
        }
        fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), crate::flash::FlashError> {
            self.ops.push(format!("write {offset:#x}+{:#x}", data.len()));
            self.inner.write(offset, data)
        }
        fn erase(&mut self, offset: u32, len: u32) -> Result<(), crate::flash::FlashError> {
            self.ops.push(format!("erase {offset:#x}+{len:#x}"));
            self.inner.erase(offset, len)
        }
    }

    #[test]
    fn changes_to_protected_blocks_go_last_in_their_group_and_groups_keep_their_order() {
        let mut f = Log { inner: FileFlash::new(vec![0u8; 0x10000], 0, 0x40_0000), ops: Vec::new() };
        let mut c = BlockCache::new(&mut f);
        c.protect([0, 1]);
        c.write(0x5000, &[5; 16]).unwrap(); // unused block
        c.write(0x0100, &[1; 16]).unwrap(); // protected block 0: the group's one
        c.write(0x6000, &[6; 16]).unwrap();
        c.write(0x0200, &[2; 16]).unwrap(); // block 0 again: same group
        c.erase(0x1000, 0x1000).unwrap(); // protected block 1: a new group
        c.write(0x1000, &[3; 16]).unwrap();
        c.write(0x5000, &[7; 16]).unwrap(); // written by the first group: now protected, a third group
        assert!(c.flush().unwrap());
        drop(c);
        assert_eq!(
            f.ops,
            [
                // Group 1: the unused blocks as a run, then block 0 in place (no erase).
                "erase 0x5000+0x2000",
                "write 0x5000+0x2000",
                "write 0x0+0x1000",
                // Group 2: block 1 alone, in place.
                "write 0x1000+0x1000",
                // Group 3: block 5 again.
                "write 0x5000+0x1000",
            ]
        );
        let b = f.inner.bytes();
        assert_eq!((b[0x100], b[0x200], b[0x1000], b[0x1010], b[0x5000], b[0x6000]), (1, 2, 3, 0xFF, 7, 6));
        assert_eq!(&b[0x0..0x10], &[0; 16]);
    }

    #[test]
    fn a_discarded_run_forgets_every_group() {
        let mut f = FileFlash::new(vec![0u8; 0x4000], 0, 0x40_0000);
        let mut c = BlockCache::new(&mut f);
        c.protect([0, 1]);
        c.write(0x0, &[1]).unwrap();
        c.write(0x1000, &[2]).unwrap(); // second protected block: the first group is sealed
        assert!(c.is_dirty());
        c.discard();
        assert!(!c.is_dirty());
        let mut b = [9u8; 1];
        c.read(0x1000, &mut b).unwrap();
        assert_eq!(b, [0]);
        assert!(!c.flush().unwrap());
        drop(c);
        assert!(f.bytes().iter().all(|&x| x == 0));
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
