//! Backing up a whole board: its flash from the bootloader offset to the end
//! of the last sector that holds data, as a firmware file (what every mpimg
//! command opens, and what `--flash` writes back).
//!
//! On a device the read is sparse: the bootloader and app images, whose
//! headers give their lengths, are read as data; everything else is asked
//! for its flash MD5 first (see `flash::device::sparse`), so the erased
//! megabytes of a board cost a few hundred bytes on the wire, not their size.

use serde::Serialize;

use crate::error::Error;
use crate::flash::{align_up, Flash, SECTOR_SIZE};
use crate::format::partition::TABLE_OFFSET;

use super::firmware::Firmware;
use super::walk::walk_image;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// Flash offset the backup starts at (the chip's bootloader offset).
    pub offset: u32,
    /// Flash offset one past its last byte: the end of the last 4 KB sector
    /// that holds data (everything from here to the end of the flash is erased).
    pub end: u32,
    /// The flash size the backup was taken from, in bytes.
    pub flash_size: u32,
}

impl Backup {
    /// The backup's length in bytes (`end - offset`).
    pub fn len(&self) -> u32 {
        self.end - self.offset
    }

    /// Whether the backup holds nothing.
    pub fn is_empty(&self) -> bool {
        self.end == self.offset
    }
}

/// Read the whole flash under `fw` from its bootloader offset and return
/// what it holds up to the end of the last sector with data, and the bytes
/// (a firmware file: flash from the bootloader offset on).
///
/// Errors: [`Error::Flash`] when reading fails.
pub fn backup<F: Flash>(fw: &mut Firmware<F>) -> Result<(Backup, Vec<u8>), Error> {
    let start = fw.bootloader_offset();
    let flash_size = fw.flash.detected_size().unwrap_or_else(|| fw.flash.data_end());
    // Images are data from their headers to their ends: read those as they
    // are, so only the rest is asked which parts are erased.
    let mut images = Vec::new();
    if let Some((_, len, _)) = walk_image(&mut fw.flash, start, TABLE_OFFSET - start) {
        images.push((start, len));
    }
    for p in fw.table.entries.iter().filter(|p| p.is_app()) {
        if let Some((_, len, _)) = walk_image(&mut fw.flash, p.offset, p.size) {
            images.push((p.offset, len));
        }
    }
    for (offset, len) in images {
        if offset + len <= flash_size {
            fw.flash.read_vec_dense(offset, len)?;
        }
    }
    let mut data = fw.flash.read_vec(start, flash_size - start)?;
    let used = data.iter().rposition(|&b| b != 0xFF).map_or(0, |i| i as u32 + 1);
    let end = align_up(start + used, SECTOR_SIZE).min(flash_size).max(start);
    data.truncate((end - start) as usize);
    Ok((Backup { offset: start, end, flash_size }, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;
    use crate::format::chip::Chip;
    use crate::format::image::testimg;
    use crate::format::partition::{Partition, PartitionTable};

    /// A firmware file with a bootloader, a table with an app, the app, and
    /// one byte of data far past it: the backup ends at that byte's sector.
    #[test]
    fn ends_at_the_last_sector_with_data() {
        let bl = testimg::sample(0);
        let app = testimg::sample(0);
        let table = PartitionTable {
            entries: vec![Partition::new("factory", 0, 0, 0x10000, 0x10000, 0)],
            ..Default::default()
        };
        let mut bytes = vec![0xFFu8; 0x5_0000 - 0x1000];
        bytes[..bl.len()].copy_from_slice(&bl);
        let t = table.to_bytes().unwrap();
        bytes[0x7000..0x7000 + t.len()].copy_from_slice(&t);
        bytes[0xF000..0xF000 + app.len()].copy_from_slice(&app);
        bytes[0x3_2344] = 0;
        let f = FileFlash::new(bytes.clone(), 0x1000, 0x40_0000);
        let mut fw = Firmware::open(f, Chip::by_name("esp32").unwrap()).unwrap();
        let (b, data) = backup(&mut fw).unwrap();
        assert_eq!(b, Backup { offset: 0x1000, end: 0x3_4000, flash_size: 0x5_0000 });
        assert_eq!(data, bytes[..0x3_3000]);
    }
}
