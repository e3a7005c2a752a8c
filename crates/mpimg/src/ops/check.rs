//! Verifying images in flash: the bootloader and each app partition (header,
//! segment checksum, appended SHA-256), as `--check-app` reports them.

use serde::Serialize;

use crate::flash::{Flash, FlashKind};
use crate::format::image::parse_image;
use crate::format::partition::PartitionTable;

use super::inspect::{image_summary, ImageSummary};
use super::region::Region;

/// The verdict on one region that should hold an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageCheck {
    pub name: String,
    #[serde(flatten)]
    pub image: ImageSummary,
}

impl ImageCheck {
    pub fn is_valid(&self) -> bool {
        self.image.problem.is_none()
    }
}

/// Check the image at the start of `r`. On a file, regions past its end are
/// not checked (`None`).
pub fn check_image(flash: &mut dyn Flash, r: &Region) -> Option<ImageCheck> {
    if flash.kind() == FlashKind::File && r.offset >= flash.data_end() {
        return None;
    }
    let len = match flash.kind() {
        FlashKind::File => r.end().min(flash.data_end()) - r.offset,
        // On a device, read the image (its headers say how long), not the empty rest.
        FlashKind::Device => super::device_app::walk_image(flash, r.offset, r.size).map_or(r.size, |w| w.1),
    };
    let data = match flash.read_vec(r.offset, len) {
        Ok(d) => d,
        Err(e) => {
            let mut image = image_summary(r.offset, &[], Err(e.to_string()), None);
            image.problem = Some(e.to_string());
            return Some(ImageCheck { name: r.name.clone(), image });
        }
    };
    let info = if data.iter().take(32).all(|&b| b == 0xFF) {
        Err("no image (erased)".to_string())
    } else {
        parse_image(&data).map_err(|e| e.to_string())
    };
    Some(ImageCheck { name: r.name.clone(), image: image_summary(r.offset, &data, info, None) })
}

/// Check the bootloader and every app partition of `table`.
pub fn check_all(flash: &mut dyn Flash, table: &PartitionTable, bootloader_offset: u32) -> Vec<ImageCheck> {
    let regions = std::iter::once(Region::bootloader(bootloader_offset))
        .chain(table.entries.iter().filter(|p| p.is_app()).map(Region::of));
    regions.filter_map(|r| check_image(flash, &r)).collect()
}
