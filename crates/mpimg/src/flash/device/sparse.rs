//! Sparse reads: which parts of a long read are erased, found with the
//! stub's flash MD5 (SPI_FLASH_MD5) instead of reading them.
//!
//! On a serial link time is bytes, and most of a board's flash is erased. An
//! MD5 costs about 60 bytes on the wire and the chip's time to hash the
//! region (roughly its flash read speed); reading costs every byte at about
//! 90 KB/s (921600 baud). So a read longer than [`PROBE`] first asks the MD5
//! of each 64 KB chunk (on 64 KB flash boundaries): a chunk whose MD5 is the
//! MD5 of erased bytes is not read. A chunk that holds data next to an erased
//! one is likely mixed (the end of an image, the used blocks of a
//! filesystem): it is refined into 4 KB sectors, asked the same way, and
//! only its sectors that hold data are read. Refining costs 16 small
//! commands and the chip's time to hash 64 KB (about the wire time of one
//! sector), so it pays once one sector is found erased; chunks amid data (an
//! app image) are not refined.
//!
//! A shorter read of at least 4 KB (a filesystem block: littlefs fills its
//! metadata and data blocks from the start) has its erased tail trimmed: the
//! MD5 of its upper half is asked, and while that half is erased the lower
//! half is split again, down to 1 KB. A full block costs one small command
//! more; a block with 50 bytes of data is read as 1 KB instead of 4 KB.

use md5::{Digest, Md5};

use crate::flash::SECTOR_SIZE;

/// Chunk asked first; reads no longer than this are read whole.
pub const PROBE: u32 = 0x1_0000;
/// What a mixed chunk is refined into: one flash sector; also the shortest
/// read whose erased tail is trimmed.
pub const FINE: u32 = SECTOR_SIZE;
/// Tail trimming stops at reads this short.
const TAIL_MIN: u32 = 0x400;
/// Where tail trimming cuts: the device cache's unit.
const ALIGN: u32 = 0x80;

/// A part of a planned read: `start..end` (flash offsets), and whether it is erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// First flash offset.
    pub start: u32,
    /// One past the last.
    pub end: u32,
    /// All 0xFF: not read.
    pub erased: bool,
}

/// The MD5 of `len` erased (0xFF) bytes.
pub fn erased_md5(len: u32) -> [u8; 16] {
    let mut h = Md5::new();
    let block = [0xFFu8; 4096];
    let mut left = len as usize;
    while left > 0 {
        let n = left.min(block.len());
        h.update(&block[..n]);
        left -= n;
    }
    h.finalize().into()
}

/// `lo..hi` cut at multiples of `step` (flash offsets), as pieces not yet known erased.
fn split(lo: u32, hi: u32, step: u32) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut at = lo;
    while at < hi {
        let end = ((at / step + 1) * step).min(hi);
        out.push(Piece { start: at, end, erased: false });
        at = end;
    }
    out
}

/// The device's answer to "the MD5 of `len` bytes at `offset`": `coarse`
/// says a 64 KB chunk is asked (else a sector of a refined chunk), for progress.
pub trait Md5Oracle<E>: FnMut(u32, u32, bool) -> Result<[u8; 16], E> {}
impl<E, T: FnMut(u32, u32, bool) -> Result<[u8; 16], E>> Md5Oracle<E> for T {}

/// Ask whether each piece is erased.
fn probe<E>(pieces: &mut [Piece], coarse: bool, md5: &mut impl Md5Oracle<E>) -> Result<(), E> {
    for p in pieces.iter_mut() {
        let len = p.end - p.start;
        p.erased = md5(p.start, len, coarse)? == erased_md5(len);
    }
    Ok(())
}

/// Plan the read of `lo..hi`: which pieces are erased and which to read,
/// neighbours of a kind merged, in order. `md5(offset, len, coarse)` asks
/// the device. A range shorter than [`FINE`] is one piece to read, asked
/// nothing; one no longer than [`PROBE`] has its erased tail trimmed.
pub fn plan<E>(lo: u32, hi: u32, mut md5: impl Md5Oracle<E>) -> Result<Vec<Piece>, E> {
    let len = hi.saturating_sub(lo);
    if len < FINE {
        return Ok(vec![Piece { start: lo, end: hi, erased: false }]);
    }
    if len <= PROBE {
        return trim_tail(lo, hi, &mut md5);
    }
    let mut chunks = split(lo, hi, PROBE);
    probe(&mut chunks, true, &mut md5)?;
    let mut out = Vec::new();
    for i in 0..chunks.len() {
        let c = chunks[i];
        let beside_erased = (i > 0 && chunks[i - 1].erased) || chunks.get(i + 1).is_some_and(|n| n.erased);
        if c.erased || !beside_erased || c.end - c.start <= FINE {
            out.push(c);
            continue;
        }
        let mut fine = split(c.start, c.end, FINE);
        probe(&mut fine, false, &mut md5)?;
        out.extend(fine);
    }
    Ok(merge(out))
}

/// `lo..hi` without its erased tail: halve from the top while the upper half is erased.
fn trim_tail<E>(lo: u32, hi: u32, md5: &mut impl Md5Oracle<E>) -> Result<Vec<Piece>, E> {
    let mut end = hi;
    while end - lo >= 2 * TAIL_MIN {
        let mid = lo + (end - lo) / 2 / ALIGN * ALIGN;
        if md5(mid, end - mid, false)? != erased_md5(end - mid) {
            break;
        }
        end = mid;
    }
    let mut out = vec![Piece { start: lo, end, erased: false }];
    if end < hi {
        out.push(Piece { start: end, end: hi, erased: true });
    }
    Ok(out)
}

fn merge(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match out.last_mut() {
            Some(last) if last.erased == p.erased && last.end == p.start => last.end = p.end,
            _ => out.push(p),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flash of `size` bytes, erased but for `data` ranges; the oracle
    /// counts what it was asked.
    fn oracle(size: u32, data: &[(u32, u32)]) -> (Vec<u8>, Vec<(u32, u32)>) {
        let mut f = vec![0xFFu8; size as usize];
        for &(a, b) in data {
            f[a as usize..b as usize].fill(0x5A);
        }
        (f, Vec::new())
    }

    fn run(lo: u32, hi: u32, flash: &[u8], asked: &mut Vec<(u32, u32)>) -> Vec<(u32, u32, bool)> {
        let pieces = plan(lo, hi, |o, l, _| {
            asked.push((o, l));
            Ok::<_, ()>(Md5::digest(&flash[o as usize..(o + l) as usize]).into())
        })
        .unwrap();
        pieces.into_iter().map(|p| (p.start, p.end, p.erased)).collect()
    }

    #[test]
    fn erased_md5_is_the_md5_of_ff_bytes() {
        for len in [0u32, 1, 4096, 0x1_0000, 0x1_0080] {
            let want: [u8; 16] = Md5::digest(vec![0xFFu8; len as usize]).into();
            assert_eq!(erased_md5(len), want, "{len}");
        }
    }

    #[test]
    fn reads_under_a_sector_ask_nothing() {
        let (f, mut asked) = oracle(0x40_0000, &[]);
        assert_eq!(run(0x1000, 0x1F80, &f, &mut asked), vec![(0x1000, 0x1F80, false)]);
        assert!(asked.is_empty());
    }

    /// A block read (4 KB to 64 KB) loses its erased tail, halving from the
    /// top down to 1 KB; a full block costs one question.
    #[test]
    fn erased_tails_of_short_reads_are_trimmed() {
        let (f, mut asked) =
            oracle(0x40_0000, &[(0x1000, 0x1034), (0x3000, 0x3527), (0x5000, 0x6000), (0x2_0000, 0x2_0034)]);
        assert_eq!(run(0x1000, 0x2000, &f, &mut asked), vec![(0x1000, 0x1400, false), (0x1400, 0x2000, true)]);
        assert_eq!(asked, [(0x1800, 0x800), (0x1400, 0x400)]);
        asked.clear();
        assert_eq!(run(0x3000, 0x4000, &f, &mut asked), vec![(0x3000, 0x3800, false), (0x3800, 0x4000, true)]);
        assert_eq!(asked, [(0x3800, 0x800), (0x3400, 0x400)]);
        asked.clear();
        assert_eq!(run(0x5000, 0x6000, &f, &mut asked), vec![(0x5000, 0x6000, false)]);
        assert_eq!(asked, [(0x5800, 0x800)]);
        asked.clear();
        // 64 KB erased but for its first bytes: halved down to 1 KB.
        assert_eq!(
            run(0x2_0000, 0x3_0000, &f, &mut asked),
            vec![(0x2_0000, 0x2_0400, false), (0x2_0400, 0x3_0000, true)]
        );
        assert_eq!(asked.len(), 6);
        asked.clear();
        assert_eq!(run(0x7000, 0x8000, &f, &mut asked), vec![(0x7000, 0x7400, false), (0x7400, 0x8000, true)]);
    }

    /// A filesystem's shape: used blocks at its start and a run of files in
    /// its middle, the rest erased. Mixed chunks are refined to sectors;
    /// only sectors holding data are read.
    #[test]
    fn erased_chunks_are_skipped_and_mixed_ones_refined() {
        let (f, mut asked) = oracle(0x40_0000, &[(0x20_0000, 0x20_2000), (0x23_3000, 0x25_1100)]);
        let got = run(0x20_0000, 0x40_0000, &f, &mut asked);
        assert_eq!(
            got,
            vec![
                (0x20_0000, 0x20_2000, false),
                (0x20_2000, 0x23_3000, true),
                (0x23_3000, 0x25_2000, false),
                (0x25_2000, 0x40_0000, true),
            ]
        );
        // 32 chunks, then 16 sectors in each of the three mixed chunks
        // (0x200000, 0x230000, 0x250000); 0x240000 lies amid data and is read whole.
        assert_eq!(asked.len(), 32 + 3 * 16);
        assert!(asked[..32].iter().all(|&(o, l)| l == PROBE && o % PROBE == 0));
    }

    /// An app image: data for many chunks, then erased. Only the last
    /// chunk, beside the erased one, is refined.
    #[test]
    fn dense_data_is_not_refined() {
        let (f, mut asked) = oracle(0x40_0000, &[(0x1_0000, 0x18_8000)]);
        let got = run(0x1_0000, 0x20_0000, &f, &mut asked);
        assert_eq!(got, vec![(0x1_0000, 0x18_8000, false), (0x18_8000, 0x20_0000, true)]);
        assert_eq!(asked.len(), 31 + 16);
    }

    /// Ranges that do not start or end on 64 KB boundaries are cut at them;
    /// the partial pieces are asked as they are.
    #[test]
    fn unaligned_ranges_are_cut_at_chunk_boundaries() {
        let (f, mut asked) = oracle(0x40_0000, &[(0x9000, 0x9080)]);
        let got = run(0x8000, 0x2_0080, &f, &mut asked);
        assert_eq!(got, vec![(0x8000, 0x9000, true), (0x9000, 0xA000, false), (0xA000, 0x2_0080, true)]);
        assert_eq!(&asked[..3], &[(0x8000, 0x8000), (0x1_0000, 0x1_0000), (0x2_0000, 0x80)]);
    }

    #[test]
    fn errors_stop_the_plan() {
        let r = plan(0, 0x2_0000, |_, _, _| Err::<[u8; 16], _>("link down"));
        assert_eq!(r, Err("link down"));
    }
}
