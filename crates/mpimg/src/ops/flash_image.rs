//! Flashing a whole firmware image (a firmware file's bytes, bootloader offset
//! on) to a device: checked against the board first (its chip, its chip
//! revision, its flash size), then written, the rest of the partition it ends
//! in erased (no stale app bytes after a shorter image), verified.

use serde::Serialize;

use crate::error::Error;
use crate::flash::device::{SectorCounts, WireStats};
use crate::flash::{DeviceFlash, Flash};
use crate::format::chip::Chip;
use crate::format::image::ImageHeader;

use super::diagnose::images::revision_problem;
use super::diagnose::{parse_revision, revision_name, Board};
use super::place::write_image;

/// What flashing a firmware did.
#[derive(Debug, Clone, Serialize)]
pub struct FlashReport {
    /// The device's port.
    pub port: String,
    /// Flash offset the image was written at (the chip's bootloader offset).
    pub offset: u32,
    /// Length of the image in bytes.
    pub bytes: u32,
    /// Flash offset up to which the device was erased after the image (the end of the partition it ends in).
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
/// the device `d`, already checked with [`check_board`].
///
/// Errors: [`Error::FirmwareTooBig`] for an image longer than its flash,
/// [`Error::Flash`] when writing fails.
pub fn flash_image(d: &mut DeviceFlash, image: &[u8], chip: &'static Chip) -> Result<FlashReport, Error> {
    let bl = chip.bootloader_offset;
    let end = u64::from(bl) + image.len() as u64;
    if end > u64::from(d.data_end()) {
        return Err(Error::FirmwareTooBig { len: image.len(), offset: bl, flash_size: d.data_end() });
    }
    let erased_to = write_image(d, bl, image)?;
    Ok(FlashReport {
        port: d.facts().port.clone(),
        offset: bl,
        bytes: image.len() as u32,
        erased_to,
        sectors: d.counts.clone(),
        wire: d.wire().clone(),
    })
}
