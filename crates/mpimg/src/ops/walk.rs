//! Images read no further than needed, for backends that are slow to read (a
//! device): walking the segment headers gives an image's length from a few
//! small reads, so inspecting reads the image's start (descriptor) instead of
//! the whole partition, and extracting or checking an app reads the image and
//! not the empty rest of its partition.

use crate::flash::Flash;
use crate::format::app_desc::{APP_DESC_LEN, APP_DESC_OFFSET};
use crate::format::bootloader_desc::{BootloaderDesc, BOOTLOADER_DESC_LEN, BOOTLOADER_DESC_OFFSET};
use crate::format::image::{
    check_layout, image_end, parse_image, segment_header, ImageHeader, DIGEST_LEN, HEADER_LEN, IMAGE_MAGIC,
    SEGMENT_HEADER_LEN,
};
use crate::format::partition::{hex, Partition, PartitionTable};

use super::summary::{app_summary, image_summary, AppSummary, ImageSummary, SegmentView};

/// First read of an app: header and `esp_app_desc_t` (0x20..0x120).
const FIRST_READ: u32 = (APP_DESC_OFFSET + APP_DESC_LEN) as u32;
/// First read of a bootloader: header and `esp_bootloader_desc_t` (0x20..0x70).
const FIRST_READ_BOOTLOADER: u32 = (BOOTLOADER_DESC_OFFSET + BOOTLOADER_DESC_LEN) as u32;

/// The segments and total length (with checksum block and digest) of the
/// image at `offset`, from its headers alone; None if it is not a walkable image
/// within `limit` bytes.
pub fn walk_image(flash: &mut dyn Flash, offset: u32, limit: u32) -> Option<(Vec<SegmentView>, u32, ImageHeader)> {
    walk_image_checked(flash, offset, limit).ok()
}

/// [`walk_image`], saying why an image does not walk: the header or segment
/// header at fault (without advice, see [`crate::format::image::ImageError::detail`]),
/// or the image running past `limit`.
pub fn walk_image_checked(
    flash: &mut dyn Flash,
    offset: u32,
    limit: u32,
) -> Result<(Vec<SegmentView>, u32, ImageHeader), String> {
    // The same rules as format::image's walk of a whole image, a header at a time.
    let head = flash.read_vec(offset, HEADER_LEN as u32).map_err(|e| e.to_string())?;
    let header = ImageHeader::parse(&head).map_err(|e| e.detail())?;
    let count = check_layout(&header).map_err(|e| e.detail())?;
    let past = |what: String| format!("{what} lies past the end of the region ({limit:#x} bytes)");
    let mut pos = HEADER_LEN as u32;
    let mut segs = Vec::with_capacity(count);
    for index in 0..count {
        if pos + SEGMENT_HEADER_LEN as u32 > limit {
            return Err(past(format!("the header of segment {index} at offset {pos:#x}")));
        }
        let mut h = [0u8; SEGMENT_HEADER_LEN];
        flash.read(offset + pos, &mut h).map_err(|e| e.to_string())?;
        let (load_addr, len) = segment_header(index, pos as usize, &h).map_err(|e| e.detail())?;
        let data = pos + SEGMENT_HEADER_LEN as u32;
        segs.push(SegmentView { load_addr, offset: data, len });
        pos = data.checked_add(len).ok_or_else(|| past(format!("segment {index}")))?;
    }
    let (_, total) = image_end(pos as usize, header.hash_appended == 1);
    match u32::try_from(total) {
        Ok(total) if total <= limit => Ok((segs, total, header)),
        _ => Err(past(format!("the image ({total} bytes)"))),
    }
}

/// What is wrong with an image in a device's flash that does not walk: the
/// fault, and what leaves an image so (a write cut short, e.g. `--flash`
/// interrupted) and undoes it.
pub fn device_image_problem(detail: &str) -> String {
    format!("{detail}; the image in flash is incomplete or damaged (as a cut --flash leaves it): flash it again")
}

/// The bytes of the app image at the start of partition `p`: exactly the
/// image when it can be walked (read as data, see [`Flash::read_dense`]),
/// else the whole partition.
pub fn read_app_image(flash: &mut dyn Flash, p: &Partition) -> Result<Vec<u8>, crate::flash::FlashError> {
    match walk_image(flash, p.offset, p.size) {
        Some((_, len, _)) => flash.read_vec_dense(p.offset, len),
        None => flash.read_vec(p.offset, p.size),
    }
}

/// Fill in what the headers tell about an image that was not read whole:
/// segments, length and stored digest; checksum and SHA-256 stay unverified (None).
fn from_walk(flash: &mut dyn Flash, s: &mut ImageSummary, offset: u32, walk: (Vec<SegmentView>, u32, ImageHeader)) {
    let (segs, total, header) = walk;
    s.size = Some(total);
    s.segments = Some(segs.len());
    s.segment_list = segs;
    s.problem = None;
    s.checksum_ok = None;
    s.sha256_ok = None;
    s.sha256 = None;
    if header.hash_appended == 1 {
        s.sha256 = flash.read_vec(offset + total - DIGEST_LEN as u32, DIGEST_LEN as u32).ok().map(|d| hex(&d));
    }
}

/// Summarise the app in `p` from its headers and descriptor. The checksum,
/// SHA-256 and MicroPython banner need the whole image (the banner lies
/// 20..200 KB in): `--check-app` and `-x` read that, inspecting does not.
pub fn summarize_app_lazily(flash: &mut dyn Flash, p: &Partition) -> Option<AppSummary> {
    let walk = match walk_image_checked(flash, p.offset, p.size) {
        Ok(w) => w,
        Err(why) => {
            // Erased or not an image: summarise what the partition starts with.
            let data = flash.read_vec(p.offset, FIRST_READ.min(p.size)).ok()?;
            let mut s = app_summary(p.offset, &data, Some(p), false);
            if data.first() == Some(&IMAGE_MAGIC) {
                // Only the start was read: say what the headers say, not that the read is short.
                s.image.truncated = false;
                s.image.problem = Some(device_image_problem(&why));
            }
            return Some(s);
        }
    };
    let total = walk.1;
    let data = flash.read_vec(p.offset, FIRST_READ.min(total)).ok()?;
    let mut s = app_summary(p.offset, &data, Some(p), false);
    from_walk(flash, &mut s.image, p.offset, walk);
    s.used_percent = Some((1000.0 * f64::from(total) / f64::from(p.size.max(1))).round() / 10.0);
    s.free = Some(p.size.saturating_sub(total));
    Some(s)
}

/// Summarise the bootloader at `offset` from its headers and descriptor.
pub fn summarize_bootloader_lazily(flash: &mut dyn Flash, offset: u32, limit: u32) -> ImageSummary {
    let data = flash.read_vec(offset, FIRST_READ_BOOTLOADER.min(limit)).unwrap_or_default();
    let desc = BootloaderDesc::parse(&data).map(|d| (d.idf_ver, d.date_time));
    match walk_image(flash, offset, limit) {
        Some(walk) => {
            let mut s = image_summary(offset, &data, Err(String::new()), desc);
            from_walk(flash, &mut s, offset, walk);
            s
        }
        None => {
            // Not walkable: the full check says why.
            let all = flash.read_vec(offset, limit).unwrap_or_default();
            image_summary(offset, &all, parse_image(&all).map_err(|e| e.to_string()), desc)
        }
    }
}

/// App partitions whose first bytes are not an image header (after a table
/// edit on a device these are empty and boot nothing).
pub fn apps_without_image(flash: &mut dyn Flash, table: &PartitionTable) -> Vec<String> {
    table
        .entries
        .iter()
        .filter(|p| p.is_app())
        .filter(|p| flash.read_vec(p.offset, 1).map_or(true, |b| b[0] != IMAGE_MAGIC))
        .map(Partition::name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;
    use crate::format::image::testimg;

    #[test]
    fn walk_matches_parse() {
        let img = testimg::sample(9);
        let info = parse_image(&img).unwrap();
        let mut data = vec![0xFFu8; 0x1000];
        data.extend_from_slice(&img);
        let mut f = FileFlash::new(data, 0, 0x10_0000);
        let (segs, total, _) = walk_image(&mut f, 0x1000, 0x10000).unwrap();
        assert_eq!(total as usize, info.total_len);
        assert_eq!(segs.len(), info.segments.len());
        assert_eq!(segs[0].offset as usize, info.segments[0].data_offset);
        assert!(walk_image(&mut f, 0x1000, total - 1).is_none());
        assert!(walk_image(&mut f, 0, 0x1000).is_none());
        let p = Partition::new("factory", 0, 0, 0x1000, 0x10000, 0);
        assert_eq!(read_app_image(&mut f, &p).unwrap(), img);
    }
}
