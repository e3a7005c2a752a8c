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

use serde::Serialize;

use crate::error::Error;
use crate::flash::device::{SectorCounts, WireStats};
use crate::flash::{align_up, DeviceFlash, DeviceOptions, Flash, SECTOR_SIZE};
use crate::format::chip::Chip;
use crate::format::image::ImageHeader;
use crate::format::partition::{PartitionTable, TABLE_OFFSET, TABLE_SIZE};

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
/// [`Error::Flash`] when writing fails.
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
    let part_end = image
        .get(table_at..table_at + TABLE_SIZE)
        .and_then(|t| PartitionTable::parse(t).ok())
        .and_then(|t| t.entries.iter().find(|p| p.offset < end && end <= p.end()).map(|p| p.end()))
        .unwrap_or(padded_end)
        .max(padded_end);
    let part_end = if erase_rest { d.data_end() } else { part_end };
    d.write(bl, &data)?;
    if part_end > padded_end {
        d.erase(padded_end, part_end - padded_end)?;
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
