//! Gathering the facts about a firmware or an app image into a [`Summary`]
//! (see [`super::summary`]). A firmware file is read whole (it is in memory);
//! a device is read no further than the summary needs (image headers and
//! descriptors, see [`super::walk`]).

use std::borrow::Cow;

use crate::error::Error;
use crate::flash::Flash;
use crate::format::bootloader_desc::BootloaderDesc;
use crate::format::image::{parse_image, ImageHeader};
use crate::format::partition::{Partition, TableError};

use super::firmware::Firmware;
use super::partition_io::trim_blocks;
use super::region::Region;
use super::summary::{app_summary, image_summary, Summary, Warning};

/// Read the first app partition (on a file, what the file holds of it;
/// borrowed without a copy where the backend holds it in memory).
pub fn read_app<F: Flash>(fw: &mut Firmware<F>) -> Option<(Partition, Cow<'_, [u8]>)> {
    let p = fw.table.first_app()?.clone();
    let r = Region::of(&p);
    let mut len = fw.flash.stored_len(r.offset, r.size);
    if len == 0 {
        return None;
    }
    // An image longer than its partition (a diagnosis): read all of it the file holds.
    let reach = fw.flash.capacity().saturating_sub(r.offset);
    if let Some((_, total, _)) = super::walk::walk_image(&mut fw.flash, r.offset, reach).filter(|w| w.1 > r.size) {
        len = fw.flash.stored_len(r.offset, total);
    }
    if fw.flash.peek(r.offset, len).is_some() {
        return fw.flash.peek(r.offset, len).map(|d| (p, Cow::Borrowed(d)));
    }
    fw.flash.read_vec(r.offset, len).ok().map(|d| (p, Cow::Owned(d)))
}

/// The app image in the first app partition (`-x`): exactly the image when
/// it can be walked, else what the partition holds with trailing 0xFF
/// removed (to a 16-byte boundary). A slow backend reads the image, not the
/// empty rest of the partition.
///
/// Errors: [`Error::NoAppPartition`]; [`Error::NotInFile`] when a firmware
/// file ends before the partition; flash errors.
pub fn extract_app<F: Flash>(fw: &mut Firmware<F>) -> Result<Vec<u8>, Error> {
    let p = fw.table.first_app().cloned().ok_or(Error::NoAppPartition)?;
    let stored = fw.flash.stored_len(p.offset, p.size);
    if let (0, Some(file_end)) = (stored, fw.flash.stored_end()) {
        return Err(Error::NotInFile { name: p.name(), offset: p.offset, file_end });
    }
    let mut data = if fw.flash.reads_are_slow() {
        super::walk::read_app_image(&mut fw.flash, &p)?
    } else {
        fw.flash.read_vec(p.offset, stored)?
    };
    let len = parse_image(&data).map(|i| i.total_len).unwrap_or_else(|_| trim_blocks(&data, 16).len());
    data.truncate(len);
    Ok(data)
}

/// Summarise a firmware. Without `verify` the app's SHA-256 is not computed
/// (for runs that show nothing and only need the app's layout and version).
pub fn summarize<F: Flash>(fw: &mut Firmware<F>, source: &str, verify: bool) -> Summary {
    let bl = Region::bootloader(fw.bootloader_offset());
    // A slow backend (a device) is read no further than the summary needs.
    let bootloader = if fw.flash.reads_are_slow() {
        super::walk::summarize_bootloader_lazily(&mut fw.flash, bl.offset, bl.size)
    } else {
        let bl_data = fw.flash.read_vec(bl.offset, bl.size).unwrap_or_default();
        let bdesc = BootloaderDesc::parse(&bl_data).map(|d| (d.idf_ver, d.date_time));
        image_summary(bl.offset, &bl_data, parse_image(&bl_data).map_err(|e| e.to_string()), bdesc)
    };
    let app = match fw.table.first_app().cloned() {
        Some(p) if fw.flash.reads_are_slow() => super::walk::summarize_app_lazily(&mut fw.flash, &p),
        _ => read_app(fw).map(|(p, data)| app_summary(p.offset, &data, Some(&p), verify)),
    };
    let partitions = fw.partitions();
    // Problems with the images, and a table past the end of the flash, are
    // diagnoses (see super::diagnose), each with its fix; what is left here is odd but legal.
    let table_error = fw.table_error.iter().filter(|e| !matches!(e, TableError::PastFlashEnd { .. }));
    let mut warnings: Vec<Warning> = table_error.cloned().map(Warning::Table).collect();
    warnings.extend(fw.table_warnings.iter().cloned().map(Warning::Note));
    Summary {
        source: source.to_string(),
        kind: if fw.flash.detected_size().is_some() { "device" } else { "firmware" },
        chip: fw.chip.name.to_string(),
        bootloader_offset: Some(fw.bootloader_offset()),
        flash_size: Some(fw.flash_size()),
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
        warnings.push(Warning::Note(format!("app image: {p}")));
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

/// A firmware file that ends inside its app image is cut short: say so rather
/// than show (or edit) a broken firmware. Only a file can be cut short; a
/// device's summary is built from headers and says nothing of the kind.
pub fn check_complete<F: Flash>(fw: &Firmware<F>, summary: &Summary) -> Result<(), Error> {
    let Some(app) = &summary.app else { return Ok(()) };
    match &app.image.problem {
        Some(p) if app.image.truncated && fw.flash.stored_end().is_some() => Err(Error::TruncatedApp {
            name: app.partition.clone().unwrap_or_default(),
            offset: app.image.offset,
            detail: p.split(';').next().unwrap_or(p).to_string(),
        }),
        _ => Ok(()),
    }
}
