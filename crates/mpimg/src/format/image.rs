//! ESP32 image format (bootloader and app images alike): the 24-byte header,
//! the segment walk, the XOR checksum and the optional appended SHA-256.
//!
//! Layout, as ESP-IDF's bootloader (`esp_image_format.c`) and esptool's
//! `bin_image.py` read it:
//!
//! ```text
//! 0x00  header (24 bytes, see ImageHeader)
//! 0x18  segment 0: load address u32, length u32, data
//!       segment 1 ...
//!       zero padding, then one checksum byte, so that the image up to and
//!       including the checksum is a multiple of 16 bytes long
//!       SHA-256 of everything before it (only if header byte 23 is 1)
//! ```

use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::format::chip::Chip;

/// First byte of every ESP32 image.
pub const IMAGE_MAGIC: u8 = 0xE9;
/// Length of the image header.
pub const HEADER_LEN: usize = 24;
/// Length of each segment header (load address and length).
pub const SEGMENT_HEADER_LEN: usize = 8;
/// Most segments ESP-IDF accepts (`ESP_IMAGE_MAX_SEGMENTS`).
pub const MAX_SEGMENTS: usize = 16;
/// ESP-IDF rejects segments of this length or more (`ESP_IMAGE_MAX_FLASH_ADDR_SIZE`, 16 MB).
pub const MAX_SEGMENT_LEN: u32 = 0x100_0000;
/// Seed of the segment-data XOR checksum (`ESP_ROM_CHECKSUM_INITIAL`).
pub const CHECKSUM_SEED: u8 = 0xEF;
/// Length of the appended SHA-256 digest.
pub const DIGEST_LEN: usize = 32;

const MB: u32 = 1024 * 1024;

/// The flash sizes a header can encode, indexed by their code (high nibble of byte 3).
pub const FLASH_SIZES: [u32; 8] = [MB, 2 * MB, 4 * MB, 8 * MB, 16 * MB, 32 * MB, 64 * MB, 128 * MB];

/// Which part of an image a truncation cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ImagePart {
    /// The 24-byte image header.
    Header,
    /// The header of segment N.
    SegmentHeader(usize),
    /// The data of segment N.
    SegmentData(usize),
    /// The checksum block.
    Checksum,
    /// The appended SHA-256 digest.
    Hash,
}

impl std::fmt::Display for ImagePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImagePart::Header => write!(f, "the image header"),
            ImagePart::SegmentHeader(i) => write!(f, "the header of segment {i}"),
            ImagePart::SegmentData(i) => write!(f, "the data of segment {i}"),
            ImagePart::Checksum => write!(f, "the padding and checksum byte"),
            ImagePart::Hash => write!(f, "the appended SHA-256 digest"),
        }
    }
}

/// Why an image could not be read or edited. Offsets are from the start of the image.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The data ends inside the image.
    #[error(
        "image truncated: {part} at offset {offset:#x} needs {needed} bytes but only {available} \
         are there; the file is incomplete or cut short: get the image again"
    )]
    Truncated {
        /// The part cut off.
        part: ImagePart,
        /// Where it starts.
        offset: usize,
        /// Its length in bytes.
        needed: usize,
        /// Bytes there.
        available: usize,
    },

    /// No image magic at the start.
    #[error(
        "not an ESP image: the first byte is {found:#04x}, not the image magic 0xe9; check that \
         the file (or offset) really holds a bootloader or app image"
    )]
    BadMagic {
        /// The first byte.
        found: u8,
    },

    /// A segment count outside 1..=16.
    #[error(
        "image header declares {count} segments but ESP-IDF accepts 1 to 16; the header is \
         corrupt: get the image again"
    )]
    BadSegmentCount {
        /// The count in the header.
        count: u8,
    },

    /// A segment length that cannot be right.
    #[error(
        "segment {index} (header at offset {offset:#x}) has length {len:#x}, {why}; the image is \
         corrupt: get the image again"
    )]
    BadSegmentLength {
        /// The segment's index.
        index: usize,
        /// Where its header is.
        offset: usize,
        /// Its length in bytes.
        len: u32,
        /// What is wrong with it.
        why: &'static str,
    },

    /// A hash-appended byte other than 0 or 1.
    #[error(
        "image header byte 23 (hash appended) is {found:#04x}, but only 0 or 1 are defined; the \
         header is corrupt: get the image again"
    )]
    BadHashFlag {
        /// The byte.
        found: u8,
    },

    /// A flash size the header cannot hold.
    #[error(
        "invalid flash size {bytes:#x} ({bytes} bytes): use one of 1MB, 2MB, 4MB, 8MB, 16MB, \
         32MB, 64MB or 128MB"
    )]
    BadFlashSize {
        /// The size asked for, in bytes.
        bytes: u32,
    },
}

impl ImageError {
    /// What is wrong, without the advice for a file that follows it ("get
    /// the image again"): for an image in a device's flash, whose fix is
    /// another.
    pub fn detail(&self) -> String {
        let s = self.to_string();
        match s.rfind("; ") {
            Some(i) => s[..i].to_string(),
            None => s,
        }
    }
}

/// The 24-byte image header (`esp_image_header_t`), every byte kept so that
/// [`ImageHeader::to_bytes`] gives back exactly what [`ImageHeader::parse`] read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageHeader {
    /// The image magic, 0xE9.
    pub magic: u8,
    /// Number of segments.
    pub segment_count: u8,
    /// SPI mode: 0 QIO, 1 QOUT, 2 DIO, 3 DOUT.
    pub spi_mode: u8,
    /// High nibble of byte 3: flash size code (0 = 1 MB ... 7 = 128 MB).
    pub flash_size_code: u8,
    /// Low nibble of byte 3: flash frequency code (chip specific).
    pub flash_freq_code: u8,
    /// Address execution starts at.
    pub entry_point: u32,
    /// SPI write-protect pin (0xEE: none).
    pub wp_pin: u8,
    /// SPI pin drive strengths, two 4-bit values per byte.
    pub spi_drive: [u8; 3],
    /// Image chip id (see [`crate::format::chip`]).
    pub chip_id: u16,
    /// Pre-IDF-5 minimum chip revision (major only).
    pub min_rev_deprecated: u8,
    /// Minimum chip revision, major * 100 + minor.
    pub min_rev_full: u16,
    /// Maximum chip revision, major * 100 + minor (0 in old images: not checked).
    pub max_rev_full: u16,
    /// Reserved bytes 20..24.
    pub reserved: [u8; 4],
    /// 1 if a SHA-256 digest follows the checksum.
    pub hash_appended: u8,
}

fn u16_at(d: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([d[at], d[at + 1]])
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

impl ImageHeader {
    /// Read the header at the start of `data` (an image; trailing bytes are ignored).
    pub fn parse(data: &[u8]) -> Result<ImageHeader, ImageError> {
        if data.len() < HEADER_LEN {
            return Err(ImageError::Truncated {
                part: ImagePart::Header,
                offset: 0,
                needed: HEADER_LEN,
                available: data.len(),
            });
        }
        if data[0] != IMAGE_MAGIC {
            return Err(ImageError::BadMagic { found: data[0] });
        }
        Ok(ImageHeader {
            magic: data[0],
            segment_count: data[1],
            spi_mode: data[2],
            flash_size_code: data[3] >> 4,
            flash_freq_code: data[3] & 0x0F,
            entry_point: u32_at(data, 4),
            wp_pin: data[8],
            spi_drive: [data[9], data[10], data[11]],
            chip_id: u16_at(data, 12),
            min_rev_deprecated: data[14],
            min_rev_full: u16_at(data, 15),
            max_rev_full: u16_at(data, 17),
            reserved: [data[19], data[20], data[21], data[22]],
            hash_appended: data[23],
        })
    }

    /// The header as the 24 bytes it occupies in the image.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = self.magic;
        b[1] = self.segment_count;
        b[2] = self.spi_mode;
        b[3] = (self.flash_size_code << 4) | (self.flash_freq_code & 0x0F);
        b[4..8].copy_from_slice(&self.entry_point.to_le_bytes());
        b[8] = self.wp_pin;
        b[9..12].copy_from_slice(&self.spi_drive);
        b[12..14].copy_from_slice(&self.chip_id.to_le_bytes());
        b[14] = self.min_rev_deprecated;
        b[15..17].copy_from_slice(&self.min_rev_full.to_le_bytes());
        b[17..19].copy_from_slice(&self.max_rev_full.to_le_bytes());
        b[19..23].copy_from_slice(&self.reserved);
        b[23] = self.hash_appended;
        b
    }

    /// The flash size the header declares, in bytes (None for codes above 7).
    pub fn flash_size(&self) -> Option<u32> {
        FLASH_SIZES.get(self.flash_size_code as usize).copied()
    }

    /// Declare a new flash size; the image's digest must then be renewed with [`rehash`].
    pub fn set_flash_size(&mut self, bytes: u32) -> Result<(), ImageError> {
        self.flash_size_code = flash_size_code(bytes)?;
        Ok(())
    }

    /// The chip this image is built for, if mpimg knows its chip id.
    pub fn chip(&self) -> Option<&'static Chip> {
        Chip::by_image_id(self.chip_id)
    }

    /// esptool's name for the SPI mode, e.g. `DIO`.
    pub fn spi_mode_name(&self) -> Option<&'static str> {
        ["QIO", "QOUT", "DIO", "DOUT"].get(self.spi_mode as usize).copied()
    }
}

/// The header code for a flash size: 1 MB .. 128 MB, powers of two only.
pub fn flash_size_code(bytes: u32) -> Result<u8, ImageError> {
    FLASH_SIZES.iter().position(|&s| s == bytes).map(|code| code as u8).ok_or(ImageError::BadFlashSize { bytes })
}

/// One segment of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// Address the segment is loaded to (or mapped at).
    pub load_addr: u32,
    /// Offset of the segment's data (after its 8-byte header) within the image.
    pub data_offset: usize,
    /// Length of the data.
    pub len: u32,
}

/// Everything [`parse_image`] learns about an image, including whether it is intact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// Its header.
    pub header: ImageHeader,
    /// Its segments, in order.
    pub segments: Vec<Segment>,
    /// Checksum byte stored in the image.
    pub checksum_stored: u8,
    /// XOR of all segment data bytes, seeded with 0xEF.
    pub checksum_calc: u8,
    /// Length from the header through the checksum byte (a multiple of 16):
    /// the span the appended SHA-256 covers.
    pub hashed_len: usize,
    /// Digest stored after the checksum (when the header says one is appended).
    pub sha_stored: Option<[u8; 32]>,
    /// SHA-256 of the first `hashed_len` bytes (when one is appended).
    pub sha_calc: Option<[u8; 32]>,
    /// Length of the whole image: `hashed_len`, plus 32 if a digest is appended.
    pub total_len: usize,
}

impl ImageInfo {
    /// Whether the stored checksum matches the segment data.
    pub fn checksum_ok(&self) -> bool {
        self.checksum_stored == self.checksum_calc
    }

    /// Whether the appended digest matches (None if the image has none).
    pub fn hash_ok(&self) -> Option<bool> {
        match (self.sha_stored, self.sha_calc) {
            (Some(stored), Some(calc)) => Some(stored == calc),
            _ => None,
        }
    }

    /// Checksum valid and, if there is a digest, digest valid.
    pub fn is_valid(&self) -> bool {
        self.checksum_ok() && self.hash_ok() != Some(false)
    }
}

/// XOR of `data` into `acc`, eight bytes at a time: folding a u64 XOR down to
/// one byte gives the same result as XORing every byte, and is much faster on
/// megabyte apps in unoptimised builds.
fn xor_bytes(acc: u8, data: &[u8]) -> u8 {
    let mut chunks = data.chunks_exact(8);
    let mut wide = 0u64;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        wide ^= u64::from_le_bytes(w);
    }
    let mut x = acc;
    for b in wide.to_le_bytes() {
        x ^= b;
    }
    for &b in chunks.remainder() {
        x ^= b;
    }
    x
}

fn truncated(part: ImagePart, data: &[u8], offset: usize, needed: usize) -> ImageError {
    ImageError::Truncated { part, offset, needed, available: data.len().saturating_sub(offset) }
}

/// Walk the image at the start of `data` (trailing bytes are ignored): header,
/// segments, checksum, digest. Structural damage is an error; a wrong checksum
/// or digest is not (see [`ImageInfo::is_valid`]).
///
/// The segment rules are ESP-IDF's (`verify_segment_header` in
/// `esp_image_format.c`): at most 16 segments, lengths a multiple of 4 and
/// below 16 MB.
pub fn parse_image(data: &[u8]) -> Result<ImageInfo, ImageError> {
    walk(data, true)
}

/// Walk an image's layout like [`parse_image`] (same errors) but without
/// computing the SHA-256: `sha_calc` is `None`. For when only the layout (the
/// image's length, its segments) is needed: hashing is most of the cost.
pub fn parse_image_layout(data: &[u8]) -> Result<ImageInfo, ImageError> {
    walk(data, false)
}

/// Check what the header says about the image's layout: a segment count
/// ESP-IDF accepts and a defined hash flag. Returns the segment count.
pub fn check_layout(header: &ImageHeader) -> Result<usize, ImageError> {
    let count = header.segment_count as usize;
    if count == 0 || count > MAX_SEGMENTS {
        return Err(ImageError::BadSegmentCount { count: header.segment_count });
    }
    if header.hash_appended > 1 {
        return Err(ImageError::BadHashFlag { found: header.hash_appended });
    }
    Ok(count)
}

/// Decode and check the 8-byte header of segment `index` found at image
/// offset `offset`: returns (load address, data length).
pub fn segment_header(index: usize, offset: usize, h: &[u8; SEGMENT_HEADER_LEN]) -> Result<(u32, u32), ImageError> {
    let load_addr = u32_at(h, 0);
    let len = u32_at(h, 4);
    let why = if len >= MAX_SEGMENT_LEN {
        "16 MB or more"
    } else if len & 3 != 0 {
        "not a multiple of 4"
    } else {
        return Ok((load_addr, len));
    };
    Err(ImageError::BadSegmentLength { index, offset, len, why })
}

/// Where an image whose last segment ends at `segments_end` ends: the length
/// through the checksum byte (a multiple of 16), and with the digest if appended.
pub fn image_end(segments_end: usize, hash_appended: bool) -> (usize, usize) {
    // The checksum byte is the last byte of the 16-byte block the segments end in.
    let hashed_len = (segments_end | 15) + 1;
    (hashed_len, hashed_len + if hash_appended { DIGEST_LEN } else { 0 })
}

fn walk(data: &[u8], hash: bool) -> Result<ImageInfo, ImageError> {
    let header = ImageHeader::parse(data)?;
    let count = check_layout(&header)?;

    let mut pos = HEADER_LEN;
    let mut checksum = CHECKSUM_SEED;
    let mut segments = Vec::with_capacity(count);
    for index in 0..count {
        if data.len() - pos < SEGMENT_HEADER_LEN {
            return Err(truncated(ImagePart::SegmentHeader(index), data, pos, SEGMENT_HEADER_LEN));
        }
        let mut h = [0u8; SEGMENT_HEADER_LEN];
        h.copy_from_slice(&data[pos..pos + SEGMENT_HEADER_LEN]);
        let (load_addr, len) = segment_header(index, pos, &h)?;
        let data_offset = pos + SEGMENT_HEADER_LEN;
        if data.len() - data_offset < len as usize {
            return Err(truncated(ImagePart::SegmentData(index), data, data_offset, len as usize));
        }
        let end = data_offset + len as usize;
        checksum = xor_bytes(checksum, &data[data_offset..end]);
        segments.push(Segment { load_addr, data_offset, len });
        pos = end;
    }

    let (hashed_len, _) = image_end(pos, header.hash_appended == 1);
    if data.len() < hashed_len {
        return Err(truncated(ImagePart::Checksum, data, pos, hashed_len - pos));
    }
    let checksum_stored = data[hashed_len - 1];

    let (sha_stored, sha_calc, total_len) = if header.hash_appended == 1 {
        if data.len() - hashed_len < DIGEST_LEN {
            return Err(truncated(ImagePart::Hash, data, hashed_len, DIGEST_LEN));
        }
        let mut stored = [0u8; 32];
        stored.copy_from_slice(&data[hashed_len..hashed_len + DIGEST_LEN]);
        let calc: Option<[u8; 32]> = hash.then(|| Sha256::digest(&data[..hashed_len]).into());
        (Some(stored), calc, hashed_len + DIGEST_LEN)
    } else {
        (None, None, hashed_len)
    };

    Ok(ImageInfo {
        header,
        segments,
        checksum_stored,
        checksum_calc: checksum,
        hashed_len,
        sha_stored,
        sha_calc,
        total_len,
    })
}

/// Renew the appended SHA-256 after the header was edited in place (e.g. by
/// writing [`ImageHeader::to_bytes`] over the first 24 bytes). Does nothing to
/// an image without a digest.
///
/// The checksum needs no renewal: it is the XOR of the segment *data* only
/// (ESP-IDF's `process_checksum`, esptool's `calculate_checksum`), and the
/// header is not segment data. The digest, by contrast, covers every byte from
/// the header through the checksum byte. Edits that change the segment count
/// change the walk itself and are not what this is for.
pub fn rehash(image: &mut [u8]) -> Result<(), ImageError> {
    let info = parse_image(image)?;
    if let Some(sha) = info.sha_calc {
        image[info.hashed_len..info.hashed_len + DIGEST_LEN].copy_from_slice(&sha);
    }
    Ok(())
}

/// Build a well-formed image from segments, for tests here and elsewhere in
/// the crate (a fresh clone without real firmware still exercises the formats).
#[cfg(test)]
pub(crate) mod testimg {
    use super::*;

    /// A header for chip `chip_id`, 4 MB flash, 80 MHz, DIO, digest appended.
    pub fn header(chip_id: u16, segment_count: u8) -> ImageHeader {
        ImageHeader {
            magic: IMAGE_MAGIC,
            segment_count,
            spi_mode: 2,
            flash_size_code: 2,
            flash_freq_code: 0xF,
            entry_point: 0x4037_5388,
            wp_pin: 0xEE,
            spi_drive: [0, 0, 0],
            chip_id,
            min_rev_deprecated: 0,
            min_rev_full: 3,
            max_rev_full: 199,
            reserved: [0; 4],
            hash_appended: 1,
        }
    }

    /// Assemble header, segments, padding, checksum and (if the header asks) digest.
    pub fn build(header: &ImageHeader, segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = header.to_bytes().to_vec();
        let mut checksum = CHECKSUM_SEED;
        for (addr, data) in segments {
            out.extend_from_slice(&addr.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
            for b in data {
                checksum ^= b;
            }
        }
        while out.len() % 16 != 15 {
            out.push(0);
        }
        out.push(checksum);
        if header.hash_appended == 1 {
            let sha = Sha256::digest(&out);
            out.extend_from_slice(&sha);
        }
        out
    }

    /// [`sample`] as an app: its first segment starts with an app descriptor
    /// (the magic, the rest zero).
    pub fn sample_app(chip_id: u16) -> Vec<u8> {
        let mut desc = vec![0u8; 0x120];
        desc[..4].copy_from_slice(&crate::format::app_desc::APP_DESC_MAGIC.to_le_bytes());
        build(&header(chip_id, 2), &[(0x3C00_0020, desc), (0x4037_4000, vec![0x5A; 0x58])])
    }

    /// A three-segment image with distinct, non-trivial segment bytes.
    pub fn sample(chip_id: u16) -> Vec<u8> {
        let seg =
            |n: usize, seed: u8| -> Vec<u8> { (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect() };
        build(
            &header(chip_id, 3),
            &[(0x3C00_0020, seg(0x120, 1)), (0x3FC8_8000, seg(0x24, 7)), (0x4037_4000, seg(0x58, 13))],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testimg::*;
    use super::*;

    #[test]
    fn header_round_trips_every_byte() {
        let raw: [u8; 24] = [
            0xE9, 0x07, 0x02, 0x3F, 0x88, 0x53, 0x37, 0x40, 0xEE, 0x12, 0x34, 0x56, 0x09, 0x00, 0x01, 0x03, 0x00, 0xC7,
            0x00, 0xA1, 0xA2, 0xA3, 0xA4, 0x01,
        ];
        let h = ImageHeader::parse(&raw).unwrap();
        assert_eq!(
            h,
            ImageHeader {
                magic: 0xE9,
                segment_count: 7,
                spi_mode: 2,
                flash_size_code: 3,
                flash_freq_code: 0xF,
                entry_point: 0x4037_5388,
                wp_pin: 0xEE,
                spi_drive: [0x12, 0x34, 0x56],
                chip_id: 9,
                min_rev_deprecated: 1,
                min_rev_full: 3,
                max_rev_full: 199,
                reserved: [0xA1, 0xA2, 0xA3, 0xA4],
                hash_appended: 1,
            }
        );
        assert_eq!(h.to_bytes(), raw);
        assert_eq!(h.flash_size(), Some(8 * MB));
        assert_eq!(h.chip().map(|c| c.name), Some("esp32s3"));
        assert_eq!(h.spi_mode_name(), Some("DIO"));
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            ImageHeader::parse(&[0xE9; 23]),
            Err(ImageError::Truncated { part: ImagePart::Header, offset: 0, needed: 24, available: 23 })
        );
        assert_eq!(ImageHeader::parse(&[0xFF; 24]), Err(ImageError::BadMagic { found: 0xFF }));
        assert_eq!(
            ImageError::BadMagic { found: 0 }.to_string(),
            "not an ESP image: the first byte is 0x00, not the image magic 0xe9; check that the \
             file (or offset) really holds a bootloader or app image"
        );
    }

    #[test]
    fn flash_size_codes() {
        for (code, mb) in [1u32, 2, 4, 8, 16, 32, 64, 128].into_iter().enumerate() {
            assert_eq!(flash_size_code(mb * MB), Ok(code as u8));
        }
        for bad in [0, 512 * 1024, 3 * MB, 256 * MB, MB + 1, u32::MAX] {
            assert_eq!(flash_size_code(bad), Err(ImageError::BadFlashSize { bytes: bad }));
        }
        assert_eq!(
            flash_size_code(3 * MB).unwrap_err().to_string(),
            "invalid flash size 0x300000 (3145728 bytes): use one of 1MB, 2MB, 4MB, 8MB, 16MB, \
             32MB, 64MB or 128MB"
        );
        let mut h = header(9, 1);
        h.flash_freq_code = 0xF;
        h.set_flash_size(16 * MB).unwrap();
        assert_eq!((h.flash_size_code, h.flash_freq_code), (4, 0xF));
        assert_eq!(h.to_bytes()[3], 0x4F);
        assert_eq!(h.set_flash_size(5 * MB), Err(ImageError::BadFlashSize { bytes: 5 * MB }));
        assert_eq!(h.flash_size(), Some(16 * MB), "a rejected size leaves the header unchanged");
        h.flash_size_code = 8;
        assert_eq!(h.flash_size(), None);
    }

    #[test]
    fn walks_a_synthetic_image() {
        let img = sample(5);
        // 24 header + (8+0x120) + (8+0x24) + (8+0x58) = 0x1CC; the checksum block ends at 0x1D0.
        let info = parse_image(&img).unwrap();
        assert_eq!(
            info.segments,
            vec![
                Segment { load_addr: 0x3C00_0020, data_offset: 0x20, len: 0x120 },
                Segment { load_addr: 0x3FC8_8000, data_offset: 0x148, len: 0x24 },
                Segment { load_addr: 0x4037_4000, data_offset: 0x174, len: 0x58 },
            ]
        );
        assert_eq!(info.hashed_len, 0x1D0);
        assert_eq!(info.total_len, 0x1F0);
        assert_eq!(img.len(), 0x1F0);
        assert_eq!(img[0x1CC..0x1CF], [0, 0, 0], "zero padding before the checksum");
        assert_eq!(info.checksum_stored, img[0x1CF]);
        assert!(info.checksum_ok());
        assert_eq!(info.hash_ok(), Some(true));
        assert!(info.is_valid());
        let sha: [u8; 32] = Sha256::digest(&img[..0x1D0]).into();
        assert_eq!(info.sha_calc, Some(sha));
        assert_eq!(info.sha_stored.unwrap(), img[0x1D0..0x1F0]);

        // Trailing bytes (the rest of a partition) do not change the result.
        let mut longer = img.clone();
        longer.extend_from_slice(&[0xFF; 100]);
        assert_eq!(parse_image(&longer).unwrap(), info);
    }

    #[test]
    fn checksum_equals_bytewise_xor() {
        let data: Vec<u8> = (0..1001u32).map(|i| (i * 7 + i / 3) as u8).collect();
        for n in [0, 1, 7, 8, 9, 1001] {
            let want = data[..n].iter().fold(CHECKSUM_SEED, |a, b| a ^ b);
            assert_eq!(xor_bytes(CHECKSUM_SEED, &data[..n]), want, "n = {n}");
        }
    }

    #[test]
    fn padding_when_segments_end_on_a_block_boundary() {
        // Segments end at 24 + 8 + 0x18 = 0x38: checksum at 0x3F.
        let img = build(&header(0, 1), &[(0x4000_0000, vec![0xAB; 0x18])]);
        let info = parse_image(&img).unwrap();
        assert_eq!(info.hashed_len, 0x40);
        // Segments ending at 0x3C: three padding bytes, the checksum still at 0x3F.
        let img = build(&header(0, 1), &[(0x4000_0000, vec![0xAB; 0x1C])]);
        assert_eq!(parse_image(&img).unwrap().hashed_len, 0x40);
        // Ending at 0x40 needs a whole new block.
        let img = build(&header(0, 1), &[(0x4000_0000, vec![0xAB; 0x20])]);
        assert_eq!(parse_image(&img).unwrap().hashed_len, 0x50);
    }

    #[test]
    fn image_without_digest() {
        let mut h = header(0, 1);
        h.hash_appended = 0;
        let img = build(&h, &[(0x4000_0000, vec![1, 2, 3, 4])]);
        assert_eq!(img.len(), 0x30);
        let info = parse_image(&img).unwrap();
        assert_eq!((info.sha_stored, info.sha_calc, info.hash_ok()), (None, None, None));
        assert_eq!(info.total_len, 0x30);
        assert!(info.is_valid());
        let before = img.clone();
        let mut img = img;
        rehash(&mut img).unwrap();
        assert_eq!(img, before, "rehash of an image without digest changes nothing");
    }

    #[test]
    fn truncation_at_every_boundary() {
        let img = sample(9);
        use ImageError::Truncated;
        use ImagePart::*;
        // (cut length, expected error)
        let cases = [
            (0, Truncated { part: Header, offset: 0, needed: 24, available: 0 }),
            (23, Truncated { part: Header, offset: 0, needed: 24, available: 23 }),
            (24, Truncated { part: SegmentHeader(0), offset: 0x18, needed: 8, available: 0 }),
            (31, Truncated { part: SegmentHeader(0), offset: 0x18, needed: 8, available: 7 }),
            (32, Truncated { part: SegmentData(0), offset: 0x20, needed: 0x120, available: 0 }),
            (0x13F, Truncated { part: SegmentData(0), offset: 0x20, needed: 0x120, available: 0x11F }),
            (0x140, Truncated { part: SegmentHeader(1), offset: 0x140, needed: 8, available: 0 }),
            (0x147, Truncated { part: SegmentHeader(1), offset: 0x140, needed: 8, available: 7 }),
            (0x148, Truncated { part: SegmentData(1), offset: 0x148, needed: 0x24, available: 0 }),
            (0x16B, Truncated { part: SegmentData(1), offset: 0x148, needed: 0x24, available: 0x23 }),
            (0x16C, Truncated { part: SegmentHeader(2), offset: 0x16C, needed: 8, available: 0 }),
            (0x174, Truncated { part: SegmentData(2), offset: 0x174, needed: 0x58, available: 0 }),
            (0x1CB, Truncated { part: SegmentData(2), offset: 0x174, needed: 0x58, available: 0x57 }),
            (0x1CC, Truncated { part: Checksum, offset: 0x1CC, needed: 4, available: 0 }),
            (0x1CF, Truncated { part: Checksum, offset: 0x1CC, needed: 4, available: 3 }),
            (0x1D0, Truncated { part: Hash, offset: 0x1D0, needed: 32, available: 0 }),
            (0x1EF, Truncated { part: Hash, offset: 0x1D0, needed: 32, available: 31 }),
        ];
        for (cut, want) in cases {
            assert_eq!(parse_image(&img[..cut]), Err(want), "cut at {cut:#x}");
        }
        assert!(parse_image(&img[..0x1F0]).is_ok());
        // Every other cut fails too, and none panics.
        for cut in 0..img.len() {
            assert!(matches!(parse_image(&img[..cut]), Err(ImageError::Truncated { .. })), "cut {cut}");
        }
        assert_eq!(
            parse_image(&img[..0x13F]).unwrap_err().to_string(),
            "image truncated: the data of segment 0 at offset 0x20 needs 288 bytes but only 287 \
             are there; the file is incomplete or cut short: get the image again"
        );
    }

    #[test]
    fn structural_errors() {
        let img = sample(0);
        let mut bad = img.clone();
        bad[1] = 0;
        assert_eq!(parse_image(&bad), Err(ImageError::BadSegmentCount { count: 0 }));
        bad[1] = 17;
        assert_eq!(parse_image(&bad), Err(ImageError::BadSegmentCount { count: 17 }));
        let mut bad = img.clone();
        bad[23] = 2;
        assert_eq!(parse_image(&bad), Err(ImageError::BadHashFlag { found: 2 }));

        let mut bad = img.clone();
        bad[0x18 + 4..0x18 + 8].copy_from_slice(&0x0100_0000u32.to_le_bytes());
        assert_eq!(
            parse_image(&bad),
            Err(ImageError::BadSegmentLength { index: 0, offset: 0x18, len: 0x0100_0000, why: "16 MB or more" })
        );
        let mut bad = img.clone();
        bad[0x140 + 4..0x140 + 8].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        assert_eq!(
            parse_image(&bad),
            Err(ImageError::BadSegmentLength { index: 1, offset: 0x140, len: 0xFFFF_FFFF, why: "16 MB or more" })
        );
        let mut bad = img.clone();
        bad[0x140 + 4..0x140 + 8].copy_from_slice(&0x25u32.to_le_bytes());
        assert_eq!(
            parse_image(&bad),
            Err(ImageError::BadSegmentLength { index: 1, offset: 0x140, len: 0x25, why: "not a multiple of 4" })
        );
        assert_eq!(
            parse_image(&bad).unwrap_err().to_string(),
            "segment 1 (header at offset 0x140) has length 0x25, not a multiple of 4; the image is \
             corrupt: get the image again"
        );
        // A length that is plausible but runs past the data is a truncation.
        let mut bad = img.clone();
        bad[0x18 + 4..0x18 + 8].copy_from_slice(&0x10_0000u32.to_le_bytes());
        assert_eq!(
            parse_image(&bad),
            Err(ImageError::Truncated {
                part: ImagePart::SegmentData(0),
                offset: 0x20,
                needed: 0x10_0000,
                available: 0x1F0 - 0x20
            })
        );
    }

    #[test]
    fn corrupted_segment_byte_breaks_checksum_and_hash() {
        let img = sample(9);
        for at in [0x20, 0x13F, 0x148, 0x1CB] {
            let mut bad = img.clone();
            bad[at] ^= 0x40;
            let info = parse_image(&bad).unwrap();
            assert_eq!(info.checksum_calc, info.checksum_stored ^ 0x40, "byte {at:#x}");
            assert!(!info.checksum_ok());
            assert_eq!(info.hash_ok(), Some(false));
            assert!(!info.is_valid());
        }
        // A broken stored checksum byte: checksum and digest both fail.
        let mut bad = img.clone();
        bad[0x1CF] ^= 1;
        let info = parse_image(&bad).unwrap();
        assert!(!info.checksum_ok());
        assert_eq!(info.hash_ok(), Some(false));
        // A broken digest byte: only the digest fails.
        let mut bad = img.clone();
        bad[0x1E0] ^= 1;
        let info = parse_image(&bad).unwrap();
        assert!(info.checksum_ok());
        assert_eq!(info.hash_ok(), Some(false));
        assert!(!info.is_valid());
    }

    #[test]
    fn header_edit_then_rehash() {
        let img = sample(9);
        let mut edited = img.clone();
        let mut h = ImageHeader::parse(&edited).unwrap();
        h.set_flash_size(8 * MB).unwrap();
        edited[..HEADER_LEN].copy_from_slice(&h.to_bytes());
        let info = parse_image(&edited).unwrap();
        assert!(info.checksum_ok(), "the checksum does not cover the header");
        assert_eq!(info.hash_ok(), Some(false), "the digest does");

        rehash(&mut edited).unwrap();
        let info = parse_image(&edited).unwrap();
        assert!(info.is_valid());
        assert_eq!(edited[3], 0x3F);
        let want: [u8; 32] = Sha256::digest(&edited[..0x1D0]).into();
        assert_eq!(edited[0x1D0..0x1F0], want);
        // Only byte 3 and the digest changed.
        let changed: Vec<usize> = (0..img.len()).filter(|&i| img[i] != edited[i]).collect();
        assert!(changed.iter().all(|&i| i == 3 || (0x1D0..0x1F0).contains(&i)), "{changed:?}");

        // rehash reports a broken image instead of writing anywhere.
        let mut cut = img[..0x1E0].to_vec();
        assert_eq!(
            rehash(&mut cut),
            Err(ImageError::Truncated { part: ImagePart::Hash, offset: 0x1D0, needed: 32, available: 0x10 })
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        // A tiny deterministic generator: every outcome must be a value or an error.
        let mut x = 0x1234_5678u32;
        for _ in 0..2000 {
            let len = (x % 300) as usize;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf.push(x as u8);
            }
            if !buf.is_empty() {
                buf[0] = IMAGE_MAGIC;
            }
            let _ = parse_image(&buf);
        }
    }
}
