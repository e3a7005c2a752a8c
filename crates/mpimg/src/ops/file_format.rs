//! Firmware files in the three encodings mpimg reads and writes: a raw
//! `.bin` (flash from the bootloader offset on), Intel HEX and UF2.
//!
//! HEX and UF2 name a flash address for every byte, so they carry only the
//! regions that mean something, not the 0xFF padding between them. Which
//! erased bytes mean something is decided by the partition table, not by the
//! bytes alone: an erased littlefs metadata half, an erased `otadata`, an
//! erased NVS all tell the board something (flashing the `.bin` erases them;
//! leaving a board's stale contents there instead could, e.g., make littlefs
//! pick a stale metadata block, or the bootloader an old OTA slot). So a
//! HEX or UF2 file keeps, each as far as the image holds it:
//! - the bootloader image (its length from its segments);
//! - the partition table sector (0x8000..0x9000);
//! - every app partition's app image (its length from its segments; the
//!   whole partition if it holds no valid image);
//! - every other partition whole (erased parts included), so give the
//!   implicit `vfs` of MicroPython ≥ 1.26 too;
//! - elsewhere, each 4 KB sector that holds a byte other than 0xFF;
//! - the image's last sector, so reading the file back gives the same length.
//!
//! What lies between (the bootloader's padding up to 0x8000, an app
//! partition's unused tail, space no partition claims) is left out: flashing
//! the HEX or UF2 file leaves whatever a board has there, which nothing reads.

use std::path::Path;

use thiserror::Error;

use crate::flash::SECTOR_SIZE;
use crate::format::chip::Chip;
use crate::format::ihex::{self, HexError};
use crate::format::image::{parse_image_layout, ImageHeader, IMAGE_MAGIC};
use crate::format::partition::{Partition, TABLE_OFFSET, TABLE_SIZE};
use crate::format::regions::{self, Region, RegionError};
use crate::format::uf2::{self, Uf2Error};

/// How a firmware file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Raw bytes from the bootloader offset on.
    Bin,
    /// Intel HEX text.
    Hex,
    /// UF2 blocks.
    Uf2,
}

impl FileFormat {
    /// `bin`, `hex` or `uf2` (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "bin" => Some(FileFormat::Bin),
            "hex" => Some(FileFormat::Hex),
            "uf2" => Some(FileFormat::Uf2),
            _ => None,
        }
    }

    /// By the file name's extension: `.hex` (also `.ihex`, `.ihx`), `.uf2`,
    /// anything else raw.
    pub fn from_path(path: &Path) -> Self {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "hex" | "ihex" | "ihx" => FileFormat::Hex,
            "uf2" => FileFormat::Uf2,
            _ => FileFormat::Bin,
        }
    }

    /// By the contents: UF2's magic numbers, a HEX record's `:`, else raw
    /// (an ESP image starts with 0xE9, never with either).
    pub fn sniff(bytes: &[u8]) -> Self {
        if uf2::looks_like_uf2(bytes) {
            FileFormat::Uf2
        } else if bytes.first() == Some(&b':') {
            FileFormat::Hex
        } else {
            FileFormat::Bin
        }
    }

    /// The usual extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Bin => "bin",
            FileFormat::Hex => "hex",
            FileFormat::Uf2 => "uf2",
        }
    }
}

/// Why a HEX or UF2 file does not hold a firmware image.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// A malformed HEX file.
    #[error(transparent)]
    Hex(#[from] HexError),
    /// A malformed UF2 file.
    #[error(transparent)]
    Uf2(#[from] Uf2Error),
    /// Data that cannot be one image.
    #[error("{format}: {source}")]
    Regions {
        /// `Intel HEX` or `UF2`.
        format: &'static str,
        /// What is wrong.
        #[source]
        source: RegionError,
    },
    /// HEX that is not text.
    #[error("{format}: the Intel HEX text is not ASCII")]
    NotText {
        /// `Intel HEX` or `UF2`.
        format: &'static str,
    },
    /// The lowest address holds no image header.
    #[error("{format}: the data starts at {start:#x} with {found}, not an ESP image header (0xE9): a firmware file starts with the bootloader")]
    NoBootloader {
        /// `Intel HEX` or `UF2`.
        format: &'static str,
        /// The lowest address.
        start: u32,
        /// What is there.
        found: String,
    },
    /// The data starts elsewhere than the chip's bootloader offset.
    #[error(
        "{format}: the data starts at {start:#x}, but an {chip} firmware starts at its bootloader offset {want:#x}"
    )]
    WrongStart {
        /// `Intel HEX` or `UF2`.
        format: &'static str,
        /// The lowest address.
        start: u32,
        /// The chip of the image header there.
        chip: &'static str,
        /// The chip's bootloader offset.
        want: u32,
    },
    /// An image header for a chip mpimg does not know.
    #[error("{format}: the image header names chip id {id}, which mpimg does not know")]
    UnknownChip {
        /// `Intel HEX` or `UF2`.
        format: &'static str,
        /// The chip id.
        id: u16,
    },
    /// UF2 blocks marked for another chip than the image is for.
    #[error("UF2: the blocks are for family {family:#010x} ({}), but the image is for {chip}", uf2::chip_of_family(*family).unwrap_or("not an ESP32 chip"))]
    WrongFamily {
        /// The blocks' family id.
        family: u32,
        /// The image's chip.
        chip: &'static str,
    },
}

/// A firmware file decoded to the raw image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// HEX or UF2.
    pub format: FileFormat,
    /// The chip, from the bootloader's header.
    pub chip: &'static Chip,
    /// The image from the chip's bootloader offset on (gaps erased: 0xFF).
    pub bytes: Vec<u8>,
}

/// The raw image a HEX or UF2 firmware file holds. (A raw file needs no
/// decoding: `None`.)
///
/// # Errors
/// [`DecodeError`]: a malformed file (with its line or block), overlapping
/// data, data that does not start with a bootloader at the chip's
/// bootloader offset, UF2 blocks for another chip family.
pub fn decode(bytes: &[u8]) -> Result<Option<Decoded>, DecodeError> {
    let (format, name, found, family) = match FileFormat::sniff(bytes) {
        FileFormat::Bin => return Ok(None),
        FileFormat::Hex => {
            let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotText { format: "Intel HEX" })?;
            (FileFormat::Hex, "Intel HEX", ihex::read(text)?, None)
        }
        FileFormat::Uf2 => {
            let c = uf2::read(bytes)?;
            (FileFormat::Uf2, "UF2", c.regions, c.family_id)
        }
    };
    let (start, image) = regions::flatten(found).map_err(|source| DecodeError::Regions { format: name, source })?;
    if image[0] != IMAGE_MAGIC {
        let found = image.iter().take(4).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
        return Err(DecodeError::NoBootloader { format: name, start, found });
    }
    let header = ImageHeader::parse(&image).map_err(|_| DecodeError::NoBootloader {
        format: name,
        start,
        found: "a cut-off image header".into(),
    })?;
    let chip = header.chip().ok_or(DecodeError::UnknownChip { format: name, id: header.chip_id })?;
    if start != chip.bootloader_offset {
        return Err(DecodeError::WrongStart { format: name, start, chip: chip.name, want: chip.bootloader_offset });
    }
    // A chip without a family id of its own gets 0 in UF2 files (see `encode`).
    if let Some(family) = family.filter(|&f| f != chip.uf2_family_id.unwrap_or(0)) {
        return Err(DecodeError::WrongFamily { family, chip: chip.name });
    }
    Ok(Some(Decoded { format, chip, bytes: image }))
}

/// The regions of the image `bytes` (first byte at flash offset `start`)
/// that a HEX or UF2 file carries, by the rules of the module doc.
/// `partitions` are the table's entries plus any implicit `vfs`.
pub fn meaningful_regions(start: u32, bytes: &[u8], partitions: &[Partition]) -> Vec<Region> {
    let end = u64::from(start) + bytes.len() as u64;
    let image_len = |off: u32| -> Option<u64> {
        if off < start || u64::from(off) >= end {
            return None;
        }
        let info = parse_image_layout(&bytes[(off - start) as usize..]).ok()?;
        Some(info.total_len as u64)
    };
    let mut keep: Vec<(u32, u64)> = Vec::new();
    let bl_end = image_len(start).map_or(u64::from(TABLE_OFFSET), |n| u64::from(start) + n);
    keep.push((start, bl_end));
    keep.push((TABLE_OFFSET, u64::from(TABLE_OFFSET) + TABLE_SIZE as u64));
    for p in partitions {
        let whole = u64::from(p.offset) + u64::from(p.size);
        let upto = if p.is_app() {
            image_len(p.offset).map_or(whole, |n| (u64::from(p.offset) + n).min(whole))
        } else {
            whole
        };
        keep.push((p.offset, upto));
    }
    // Elsewhere: sectors holding data. Claimed ranges are covered above.
    let claimed = keep.clone();
    let sector = u64::from(SECTOR_SIZE);
    let mut s = u64::from(start) / sector * sector;
    while s < end {
        let lo = s.max(u64::from(start));
        let hi = (s + sector).min(end);
        let free = !claimed.iter().any(|&(a, b)| u64::from(a) < hi && lo < b);
        if free && bytes[(lo - u64::from(start)) as usize..(hi - u64::from(start)) as usize].iter().any(|&b| b != 0xFF)
        {
            keep.push((lo as u32, hi));
        }
        s += sector;
    }
    if !bytes.is_empty() {
        let last = (end - 1) / sector * sector;
        keep.push((last.max(u64::from(start)) as u32, end));
    }
    regions::cut(start, bytes, &keep)
}

/// The file contents of the image `bytes` (first byte at flash offset
/// `start`, for `chip`) in `format`; `partitions` as for [`meaningful_regions`].
pub fn encode(format: FileFormat, chip: &Chip, start: u32, bytes: &[u8], partitions: &[Partition]) -> Vec<u8> {
    match format {
        FileFormat::Bin => bytes.to_vec(),
        FileFormat::Hex => ihex::write(&meaningful_regions(start, bytes, partitions)).into_bytes(),
        FileFormat::Uf2 => {
            // 0 where the chip has no family id of its own, as esptool writes then.
            let family = chip.uf2_family_id.unwrap_or(0);
            uf2::write(&meaningful_regions(start, bytes, partitions), family)
        }
    }
}
