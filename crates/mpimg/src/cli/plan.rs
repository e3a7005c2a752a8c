//! Planning the table edits of one run, in mp-image-tool-esp32's order
//! (flash size; from-csv; table; app-size; delete; resize; rename; add), with
//! the output file suffix each edit contributes.

use crate::flash::Flash;
use crate::format::csv::parse_csv_bytes;
use crate::format::image::ImageHeader;
use crate::format::partition::PartitionTable;
use crate::ops::arglist::{parse_names, parse_pairs, parse_part_list, render_items, render_part_list, split_items};
use crate::ops::firmware::Firmware;
use crate::ops::inspect::AppSummary;
use crate::ops::layout::{
    add_part, build_table, delete_part, preset_layout, rename_part, resize_part, set_app_size, Preset,
};
use crate::ops::{EditError, OpError};

use super::args::Args;

/// The table and header a run will write, and the output name suffix.
pub struct Plan {
    pub table: PartitionTable,
    pub header: ImageHeader,
    pub flash_size: u32,
    pub suffix: String,
    /// Lines describing each edit, for the human report.
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
}

/// Context for explaining edits of MicroPython ≥ 1.26's implicit `vfs`.
pub struct ImplicitVfs {
    pub version: String,
    pub start: u32,
}

fn not_found_or_implicit(e: EditError, implicit: Option<&ImplicitVfs>) -> OpError {
    match (e, implicit) {
        (EditError::NotFound { name, .. }, Some(iv)) if name == "vfs" => {
            OpError::ImplicitVfs { name, version: iv.version.clone(), start: iv.start }
        }
        (e, _) => OpError::Edit(e),
    }
}

/// Plan the edits `args` asks for on `fw`.
pub fn plan_edits<F: Flash>(
    args: &Args,
    fw: &Firmware<F>,
    app: Option<&AppSummary>,
    implicit: Option<&ImplicitVfs>,
) -> Result<Plan, OpError> {
    let mut table = fw.table.clone();
    let mut header = fw.header.clone();
    let mut flash_size = fw.flash_size();
    let mut suffix = String::new();
    let mut notes = Vec::new();
    let app_image_size = app.and_then(|a| a.image.size).unwrap_or(0);
    let imp = |e: EditError| not_found_or_implicit(e, implicit);

    if let Some(size) = args.flash_size {
        header.set_flash_size(size)?;
        if size != flash_size {
            notes.push(format!("Setting flash size in the bootloader header to {}MB", size >> 20));
        }
        flash_size = size;
        suffix += &format!("-{}MB", size >> 20);
    }
    if let Some(path) = &args.from_csv {
        let bytes = std::fs::read(path).map_err(|e| OpError::Io(format!("cannot read CSV file '{path}': {e}")))?;
        table = parse_csv_bytes(&bytes).map_err(|e| OpError::Io(format!("{path}: {e}")))?;
        table.check(flash_size)?;
        notes.push(format!("Loaded partition table from {path}"));
        suffix += "-CSV";
    }
    if let Some(spec) = &args.table {
        let first_app = table.first_app().map_or(crate::format::partition::APP_PART_OFFSET, |p| p.offset);
        let (layout, tag) = match Preset::from_arg(spec) {
            Some(p) => (preset_layout(p, flash_size, first_app, args.app_size.unwrap_or(0)), p.suffix()),
            None => (parse_part_list(spec)?, "-TABLE"),
        };
        table = build_table(&layout, flash_size, app_image_size)?;
        table.check(flash_size)?;
        notes.push(format!("New partition table ({spec})"));
        suffix += tag;
    }
    if let Some(size) = args.app_size {
        set_app_size(&mut table, flash_size, size)?;
        notes.push(format!("Setting app partitions to {size:#x} bytes"));
        suffix += &format!("-appsize={}B", size / 0x1000);
    }
    if let Some(arg) = &args.delete {
        for name in parse_names(arg) {
            delete_part(&mut table, &name).map_err(imp)?;
            notes.push(format!("Deleted partition '{name}'"));
        }
        suffix += &format!("-delete={}", render_items(&split_items(arg)));
    }
    if let Some(arg) = &args.resize {
        let specs = parse_part_list(arg)?;
        for s in &specs {
            let n = resize_part(&mut table, flash_size, &s.name, s.size).map_err(imp)?;
            notes.push(format!("Resized '{}' to {n:#x} bytes", s.name));
        }
        table.check(flash_size)?;
        suffix += &format!("-resize={}", render_part_list(&specs));
    }
    if let Some(arg) = &args.rename {
        for (old, new) in parse_pairs(arg, "--rename")? {
            rename_part(&mut table, &old, &new).map_err(imp)?;
            notes.push(format!("Renamed '{old}' to '{new}'"));
        }
        table.check(flash_size)?;
        suffix += &format!("-rename={}", render_items(&split_items(arg)));
    }
    if let Some(arg) = &args.add {
        let specs = parse_part_list(arg)?;
        for s in &specs {
            add_part(&mut table, flash_size, &s.name, &s.subtype, s.offset, s.size, 0)?;
            notes.push(format!("Added partition '{}'", s.name));
        }
        suffix += &format!("-add={}", render_part_list(&specs));
    }
    if let Some(arg) = &args.erase {
        suffix += &format!("-erase={}", render_items(&split_items(arg)));
    }
    if let Some(arg) = &args.write {
        suffix += &format!("-write={}", render_items(&split_items(arg)));
    }
    // Whatever the Python tool lets through, the table written must be valid.
    let warnings = table.check(flash_size)?;
    if let (Some(old), Some(new)) = (fw.table.first_app(), table.first_app()) {
        if old.offset != new.offset {
            return Err(OpError::AppMoved { old: old.offset, new: new.offset });
        }
        if new.size < app_image_size {
            return Err(EditError::AppTooBig { name: new.name(), size: new.size, app: app_image_size }.into());
        }
    }
    Ok(Plan { table, header, flash_size, suffix, notes, warnings })
}
