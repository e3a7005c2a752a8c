//! UF2: flash contents as 512-byte blocks, each naming its flash address,
//! for USB mass-storage flashing (Microsoft's UF2 specification,
//! github.com/microsoft/uf2; Espressif's ESP USB Bridge takes it).
//!
//! A block, all fields u32 little-endian:
//!
//! ```text
//! 0    0x0A324655  first magic
//! 4    0x9E5D5157  second magic
//! 8    flags       0x2000 family id present, 0x4000 MD5 present,
//!                  0x0001 not main flash, 0x1000 file container
//! 12   flash address of the payload
//! 16   payload size (at most 476)
//! 20   block number, 24 number of blocks
//! 28   family id (which chip the file is for)
//! 32   data (476 bytes: payload, then the optional MD5 part, zeros)
//! 508  0x0AB16F30  final magic
//! ```
//!
//! [`write`] writes what esptool's `merge-bin --format uf2` writes for the
//! same pieces: 452 payload bytes per block followed by the MD5 part (the
//! payload's address and length, u32 each, and the MD5 of the payload),
//! flags 0x6000, the chip's family id, and blocks numbered from 0 within each
//! region (esptool numbers them per input file). That numbering matters: the
//! ESP USB Bridge joins blocks whose numbers follow each other into one
//! write, so a new region must restart the count.

use md5::{Digest, Md5};
use thiserror::Error;

use super::chip::{Chip, CHIPS};
use super::regions::Region;

/// Bytes of one UF2 block.
pub const BLOCK_LEN: usize = 512;
const MAGIC_START0: u32 = 0x0A32_4655;
const MAGIC_START1: u32 = 0x9E5D_5157;
const MAGIC_END: u32 = 0x0AB1_6F30;
const FLAG_NOT_MAIN_FLASH: u32 = 0x0000_0001;
const FLAG_FILE_CONTAINER: u32 = 0x0000_1000;
const FLAG_FAMILY_ID: u32 = 0x0000_2000;
const FLAG_MD5: u32 = 0x0000_4000;
/// Room for data in a block.
const DATA_LEN: usize = 476;
/// The MD5 part: address, length, digest.
const MD5_PART_LEN: usize = 24;
/// Payload per block when the MD5 part follows it (esptool's default).
pub const PAYLOAD_LEN: usize = DATA_LEN - MD5_PART_LEN;

/// The UF2 family id of a chip (by esptool's name, e.g. `esp32c3`), from the chip table.
pub fn family_id(chip: &str) -> Option<u32> {
    Chip::by_name(chip).and_then(|c| c.uf2_family_id)
}

/// The chip a UF2 family id stands for, if it is an ESP32 one.
pub fn chip_of_family(id: u32) -> Option<&'static str> {
    CHIPS.iter().find(|c| c.uf2_family_id == Some(id)).map(|c| c.name)
}

/// Why a UF2 file could not be read; `block` counts from 0 (file offset = block × 512).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum Uf2Error {
    /// Not whole blocks.
    #[error("UF2: the file is {len} bytes, not a whole number of 512-byte blocks: it is truncated")]
    Length {
        /// The file's length in bytes.
        len: usize,
    },
    /// A block without UF2's magic numbers.
    #[error("UF2 block {block}: bad magic numbers, not a UF2 block")]
    Magic {
        /// Block number in the file (from 0).
        block: usize,
    },
    /// A payload larger than a block holds.
    #[error("UF2 block {block}: payload of {len} bytes, more than the 476 a block holds")]
    Payload {
        /// Block number in the file (from 0).
        block: usize,
        /// The payload size the block gives.
        len: u32,
    },
    /// A block of a file container, not of flash contents.
    #[error("UF2 block {block}: a file container block (flag 0x1000), not flash contents")]
    FileContainer {
        /// Block number in the file (from 0).
        block: usize,
    },
    /// Blocks for two chip families.
    #[error("UF2 block {block}: family id {found:#010x} ({}), but earlier blocks have {first:#010x} ({})", family_name(*found), family_name(*first))]
    MixedFamilies {
        /// Block number in the file (from 0).
        block: usize,
        /// This block's family id.
        found: u32,
        /// The earlier blocks' family id.
        first: u32,
    },
    /// Data for an address that another block gave already.
    #[error("UF2 block {block}: data at {addr:#x} (+{len:#x}) overlaps block {other}")]
    Overlap {
        /// Block number in the file (from 0).
        block: usize,
        /// The block's flash address.
        addr: u32,
        /// Its payload size.
        len: u32,
        /// The block it overlaps.
        other: usize,
    },
    /// Data beyond 32-bit addresses.
    #[error("UF2 block {block}: data at {addr:#x} lies past 4 GB")]
    PastEnd {
        /// Block number in the file (from 0).
        block: usize,
        /// The block's flash address.
        addr: u32,
    },
}

fn family_name(id: u32) -> &'static str {
    chip_of_family(id).unwrap_or("not an ESP32 chip")
}

/// What a UF2 file holds for main flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uf2Contents {
    /// Sorted, joined where they touch.
    pub regions: Vec<Region>,
    /// The family id of its blocks (`None` when no block names one).
    pub family_id: Option<u32>,
}

fn put_u32(block: &mut [u8], at: usize, v: u32) {
    block[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn u32_at(block: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([block[at], block[at + 1], block[at + 2], block[at + 3]])
}

/// The UF2 blocks of `regions` (sorted, not overlapping) for family `family_id`.
pub fn write(regions: &[Region], family_id: u32) -> Vec<u8> {
    let total: usize = regions.iter().map(|r| r.data.len().div_ceil(PAYLOAD_LEN)).sum();
    let mut out = Vec::with_capacity(total * BLOCK_LEN);
    for r in regions {
        let count = r.data.len().div_ceil(PAYLOAD_LEN) as u32;
        for (i, chunk) in r.data.chunks(PAYLOAD_LEN).enumerate() {
            let addr = r.addr + (i * PAYLOAD_LEN) as u32;
            let mut block = [0u8; BLOCK_LEN];
            put_u32(&mut block, 0, MAGIC_START0);
            put_u32(&mut block, 4, MAGIC_START1);
            put_u32(&mut block, 8, FLAG_FAMILY_ID | FLAG_MD5);
            put_u32(&mut block, 12, addr);
            put_u32(&mut block, 16, chunk.len() as u32);
            put_u32(&mut block, 20, i as u32);
            put_u32(&mut block, 24, count);
            put_u32(&mut block, 28, family_id);
            let data = 32;
            block[data..data + chunk.len()].copy_from_slice(chunk);
            let md5 = data + chunk.len();
            put_u32(&mut block, md5, addr);
            put_u32(&mut block, md5 + 4, chunk.len() as u32);
            block[md5 + 8..md5 + MD5_PART_LEN].copy_from_slice(&Md5::digest(chunk));
            put_u32(&mut block, BLOCK_LEN - 4, MAGIC_END);
            out.extend_from_slice(&block);
        }
    }
    out
}

/// Whether `bytes` starts like a UF2 file.
pub fn looks_like_uf2(bytes: &[u8]) -> bool {
    bytes.len() >= BLOCK_LEN && u32_at(bytes, 0) == MAGIC_START0 && u32_at(bytes, 4) == MAGIC_START1
}

/// The main-flash contents of a UF2 file. Blocks flagged "not main flash"
/// are skipped; the MD5 part is not checked (it lets a flasher skip
/// unchanged flash; the payload carries no checksum of its own).
///
/// # Errors
/// [`Uf2Error`] naming the block: a length that is not whole blocks, bad
/// magic numbers, an oversized payload, file-container blocks, blocks of
/// two families, data given twice for an address.
pub fn read(bytes: &[u8]) -> Result<Uf2Contents, Uf2Error> {
    if !bytes.len().is_multiple_of(BLOCK_LEN) {
        return Err(Uf2Error::Length { len: bytes.len() });
    }
    let mut pieces: Vec<(u32, &[u8], usize)> = Vec::new();
    let mut family: Option<u32> = None;
    for (block, b) in bytes.chunks_exact(BLOCK_LEN).enumerate() {
        if u32_at(b, 0) != MAGIC_START0 || u32_at(b, 4) != MAGIC_START1 || u32_at(b, BLOCK_LEN - 4) != MAGIC_END {
            return Err(Uf2Error::Magic { block });
        }
        let flags = u32_at(b, 8);
        if flags & FLAG_FILE_CONTAINER != 0 {
            return Err(Uf2Error::FileContainer { block });
        }
        if flags & FLAG_NOT_MAIN_FLASH != 0 {
            continue;
        }
        let (addr, len) = (u32_at(b, 12), u32_at(b, 16));
        if len as usize > DATA_LEN {
            return Err(Uf2Error::Payload { block, len });
        }
        if u64::from(addr) + u64::from(len) > 1 << 32 {
            return Err(Uf2Error::PastEnd { block, addr });
        }
        if flags & FLAG_FAMILY_ID != 0 {
            let found = u32_at(b, 28);
            match family {
                Some(first) if first != found => return Err(Uf2Error::MixedFamilies { block, found, first }),
                _ => family = Some(found),
            }
        }
        if len > 0 {
            pieces.push((addr, &b[32..32 + len as usize], block));
        }
    }
    pieces.sort_by_key(|p| p.0);
    let mut regions: Vec<Region> = Vec::new();
    let mut prev: Option<(u64, usize)> = None;
    for (addr, data, block) in pieces {
        let start = u64::from(addr);
        match prev {
            Some((end, other)) if start < end => {
                return Err(Uf2Error::Overlap { block, addr, len: data.len() as u32, other })
            }
            Some((end, _)) if start == end => {
                if let Some(last) = regions.last_mut() {
                    last.data.extend_from_slice(data);
                }
            }
            _ => regions.push(Region { addr, data: data.to_vec() }),
        }
        prev = Some((start + data.len() as u64, block));
    }
    Ok(Uf2Contents { regions, family_id: family })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(addr: u32, data: Vec<u8>) -> Region {
        Region { addr, data }
    }

    #[test]
    fn blocks_are_laid_out_as_esptool_writes_them() {
        let data: Vec<u8> = (0..500u32).map(|i| i as u8).collect();
        let out = write(&[r(0x1000, data.clone()), r(0x8000, vec![0xAA, 0x50])], 0x1C5F_21B0);
        assert_eq!(out.len(), 3 * BLOCK_LEN);
        let header = |b: usize| -> Vec<u32> { (0..8).map(|i| u32_at(&out[b * BLOCK_LEN..], i * 4)).collect() };
        assert_eq!(header(0), [MAGIC_START0, MAGIC_START1, 0x6000, 0x1000, 452, 0, 2, 0x1C5F_21B0]);
        assert_eq!(header(1), [MAGIC_START0, MAGIC_START1, 0x6000, 0x1000 + 452, 48, 1, 2, 0x1C5F_21B0]);
        assert_eq!(header(2), [MAGIC_START0, MAGIC_START1, 0x6000, 0x8000, 2, 0, 1, 0x1C5F_21B0]);
        let b1 = &out[BLOCK_LEN..2 * BLOCK_LEN];
        assert_eq!(&b1[32..80], &data[452..]);
        // MD5 part right after the payload: address, length, digest.
        assert_eq!(u32_at(b1, 80), 0x1000 + 452);
        assert_eq!(u32_at(b1, 84), 48);
        assert_eq!(b1[88..104], Md5::digest(&data[452..])[..]);
        assert!(b1[104..508].iter().all(|&x| x == 0));
        assert_eq!(u32_at(b1, 508), MAGIC_END);
        assert_eq!(
            read(&out).unwrap(),
            Uf2Contents { regions: vec![r(0x1000, data), r(0x8000, vec![0xAA, 0x50])], family_id: Some(0x1C5F_21B0) }
        );
    }

    #[test]
    fn family_ids_by_chip() {
        assert_eq!(family_id("esp32c3"), Some(0xD42B_A06C));
        assert_eq!(family_id("esp32s3"), Some(0xC47E_5767));
        assert_eq!(family_id("esp8266"), None);
        assert_eq!(family_id("esp32e22"), None);
        assert_eq!(chip_of_family(0x1C5F_21B0), Some("esp32"));
        assert_eq!(chip_of_family(0xE48B_FF56), None);
    }

    #[test]
    fn read_skips_other_memories_and_refuses_what_is_not_flash_contents() {
        let one = write(&[r(0x0, vec![1, 2, 3])], 0xD42B_A06C);
        let mut other = write(&[r(0x0, vec![9])], 0xD42B_A06C);
        put_u32(&mut other, 8, FLAG_NOT_MAIN_FLASH);
        let both = [one.clone(), other.clone()].concat();
        assert_eq!(read(&both).unwrap().regions, vec![r(0, vec![1, 2, 3])]);

        let mut bad = one.clone();
        bad[508] = 0;
        let mut container = one.clone();
        put_u32(&mut container, 8, FLAG_FILE_CONTAINER);
        let mut big = one.clone();
        put_u32(&mut big, 16, 477);
        let s3 = write(&[r(0x10, vec![5])], 0xC47E_5767);
        let twice = write(&[r(0x2, vec![7])], 0xD42B_A06C);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (one[..511].to_vec(), "UF2: the file is 511 bytes, not a whole number of 512-byte blocks: it is truncated"),
            ([one.clone(), bad].concat(), "UF2 block 1: bad magic numbers, not a UF2 block"),
            (container, "UF2 block 0: a file container block (flag 0x1000), not flash contents"),
            (big, "UF2 block 0: payload of 477 bytes, more than the 476 a block holds"),
            (
                [one.clone(), s3].concat(),
                "UF2 block 1: family id 0xc47e5767 (esp32s3), but earlier blocks have 0xd42ba06c (esp32c3)",
            ),
            ([one, twice].concat(), "UF2 block 1: data at 0x2 (+0x1) overlaps block 0"),
        ];
        for (bytes, want) in cases {
            assert_eq!(read(&bytes).unwrap_err().to_string(), want);
        }
    }
}
