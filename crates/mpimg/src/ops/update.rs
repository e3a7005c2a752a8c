//! Committing a table edit to flash: the new table, the bootloader header (when
//! the flash size changed, with its appended SHA-256 recomputed), and erasing
//! the first blocks of data partitions that moved or changed so MicroPython
//! does not mount stale contents (except those whose filesystems
//! [`crate::ops::carry`] keeps, which are written again after the table).
//!
//! On a device the order matters if the link fails half way: data first (the
//! old table still stands), then the bootloader, whose header and digest
//! change together in one transfer (a bootloader with the new header and the
//! old digest, or the reverse, does not start), then the table. A table that
//! did not change is not written.

use crate::flash::{align_up, Flash, SECTOR_SIZE};
use crate::format::image::{parse_image, rehash, ImageHeader, HEADER_LEN};
use crate::format::partition::{PartitionTable, TABLE_OFFSET};

use crate::error::Error;

use super::carry::{self, Carried, CarryPlan};
use super::cut::{leaving, CutLeaves};
use super::firmware::Firmware;
use super::plan::Plan;

/// How many bytes at the start of a changed data partition are erased.
pub const DATA_ERASE_LEN: u32 = 4 * 0x1000;

/// What committing an edit did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpdateReport {
    /// The bootloader header (and its digest) changed.
    pub bootloader_rewritten: bool,
    /// Data partitions whose first blocks were erased.
    pub erased: Vec<String>,
}

/// Write `plan` to the firmware's flash and make it the firmware's table and
/// header, keeping the filesystems as `carry` (from [`carry::plan_edit`])
/// prepared: data partitions that changed are erased first (not those
/// `carry` keeps), then the bootloader header (when it changed) and the
/// table (when it changed) are written, then the moved filesystems are
/// written at their new places and read back. Erasing first means that if a
/// device's link fails before the table is written, the old table still stands.
///
/// Returns what was done and, per filesystem partition touched, what
/// happened to its files. Errors: flash errors, [`Error::Carry`] when a
/// filesystem written does not read back as it should, and
/// [`Error::Interrupted`] when a device's link fails while the bootloader may
/// be half written (one that needs several transfers).
pub fn commit<F: Flash>(
    fw: &mut Firmware<F>,
    plan: &Plan,
    carry: &CarryPlan,
) -> Result<(UpdateReport, Vec<Carried>), Error> {
    let erased = erase_changed_data(&mut fw.flash, &fw.table, &plan.table, &carry.keep)?;
    let mut report = UpdateReport { erased, ..UpdateReport::default() };
    if plan.header != fw.header || plan.renew_digest {
        let offset = fw.bootloader_offset();
        let r = write_bootloader_header(&mut fw.flash, offset, &plan.header);
        leaving(r, |torn| torn.then_some(CutLeaves::BootloaderTorn))?;
        report.bootloader_rewritten = true;
    }
    if plan.table != fw.table {
        write_table(&mut fw.flash, &plan.table)?;
    }
    fw.table = plan.table.clone();
    fw.header = plan.header.clone();
    if !carry.parts.is_empty() {
        carry::recreate(&mut fw.flash, carry)?;
        carry::verify(&mut fw.flash, carry)?;
    }
    Ok((report, carry.carried()))
}

/// Rewrite the bootloader's image header (byte 3 carries the flash size) and
/// its appended SHA-256. Only the header and digest bytes change, but the
/// bootloader is written as one piece ([`Flash::write_whole`]): on a device
/// header and digest land together or not at all.
pub fn write_bootloader_header(
    flash: &mut dyn Flash,
    bootloader_offset: u32,
    header: &ImageHeader,
) -> Result<(), Error> {
    let len = TABLE_OFFSET - bootloader_offset;
    let mut image = flash.read_vec(bootloader_offset, len)?;
    image[..HEADER_LEN].copy_from_slice(&header.to_bytes());
    rehash(&mut image)?;
    let info = parse_image(&image)?;
    let whole = (align_up(bootloader_offset + info.total_len as u32, SECTOR_SIZE) - bootloader_offset) as usize;
    flash.write_whole(bootloader_offset, &image[..whole.min(image.len())])?;
    Ok(())
}

/// Write the table sector.
pub fn write_table(flash: &mut dyn Flash, table: &PartitionTable) -> Result<(), Error> {
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
) -> Result<Vec<String>, Error> {
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
        if flash.stored_len(newp.offset, newp.size) == 0 {
            continue; // past the end of a file: reads as erased already
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
