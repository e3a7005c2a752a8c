//! The facts shown about a firmware or app image, as values: what an image,
//! the app and the whole firmware are, gathered once so that the human report
//! and `--json` render the same thing. [`super::inspect`] gathers them.

use serde::Serialize;

use crate::format::app_desc::AppDesc;
use crate::format::banner::{find_banner, Banner};
use crate::format::image::{parse_image, parse_image_layout, ImageError, ImageHeader, ImageInfo};
use crate::format::partition::{hex, Partition, PartitionView, TableError};

/// An image (bootloader or app) as found in flash. Offsets are flash offsets.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImageSummary {
    /// Flash offset of the image header.
    pub offset: u32,
    /// Length in bytes including the checksum block and appended hash; None if
    /// the image could not be walked.
    pub size: Option<u32>,
    /// Number of segments.
    pub segments: Option<usize>,
    /// Each segment: load address, offset of its data in the image, length.
    pub segment_list: Vec<SegmentView>,
    /// The chip of the image header's chip id (`esp32s3`), if known.
    pub chip: Option<String>,
    /// Lowest chip revision it runs on (major × 100 + minor).
    pub min_chip_rev: u16,
    /// Highest chip revision it runs on (major × 100 + minor).
    pub max_chip_rev: u16,
    /// Whether the segment checksum matches (None: not verified).
    pub checksum_ok: Option<bool>,
    /// Whether the appended SHA-256 matches (None: none appended, or not verified).
    pub sha256_ok: Option<bool>,
    /// The appended SHA-256, in hex.
    pub sha256: Option<String>,
    /// ESP-IDF version from the image's descriptor.
    pub idf_version: Option<String>,
    /// Build date and time from the image's descriptor.
    pub build_date: Option<String>,
    /// What is wrong with the image (None when valid).
    pub problem: Option<String>,
    /// The data ends inside the image (a cut-short file).
    pub truncated: bool,
}

/// One segment of an image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SegmentView {
    /// Address the segment is loaded at.
    pub load_addr: u32,
    /// Offset of its data from the start of the image, in bytes.
    pub offset: u32,
    /// Length of its data in bytes.
    pub len: u32,
}

/// The app in the first app partition (or an app image file).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppSummary {
    /// The app partition it is in (None: an app image file).
    pub partition: Option<String>,
    /// That partition's size in bytes.
    pub partition_size: Option<u32>,
    /// Percentage of the partition the image fills.
    pub used_percent: Option<f64>,
    /// Bytes of the partition after the image.
    pub free: Option<u32>,
    /// MicroPython version from its banner (`v1.24.1`, or a git hash for custom builds).
    pub micropython_version: Option<String>,
    /// Build date from the banner (`YYYY-MM-DD`).
    pub micropython_date: Option<String>,
    /// False for custom builds whose banner has a git hash instead of vX.Y.Z.
    pub release: Option<bool>,
    /// Project name from the app descriptor.
    pub project_name: Option<String>,
    /// Version from the app descriptor.
    pub app_version: Option<String>,
    /// Compile date and time from the app descriptor.
    pub compile_time: Option<String>,
    /// The image itself.
    pub image: ImageSummary,
}

/// Everything `mpimg FILE` shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// The file or port, as given.
    pub source: String,
    /// `firmware`, `app-image` or `device`.
    pub kind: &'static str,
    /// The chip, from the bootloader's (or app's) image header.
    pub chip: String,
    /// Flash offset of the bootloader (firmware and device).
    pub bootloader_offset: Option<u32>,
    /// Flash size in the bootloader (or app) header, in bytes.
    pub flash_size: Option<u32>,
    /// Flash offset where the file's data ends (firmware files).
    pub data_end: Option<u32>,
    /// The bootloader image.
    pub bootloader: Option<ImageSummary>,
    /// The partition table, with MicroPython ≥ 1.26's implicit `vfs` where the board makes one.
    pub partitions: Vec<PartitionView>,
    /// The app in the first app partition.
    pub app: Option<AppSummary>,
    /// Problems that did not stop the run.
    pub warnings: Vec<Warning>,
}

/// Something odd found while inspecting that did not stop the run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The partition table breaks a rule (it was read all the same).
    Table(TableError),
    /// Anything else, said in words (an image problem, a chip mismatch, an odd table).
    Note(String),
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::Table(e) => e.fmt(f),
            Warning::Note(s) => f.write_str(s),
        }
    }
}

/// Warnings serialize as their text.
impl Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Summarise an image from its bytes, the result of walking it, and its IDF
/// version and build date (from a descriptor).
pub fn image_summary(
    offset: u32,
    data: &[u8],
    info: Result<ImageInfo, String>,
    idf: Option<(String, String)>,
) -> ImageSummary {
    let header = ImageHeader::parse(data).ok();
    let mut s = ImageSummary {
        offset,
        size: None,
        segments: None,
        segment_list: Vec::new(),
        chip: header.as_ref().and_then(|h| h.chip()).map(|c| c.name.to_string()),
        min_chip_rev: header.as_ref().map_or(0, |h| h.min_rev_full),
        max_chip_rev: header.as_ref().map_or(0, |h| h.max_rev_full),
        checksum_ok: None,
        sha256_ok: None,
        sha256: None,
        idf_version: idf.as_ref().map(|i| i.0.clone()),
        build_date: idf.map(|i| i.1),
        problem: None,
        truncated: false,
    };
    match info {
        Ok(i) => {
            s.size = Some(i.total_len as u32);
            s.segments = Some(i.segments.len());
            s.segment_list = i
                .segments
                .iter()
                .map(|g| SegmentView { load_addr: g.load_addr, offset: g.data_offset as u32, len: g.len })
                .collect();
            s.checksum_ok = Some(i.checksum_ok());
            s.sha256_ok = i.hash_ok();
            s.sha256 = i.sha_stored.map(|h| hex(&h));
            if !i.checksum_ok() {
                s.problem = Some(format!(
                    "segment checksum mismatch (stored {:#04x}, computed {:#04x})",
                    i.checksum_stored, i.checksum_calc
                ));
            } else if i.hash_ok() == Some(false) {
                s.problem = Some("SHA-256 digest mismatch".into());
            }
        }
        Err(e) => s.problem = Some(e),
    }
    s
}

/// Summarise an app image held in `data` (the whole image, maybe with trailing
/// bytes). Without `verify` the SHA-256 is not computed (`sha256_ok` is None).
pub fn app_summary(offset: u32, data: &[u8], partition: Option<&Partition>, verify: bool) -> AppSummary {
    let parsed = if verify { parse_image(data) } else { parse_image_layout(data) };
    let truncated = matches!(parsed, Err(ImageError::Truncated { .. }));
    let info = parsed.map_err(|e| e.to_string());
    let desc = AppDesc::parse(data);
    let banner: Option<Banner> = find_banner(data);
    let mut image =
        image_summary(offset, data, info, desc.as_ref().map(|d| (d.idf_ver.clone(), format!("{} {}", d.date, d.time))));
    image.truncated = truncated;
    let (used, free) = match (partition, image.size) {
        (Some(p), Some(n)) if p.size > 0 => {
            (Some((1000.0 * f64::from(n) / f64::from(p.size)).round() / 10.0), Some(p.size.saturating_sub(n)))
        }
        _ => (None, None),
    };
    AppSummary {
        partition: partition.map(Partition::name),
        partition_size: partition.map(|p| p.size),
        used_percent: used,
        free,
        micropython_version: banner.as_ref().map(|b| b.version.clone()),
        micropython_date: banner.as_ref().map(|b| b.date.clone()),
        release: banner.as_ref().map(|b| b.is_release),
        project_name: desc.as_ref().map(|d| d.project_name.clone()).filter(|s| !s.is_empty()),
        app_version: desc.as_ref().map(|d| d.version.clone()).filter(|s| !s.is_empty()),
        compile_time: desc.as_ref().map(|d| format!("{} {}", d.date, d.time)),
        image,
    }
}
