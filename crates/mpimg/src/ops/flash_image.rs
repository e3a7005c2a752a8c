//! Flashing a whole firmware image (a firmware file's bytes, bootloader offset
//! on) to a device: checked against the board first (its chip, its chip
//! revision), then written, the rest of the partition it ends in erased (no
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
//! update) stay as they were. The order of the writes, which keeps a board
//! cut off half way starting, is [`super::place::write_image`]'s.

use serde::Serialize;

use crate::error::Error;
use crate::flash::device::{SectorCounts, WireStats};
use crate::flash::{DeviceFlash, Flash};
use crate::format::chip::Chip;
use crate::format::image::ImageHeader;

use super::diagnose::images::revision_problem;
use super::diagnose::{parse_revision, revision_name, Board};

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
    /// What went over the link.
    #[serde(skip)]
    pub wire: WireStats,
}

/// The board on the other end of `d`, as a diagnosis sees it.
pub fn board_of(d: &DeviceFlash) -> Board {
    Board {
        chip: d.chip(),
        revision: d.facts().revision.as_deref().and_then(parse_revision),
        flash_size: d.facts().flash_size,
    }
}

/// Refuse a firmware for `chip` whose bootloader header is `header` that
/// the board on `d` would not start: another chip, or a chip revision the
/// image does not run on. Nothing is written.
///
/// Errors: [`Error::WrongChip`], [`Error::ChipRevision`].
pub fn check_board(d: &DeviceFlash, chip: &'static Chip, header: &ImageHeader) -> Result<(), Error> {
    if d.chip().name != chip.name {
        return Err(Error::WrongChip { firmware: chip.name, port: d.facts().port.clone(), device: d.chip().name });
    }
    let board = board_of(d);
    if let Some(why) = board.revision.and_then(|r| revision_problem(header, r)) {
        return Err(Error::ChipRevision {
            why,
            port: d.facts().port.clone(),
            chip: chip.name,
            revision: board.revision.map(revision_name).unwrap_or_default(),
        });
    }
    Ok(())
}

/// Flash `image` (a firmware for `chip`, from its bootloader offset on) to
/// the connected device `d`, after [`check_board`]; with `erase_rest`, erase
/// the flash past it to the end (see the module documentation).
///
/// Errors: those of [`check_board`], [`Error::FirmwareTooBig`] for an image
/// longer than its flash, [`Error::Interrupted`] (what the board is left
/// with) when a write is cut off, [`Error::Flash`] when another write error
/// occurs.
pub fn write_image(
    d: &mut DeviceFlash,
    image: &[u8],
    chip: &'static Chip,
    erase_rest: bool,
) -> Result<FlashReport, Error> {
    if let Ok(header) = ImageHeader::parse(image) {
        check_board(d, chip, &header)?;
    }
    let bl = chip.bootloader_offset;
    let end = u64::from(bl) + image.len() as u64;
    if end > u64::from(d.data_end()) {
        return Err(Error::FirmwareTooBig { len: image.len(), offset: bl, flash_size: d.data_end() });
    }
    let erased_to = super::place::write_image(d, bl, image, erase_rest)?;
    Ok(FlashReport {
        port: d.facts().port.clone(),
        mac: d.facts().mac.clone(),
        offset: bl,
        bytes: image.len() as u32,
        erased_to,
        sectors: d.counts.clone(),
        wire: d.wire().clone(),
    })
}
