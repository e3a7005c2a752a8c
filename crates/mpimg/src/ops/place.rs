//! Where a whole firmware image sits in flash: written at the chip's
//! bootloader offset (the rest of the partition it ends in erased, so no
//! stale bytes follow a shorter image), and found when it was written
//! somewhere else (an esp32 image at 0x0 instead of 0x1000, an esp32s3 image
//! at 0x1000 instead of 0x0, a c5/p4 image not at 0x2000), then moved.
//!
//! A firmware image is the flash from the bootloader offset on: its table
//! names flash offsets as they are when the image sits where it belongs, so
//! an image written `d` bytes away has its table at `0x8000 + d` and each app
//! at the partition's offset `+ d`.

use serde::Serialize;

use crate::error::Error;
use crate::flash::{align_up, Flash, SECTOR_SIZE};
use crate::format::chip::Chip;
use crate::format::image::{parse_image, ImageHeader, HEADER_LEN};
use crate::format::partition::{PartitionTable, SUBTYPE_OTA, TABLE_OFFSET, TABLE_SIZE, TYPE_DATA};

use crate::fs::detect::{detect, Detected};

use super::cut::{leaving, CutLeaves};
use super::walk::walk_image;

/// Every flash offset a chip starts its bootloader from (see [`Chip::bootloader_offset`]).
pub const BOOTLOADER_OFFSETS: [u32; 3] = [0x0, 0x1000, 0x2000];

/// Write `image` (a firmware from the bootloader offset `at` on) to `flash`:
/// its last sector padded with 0xFF, then the partition the image ends in
/// erased to its end (with `erase_rest`, the whole flash after the image).
/// Returns the flash offset erased to.
///
/// The order keeps a board that is cut off half way starting for as long as
/// it can, as ESP-IDF boots (the ROM starts the bootloader, which reads the
/// table and otadata and starts the app otadata selects, else the first):
/// the apps and data go first (the old bootloader, table and otadata still
/// select the old app), then the partition table and otadata (one transfer
/// each), and the bootloader last, in one transfer that lands whole or not
/// at all (a bootloader compresses to one frame of the loader). A blank
/// board has no bootloader until everything else is in place; a used board
/// keeps its old one.
///
/// Errors: [`Error::Interrupted`] (what the board is left with) when a
/// device write is cut off, other flash errors as [`Error::Flash`].
pub fn write_image(flash: &mut dyn Flash, at: u32, image: &[u8], erase_rest: bool) -> Result<u32, Error> {
    let end = at + image.len() as u32;
    let padded_end = align_up(end, SECTOR_SIZE).min(flash.data_end());
    let mut data = image.to_vec();
    data.resize((padded_end - at) as usize, 0xFF);
    let table = table_in(image, at);
    let part_end = table
        .as_ref()
        .and_then(|t| t.entries.iter().find(|p| p.offset < end && end <= p.end()).map(|p| p.end()))
        .unwrap_or(padded_end)
        .max(padded_end)
        .min(flash.data_end());
    let part_end = if erase_rest { flash.data_end() } else { part_end };
    let pieces = Pieces::of(at, padded_end, table.as_ref());
    let slice = |(a, b): (u32, u32)| &data[(a - at) as usize..(b - at) as usize];
    let incomplete = |_| Some(CutLeaves::FirmwareIncomplete);
    for &r in &pieces.body {
        leaving(flash.write(r.0, slice(r)).map_err(Error::from), incomplete)?;
    }
    if part_end > padded_end {
        leaving(flash.erase(padded_end, part_end - padded_end).map_err(Error::from), incomplete)?;
    }
    for &r in pieces.table.iter().chain(&pieces.otadata) {
        leaving(flash.write_whole(r.0, slice(r)).map_err(Error::from), incomplete)?;
    }
    if let Some(r) = pieces.bootloader {
        let leaves = |torn| Some(if torn { CutLeaves::BootloaderTorn } else { CutLeaves::BootloaderNotYet });
        leaving(flash.write_whole(r.0, slice(r)).map_err(Error::from), leaves)?;
    }
    Ok(part_end)
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

/// The partition table inside a firmware image that starts at flash offset `at`.
fn table_in(image: &[u8], at: u32) -> Option<PartitionTable> {
    let from = TABLE_OFFSET.checked_sub(at)? as usize;
    image.get(from..from + TABLE_SIZE).and_then(|t| PartitionTable::parse(t).ok())
}

/// A bootloader image found at another offset than the chip's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Misplaced {
    /// The flash offset it was found at.
    pub offset: u32,
    /// The chip its header names.
    #[serde(serialize_with = "chip_name")]
    pub chip: &'static Chip,
}

fn chip_name<S: serde::Serializer>(c: &&'static Chip, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.name)
}

/// Look for a bootloader image at each offset a chip can start one from,
/// other than `chip`'s own: an image header naming a known chip whose
/// segments end before the partition table would (for a firmware placed
/// there). The first found, lowest offset first.
///
/// Errors: flash errors.
pub fn find_misplaced(flash: &mut dyn Flash, chip: &Chip) -> Result<Option<Misplaced>, Error> {
    for offset in BOOTLOADER_OFFSETS.into_iter().filter(|&o| o != chip.bootloader_offset) {
        let head = flash.read_vec(offset, HEADER_LEN as u32)?;
        let Some(found) = ImageHeader::parse(&head).ok().and_then(|h| h.chip()) else { continue };
        if walk_image(flash, offset, TABLE_OFFSET).is_some() {
            return Ok(Some(Misplaced { offset, chip: found }));
        }
    }
    Ok(None)
}

/// What moving a firmware did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// Where it was.
    pub from: u32,
    /// Where it is now (the chip's bootloader offset).
    pub to: u32,
    /// Bytes moved: the bootloader through the end of the last app image,
    /// or through the end of the last filesystem the image holds.
    pub bytes: u32,
    /// The partitions past the apps moved with them (their filesystems were
    /// written with the firmware): `vfs`, say.
    pub partitions: Vec<String>,
    /// Flash offset erased to after it.
    pub erased_to: u32,
}

/// A misplaced firmware read whole, ready to be written where it belongs
/// (see [`read_move`], [`write_move`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePlan {
    /// Where it is.
    pub from: u32,
    /// Where it goes (the chip's bootloader offset).
    pub to: u32,
    /// The firmware image, from its bootloader on (as it belongs at `to`).
    pub image: Vec<u8>,
    /// The partitions past the apps it carries (see [`Moved::partitions`]).
    pub partitions: Vec<String>,
}

/// Read the firmware whose bootloader is at `from` for moving it to
/// `chip`'s bootloader offset: the bootloader, the table, each app image and
/// every partition past the apps the misplaced image wrote a filesystem
/// into. Nothing is written.
///
/// A partition past the apps is carried when a filesystem starts at its
/// shifted offset (littlefs magic or a FAT boot sector in its first block)
/// and, for an image written above where it belongs, none starts at the
/// partition's own offset: that one is a filesystem already in place that
/// a shorter image (a release without files) never reached, and is kept.
///
/// Only a whole firmware is moved: its bootloader and the app its table
/// boots (the factory app, else the first) must be valid images (checksum
/// and digest), so a fragment left by a move cut off half way is refused.
///
/// Errors: [`Error::Table`] when there is no partition table where the
/// misplaced firmware has it, [`Error::MisplacedNotWhole`] when a piece is
/// not valid, and flash errors.
pub fn read_move(flash: &mut dyn Flash, chip: &Chip, from: u32) -> Result<MovePlan, Error> {
    let to = chip.bootloader_offset;
    let limit = flash.data_end();
    // Where `offset` of the firmware's own table lies in flash now (None: off the flash).
    let shifted = |offset: u32| (offset.checked_add(from)?.checked_sub(to)).filter(|&o| o < limit);
    let at = shifted(TABLE_OFFSET).ok_or(crate::format::partition::TableError::Missing)?;
    let table = PartitionTable::parse(&flash.read_vec(at, TABLE_SIZE as u32)?)?;
    let mut len = TABLE_OFFSET + TABLE_SIZE as u32 - to;
    for p in table.entries.iter().filter(|p| p.is_app()) {
        let Some(start) = shifted(p.offset) else { continue };
        if let Some((_, n, _)) = walk_image(flash, start, p.size.min(limit - start)) {
            len = len.max(start + n - from);
        }
    }
    let mut partitions = Vec::new();
    let apps_end = to + len;
    for p in table.entries.iter().filter(|p| !p.is_app() && p.offset >= apps_end) {
        let Some(start) = shifted(p.offset) else { continue };
        let in_place = from > to && starts_filesystem(flash, p.offset)?;
        if starts_filesystem(flash, start)? && !in_place {
            let end = start.saturating_add(p.size).min(limit);
            len = len.max(end - from);
            partitions.push(p.name());
        }
    }
    let image = flash.read_vec(from, len)?;
    let not_whole = |what: String| Error::MisplacedNotWhole { found: from, what };
    if !parse_image(&image).is_ok_and(|i| i.is_valid()) {
        return Err(not_whole("its bootloader is not a valid image".into()));
    }
    let boots =
        table.entries.iter().find(|p| p.is_app() && p.subtype == 0).or(table.entries.iter().find(|p| p.is_app()));
    if let Some(app) = boots {
        let valid = (app.offset.checked_sub(to))
            .and_then(|o| image.get(o as usize..))
            .is_some_and(|d| parse_image(d).is_ok_and(|i| i.is_valid()));
        if !valid {
            return Err(not_whole(format!("the app in '{}' is not a valid image", app.name())));
        }
    }
    Ok(MovePlan { from, to, image, partitions })
}

/// Write a firmware [`read_move`] read where it belongs (as [`write_image`]
/// does), and erase the flash the old copy held that the new one does not
/// cover. Each partition then holds what the misplaced image put in it.
///
/// Errors: [`Error::Interrupted`] when a device write is cut off (the
/// board may not start: the image must be flashed again), flash errors.
pub fn write_move(flash: &mut dyn Flash, plan: &MovePlan) -> Result<Moved, Error> {
    let (from, to) = (plan.from, plan.to);
    let len = plan.image.len() as u32;
    // Below the new copy first: a cut later leaves no stray bootloader there.
    if from < to {
        flash.erase(from, to - from)?;
    }
    let erased_to = write_image(flash, to, &plan.image, false)?;
    let old_end = align_up(from + len, SECTOR_SIZE).min(flash.data_end());
    if old_end > erased_to {
        flash.erase(erased_to, old_end - erased_to)?;
    }
    Ok(Moved { from, to, bytes: len, partitions: plan.partitions.clone(), erased_to })
}

/// Move the firmware whose bootloader is at `from` to `chip`'s bootloader
/// offset: [`read_move`], then [`write_move`].
///
/// Errors: those of both.
pub fn move_firmware(flash: &mut dyn Flash, chip: &Chip, from: u32) -> Result<Moved, Error> {
    let plan = read_move(flash, chip, from)?;
    write_move(flash, &plan)
}

/// Whether a filesystem starts at flash offset `at`: littlefs's magic or a
/// FAT boot sector in the block there (one block only: the next block of a
/// littlefs a sector away holds the magic too).
fn starts_filesystem(flash: &mut dyn Flash, at: u32) -> Result<bool, Error> {
    if at >= flash.data_end() {
        return Ok(false);
    }
    let block = flash.read_vec(at, SECTOR_SIZE.min(flash.data_end() - at))?;
    Ok(detect(&block, &block) != Detected::Nothing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;
    use crate::format::image::testimg;
    use crate::format::partition::Partition;

    /// A firmware for `chip_id` from offset `bl`: bootloader, table, one app at 0x10000.
    fn firmware(chip_id: u16, bl: u32) -> Vec<u8> {
        let mut img = vec![0xFF; (0x10000 - bl) as usize];
        let boot = testimg::sample(chip_id);
        img[..boot.len()].copy_from_slice(&boot);
        let table = PartitionTable {
            entries: vec![
                Partition::new("nvs", 1, 2, 0x9000, 0x6000, 0),
                Partition::new("factory", 0, 0, 0x10000, 0x10000, 0),
            ],
            ..PartitionTable::default()
        };
        let t = (TABLE_OFFSET - bl) as usize;
        img[t..t + TABLE_SIZE].copy_from_slice(&table.to_bytes().unwrap());
        img.extend_from_slice(&testimg::sample(chip_id));
        img
    }

    #[test]
    fn an_esp32_firmware_at_0x0_is_found_and_moved_to_0x1000() {
        let esp32 = Chip::by_name("esp32").unwrap();
        let fw = firmware(0, 0x1000);
        let mut flash = vec![0xFF; 0x40000];
        flash[..fw.len()].copy_from_slice(&fw);
        let mut f = FileFlash::new(flash, 0, 0x40000);
        let m = find_misplaced(&mut f, esp32).unwrap().unwrap();
        assert_eq!((m.offset, m.chip.name), (0, "esp32"));
        let moved = move_firmware(&mut f, esp32, 0).unwrap();
        assert_eq!((moved.from, moved.to, moved.bytes as usize), (0, 0x1000, fw.len()));
        // Where it belongs, byte for byte; the factory partition after the
        // image erased; the sector before it erased.
        assert_eq!(&f.bytes()[0x1000..0x1000 + fw.len()], &fw[..]);
        assert_eq!(moved.erased_to, 0x20000);
        assert!(f.bytes()[..0x1000].iter().all(|&b| b == 0xFF));
        assert!(f.bytes()[0x1000 + fw.len()..0x20000].iter().all(|&b| b == 0xFF));
        assert_eq!(find_misplaced(&mut f, esp32).unwrap(), None);
    }

    #[test]
    fn an_esp32s3_firmware_at_0x1000_is_moved_to_0x0() {
        let s3 = Chip::by_name("esp32s3").unwrap();
        let fw = firmware(9, 0);
        let mut flash = vec![0xFF; 0x40000];
        flash[0x1000..0x1000 + fw.len()].copy_from_slice(&fw);
        let mut f = FileFlash::new(flash, 0, 0x40000);
        assert_eq!(find_misplaced(&mut f, s3).unwrap().map(|m| m.offset), Some(0x1000));
        let moved = move_firmware(&mut f, s3, 0x1000).unwrap();
        assert_eq!((moved.to, moved.bytes as usize), (0, fw.len()));
        assert_eq!(&f.bytes()[..fw.len()], &fw[..]);
        // The old copy's tail past the new end is erased.
        assert!(f.bytes()[fw.len()..0x40000].iter().all(|&b| b == 0xFF));
        assert_eq!(find_misplaced(&mut f, s3).unwrap(), None);
    }

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
