//! Verifying images in flash: the bootloader and each app partition (header,
//! segment checksum, appended SHA-256), as `--check-app` reports them.

use serde::Serialize;

use crate::flash::{Flash, FlashKind};
use crate::format::image::{parse_image, ImageHeader};
use crate::format::partition::{hex, PartitionTable};

use super::region::Region;

/// The verdict on one region that should hold an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageCheck {
    pub name: String,
    pub offset: u32,
    /// Image length including the appended hash, when the image could be walked.
    pub size: Option<u32>,
    pub chip: Option<String>,
    pub checksum_ok: Option<bool>,
    /// None when the image has no appended hash.
    pub sha256_ok: Option<bool>,
    pub sha256: Option<String>,
    /// Why the image is not valid (None when valid).
    pub problem: Option<String>,
}

impl ImageCheck {
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }
}

/// Check the image at the start of `r`. On a file, regions past its end are
/// not checked (`None`).
pub fn check_image(flash: &mut dyn Flash, r: &Region) -> Option<ImageCheck> {
    if flash.kind() == FlashKind::File && r.offset >= flash.data_end() {
        return None;
    }
    let mut c = ImageCheck {
        name: r.name.clone(),
        offset: r.offset,
        size: None,
        chip: None,
        checksum_ok: None,
        sha256_ok: None,
        sha256: None,
        problem: None,
    };
    let len = match flash.kind() {
        FlashKind::File => r.end().min(flash.data_end()) - r.offset,
        FlashKind::Device => r.size,
    };
    let data = match flash.read_vec(r.offset, len) {
        Ok(d) => d,
        Err(e) => {
            c.problem = Some(e.to_string());
            return Some(c);
        }
    };
    if data.iter().take(32).all(|&b| b == 0xFF) {
        c.problem = Some("no image (erased)".into());
        return Some(c);
    }
    if let Ok(h) = ImageHeader::parse(&data) {
        c.chip = h.chip().map(|ch| ch.name.to_string());
    }
    match parse_image(&data) {
        Ok(info) => {
            c.size = Some(info.total_len as u32);
            c.checksum_ok = Some(info.checksum_ok());
            c.sha256_ok = info.hash_ok();
            c.sha256 = info.sha_calc.map(|s| hex(&s));
            if !info.checksum_ok() {
                c.problem = Some(format!(
                    "segment checksum mismatch (stored {:#04x}, computed {:#04x})",
                    info.checksum_stored, info.checksum_calc
                ));
            } else if info.hash_ok() == Some(false) {
                c.problem = Some("SHA-256 digest mismatch".into());
            }
        }
        Err(e) => c.problem = Some(e.to_string()),
    }
    Some(c)
}

/// Check the bootloader and every app partition of `table`.
pub fn check_all(flash: &mut dyn Flash, table: &PartitionTable, bootloader_offset: u32) -> Vec<ImageCheck> {
    let regions = std::iter::once(Region::bootloader(bootloader_offset))
        .chain(table.entries.iter().filter(|p| p.is_app()).map(Region::of));
    regions.filter_map(|r| check_image(flash, &r)).collect()
}
