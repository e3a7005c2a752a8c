//! Flashing a whole firmware image (a firmware file's bytes, bootloader offset
//! on) to a device: written, the rest of the partition it ends in erased (no
//! stale app bytes after a shorter image), verified.
//!
//! What a clone is: a backup (`ops::backup`) holds the flash from the
//! bootloader offset to its last sector with data; the source board is erased
//! past that. Flashing it with `erase_rest` also erases the target from the
//! end of the image to the end of its flash (sectors already erased are found
//! by their MD5 and left alone), so from the bootloader offset on the target
//! holds exactly what the source did. Below the bootloader offset (the first
//! 4 KB or 8 KB on chips whose bootloader is not at 0) nothing is read or
//! written. Without `erase_rest` only the partition the image ends in is
//! cleared: the partitions after it (a filesystem kept across a firmware
//! update) stay as they were.
//!
//! The order keeps a board that is cut off half way starting for as long as
//! it can, as ESP-IDF boots: the ROM starts the bootloader, which reads the
//! table and otadata and starts the app otadata selects (else the first).
//! So the apps and data go first (the old bootloader, table and otadata still
//! select the old app: on an OTA board whose other slot holds a valid app it
//! keeps starting), then the partition table and otadata (one transfer each),
//! and the bootloader last, in one transfer that lands whole or not at all
//! (a bootloader compresses to one frame of the loader): a blank board has
//! no bootloader until everything else is in place, a used board keeps its
//! old one. A cut leaves the error saying what the board now has.

use serde::Serialize;

use crate::error::Error;
use crate::flash::device::{SectorCounts, WireStats};
use crate::flash::{align_up, DeviceFlash, DeviceOptions, Flash, SECTOR_SIZE};
use crate::format::chip::Chip;
use crate::format::image::ImageHeader;
use crate::format::partition::{PartitionTable, SUBTYPE_OTA, TABLE_OFFSET, TABLE_SIZE, TYPE_DATA};

use super::cut::{leaving, CutLeaves};

/// What flashing a firmware did.
#[derive(Debug, Clone, Serialize)]
pub struct FlashReport {
    /// The device's port.
    pub port: String,
    /// The device's MAC address, if it told.
    pub mac: Option<String>,
    /// Flash offset the image was written at (the chip's bootloader offset).
    pub offset: u32,
    /// Length of the image in bytes.
    pub bytes: u32,
    /// Flash offset up to which the device was erased after the image (the
    /// end of the partition it ends in, or with `erase_rest` of the flash).
    pub erased_to: u32,
    /// Sectors written, erased and found unchanged.
    pub sectors: SectorCounts,
    /// The flash size in the image's bootloader header, when it differs from the device's.
    #[serde(skip)]
    pub header_mismatch: Option<HeaderMismatch>,
    /// What went over the link.
    #[serde(skip)]
    pub wire: WireStats,
}

/// The flash ranges of an image in the order they are written (start, end
/// exclusive; each within the image, sector aligned).
struct Pieces {
    /// Everything after the table but otadata: apps and data, in order.
    body: Vec<(u32, u32)>,
    /// The partition table sector.
    table: Option<(u32, u32)>,
    /// The new table's otadata, where the image covers it.
    otadata: Option<(u32, u32)>,
    /// From the bootloader offset to the table.
    bootloader: Option<(u32, u32)>,
}

impl Pieces {
    /// Cut `bl..end` (an image from the bootloader offset, padded to a
    /// sector) along the table sector and `table`'s otadata.
    fn of(bl: u32, end: u32, table: Option<&PartitionTable>) -> Pieces {
        let clip = |a: u32, b: u32| (a.max(bl) < b.min(end)).then(|| (a.max(bl), b.min(end)));
        let table_end = TABLE_OFFSET + TABLE_SIZE as u32;
        let otadata = table
            .and_then(|t| t.entries.iter().find(|p| p.ptype == TYPE_DATA && p.subtype == SUBTYPE_OTA))
            .filter(|p| p.offset >= table_end && p.offset.is_multiple_of(SECTOR_SIZE))
            .and_then(|p| clip(p.offset, align_up(p.end(), SECTOR_SIZE)));
        let body = match otadata {
            Some((a, b)) => [clip(table_end, a), clip(b, end)].into_iter().flatten().collect(),
            None => clip(table_end, end).into_iter().collect(),
        };
        Pieces { body, table: clip(TABLE_OFFSET, table_end), otadata, bootloader: clip(bl, TABLE_OFFSET) }
    }
}

/// A bootloader header's flash size that is not the device's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderMismatch {
    /// The flash size in the image's header, in bytes.
    pub header: u32,
    /// The device's flash size, in bytes.
    pub device: u32,
}

/// Connect to the device on `port` with `options` and flash `image` (a
/// firmware for `chip`, from its bootloader offset on); with `erase_rest`,
/// erase the flash past it to the end (see the module documentation).
///
/// Errors: [`Error::Device`] when connecting fails, and those of [`write_image`].
pub fn flash_image(
    port: &str,
    options: DeviceOptions,
    image: &[u8],
    chip: &'static Chip,
    erase_rest: bool,
) -> Result<FlashReport, Error> {
    let mut d = DeviceFlash::open(port, options)?;
    let report = write_image(&mut d, image, chip, erase_rest)?;
    d.close();
    Ok(report)
}

/// Flash `image` (a firmware for `chip`, from its bootloader offset on) to
/// the connected device `d`; with `erase_rest`, erase the flash past it to
/// the end (see the module documentation).
///
/// Errors: [`Error::WrongChip`] for a device of another chip,
/// [`Error::FirmwareTooBig`] for an image longer than its flash,
/// [`Error::Interrupted`] (what the board is left with) when a write is cut
/// off, [`Error::Flash`] when another write error occurs.
pub fn write_image(
    d: &mut DeviceFlash,
    image: &[u8],
    chip: &'static Chip,
    erase_rest: bool,
) -> Result<FlashReport, Error> {
    if d.chip().name != chip.name {
        return Err(Error::WrongChip { firmware: chip.name, port: d.facts().port.clone(), device: d.chip().name });
    }
    let bl = chip.bootloader_offset;
    let end = bl + image.len() as u32;
    if end > d.data_end() {
        return Err(Error::FirmwareTooBig { len: image.len(), offset: bl, flash_size: d.data_end() });
    }
    let device = d.facts().flash_size;
    let header_mismatch = ImageHeader::parse(image)
        .ok()
        .and_then(|h| h.flash_size())
        .filter(|&s| s != device)
        .map(|header| HeaderMismatch { header, device });
    // The image's last sector is padded with 0xFF, then the partition it
    // ends in is erased to its end, so no old data follows the new image.
    let padded_end = align_up(end, SECTOR_SIZE).min(d.data_end());
    let mut data = image.to_vec();
    data.resize((padded_end - bl) as usize, 0xFF);
    let table_at = (TABLE_OFFSET - bl) as usize;
    let table = image.get(table_at..table_at + TABLE_SIZE).and_then(|t| PartitionTable::parse(t).ok());
    let part_end = table
        .as_ref()
        .and_then(|t| t.entries.iter().find(|p| p.offset < end && end <= p.end()).map(|p| p.end()))
        .unwrap_or(padded_end)
        .max(padded_end);
    let part_end = if erase_rest { d.data_end() } else { part_end };
    let pieces = Pieces::of(bl, padded_end, table.as_ref());
    let slice = |(a, b): (u32, u32)| &data[(a - bl) as usize..(b - bl) as usize];
    let incomplete = |_| Some(CutLeaves::FirmwareIncomplete);
    for &r in &pieces.body {
        leaving(d.write(r.0, slice(r)).map_err(Error::from), incomplete)?;
    }
    if part_end > padded_end {
        leaving(d.erase(padded_end, part_end - padded_end).map_err(Error::from), incomplete)?;
    }
    for &r in pieces.table.iter().chain(&pieces.otadata) {
        leaving(d.write_whole(r.0, slice(r)).map_err(Error::from), incomplete)?;
    }
    if let Some(r) = pieces.bootloader {
        let leaves = |torn| Some(if torn { CutLeaves::BootloaderTorn } else { CutLeaves::BootloaderNotYet });
        leaving(d.write_whole(r.0, slice(r)).map_err(Error::from), leaves)?;
    }
    Ok(FlashReport {
        port: d.facts().port.clone(),
        mac: d.facts().mac.clone(),
        offset: bl,
        bytes: image.len() as u32,
        erased_to: part_end,
        sectors: d.counts.clone(),
        header_mismatch,
        wire: d.wire().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::partition::Partition;

    #[test]
    fn pieces_put_otadata_table_and_bootloader_last() {
        let generic = PartitionTable {
            entries: vec![
                Partition::new("nvs", 1, 2, 0x9000, 0x6000, 0),
                Partition::new("factory", 0, 0, 0x10000, 0x1f0000, 0),
            ],
            ..PartitionTable::default()
        };
        let p = Pieces::of(0x1000, 0x29000, Some(&generic));
        assert_eq!(p.body, vec![(0x9000, 0x29000)]);
        assert_eq!((p.table, p.otadata, p.bootloader), (Some((0x8000, 0x9000)), None, Some((0x1000, 0x8000))));
        let ota = PartitionTable {
            entries: vec![
                Partition::new("nvs", 1, 2, 0x9000, 0x4000, 0),
                Partition::new("otadata", 1, 0, 0xd000, 0x2000, 0),
                Partition::new("ota_0", 0, 0x10, 0x10000, 0xf0000, 0),
            ],
            ..PartitionTable::default()
        };
        let p = Pieces::of(0, 0x30000, Some(&ota));
        assert_eq!(p.body, vec![(0x9000, 0xd000), (0xf000, 0x30000)]);
        assert_eq!(
            (p.table, p.otadata, p.bootloader),
            (Some((0x8000, 0x9000)), Some((0xd000, 0xf000)), Some((0, 0x8000)))
        );
        // An image that ends inside otadata, and one that is a bootloader only.
        let p = Pieces::of(0, 0xe000, Some(&ota));
        assert_eq!((p.body, p.otadata), (vec![(0x9000, 0xd000)], Some((0xd000, 0xe000))));
        let p = Pieces::of(0x1000, 0x6000, None);
        assert_eq!((p.body, p.table, p.otadata, p.bootloader), (vec![], None, None, Some((0x1000, 0x6000))));
    }
}
