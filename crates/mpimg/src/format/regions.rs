//! Flash contents as separate regions (bytes at flash addresses with gaps
//! between them), what Intel HEX and UF2 files carry, and the conversion to
//! and from one contiguous image that starts at its lowest address.

use thiserror::Error;

/// Bytes that belong at flash offset `addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Flash offset of `data[0]`.
    pub addr: u32,
    /// The bytes.
    pub data: Vec<u8>,
}

impl Region {
    /// Flash offset one past the last byte (u64: a region may end at 4 GB).
    pub fn end(&self) -> u64 {
        u64::from(self.addr) + self.data.len() as u64
    }
}

/// Regions that cannot be joined into one image.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum RegionError {
    /// Nothing to join.
    #[error("the file holds no data")]
    Empty,
    /// Two regions share a byte.
    #[error("data at {addr:#x} (+{len:#x}) overlaps data given earlier for {other:#x}..{other_end:#x}")]
    Overlap {
        /// Flash offset of the later region.
        addr: u32,
        /// Its length in bytes.
        len: usize,
        /// Flash offset of the region it overlaps.
        other: u32,
        /// Where that region ends (exclusive).
        other_end: u64,
    },
    /// More than any flash holds between the first and the last byte.
    #[error("the data spans {first:#x}..{end:#x}, more than the largest flash (128 MB)")]
    TooLarge {
        /// Flash offset of the first byte.
        first: u32,
        /// Flash offset past the last byte.
        end: u64,
    },
}

/// Largest span of flash one image may cover (the largest ESP flash, 128 MB).
pub const MAX_SPAN: u64 = 128 << 20;

/// Sort `regions` by address and join the ones that touch.
///
/// # Errors
/// [`RegionError::Overlap`] when two regions share a byte (even an equal one:
/// a file that gives an address twice is not what a writer means).
pub fn merge(mut regions: Vec<Region>) -> Result<Vec<Region>, RegionError> {
    regions.retain(|r| !r.data.is_empty());
    regions.sort_by_key(|r| r.addr);
    let mut out: Vec<Region> = Vec::with_capacity(regions.len());
    for r in regions {
        match out.last_mut() {
            Some(last) if last.end() > u64::from(r.addr) => {
                return Err(RegionError::Overlap {
                    addr: r.addr,
                    len: r.data.len(),
                    other: last.addr,
                    other_end: last.end(),
                })
            }
            Some(last) if last.end() == u64::from(r.addr) => last.data.extend_from_slice(&r.data),
            _ => out.push(r),
        }
    }
    Ok(out)
}

/// One image from the lowest address to the end of the highest region, the
/// gaps filled with 0xFF (erased flash): `(first address, bytes)`.
///
/// # Errors
/// [`RegionError::Empty`] without data, [`RegionError::Overlap`] as in
/// [`merge`], [`RegionError::TooLarge`] past 128 MB from the first byte.
pub fn flatten(regions: Vec<Region>) -> Result<(u32, Vec<u8>), RegionError> {
    let regions = merge(regions)?;
    let (Some(first), Some(last)) = (regions.first(), regions.last()) else { return Err(RegionError::Empty) };
    let (start, end) = (first.addr, last.end());
    if end - u64::from(start) > MAX_SPAN {
        return Err(RegionError::TooLarge { first: start, end });
    }
    let mut out = vec![0xFF; (end - u64::from(start)) as usize];
    for r in &regions {
        let at = (r.addr - start) as usize;
        out[at..at + r.data.len()].copy_from_slice(&r.data);
    }
    Ok((start, out))
}

/// Cut the image `bytes` (whose first byte is at flash offset `start`) into
/// the regions that `keep` (ranges of flash offsets, end exclusive, in any
/// order, may overlap) covers; neighbouring and overlapping ranges become one
/// region. Ranges are clipped to the image.
pub fn cut(start: u32, bytes: &[u8], keep: &[(u32, u64)]) -> Vec<Region> {
    let end = u64::from(start) + bytes.len() as u64;
    let mut ranges: Vec<(u64, u64)> = keep
        .iter()
        .map(|&(lo, hi)| (u64::from(lo).max(u64::from(start)), hi.min(end)))
        .filter(|(lo, hi)| lo < hi)
        .collect();
    ranges.sort_unstable();
    let mut joined: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match joined.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => joined.push((lo, hi)),
        }
    }
    let base = u64::from(start);
    joined
        .into_iter()
        .map(|(lo, hi)| Region { addr: lo as u32, data: bytes[(lo - base) as usize..(hi - base) as usize].to_vec() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(addr: u32, data: &[u8]) -> Region {
        Region { addr, data: data.to_vec() }
    }

    #[test]
    fn merge_sorts_joins_touching_and_refuses_overlaps() {
        let m = merge(vec![r(0x20, &[3]), r(0x10, &[1, 2]), r(0x12, &[9]), r(0x30, &[])]).unwrap();
        assert_eq!(m, vec![r(0x10, &[1, 2, 9]), r(0x20, &[3])]);
        assert_eq!(
            merge(vec![r(0x10, &[1, 2]), r(0x11, &[2])]).unwrap_err().to_string(),
            "data at 0x11 (+0x1) overlaps data given earlier for 0x10..0x12"
        );
    }

    #[test]
    fn flatten_fills_gaps_with_erased_bytes() {
        assert_eq!(flatten(vec![r(0x1003, &[7]), r(0x1000, &[1, 2])]).unwrap(), (0x1000, vec![1, 2, 0xFF, 7]));
        assert_eq!(flatten(vec![]).unwrap_err(), RegionError::Empty);
        assert_eq!(
            flatten(vec![r(0, &[1]), r(0x800_0000, &[2])]).unwrap_err().to_string(),
            "the data spans 0x0..0x8000001, more than the largest flash (128 MB)"
        );
    }

    #[test]
    fn cut_keeps_the_ranges_asked_for_clipped_and_joined() {
        let bytes: Vec<u8> = (0..32).collect();
        let got = cut(0x100, &bytes, &[(0x118, 0x200), (0x0, 0x104), (0x102, 0x106), (0x110, 0x118), (0x300, 0x400)]);
        assert_eq!(got, vec![r(0x100, &bytes[..6]), r(0x110, &bytes[16..])]);
        assert!(cut(0, &bytes, &[]).is_empty());
    }
}
