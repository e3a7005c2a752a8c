//! Verifying images in flash: the bootloader and each app partition (header,
//! segment checksum, appended SHA-256; in an app partition, an app and not a
//! bootloader or whole firmware), as `--check-app` reports them.

use serde::Serialize;

use crate::flash::Flash;
use crate::format::app_kind::{not_an_app, NotApp, NOT_AN_APP_LOOKS_AT};
use crate::format::image::parse_image;
use crate::format::partition::PartitionTable;

use super::region::{Region, RegionKind};
use super::summary::{image_summary, ImageSummary};

/// The verdict on one region that should hold an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageCheck {
    /// The region (`bootloader`, `factory`, `ota_0`, ...).
    pub name: String,
    /// What the image is.
    #[serde(flatten)]
    pub image: ImageSummary,
    /// The region is erased: no image at all (normal for a spare OTA slot).
    pub empty: bool,
    /// An image must be there: the bootloader, and the app the device boots.
    pub required: bool,
}

impl ImageCheck {
    /// A valid image, or an empty region where none is needed.
    pub fn is_valid(&self) -> bool {
        self.image.problem.is_none() || (self.empty && !self.required)
    }
}

/// Check the image at the start of `r`. On a file, regions past its end are
/// not checked (`None`).
pub fn check_image(flash: &mut dyn Flash, r: &Region) -> Option<ImageCheck> {
    let stored = flash.stored_len(r.offset, r.size);
    if stored == 0 {
        return None;
    }
    // On a slow backend, read the image (its headers say how long), not the empty rest.
    let walked = if flash.reads_are_slow() { super::walk::walk_image(flash, r.offset, stored) } else { None };
    let read = match walked {
        Some((_, len, _)) => flash.read_vec_dense(r.offset, len),
        None => flash.read_vec(r.offset, stored),
    };
    let data = match read {
        Ok(d) => d,
        Err(e) => {
            let mut image = image_summary(r.offset, &[], Err(e.to_string()), None);
            image.problem = Some(e.to_string());
            return Some(ImageCheck { name: r.name.clone(), image, empty: false, required: true });
        }
    };
    let empty = data.iter().take(32).all(|&b| b == 0xFF);
    let device = flash.stored_end().is_none();
    let info = match parse_image(&data) {
        _ if empty => Err("no image (erased)".to_string()),
        Err(e) if device => Err(super::walk::device_image_problem(&e.detail())),
        parsed => parsed.map_err(|e| e.to_string()),
    };
    let mut image = image_summary(r.offset, &data, info, None);
    if r.kind == RegionKind::App && image.problem.is_none() {
        if let Some(looks) = not_an_app_at(flash, r, stored, &data) {
            image.problem = Some(format!("not an app: it is {looks}"));
        }
    }
    Some(ImageCheck { name: r.name.clone(), image, empty, required: true })
}

/// What the valid image `data` at the start of app region `r` is, if not an
/// app. When only the image was read, the bytes up to where a whole
/// firmware's table would be are read too.
fn not_an_app_at(flash: &mut dyn Flash, r: &Region, stored: u32, data: &[u8]) -> Option<NotApp> {
    let looks = not_an_app(data)?;
    let want = (NOT_AN_APP_LOOKS_AT as u32).min(stored);
    if looks == NotApp::Bootloader && (data.len() as u32) < want {
        if let Ok(more) = flash.read_vec_dense(r.offset, want) {
            return not_an_app(&more);
        }
    }
    Some(looks)
}

/// Check the bootloader and every app partition of `table`. An image is
/// required in the bootloader region and in `boots` (the app partition the
/// device boots; other app partitions may be empty).
pub fn check_all(
    flash: &mut dyn Flash,
    table: &PartitionTable,
    bootloader_offset: u32,
    boots: Option<&str>,
) -> Vec<ImageCheck> {
    let regions = std::iter::once(Region::bootloader(bootloader_offset))
        .chain(table.entries.iter().filter(|p| p.is_app()).map(Region::of));
    let data_end = flash.data_end();
    regions
        .filter_map(|r| {
            let required = r.name == super::region::BOOTLOADER || boots == Some(r.name.as_str());
            match check_image(flash, &r) {
                Some(c) => Some(ImageCheck { required, ..c }),
                // A file that ends before the app it should boot lacks it.
                None if required => {
                    let mut image = image_summary(r.offset, &[], Err(String::new()), None);
                    image.problem = Some(format!("not in the file (it ends at {data_end:#x}): nothing to boot"));
                    Some(ImageCheck { name: r.name.clone(), image, empty: false, required })
                }
                None => None,
            }
        })
        .collect()
}
