//! Committing a table edit to flash: the new table, the bootloader header (when
//! the flash size changed, with its appended SHA-256 recomputed), and erasing
//! the first blocks of data partitions that moved or changed so MicroPython
//! does not mount stale contents (except those whose filesystems
//! [`crate::ops::carry`] keeps).

use crate::flash::{Flash, FlashKind};
use crate::format::image::{parse_image, rehash, ImageHeader, HEADER_LEN};
use crate::format::partition::{PartitionTable, TABLE_OFFSET};

use super::OpError;

/// How many bytes at the start of a changed data partition are erased.
pub const DATA_ERASE_LEN: u32 = 4 * 0x1000;

/// What committing an edit did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpdateReport {
    pub bootloader_rewritten: bool,
    /// Data partitions whose first blocks were erased.
    pub erased: Vec<String>,
}

/// Rewrite the bootloader's image header (byte 3 carries the flash size) and
/// its appended SHA-256. Only the header and digest bytes change.
pub fn write_bootloader_header(flash: &mut dyn Flash, bootloader_offset: u32, header: &ImageHeader) -> Result<(), OpError> {
    let len = TABLE_OFFSET - bootloader_offset;
    let mut image = flash.read_vec(bootloader_offset, len)?;
    image[..HEADER_LEN].copy_from_slice(&header.to_bytes());
    rehash(&mut image)?;
    let info = parse_image(&image)?;
    // Digest first: if a device's link fails in between, the header still
    // holds the old size, so running the edit again rewrites both.
    if info.sha_stored.is_some() {
        flash.write(bootloader_offset + info.hashed_len as u32, &image[info.hashed_len..info.total_len])?;
    }
    flash.write(bootloader_offset, &image[..HEADER_LEN])?;
    Ok(())
}

/// Write the table sector.
pub fn write_table(flash: &mut dyn Flash, table: &PartitionTable) -> Result<(), OpError> {
    flash.write(TABLE_OFFSET, &table.to_bytes()?)?;
    Ok(())
}

/// Erase the first blocks of data partitions of `new` that differ from the
/// partition `old` had at or after the same offset, as mp-image-tool-esp32
/// decides it; returns their names. A filesystem-subtype partition that only
/// grew in place is left alone, and so are the partitions at the flash
/// offsets in `keep` (those whose filesystems are carried along).
pub fn erase_changed_data(
    flash: &mut dyn Flash,
    old: &PartitionTable,
    new: &PartitionTable,
    keep: &[u32],
) -> Result<Vec<String>, OpError> {
    let mut erased = Vec::new();
    let mut olds = old.entries.iter().peekable();
    for newp in &new.entries {
        while olds.peek().is_some_and(|o| o.offset < newp.offset) {
            olds.next();
        }
        let Some(oldp) = olds.peek() else { continue };
        if newp.is_app() || newp == *oldp || keep.contains(&newp.offset) {
            continue;
        }
        if flash.kind() == FlashKind::File && newp.offset >= flash.data_end() {
            continue; // past the end of the file: reads as erased already
        }
        let grew_in_place = newp.is_filesystem()
            && newp.ptype == oldp.ptype
            && newp.subtype == oldp.subtype
            && newp.offset == oldp.offset
            && newp.size > oldp.size;
        if !grew_in_place {
            flash.erase(newp.offset, newp.size.min(DATA_ERASE_LEN))?;
            erased.push(newp.name());
        }
    }
    Ok(erased)
}
