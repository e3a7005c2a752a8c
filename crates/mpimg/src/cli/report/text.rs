//! The human report's text: the summary, partition tables (rounded on a
//! terminal, plain columns otherwise or with NO_COLOR), segments, device facts
//! and check verdicts. [`super::Reporter`] decides when and where each goes.

use std::io::Write;

use comfy_table::{CellAlignment, ContentArrangement, Table};

/// comfy-table border characters (its 19-character preset format).
const ROUNDED: &str = "││──├─┼┤│    ┬┴╭╮╰╯";

use mpimg::flash::device::{DeviceFacts, SectorCounts, WireStats};
use mpimg::format::partition::PartitionView;
use mpimg::format::size::flash_label as mb;
use mpimg::format::size::human;
use mpimg::fs::tree::TreeStats;
use mpimg::ops::carry::{Action, Carried};
use mpimg::ops::check::ImageCheck;
use mpimg::ops::summary::{AppSummary, ImageSummary, Summary};

use crate::cli::outcome::BoardResult;

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "ok",
        Some(false) => "INVALID",
        None => "none",
    }
}

fn image_line(img: &ImageSummary) -> String {
    let mut parts = Vec::new();
    if let Some(n) = img.segments {
        parts.push(format!("{n} segments"));
    }
    if let Some(n) = img.size {
        parts.push(format!("{n} bytes"));
    }
    if img.checksum_ok.is_none() && img.problem.is_none() && img.size.is_some() {
        // Inspecting a device reads headers only.
        parts.push("not verified (--check-app reads and verifies it)".into());
    } else {
        parts.push(format!("checksum {}", verdict(img.checksum_ok)));
        parts.push(format!("SHA-256 {}", verdict(img.sha256_ok)));
    }
    if let Some(p) = &img.problem {
        if img.checksum_ok.is_none() {
            parts.push(p.clone());
        }
    }
    parts.join(", ")
}

fn app_lines(app: &AppSummary) -> Vec<String> {
    let mut v = Vec::new();
    let mp = match (&app.micropython_version, &app.micropython_date, app.release) {
        (Some(ver), Some(date), Some(false)) => format!("MicroPython {ver} on {date} (custom build)"),
        (Some(ver), Some(date), _) => format!("MicroPython {ver} on {date}"),
        // A device's app is summarised from its headers (see ops::device_app).
        _ if app.image.checksum_ok.is_none() && app.image.size.is_some() => {
            "MicroPython (version not read from a device)".to_string()
        }
        _ => "no MicroPython banner found".to_string(),
    };
    let idf = app.image.idf_version.as_deref().map(|i| format!(", IDF {i}")).unwrap_or_default();
    let chip = app.image.chip.as_deref().map(|c| format!(" for {c}")).unwrap_or_default();
    v.push(format!("App: {mp}{idf}{chip}"));
    if let Some(p) = &app.project_name {
        v.push(format!("  project {p}{}", app.app_version.as_deref().map(|s| format!(" {s}")).unwrap_or_default()));
    }
    if let Some(t) = &app.compile_time {
        v.push(format!("  built {t}"));
    }
    v.push(format!("  image: {}", image_line(&app.image)));
    if let (Some(part), Some(size), Some(pct), Some(free)) =
        (&app.partition, app.image.size, app.used_percent, app.free)
    {
        v.push(format!(
            "  fills {pct:.1}% of '{part}' ({size} of {} bytes, {} free)",
            app.partition_size.unwrap_or(0),
            human(u64::from(free))
        ));
    }
    v
}

/// Describe the device (the lines before the summary).
pub fn print_facts(out: &mut dyn Write, f: &DeviceFacts) -> std::io::Result<()> {
    let rev = f.revision.as_deref().map(|r| format!(" {r}")).unwrap_or_default();
    writeln!(
        out,
        "Connected to {}: {}{rev}, {} crystal, MAC {}",
        f.port,
        f.chip,
        f.crystal,
        f.mac.as_deref().unwrap_or("unknown")
    )?;
    if !f.features.is_empty() {
        writeln!(out, "  features: {}", f.features.join(", "))?;
    }
    writeln!(out, "  flash: JEDEC id {:#08x}, {}MB detected; link at {} baud", f.flash_id, f.flash_size >> 20, f.baud)
}

/// What a device run put on the link (`-d`).
pub fn print_wire(err: &mut dyn Write, w: &WireStats, c: &SectorCounts) -> std::io::Result<()> {
    writeln!(
        err,
        "device: {} commands, {} bytes sent, ~{} bytes received, {} retries; {} bytes read, {} skipped (erased, by flash MD5); sectors written {}, erased {}, unchanged {}",
        w.commands, w.bytes_sent, w.bytes_received, w.retries, c.bytes_read, c.bytes_skipped, c.written, c.erased, c.unchanged
    )
}

/// Print the summary of a firmware or app image.
pub fn print_summary(out: &mut dyn Write, s: &Summary, fancy: bool) -> std::io::Result<()> {
    match s.kind {
        "app-image" => {
            writeln!(out, "App image {} ({})", s.source, if s.chip.is_empty() { "unknown chip" } else { &s.chip })?
        }
        kind => writeln!(
            out,
            "{} {}: {}, bootloader at {:#x}, flash size {}{}",
            if kind == "device" { "Device" } else { "Firmware file" },
            s.source,
            s.chip,
            s.bootloader_offset.unwrap_or(0),
            s.flash_size.map_or("?".into(), mb),
            s.data_end
                .map(|e| format!(", file covers {:#x}..{e:#x}", s.bootloader_offset.unwrap_or(0)))
                .unwrap_or_default()
        )?,
    }
    if let Some(b) = &s.bootloader {
        let idf = match (&b.idf_version, &b.build_date) {
            (Some(i), Some(d)) => format!("IDF {i} ({d}), "),
            (Some(i), None) => format!("IDF {i}, "),
            _ => String::new(),
        };
        writeln!(out, "Bootloader: {idf}{}", image_line(b))?;
    }
    if !s.partitions.is_empty() {
        print_table(out, &s.partitions, s.flash_size.unwrap_or(0), fancy)?;
    }
    if let Some(app) = &s.app {
        for line in app_lines(app) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Print rows under a header: box drawing when `fancy`, else plain columns
/// two spaces apart; the columns in `right` are right-aligned.
fn print_grid(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
    right: &[usize],
    fancy: bool,
) -> std::io::Result<()> {
    if fancy {
        let mut t = Table::new();
        t.load_preset(ROUNDED).set_content_arrangement(ContentArrangement::Disabled).set_header(header.to_vec());
        for r in rows {
            t.add_row(r.iter());
        }
        for &i in right {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        return writeln!(out, "{t}");
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line =
        |cells: &[String]| -> String {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if right.contains(&i) {
                        format!("{c:>w$}", w = widths[i])
                    } else {
                        format!("{c:<w$}", w = widths[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
    writeln!(out, "{}", line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>()))?;
    for r in rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

/// Print the summary of a run on several boards: one row per board.
pub fn print_boards(out: &mut dyn Write, boards: &[BoardResult], fancy: bool) -> std::io::Result<()> {
    let ok = boards.iter().filter(|b| b.ok).count();
    writeln!(out, "Boards: {ok} of {} OK", boards.len())?;
    let rows: Vec<Vec<String>> = boards
        .iter()
        .map(|b| {
            vec![
                b.port.clone(),
                b.mac.clone().unwrap_or_else(|| "-".into()),
                if b.ok { "OK" } else { "FAILED" }.into(),
                b.bytes.to_string(),
                format!("{:.1} s", b.seconds),
            ]
        })
        .collect();
    print_grid(out, &["Port", "MAC", "Result", "Bytes", "Time"], &rows, &[3, 4], fancy)?;
    for b in boards {
        if let Some(e) = &b.error_line {
            writeln!(out, "{}: {e}", b.port)?;
        }
    }
    Ok(())
}

/// Print a partition table.
pub fn print_table(out: &mut dyn Write, parts: &[PartitionView], flash_size: u32, fancy: bool) -> std::io::Result<()> {
    writeln!(out, "Partition table (flash size: {}):", mb(flash_size))?;
    let header = ["Name", "Type", "SubType", "Offset", "Size", "End", "Flags", ""];
    let rows: Vec<[String; 8]> = parts
        .iter()
        .map(|p| {
            let mut flags = p.flags.join(",");
            if p.implicit {
                flags = "implicit".into();
            }
            [
                p.name.clone(),
                p.type_name.clone(),
                p.subtype.clone(),
                format!("{:#x}", p.offset),
                format!("{:#x}", p.size),
                format!("{:#x}", p.end),
                flags,
                format!("({})", human(u64::from(p.size))),
            ]
        })
        .collect();
    if fancy {
        let mut t = Table::new();
        // Rounded corners, solid rules, no lines between rows: the Python tool's look.
        t.load_preset(ROUNDED).set_content_arrangement(ContentArrangement::Disabled).set_header(header);
        for r in &rows {
            t.add_row(r.iter());
        }
        for i in 3..6 {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        writeln!(out, "{t}")?;
    } else {
        let widths: Vec<usize> =
            (0..8).map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0)).collect();
        let line = |cells: &[String]| -> String {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if (3..6).contains(&i) {
                        format!("{c:>w$}", w = widths[i])
                    } else {
                        format!("{c:<w$}", w = widths[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        writeln!(out, "{}", line(&header.map(String::from)))?;
        for r in &rows {
            writeln!(out, "{}", line(r))?;
        }
    }
    if parts.iter().any(|p| p.implicit) {
        writeln!(out, "(implicit: not in the table; MicroPython ≥ v1.26 creates 'vfs' at boot up to the end of the detected flash)")?;
    }
    Ok(())
}

/// Print the segments of the bootloader and app (`-d`).
pub fn print_segments(out: &mut dyn Write, s: &Summary) -> std::io::Result<()> {
    let images = s.bootloader.iter().map(|b| ("bootloader", b)).chain(s.app.iter().map(|a| ("app", &a.image)));
    for (what, img) in images {
        writeln!(out, "{what} segments (image at {:#x}):", img.offset)?;
        for (i, g) in img.segment_list.iter().enumerate() {
            writeln!(out, "  {i}: load {:#010x}  data at {:#08x}  {:#8x} bytes", g.load_addr, g.offset, g.len)?;
        }
        if let Some(h) = &img.sha256 {
            writeln!(out, "  SHA-256 {h}")?;
        }
    }
    Ok(())
}

/// Print `--check-app` verdicts.
pub fn print_checks(out: &mut dyn Write, checks: &[ImageCheck]) -> std::io::Result<()> {
    for c in checks {
        let img = &c.image;
        let what = match (&img.problem, img.size) {
            (Some(_), _) if c.empty && !c.required => "empty (no app image; fine for a spare OTA slot)".to_string(),
            (Some(_), _) if c.empty => "INVALID: no image (erased): nothing to boot".to_string(),
            (None, Some(n)) => format!(
                "valid {} image, {n} bytes, checksum ok, SHA-256 {}",
                img.chip.as_deref().unwrap_or("?"),
                if img.sha256_ok.is_some() { "ok" } else { "not appended" }
            ),
            (Some(p), _) => format!("INVALID: {p}"),
            (None, None) => "INVALID".into(),
        };
        writeln!(out, "Check '{}' at {:#x}: {what}", c.name, img.offset)?;
    }
    Ok(())
}

/// Bytes as people read them: `1 byte`, `139 bytes`, `412 KiB`.
fn amount(bytes: u64) -> String {
    if bytes == 1 {
        "1 byte".to_owned()
    } else if bytes < 1024 {
        format!("{bytes} bytes")
    } else {
        format!("{} KiB", (bytes + 512) / 1024)
    }
}

fn files(stats: Option<&TreeStats>) -> String {
    let Some(stats) = stats else { return String::new() };
    let s = if stats.files == 1 { "" } else { "s" };
    format!("{} file{s} ({})", stats.files, amount(stats.bytes))
}

/// What a table edit did with one filesystem partition, as one line:
/// `Kept 37 files (412 KiB) of 'vfs': moved to 0x410000, 0x3f0000 bytes`.
pub fn carried_line(c: &Carried) -> String {
    let name = &c.partition;
    let what = files(c.contents.as_ref());
    let to = c.to.unwrap_or(c.from);
    match c.action {
        Action::Unchanged => {
            let renamed = match &c.new_name {
                Some(n) if n != name => format!(", now named '{n}'"),
                _ => String::new(),
            };
            format!("Kept '{name}' ({}) as it was, at {:#x}, {:#x} bytes{renamed}", c.filesystem, to.offset, to.size)
        }
        Action::Grown => format!("Kept {what} of '{name}': {} grown in place to {:#x} bytes", c.filesystem, to.size),
        Action::KeptSize => format!(
            "Kept {what} of '{name}': the partition grew to {:#x} bytes, the {} volume stays {:#x} bytes",
            to.size, c.filesystem, c.fs_size
        ),
        Action::Recreated if to == c.from => format!("Kept {what} of '{name}': made again as {}", c.filesystem),
        Action::Recreated if to.offset == c.from.offset => {
            format!("Kept {what} of '{name}': shrunk to {:#x} bytes", to.size)
        }
        Action::Recreated => format!("Kept {what} of '{name}': moved to {:#x}, {:#x} bytes", to.offset, to.size),
        Action::Discarded => {
            let why = if c.new_name.is_some() { "re-typed" } else { "deleted" };
            format!("Discarded {what} of '{name}' ({why}, --discard-fs)")
        }
    }
}
