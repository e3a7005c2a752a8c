//! The facts shown about a firmware or app image, gathered once into one value
//! that both the human display and `--json` render.

use std::borrow::Cow;

use serde::Serialize;

use crate::flash::Flash;
use crate::format::app_desc::AppDesc;
use crate::format::banner::{find_banner, Banner};
use crate::format::bootloader_desc::BootloaderDesc;
use crate::format::image::{parse_image, parse_image_layout, ImageError, ImageHeader, ImageInfo};
use crate::format::partition::{hex, Partition, PartitionView};

use super::firmware::Firmware;
use super::region::Region;

/// An image (bootloader or app) as found in flash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImageSummary {
    pub offset: u32,
    /// Length including the appended hash; None if the image could not be walked.
    pub size: Option<u32>,
    pub segments: Option<usize>,
    /// Each segment: load address, offset of its data in the image, length.
    pub segment_list: Vec<SegmentView>,
    pub chip: Option<String>,
    pub min_chip_rev: u16,
    pub max_chip_rev: u16,
    pub checksum_ok: Option<bool>,
    pub sha256_ok: Option<bool>,
    pub sha256: Option<String>,
    pub idf_version: Option<String>,
    pub build_date: Option<String>,
    pub problem: Option<String>,
    /// The data ends inside the image (a cut-short file).
    pub truncated: bool,
}

/// One segment of an image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SegmentView {
    pub load_addr: u32,
    pub offset: u32,
    pub len: u32,
}

/// The app in the first app partition (or an app image file).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppSummary {
    pub partition: Option<String>,
    pub partition_size: Option<u32>,
    /// Percentage of the partition the image fills.
    pub used_percent: Option<f64>,
    pub free: Option<u32>,
    pub micropython_version: Option<String>,
    pub micropython_date: Option<String>,
    /// False for custom builds whose banner has a git hash instead of vX.Y.Z.
    pub release: Option<bool>,
    pub project_name: Option<String>,
    pub app_version: Option<String>,
    pub compile_time: Option<String>,
    pub image: ImageSummary,
}

/// Everything `mpimg FILE` shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub source: String,
    /// `firmware`, `app-image` or `device`.
    pub kind: &'static str,
    pub chip: String,
    pub bootloader_offset: Option<u32>,
    /// Flash size in the bootloader (or app) header.
    pub flash_size: Option<u32>,
    /// Bytes of flash the file covers (firmware files).
    pub data_end: Option<u32>,
    pub bootloader: Option<ImageSummary>,
    pub partitions: Vec<PartitionView>,
    pub app: Option<AppSummary>,
    pub warnings: Vec<String>,
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

/// Whether a MicroPython version creates the implicit `vfs` (v1.26 and later;
/// custom builds without a release number are assumed recent).
pub fn creates_implicit_vfs(app: Option<&AppSummary>) -> bool {
    let Some(a) = app else { return false };
    match (&a.micropython_version, a.release) {
        (Some(v), Some(true)) => {
            let mut nums = v.trim_start_matches('v').split(['.', '-']).map(|n| n.parse::<u32>().unwrap_or(0));
            let major = nums.next().unwrap_or(0);
            let minor = nums.next().unwrap_or(0);
            (major, minor) >= (1, 26)
        }
        (Some(_), _) => true,
        (None, _) => false,
    }
}

/// Read the first app partition (on a file, what the file holds of it;
/// borrowed without a copy where the backend holds it in memory).
pub fn read_app<F: Flash>(fw: &mut Firmware<F>) -> Option<(Partition, Cow<'_, [u8]>)> {
    let p = fw.table.first_app()?.clone();
    let r = Region::of(&p);
    let len = fw.flash.stored_len(r.offset, r.size);
    if len == 0 {
        return None;
    }
    if fw.flash.peek(r.offset, len).is_some() {
        return fw.flash.peek(r.offset, len).map(|d| (p, Cow::Borrowed(d)));
    }
    fw.flash.read_vec(r.offset, len).ok().map(|d| (p, Cow::Owned(d)))
}

/// Summarise a firmware. Without `verify` the app's SHA-256 is not computed
/// (for runs that show nothing and only need the app's layout and version).
pub fn summarize<F: Flash>(fw: &mut Firmware<F>, source: &str, verify: bool) -> Summary {
    let bl = Region::bootloader(fw.bootloader_offset());
    // A slow backend (a device) is read no further than the summary needs.
    let bootloader = if fw.flash.reads_are_slow() {
        super::device_app::summarize_bootloader_lazily(&mut fw.flash, bl.offset, bl.size)
    } else {
        let bl_data = fw.flash.read_vec(bl.offset, bl.size).unwrap_or_default();
        let bdesc = BootloaderDesc::parse(&bl_data).map(|d| (d.idf_ver, d.date_time));
        image_summary(bl.offset, &bl_data, parse_image(&bl_data).map_err(|e| e.to_string()), bdesc)
    };
    let app = match fw.table.first_app().cloned() {
        Some(p) if fw.flash.reads_are_slow() => super::device_app::summarize_app_lazily(&mut fw.flash, &p),
        _ => read_app(fw).map(|(p, data)| app_summary(p.offset, &data, Some(&p), verify)),
    };
    let flash_size = fw.flash_size();
    let mut partitions: Vec<PartitionView> = fw.table.entries.iter().map(PartitionView::from).collect();
    if let Some(v) = fw.implicit_vfs(creates_implicit_vfs(app.as_ref()), flash_size) {
        partitions.push(PartitionView { implicit: true, ..PartitionView::from(&v) });
    }
    let mut warnings = fw.table_warnings.clone();
    if let Some(p) = &bootloader.problem {
        warnings.push(format!("bootloader: {p}"));
    }
    if let Some(a) = &app {
        if let Some(p) = &a.image.problem {
            warnings.push(format!("app in '{}': {p}", a.partition.as_deref().unwrap_or("?")));
        }
        if a.image.chip.as_deref().is_some_and(|c| c != fw.chip.name) {
            warnings.push(format!(
                "the app is built for {} but the bootloader for {}",
                a.image.chip.as_deref().unwrap_or("?"),
                fw.chip.name
            ));
        }
    }
    Summary {
        source: source.to_string(),
        kind: if fw.flash.detected_size().is_some() { "device" } else { "firmware" },
        chip: fw.chip.name.to_string(),
        bootloader_offset: Some(fw.bootloader_offset()),
        flash_size: Some(flash_size),
        data_end: fw.flash.stored_end(),
        bootloader: Some(bootloader),
        partitions,
        app,
        warnings,
    }
}

/// Summarise an app image file.
pub fn summarize_app(data: &[u8], source: &str) -> Summary {
    let app = app_summary(0, data, None, true);
    let header = ImageHeader::parse(data).ok();
    let mut warnings = Vec::new();
    if let Some(p) = &app.image.problem {
        warnings.push(format!("app image: {p}"));
    }
    Summary {
        source: source.to_string(),
        kind: "app-image",
        chip: app.image.chip.clone().unwrap_or_default(),
        bootloader_offset: None,
        flash_size: header.and_then(|h| h.flash_size()),
        data_end: None,
        bootloader: None,
        partitions: Vec::new(),
        app: Some(app),
        warnings,
    }
}
