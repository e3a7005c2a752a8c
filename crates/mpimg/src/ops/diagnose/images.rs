//! Diagnoses of the images: the bootloader and the apps, as the ROM and
//! ESP-IDF's bootloader judge them at boot (`bootloader_common_check_chip_validity`
//! for chip and revision, `esp_image_verify` for checksum and SHA-256,
//! `bootloader_utility_load_boot_image` for the order the apps are tried in).

use crate::flash::Flash;
use crate::format::app_kind::{classify, NotApp, HEAD_LEN};
use crate::format::image::{parse_image, parse_image_layout, ImageError, ImageHeader, HEADER_LEN};
use crate::format::partition::{Partition, TABLE_OFFSET};
use crate::ops::firmware::Firmware;
use crate::ops::ota::{boot_order, BootOrder};
use crate::ops::walk::walk_image_checked;

use super::{revision_name, Board, Code, Depth, Diagnosis, Fix, Severity};

/// What a region that should start with an image holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageState {
    /// Erased (or past the end of a firmware file).
    Empty,
    /// Something that is not an image: why.
    NotAnImage(String),
    /// An image longer than its region.
    TooBig {
        /// The image's length in bytes.
        len: u32,
        /// Its header.
        header: ImageHeader,
    },
    /// An image that fits its region.
    Image {
        /// Its header.
        header: ImageHeader,
        /// Its length in bytes (checksum and digest included).
        len: u32,
        /// What fails when it was verified (None: valid, or not verified).
        problem: Option<String>,
        /// Only the SHA-256 fails: the checksum is good, so a header edited
        /// without renewing the digest is the likely cause.
        digest_only: bool,
    },
}

impl ImageState {
    /// An image that loads (as far as it was checked).
    pub fn loads(&self) -> bool {
        matches!(self, ImageState::Image { problem: None, .. })
    }

    fn header(&self) -> Option<&ImageHeader> {
        match self {
            ImageState::TooBig { header, .. } | ImageState::Image { header, .. } => Some(header),
            _ => None,
        }
    }
}

/// What the `limit` bytes at `offset` hold: an image walked from its
/// headers (read no further than its end), verified whole when `verify` or
/// when reads are cheap (a file in memory).
pub fn image_state(flash: &mut dyn Flash, offset: u32, limit: u32, verify: bool) -> ImageState {
    if flash.stored_len(offset, limit) == 0 {
        return ImageState::Empty;
    }
    let head = match flash.read_vec(offset, HEADER_LEN as u32) {
        Ok(h) => h,
        Err(e) => return ImageState::NotAnImage(e.to_string()),
    };
    if head.iter().all(|&b| b == 0xFF) {
        return ImageState::Empty;
    }
    let header = match ImageHeader::parse(&head) {
        Ok(h) => h,
        Err(e) => return ImageState::NotAnImage(e.to_string()),
    };
    // Walk as far as the flash goes: an image may run past its region.
    let reach = flash.capacity().saturating_sub(offset);
    let len = match walk_image_checked(flash, offset, reach) {
        Ok((_, len, _)) => len,
        Err(why) => return ImageState::NotAnImage(cut_short(flash, offset, limit).unwrap_or(why)),
    };
    if len > limit {
        return ImageState::TooBig { len, header };
    }
    if let Some(end) = flash.stored_end().filter(|_| flash.stored_len(offset, len) < len) {
        return ImageState::NotAnImage(cut_at(end, flash.stored_len(offset, len)));
    }
    if !verify && flash.reads_are_slow() {
        return ImageState::Image { header, len, problem: None, digest_only: false };
    }
    let data = match flash.read_vec(offset, len) {
        Ok(d) => d,
        Err(e) => return ImageState::NotAnImage(e.to_string()),
    };
    match parse_image(&data) {
        Ok(i) if !i.checksum_ok() => ImageState::Image {
            header,
            len,
            problem: Some(format!(
                "its segment checksum fails (stored {:#04x}, computed {:#04x})",
                i.checksum_stored, i.checksum_calc
            )),
            digest_only: false,
        },
        Ok(i) if i.hash_ok() == Some(false) => {
            ImageState::Image { header, len, problem: Some("its SHA-256 digest fails".into()), digest_only: true }
        }
        Ok(_) => ImageState::Image { header, len, problem: None, digest_only: false },
        Err(e) => ImageState::NotAnImage(e.to_string()),
    }
}

/// A firmware file that ends inside the image at `offset` (whose region is
/// `limit` bytes): where, and how much of the image it holds. None on a
/// device, or when the file holds all of the image.
fn cut_short(flash: &mut dyn Flash, offset: u32, limit: u32) -> Option<String> {
    let end = flash.stored_end()?;
    let stored = flash.stored_len(offset, limit);
    let data = flash.read_vec(offset, stored).ok()?;
    match parse_image_layout(&data) {
        Err(ImageError::Truncated { .. }) => Some(cut_at(end, stored)),
        _ => None,
    }
}

fn cut_at(end: u32, stored: u32) -> String {
    format!("the file ends at {end:#x}, {stored} bytes into the image: the file is cut short")
}

/// Why an image with `h` does not run on a chip of revision `rev` (ESP-IDF's
/// rule: below the minimum, or above a maximum that is set; 0 in images from
/// before IDF 5 means unset).
pub fn revision_problem(h: &ImageHeader, rev: u16) -> Option<String> {
    let chip = h.chip().map_or("chip", |c| c.name);
    if rev < h.min_rev_full {
        return Some(format!("needs {chip} revision {} or later", revision_name(h.min_rev_full)));
    }
    if h.max_rev_full != 0 && h.max_rev_full != u16::MAX && rev > h.max_rev_full {
        return Some(format!("runs on {chip} up to revision {} only", revision_name(h.max_rev_full)));
    }
    None
}

/// The images' diagnoses, in order: the bootloader (chip, revision,
/// validity), the app the bootloader boots (the order it tries them in,
/// chip, revision), every app too long for its partition.
pub(super) fn check<F: Flash>(fw: &mut Firmware<F>, board: Option<&Board>, depth: Depth, out: &mut Vec<Diagnosis>) {
    bootloader(fw, board, depth, out);
    let order = boot_order(&mut fw.flash, &fw.table).ok();
    let mut states: Vec<(Partition, ImageState)> = Vec::new();
    for p in fw.table.entries.iter().filter(|p| p.is_app()) {
        let in_order = order.as_ref().is_some_and(|o| o.apps.contains(p));
        // Apps the bootloader may try are verified; the others only walked.
        let verify = depth.verify && in_order;
        let state = match image_state(&mut fw.flash, p.offset, p.size, verify) {
            ImageState::Image { len, .. } if let Some(looks) = not_an_app_in(&mut fw.flash, p, len) => {
                ImageState::NotAnImage(format!("it is {looks}"))
            }
            s => s,
        };
        states.push((p.clone(), state));
    }
    let state_of = |p: &Partition| states.iter().find(|(q, _)| q == p).map(|(_, s)| s.clone());
    for (p, s) in &states {
        if let ImageState::TooBig { len, .. } = s {
            out.push(too_big(&fw.table.entries, p, *len));
        }
    }
    let Some(order) = order else { return };
    let booted = order.apps.iter().find(|p| state_of(p).is_some_and(|s| s.loads())).cloned();
    if let Some(first) = order.apps.first() {
        let first_state = state_of(first).unwrap_or(ImageState::Empty);
        if !first_state.loads() && !matches!(first_state, ImageState::TooBig { .. }) {
            out.push(not_booting(fw, board, &order, first, &first_state, booted.as_ref()));
        }
    }
    if let Some(app) = booted {
        if let Some(h) = state_of(&app).as_ref().and_then(ImageState::header) {
            app_chip(fw, board, &app, h, out);
        }
    }
}

/// What the image of `len` bytes at the start of app partition `p` is, if
/// not an app: its head and the places a whole firmware's table would be
/// are read, not the whole image.
fn not_an_app_in(flash: &mut dyn Flash, p: &Partition, len: u32) -> Option<NotApp> {
    let head = flash.read_vec(p.offset, (HEAD_LEN as u32).min(len)).ok()?;
    let mut table_at = |at: usize| {
        let at = at as u32;
        at + 2 <= p.size && flash.read_vec(p.offset + at, 2).is_ok_and(|m| m == [0xAA, 0x50])
    };
    classify(&head, Some(len as usize), &mut table_at)
}

fn fix_image(board: Option<&Board>, part: &str) -> Fix {
    if board.is_some() {
        Fix::FlashFirmware
    } else {
        Fix::WriteImage { part: part.to_string() }
    }
}

fn bootloader<F: Flash>(fw: &mut Firmware<F>, board: Option<&Board>, depth: Depth, out: &mut Vec<Diagnosis>) {
    let bl = fw.bootloader_offset();
    let h = fw.header.clone();
    if let Some(b) = board {
        if h.chip().is_some_and(|c| c.name != b.chip.name) {
            out.push(Diagnosis::new(
                Code::WrongChip,
                Severity::Error,
                format!(
                    "the firmware is for {} but the board is an {}: its ROM does not start that bootloader",
                    h.chip().map_or("?", |c| c.name),
                    b.chip.name
                ),
                Some(Fix::FlashFirmware),
            ));
            return;
        }
        if let Some(why) = b.revision.and_then(|r| revision_problem(&h, r)) {
            out.push(revision(b, "the bootloader", &why));
        }
    }
    let state = image_state(&mut fw.flash, bl, TABLE_OFFSET - bl, depth.verify);
    let (what, fix) = match &state {
        ImageState::Image { problem: Some(p), digest_only, .. } => {
            (p.clone(), if *digest_only { Fix::Fit } else { fix_image(board, "bootloader") })
        }
        ImageState::Image { .. } => return,
        ImageState::Empty => ("it is erased".into(), fix_image(board, "bootloader")),
        ImageState::NotAnImage(why) => (why.clone(), fix_image(board, "bootloader")),
        ImageState::TooBig { len, .. } => (
            format!("it is {len} bytes long and runs into the partition table at {TABLE_OFFSET:#x}"),
            fix_image(board, "bootloader"),
        ),
    };
    out.push(Diagnosis::new(
        Code::BootloaderInvalid,
        Severity::Error,
        format!("the bootloader at {bl:#x} does not load: {what}"),
        Some(fix),
    ));
}

fn revision(b: &Board, what: &str, why: &str) -> Diagnosis {
    let rev = b.revision.map_or("unknown".into(), revision_name);
    Diagnosis::new(
        Code::ChipRevision,
        Severity::Error,
        format!("{what} {why}, but this {} is revision {rev}: it does not start", b.chip.name),
        Some(Fix::FlashFirmware),
    )
}

fn too_big(entries: &[Partition], p: &Partition, len: u32) -> Diagnosis {
    let end = p.offset.saturating_add(len);
    let into = entries
        .iter()
        .find(|q| q.offset >= p.end() && q.offset < end)
        .map(|q| format!(": it runs into '{}' at {:#x}", q.name(), q.offset))
        .unwrap_or_default();
    Diagnosis::new(
        Code::AppTooBig,
        Severity::Error,
        format!(
            "the app image in '{}' is {len} bytes, larger than the partition ({:#x} bytes){into}",
            p.name(),
            p.size
        ),
        Some(Fix::Resize { part: p.name(), size: crate::flash::align_up(len, 0x10000) }),
    )
}

/// The app the bootloader starts with does not load: empty or invalid;
/// chosen by otadata or not; with or without an app to fall back to.
fn not_booting<F: Flash>(
    fw: &mut Firmware<F>,
    board: Option<&Board>,
    order: &BootOrder,
    first: &Partition,
    state: &ImageState,
    booted: Option<&Partition>,
) -> Diagnosis {
    let (empty, why) = match state {
        ImageState::Empty => (true, "holds no app image".to_string()),
        ImageState::NotAnImage(w) => (false, format!("holds no valid app image ({w})")),
        ImageState::Image { problem: Some(p), .. } => (false, format!("holds an app image that does not load: {p}")),
        _ => (false, "does not load".to_string()),
    };
    let then = match booted {
        Some(b) => format!("the bootloader falls back to '{}'", b.name()),
        None => "no app boots".to_string(),
    };
    let severity = if booted.is_some() { Severity::Warning } else { Severity::Error };
    match (order.selected_by, &order.otadata) {
        (Some(seq), Some(otadata)) => {
            let code = if empty { Code::OtaEmptySlot } else { Code::OtaInvalidSlot };
            // Erased otadata starts the bootloader at factory, else ota_0.
            let default = fw
                .table
                .entries
                .iter()
                .find(|p| p.is_app() && p.subtype == 0)
                .cloned()
                .or_else(|| fw.table.entries.iter().find(|p| p.ota_index() == Some(0)).cloned());
            let fix = match default {
                Some(d) if booted == Some(&d) => Fix::Erase { part: otadata.name() },
                _ => fix_image(board, &first.name()),
            };
            Diagnosis::new(
                code,
                severity,
                format!("otadata (sequence {seq}) selects '{}', which {why}: {then}", first.name()),
                Some(fix),
            )
        }
        _ => {
            let code = if empty { Code::NoApp } else { Code::AppInvalid };
            Diagnosis::new(
                code,
                severity,
                format!("'{}', the app partition the bootloader starts with, {why}: {then}", first.name()),
                Some(fix_image(board, &first.name())),
            )
        }
    }
}

/// The app that boots: built for the bootloader's chip, and for the board's revision.
fn app_chip<F: Flash>(
    fw: &mut Firmware<F>,
    board: Option<&Board>,
    app: &Partition,
    h: &ImageHeader,
    out: &mut Vec<Diagnosis>,
) {
    let chip = h.chip().map_or("an unknown chip", |c| c.name);
    if chip != fw.chip.name {
        out.push(Diagnosis::new(
            Code::AppChipMismatch,
            Severity::Error,
            format!("the app in '{}' is built for {chip} but the bootloader for {}", app.name(), fw.chip.name),
            Some(fix_image(board, &app.name())),
        ));
        return;
    }
    // A bootloader that does not start makes the app's revision moot.
    let bootloader_starts = !out.iter().any(|d| d.code == Code::ChipRevision);
    if let Some(b) = board.filter(|_| bootloader_starts) {
        if let Some(why) = b.revision.and_then(|r| revision_problem(h, r)) {
            out.push(revision(b, &format!("the app in '{}'", app.name()), &why));
        }
    }
}
