//! Device backend of the flash abstraction: the flash of a serial-attached
//! ESP32, through one loader connection for the whole run.
//!
//! Reads go through a cache of 128-byte chunks, so no region is read twice in
//! a run and a header costs 128 bytes on the wire, not a sector. Reads longer
//! than 64 KB are sparse ([`sparse`]): the flash MD5 of each 64 KB chunk (and
//! of the 4 KB sectors of mixed chunks) tells which parts are erased, and
//! those are not read.
//! Writes cover whole sectors (unaligned edges are read, merged and written
//! back), skip sectors known to hold the new bytes already (from the cache,
//! or, for runs of sectors the cache does not know to differ, the device's MD5), go out compressed, and are
//! verified with the flash MD5: a mismatch or a link error is retried once,
//! then reported with what was and was not written.

mod error;
mod link;
mod progress;
pub mod sparse;

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use serde::Serialize;

pub use error::{ranges_text, DeviceError};
pub use link::{serial_ports, DeviceFacts, WireStats, ROM_BAUD};
pub use progress::{bars_allowed, BarGroup, Progress, MIN_BAR};

use link::Link;

use super::{align_up, check_erase_alignment, Flash, FlashError, SECTOR_SIZE};
use crate::format::chip::Chip;

/// Largest chunk written (and verified) in one FLASH_DEFL stream: an
/// interrupted write loses at most this much progress.
const WRITE_CHUNK: u32 = 0x4_0000;
/// Unit of the read cache.
const CHUNK: u32 = 0x80;

/// What the read cache knows of a sector about to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// It holds the new bytes already.
    Same,
    /// Some of its bytes differ.
    Differs,
    /// Not all of it was read; what was read matches.
    Unknown,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct DeviceOptions {
    /// Baud rate to switch to after connecting (lower standard rates are tried if refused).
    pub baud: u32,
    /// Hard reset when the run ends (`-n` turns it off).
    pub reset: bool,
    /// Progress bars allowed (see [`bars_allowed`]).
    pub progress: bool,
    /// Where the bars go when several boards are worked on at once (each
    /// board's bar labelled with its port); `None`: on their own.
    pub bars: Option<BarGroup>,
}

impl Default for DeviceOptions {
    /// 921600 baud, reset at the end, no progress bars.
    fn default() -> Self {
        DeviceOptions { baud: 921_600, reset: true, progress: false, bars: None }
    }
}

/// Sectors moved in this run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SectorCounts {
    /// Bytes of flash read (in 128-byte chunks).
    pub bytes_read: u64,
    /// Bytes of flash a read skipped: the flash MD5 showed them erased.
    pub bytes_skipped: u64,
    /// Sectors written.
    pub written: u64,
    /// Sectors erased.
    pub erased: u64,
    /// Sectors a write found already holding the new bytes.
    pub unchanged: u64,
}

/// The flash of a serial-attached device.
pub struct DeviceFlash {
    link: Link,
    size: u32,
    cache: BTreeMap<u32, Vec<u8>>,
    /// Ranges written (or erased) and verified in this run.
    done: Vec<(u32, u32)>,
    opts: DeviceOptions,
    /// Sectors and bytes moved so far.
    pub counts: SectorCounts,
}

impl DeviceFlash {
    /// Connect to the device on `port`.
    pub fn open(port: &str, opts: DeviceOptions) -> Result<DeviceFlash, DeviceError> {
        let link = Link::connect(port, opts.baud)?;
        let size = link.facts.flash_size;
        Ok(DeviceFlash { link, size, cache: BTreeMap::new(), done: Vec::new(), opts, counts: SectorCounts::default() })
    }

    /// The chip it is.
    pub fn chip(&self) -> &'static Chip {
        self.link.chip
    }

    /// What it said about itself.
    pub fn facts(&self) -> &DeviceFacts {
        &self.link.facts
    }

    /// What this connection put on the link so far.
    pub fn wire(&self) -> &WireStats {
        &self.link.stats
    }

    /// Ranges written or erased and verified so far (not those found to
    /// hold the bytes already).
    pub fn done(&self) -> &[(u32, u32)] {
        &self.done
    }

    fn check(&self, offset: u32, len: usize) -> Result<u32, FlashError> {
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        if u64::from(offset) + len as u64 > u64::from(self.size) {
            return Err(FlashError::PastEnd { offset, len: len32, size: self.size });
        }
        Ok(len32)
    }

    /// Read the chunks in `lo..hi` (chunk aligned) that are not cached, one
    /// stream per run of missing chunks, under one progress bar. With
    /// `sparse`, runs longer than [`sparse::PROBE`] are first asked which
    /// parts are erased, and those are filled in without reading them.
    fn fill(&mut self, lo: u32, hi: u32, sparse: bool) -> Result<(), DeviceError> {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for c in (lo..hi).step_by(CHUNK as usize) {
            if self.cache.contains_key(&c) {
                continue;
            }
            match runs.last_mut() {
                Some(r) if r.1 == c => r.1 = c + CHUNK,
                _ => runs.push((c, c + CHUNK)),
            }
        }
        if sparse && runs.iter().any(|r| r.1 - r.0 >= sparse::FINE) {
            runs = self.skip_erased(runs)?;
        }
        let total: u64 = runs.iter().map(|r| u64::from(r.1 - r.0)).sum();
        let mut bar = self.bar("Reading", total);
        let mut done = 0u64;
        for (start, end) in runs {
            bar.set_base(done);
            let data = self.read_retry(start, end - start, &mut bar)?;
            self.insert(start, &data);
            self.counts.bytes_read += u64::from(end - start);
            done += u64::from(end - start);
        }
        bar.finish();
        Ok(())
    }

    /// Plan each long run with the flash MD5 ([`sparse::plan`]): erased
    /// pieces go into the cache as 0xFF; returns the pieces left to read.
    fn skip_erased(&mut self, runs: Vec<(u32, u32)>) -> Result<Vec<(u32, u32)>, DeviceError> {
        let asked: u64 = runs.iter().filter(|r| r.1 - r.0 > sparse::PROBE).map(|r| u64::from(r.1 - r.0)).sum();
        let mut bar = self.bar("Checking", asked);
        let mut checked = 0u64;
        let mut left = Vec::new();
        for (start, end) in runs {
            let pieces = sparse::plan(start, end, |offset, len, coarse| {
                let r = self.md5_retry(offset, len);
                if coarse {
                    checked += u64::from(len);
                    bar.set(checked);
                }
                r
            })?;
            for p in pieces {
                if p.erased {
                    self.insert(p.start, &vec![0xFF; (p.end - p.start) as usize]);
                    self.counts.bytes_skipped += u64::from(p.end - p.start);
                } else {
                    left.push((p.start, p.end));
                }
            }
        }
        bar.finish();
        Ok(left)
    }

    fn md5_retry(&mut self, offset: u32, len: u32) -> Result<[u8; 16], DeviceError> {
        let r = self.link.md5(offset, len);
        if r.is_err() && self.link.recover() {
            return self.link.md5(offset, len);
        }
        r
    }

    /// A progress bar for a transfer of `total` bytes (see [`Progress::new`]).
    fn bar(&self, what: &str, total: u64) -> Progress {
        Progress::new(self.opts.progress, self.opts.bars.as_ref(), &self.link.facts.port, what, total)
    }

    fn insert(&mut self, offset: u32, data: &[u8]) {
        for (i, c) in data.chunks(CHUNK as usize).enumerate() {
            self.cache.insert(offset + i as u32 * CHUNK, c.to_vec());
        }
    }

    /// The cached bytes of `len` bytes at `offset` (chunk aligned), if all are cached.
    fn cached(&self, offset: u32, len: u32) -> Option<Vec<u8>> {
        let mut v = Vec::with_capacity(len as usize);
        for c in (offset..offset + len).step_by(CHUNK as usize) {
            v.extend_from_slice(self.cache.get(&c)?);
        }
        Some(v)
    }

    fn read_retry(&mut self, offset: u32, len: u32, bar: &mut Progress) -> Result<Vec<u8>, DeviceError> {
        let r = self.link.read(offset, len, bar);
        if r.is_err() && self.link.recover() {
            return self.link.read(offset, len, bar);
        }
        r
    }

    fn remember(&mut self, offset: u32, data: &[u8]) {
        self.insert(offset, data);
        match self.done.last_mut() {
            Some(last) if last.1 == offset => last.1 = offset + data.len() as u32,
            _ => self.done.push((offset, offset + data.len() as u32)),
        }
    }

    /// Write one sector-aligned chunk and verify it; `end` is where the
    /// caller's whole write ends (for the interruption report).
    fn write_chunk(&mut self, offset: u32, data: &[u8], end: u32, bar: &mut Progress) -> Result<(), DeviceError> {
        let len = data.len() as u32;
        let want: [u8; 16] = Md5::digest(data).into();
        let erased = data.iter().all(|&b| b == 0xFF);
        // Whether an attempt may have left the chunk half written.
        let mut torn = false;
        for attempt in 0..2 {
            let r = if erased {
                self.link.erase(offset, len).and_then(|()| self.link.md5(offset, len))
            } else {
                let w = self.link.write_deflated(offset, data, bar);
                torn |= w.is_err() && self.link.stream.torn();
                w.and_then(|()| self.link.md5(offset, len))
            };
            match r {
                Ok(got) if got == want => {
                    if erased {
                        self.counts.erased += u64::from(len / SECTOR_SIZE);
                    } else {
                        self.counts.written += u64::from(len / SECTOR_SIZE);
                    }
                    self.remember(offset, data);
                    return Ok(());
                }
                Ok(_) if attempt == 0 => continue,
                Ok(_) => return Err(DeviceError::Unverified { offset, len }),
                Err(_) if attempt == 0 && self.link.recover() => continue,
                Err(e) => {
                    return Err(DeviceError::Interrupted {
                        start: offset,
                        end,
                        done: self.done.clone(),
                        torn: torn.then_some(offset + len),
                        cause: Box::new(e),
                    })
                }
            }
        }
        Err(DeviceError::Unverified { offset, len })
    }

    /// Write sector-aligned `buf` at `lo`, skipping sectors that hold it already.
    fn write_aligned(&mut self, lo: u32, buf: &[u8]) -> Result<(), DeviceError> {
        let sectors = buf.len() / SECTOR_SIZE as usize;
        let sector = |i: usize| &buf[i * SECTOR_SIZE as usize..(i + 1) * SECTOR_SIZE as usize];
        let known = |i: usize, me: &Self| me.compare(lo + (i as u32) * SECTOR_SIZE, sector(i));
        let end = lo + buf.len() as u32;
        let mut bar = self.bar("Writing", buf.len() as u64);
        let mut i = 0;
        while i < sectors {
            if known(i, self) == Known::Same {
                self.counts.unchanged += 1;
                i += 1;
                continue;
            }
            let first = i;
            let mut differs = false;
            while i < sectors && (i - first) < (WRITE_CHUNK / SECTOR_SIZE) as usize {
                match known(i, self) {
                    Known::Same => break,
                    Known::Differs => differs = true,
                    Known::Unknown => {}
                }
                i += 1;
            }
            let at = lo + first as u32 * SECTOR_SIZE;
            let chunk = &buf[first * SECTOR_SIZE as usize..i * SECTOR_SIZE as usize];
            bar.set_base((first * SECTOR_SIZE as usize) as u64);
            // Not known to differ: one MD5 (a few dozen bytes) may save the write.
            if !differs {
                let want: [u8; 16] = Md5::digest(chunk).into();
                if self.link.md5(at, chunk.len() as u32).ok() == Some(want) {
                    self.counts.unchanged += (i - first) as u64;
                    // Known now, but not written: not in `done`.
                    self.insert(at, chunk);
                    continue;
                }
            }
            self.write_chunk(at, chunk, end, &mut bar)?;
        }
        bar.finish();
        Ok(())
    }

    /// What the cache knows of the sector at `at` against `new`.
    fn compare(&self, at: u32, new: &[u8]) -> Known {
        let mut all = true;
        for (i, want) in new.chunks(CHUNK as usize).enumerate() {
            match self.cache.get(&(at + i as u32 * CHUNK)) {
                Some(have) if have[..] != *want => return Known::Differs,
                Some(_) => {}
                None => all = false,
            }
        }
        if all {
            Known::Same
        } else {
            Known::Unknown
        }
    }

    /// Read through the cache, sparse or not (see [`DeviceFlash::fill`]).
    fn read_cached(&mut self, offset: u32, buf: &mut [u8], sparse: bool) -> Result<(), FlashError> {
        let len = self.check(offset, buf.len())?;
        if len == 0 {
            return Ok(());
        }
        let lo = offset - offset % CHUNK;
        let hi = align_up(offset + len, CHUNK);
        self.fill(lo, hi, sparse).map_err(dev)?;
        let mut pos = 0usize;
        let mut s = lo;
        while s < hi {
            let chunk = &self.cache[&s];
            let from = offset.max(s) - s;
            let to = (offset + len).min(s + CHUNK) - s;
            let n = (to - from) as usize;
            buf[pos..pos + n].copy_from_slice(&chunk[from as usize..to as usize]);
            pos += n;
            s += CHUNK;
        }
        Ok(())
    }

    /// Hard reset now (if allowed) and close the port.
    pub fn close(mut self) {
        self.reset_if_asked();
    }

    fn reset_if_asked(&mut self) {
        if self.opts.reset {
            self.opts.reset = false;
            self.link.hard_reset();
        }
    }
}

impl Drop for DeviceFlash {
    fn drop(&mut self) {
        self.reset_if_asked();
    }
}

fn dev(e: DeviceError) -> FlashError {
    FlashError::Device(e)
}

impl DeviceFlash {
    /// The whole sectors around `len` bytes at `offset` with `data` in
    /// place: unaligned edges keep what the device holds around them.
    /// Returns the first sector's offset and the bytes.
    fn sectors_with(&mut self, offset: u32, data: &[u8]) -> Result<(u32, Vec<u8>), FlashError> {
        let len = self.check(offset, data.len())?;
        let lo = offset - offset % SECTOR_SIZE;
        let hi = align_up(offset + len, SECTOR_SIZE);
        let mut buf = vec![0xFF; (hi - lo) as usize];
        let missing = || dev(DeviceError::Protocol { what: "sector missing from the cache".into() });
        if offset > lo {
            self.fill(lo, lo + SECTOR_SIZE, false).map_err(dev)?;
            let old = self.cached(lo, SECTOR_SIZE).ok_or_else(missing)?;
            buf[..SECTOR_SIZE as usize].copy_from_slice(&old);
        }
        if offset + len < hi {
            let last = hi - SECTOR_SIZE;
            self.fill(last, hi, false).map_err(dev)?;
            let old = self.cached(last, SECTOR_SIZE).ok_or_else(missing)?;
            let at = (last - lo) as usize;
            buf[at..].copy_from_slice(&old);
        }
        let at = (offset - lo) as usize;
        buf[at..at + data.len()].copy_from_slice(data);
        Ok((lo, buf))
    }
}

impl Flash for DeviceFlash {
    fn detected_size(&self) -> Option<u32> {
        Some(self.size)
    }

    fn reads_are_slow(&self) -> bool {
        true
    }

    fn start(&self) -> u32 {
        0
    }

    fn data_end(&self) -> u32 {
        self.size
    }

    fn capacity(&self) -> u32 {
        self.size
    }

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.read_cached(offset, buf, true)
    }

    fn read_dense(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.read_cached(offset, buf, false)
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        if data.is_empty() {
            return Ok(());
        }
        let (lo, buf) = self.sectors_with(offset, data)?;
        self.write_aligned(lo, &buf).map_err(dev)
    }

    fn write_whole(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        if data.is_empty() {
            return Ok(());
        }
        let (lo, buf) = self.sectors_with(offset, data)?;
        let len = buf.len() as u32;
        if self.cached(lo, len).is_some_and(|c| c == buf) {
            self.counts.unchanged += u64::from(len / SECTOR_SIZE);
            return Ok(());
        }
        let want: [u8; 16] = Md5::digest(&buf).into();
        if self.cached(lo, len).is_none() && self.link.md5(lo, len).ok() == Some(want) {
            self.counts.unchanged += u64::from(len / SECTOR_SIZE);
            self.insert(lo, &buf);
            return Ok(());
        }
        // More than one frame cannot land all or nothing: the first sector
        // (an image's header) then goes last, as for any backend.
        if buf.len() > WRITE_CHUNK as usize || self.link.frames_for(&buf).map_err(dev)? > 1 {
            let first = SECTOR_SIZE as usize;
            let r = if buf.len() > first { self.write_aligned(lo + SECTOR_SIZE, &buf[first..]) } else { Ok(()) };
            // Cut anywhere in these transfers, the range may be part new, part old.
            return r.and_then(|()| self.write_aligned(lo, &buf[..first.min(buf.len())])).map_err(|e| match e {
                DeviceError::Interrupted { start, end, done, cause, .. } => {
                    dev(DeviceError::Interrupted { start, end, done, torn: Some(lo + len), cause })
                }
                other => dev(other),
            });
        }
        let mut bar = self.bar("Writing", u64::from(len));
        self.write_chunk(lo, &buf, lo + len, &mut bar).map_err(dev)?;
        bar.finish();
        Ok(())
    }

    fn holds(&mut self, offset: u32, data: &[u8]) -> Result<bool, FlashError> {
        let len = self.check(offset, data.len())?;
        if len == 0 {
            return Ok(true);
        }
        let want: [u8; 16] = Md5::digest(data).into();
        let r = self.link.md5(offset, len);
        let r = if r.is_err() && self.link.recover() { self.link.md5(offset, len) } else { r };
        Ok(r.map_err(dev)? == want)
    }

    fn erase(&mut self, offset: u32, len: u32) -> Result<(), FlashError> {
        check_erase_alignment(offset, len)?;
        self.check(offset, len as usize)?;
        if len == 0 {
            return Ok(());
        }
        // Erase as a write of 0xFF: sectors known to be erased are skipped,
        // and each run goes out as one verified ERASE_REGION.
        self.write_aligned(offset, &vec![0xFF; len as usize]).map_err(dev)
    }
}
