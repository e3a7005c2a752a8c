//! One run of mpimg on a firmware file or a device: open, show, plan the
//! edits, apply them (to an in-memory copy of a file, in place on a device),
//! then write every output at the end (so an error anywhere leaves no output
//! firmware behind).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::flash::{write_atomically, FileFlash};
use crate::format::csv::to_csv;
use crate::format::image::{parse_image, ImageHeader};
use crate::format::partition::PartitionView;
use crate::ops::arglist::{parse_names, parse_pairs};
use crate::ops::check::{check_all, check_image, ImageCheck};
use crate::ops::carry::{self, Carried, CarryPlan};
use crate::ops::firmware::{has_vfs, open_bytes, Firmware, Opened};
use crate::ops::inspect::{creates_implicit_vfs, read_app, summarize, summarize_app, Summary};
use crate::ops::partition_io::{erase_region, read_region, trim_blocks, write_region};
use crate::ops::region::{find_region, Region, RegionKind};
use crate::ops::update::{erase_changed_data, write_bootloader_header, write_table, UpdateReport};
use crate::ops::OpError;
use crate::ops::{device_app, ota};

use super::backend::Backend;
use super::device::{flash_firmware, run_device, FlashReport};

use super::args::Args;
use super::naming::{app_bin_name, basename, with_suffix};
use super::plan::{plan_edits, ImplicitVfs, Plan};
use super::report;

/// What a run did, rendered as the `result` of `--json`.
#[derive(Debug, Default, Serialize)]
pub struct RunResult {
    /// The firmware file written (None: no edit).
    pub output: Option<String>,
    pub partitions: Option<Vec<PartitionView>>,
    pub update: Option<UpdateReport>,
    pub extracted: Option<String>,
    pub files_read: Vec<String>,
    pub partitions_written: Vec<String>,
    pub partitions_erased: Vec<String>,
    pub checks: Option<Vec<ImageCheck>>,
    pub csv: Option<String>,
    /// Devices only: what the device said about itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<crate::flash::device::DeviceFacts>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filesystems_erased: Vec<String>,
    /// What a table edit did with each filesystem partition it touched.
    pub filesystems: Vec<Carried>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ota_update: Option<ota::OtaReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ota: Option<ota::OtaStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flashed: Option<FlashReport>,
    /// What `--fs` commands printed (listings, file contents), with `--json`.
    pub fs_output: Option<String>,
    pub fs: Option<crate::fs::FsRunReport>,
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    result: &'a RunResult,
}

/// Options that only make sense on a device.
fn device_only(args: &Args) -> Result<(), OpError> {
    if args.erase_fs.is_some() {
        return Err(OpError::DeviceOnly { option: "--erase-fs" });
    }
    if args.ota_update.is_some() {
        return Err(OpError::DeviceOnly { option: "--ota-update" });
    }
    Ok(())
}

/// Whether `name` is a serial port rather than a file: `/dev/tty*`,
/// `/dev/cu.*`, `/dev/pts/*`, `COMn`, or a short name (u0, a0, c0). An
/// existing regular file is always a file (so `/dev/shm/fw.bin` works, which
/// the Python tool's "starts with /dev/" rule gets wrong).
pub fn is_device(name: &str) -> bool {
    if std::fs::metadata(name).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let port = expand_device(name);
    let com = port.strip_prefix("COM").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    com || ["/dev/tty", "/dev/cu.", "/dev/pts/"].iter().any(|p| port.starts_with(p))
}

/// `u0` → `/dev/ttyUSB0`, `a0` → `/dev/ttyACM0`, `c0` → `COM0`.
pub fn expand_device(name: &str) -> String {
    let num = |p: &str| name.strip_prefix(p).filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if let Some(n) = num("u") {
        format!("/dev/ttyUSB{n}")
    } else if let Some(n) = num("a") {
        format!("/dev/ttyACM{n}")
    } else if let Some(n) = num("c") {
        format!("COM{n}")
    } else {
        name.to_string()
    }
}

/// Run with parsed arguments. Returns the process exit code.
pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, OpError> {
    if is_device(&args.filename) {
        return run_device(args, out, err);
    }
    device_only(args)?;
    let data = crate::flash::FileBytes::open(Path::new(&args.filename))
        .map_err(|e| OpError::Io(format!("cannot read '{}': {}", args.filename, io_reason(&e))))?;
    match open_bytes(data)? {
        Opened::App(data) => run_app(args, data.as_slice(), out),
        Opened::Firmware(mut fw) => run_firmware(args, &mut fw, out, err),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn write_file(path: &str, data: &[u8]) -> Result<(), OpError> {
    write_atomically(Path::new(path), data).map_err(|e| OpError::Io(format!("cannot write '{path}': {}", io_reason(&e))))
}

fn run_app(args: &Args, data: &[u8], out: &mut dyn Write) -> Result<i32, OpError> {
    let edits = [
        args.flash_size.is_some(),
        args.from_csv.is_some(),
        args.table.is_some(),
        args.app_size.is_some(),
        args.delete.is_some(),
        args.add.is_some(),
        args.resize.is_some(),
        args.rename.is_some(),
        args.erase.is_some(),
        args.read.is_some(),
        args.write.is_some(),
        args.extract_app,
        args.to_csv.is_some(),
        args.flash.is_some(),
    ];
    if edits.iter().any(|&e| e) {
        return Err(OpError::AppImageOnly { what: "edit or read".into() });
    }
    let summary = summarize_app(data, &args.filename);
    if !args.json && !args.quiet {
        report::print_summary(out, &summary, report::fancy()).map_err(|e| OpError::Io(e.to_string()))?;
    }
    let mut result = RunResult::default();
    let mut failed = summary.app.as_ref().is_some_and(|a| a.image.problem.is_some()) && args.check_app;
    if args.check_app {
        let r = Region { name: "app".into(), offset: 0, size: data.len() as u32, kind: RegionKind::App, entry: None };
        let mut f = FileFlash::new(data.to_vec(), 0, data.len() as u32);
        let checks: Vec<ImageCheck> = check_image(&mut f, &r).into_iter().collect();
        failed = checks.iter().any(|c| !c.is_valid());
        result.checks = Some(checks);
    }
    emit(args, &summary, &result, out)?;
    Ok(i32::from(failed))
}

fn emit(args: &Args, summary: &Summary, result: &RunResult, out: &mut dyn Write) -> Result<(), OpError> {
    let io = |e: std::io::Error| OpError::Io(format!("cannot write output: {e}"));
    if args.json {
        let doc = JsonDoc { summary, result };
        let text = serde_json::to_string_pretty(&doc).map_err(|e| OpError::Io(e.to_string()))?;
        writeln!(out, "{text}").map_err(io)?;
    } else if !args.quiet {
        if let Some(checks) = &result.checks {
            report::print_checks(out, checks).map_err(io)?;
        }
    }
    Ok(())
}

pub(super) fn run_firmware<F: Backend>(
    args: &Args,
    fw: &mut Firmware<F>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, OpError> {
    let human = !args.json && !args.quiet;
    let io = |e: std::io::Error| OpError::Io(format!("cannot write output: {e}"));
    // Hashing the app is most of an inspection's cost: skip it when nothing shows it.
    let verify = !args.quiet || args.json;
    let mut summary = summarize(fw, &args.filename, verify);
    if fw.is_file() {
        refuse_truncated_app(&summary)?;
    }
    let bl_chip = super::backend::chip_name(fw.header.chip_id);
    // -f in this run sets the size: no warning about the old one.
    let header_size = fw.header.flash_size().filter(|_| args.flash_size.is_none());
    summary.warnings.extend(fw.flash.device_warnings(bl_chip, header_size));
    let fancy = report::fancy();
    if human {
        report::print_summary(out, &summary, fancy).map_err(io)?;
        if args.debug {
            report::print_segments(out, &summary).map_err(io)?;
        }
    }
    if !args.quiet {
        for w in &summary.warnings {
            writeln!(err, "warning: {w}").map_err(io)?;
        }
    }
    let mut result = RunResult { device: fw.flash.device_facts(), ..RunResult::default() };

    if args.extract_app {
        let (_, data) = if fw.is_file() {
            read_app(fw).ok_or_else(|| OpError::Io("the app partition is not in this file".into()))?
        } else {
            let p = fw.table.first_app().cloned().ok_or_else(|| OpError::Io("the partition table has no app partition".into()))?;
            let data = device_app::read_app_image(&mut fw.flash, &p)?;
            (p, std::borrow::Cow::Owned(data))
        };
        // The image's own length when it can be walked; else trailing 0xFF trimmed to 16 bytes.
        let len = parse_image(&data).map(|i| i.total_len).unwrap_or_else(|_| trim_blocks(&data, 16).len());
        let name = args.output.clone().unwrap_or_else(|| app_bin_name(&basename(&args.filename)));
        write_file(&name, &data[..len.min(data.len())])?;
        if human {
            writeln!(out, "Wrote app image ({len} bytes) to {name}").map_err(io)?;
        }
        result.extracted = Some(name);
        emit(args, &summary, &result, out)?;
        return Ok(0);
    }

    let implicit = fw.implicit_vfs(creates_implicit_vfs(summary.app.as_ref()), fw.flash_size()).map(|p| ImplicitVfs {
        version: summary.app.as_ref().and_then(|a| a.micropython_version.clone()).unwrap_or_default(),
        start: p.offset,
    });
    let plan = plan_edits(args, fw, summary.app.as_ref(), implicit.as_ref())?;
    if let Some(facts) = fw.flash.device_facts() {
        // A table or header for more flash than the chip has would leave
        // partitions the device cannot reach (and a board that will not mount them).
        let device = facts.flash_size;
        if let Some(asked) = args.flash_size.filter(|&s| s > device) {
            return Err(OpError::LargerThanDevice { asked, device });
        }
        if plan.suffix.is_empty() {
            // No table edit: nothing new is written past the device's end.
        } else if plan.table.end() > device {
            return Err(OpError::TablePastDevice { end: plan.table.end(), device });
        }
    }
    // Parse every --fs command now, so a typo fails before any work.
    let fs_changes = !args.fs.is_empty() && crate::fs::commands_modify_flash(&args.fs);
    for c in &args.fs {
        crate::fs::FsCommand::parse(c)?;
    }
    let suffix = format!("{}{}", plan.suffix, if fs_changes { "-fs" } else { "" });
    let changed = !suffix.is_empty() || args.output.is_some() || args.in_place;
    // A device is changed in place: no output file.
    let output: Option<PathBuf> = (changed && fw.is_file()).then(|| {
        if args.in_place {
            PathBuf::from(&args.filename)
        } else {
            PathBuf::from(args.output.clone().unwrap_or_else(|| with_suffix(&basename(&args.filename), &suffix)))
        }
    });

    if changed {
        // Every read and check of the filesystems the edit moves comes before the first write.
        let carry = plan_carry(args, fw, &summary, &plan)?;
        if human {
            for n in &plan.notes {
                writeln!(out, "{n}").map_err(io)?;
            }
            let views: Vec<PartitionView> = plan.table.entries.iter().map(PartitionView::from).collect();
            report::print_table(out, &views, plan.flash_size, fancy).map_err(io)?;
        }
        if !args.quiet {
            for w in &plan.warnings {
                writeln!(err, "warning: {w}").map_err(io)?;
            }
        }
        let bl = fw.bootloader_offset();
        // Data erased before the table is written: if a device's link fails
        // in between, the old table still stands and a re-run redoes it all.
        let erased = erase_changed_data(&mut fw.flash, &fw.table, &plan.table, &carry.keep)?;
        let mut update = UpdateReport { erased, ..UpdateReport::default() };
        if plan.header != fw.header {
            write_bootloader_header(&mut fw.flash, bl, &plan.header)?;
            update.bootloader_rewritten = true;
        }
        write_table(&mut fw.flash, &plan.table)?;
        if !carry.parts.is_empty() {
            carry::recreate(&mut fw.flash, &carry)?;
            carry::verify(&mut fw.flash, &carry)?;
        }
        result.filesystems = carry.carried();
        if human {
            for c in &result.filesystems {
                writeln!(out, "{c}").map_err(io)?;
            }
        }
        fw.table = plan.table.clone();
        fw.header = plan.header.clone();
        result.partitions = Some(plan.table.entries.iter().map(PartitionView::from).collect());
        result.update = Some(update);
        if !fw.is_file() && !args.quiet {
            for name in device_app::apps_without_image(&mut fw.flash, &fw.table) {
                writeln!(err, "warning: app partition '{name}' holds no app image: write one with --write {name}=FILE (or --ota-update FILE)").map_err(io)?;
            }
        }
    }

    let bl = fw.bootloader_offset();
    let region = |fw: &Firmware<F>, name: &str| -> Result<Region, OpError> {
        find_region(&fw.table, bl, name).ok_or_else(|| {
            OpError::Edit(crate::ops::EditError::NotFound {
                name: name.to_string(),
                have: fw.table.entries.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
            })
        })
    };
    if let Some(arg) = &args.erase {
        for name in parse_names(arg) {
            let r = region(fw, &name)?;
            erase_region(&mut fw.flash, &r)?;
            result.partitions_erased.push(name);
        }
    }
    if let Some(arg) = &args.erase_fs {
        for name in parse_names(arg) {
            let r = region(fw, &name)?;
            if !r.is_data() {
                return Err(OpError::Io(format!("'{name}' is not a data partition: --erase-fs erases the start of a filesystem partition (e.g. vfs)")));
            }
            fw.flash.erase(r.offset, r.size.min(crate::ops::update::DATA_ERASE_LEN))?;
            result.filesystems_erased.push(name);
        }
    }
    if let Some(file) = &args.ota_update {
        let data = std::fs::read(file).map_err(|e| OpError::Io(format!("cannot read '{file}': {}", io_reason(&e))))?;
        let st = ota::ota_status(&mut fw.flash, &fw.table)?;
        if let Some(target) = st.as_ref().and_then(|s| fw.table.find(&s.next)).map(Region::of) {
            check_image_for(fw, &target, file, &data)?;
        }
        let r = ota::ota_update(&mut fw.flash, &fw.table, &data, !args.no_rollback)?;
        if human {
            writeln!(out, "Wrote {} bytes to '{}' at {:#x}; otadata: boots '{}' next (seq {}, state {})", r.bytes, r.partition, r.offset, r.partition, r.seq, r.state).map_err(io)?;
        }
        result.ota_update = Some(r);
    }
    let mut reads: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(arg) = &args.read {
        for (name, file) in parse_pairs(arg, "--read")? {
            let r = region(fw, &name)?;
            let mut data = read_region(&mut fw.flash, &r)?;
            if args.trimblocks {
                data.truncate(trim_blocks(&data, 0x1000).len());
            }
            if args.trim {
                data.truncate(trim_blocks(&data, 16).len());
            }
            reads.push((file, data));
        }
    }
    if let Some(arg) = &args.write {
        for (name, file) in parse_pairs(arg, "--write")? {
            let r = region(fw, &name)?;
            let data = std::fs::read(&file).map_err(|e| OpError::Io(format!("cannot read '{file}': {}", io_reason(&e))))?;
            if matches!(r.kind, RegionKind::App | RegionKind::Bootloader) {
                check_image_for(fw, &r, &file, &data)?;
            }
            write_region(&mut fw.flash, &r, &data)?;
            result.partitions_written.push(name);
        }
    }
    let mut failed = false;
    if args.check_app {
        result.ota = ota::ota_status(&mut fw.flash, &fw.table)?;
        // The app that boots: otadata's choice, else the first app partition.
        let boots = result.ota.as_ref().map(|s| s.boots.clone()).or_else(|| fw.table.first_app().map(|p| p.name()));
        let checks = check_all(&mut fw.flash, &fw.table, bl, boots.as_deref());
        failed = checks.iter().any(|c| !c.is_valid());
        result.checks = Some(checks);
        if let (Some(st), true) = (&result.ota, human) {
            writeln!(out, "OTA: boots '{}' next; an update goes to '{}'", st.boots, st.next).map_err(io)?;
        }
    }
    if !args.fs.is_empty() {
        let parts = if fw.is_file() {
            fs_partitions(fw, |_| creates_implicit_vfs(summary.app.as_ref()))
        } else {
            fs_partitions(fw, super::device::app_creates_implicit_vfs)
        };
        let mut listing: Vec<u8> = Vec::new();
        let target: &mut dyn Write = if args.json { &mut listing } else { &mut *out };
        let mut log: Vec<u8> = Vec::new();
        let rep = crate::fs::run_fs_commands(&mut fw.flash, &parts, &args.fs, target, &mut log);
        if !args.quiet {
            err.write_all(&log).map_err(io)?;
        }
        let rep = rep?;
        if args.debug && !args.quiet {
            writeln!(err, "fs: {}", rep.stats).map_err(io)?;
        }
        if args.json {
            result.fs_output = Some(String::from_utf8_lossy(&listing).into_owned());
        }
        result.fs = Some(rep);
    }
    if let Some(path) = &args.to_csv {
        write_file(path, to_csv(&fw.table).as_bytes())?;
        result.csv = Some(path.clone());
    }
    for (file, data) in &reads {
        write_file(file, data)?;
        if human {
            writeln!(out, "Wrote {} bytes to {file}", data.len()).map_err(io)?;
        }
        result.files_read.push(file.clone());
    }
    if let Some(path) = &output {
        let cannot = |e: std::io::Error| OpError::Io(format!("cannot write '{}': {}", path.display(), io_reason(&e)));
        if args.in_place {
            let n = fw.flash.save_in_place(path).map_err(cannot)?;
            if human {
                writeln!(out, "Updated {} in place ({n} bytes written)", path.display()).map_err(io)?;
            }
        } else {
            let len = fw.flash.save_output(path).map_err(cannot)?;
            if human {
                writeln!(out, "Wrote {} ({len} bytes)", path.display()).map_err(io)?;
            }
        }
        result.output = Some(path.display().to_string());
    }
    if let (Some(device), Some(image)) = (&args.flash, fw.flash.image()) {
        let r = flash_firmware(args, device, image, fw.chip, err)?;
        if human {
            writeln!(out, "Flashed {} bytes to {} at {:#x}, erased to {:#x} ({} sectors written, {} unchanged, {} erased)", r.bytes, r.port, r.offset, r.erased_to, r.sectors.written, r.sectors.unchanged, r.sectors.erased).map_err(io)?;
        }
        result.flashed = Some(r);
    }
    emit(args, &summary, &result, out)?;
    Ok(i32::from(failed))
}

/// The partitions `--fs` may name: every data partition of the table, and
/// MicroPython ≥ 1.26's implicit `vfs` (up to the end of the flash: the
/// detected size on a device) when the table has none and `creates_implicit`
/// says the app makes one. It is asked only then, because on a device it
/// reads the start of the app to find the MicroPython version.
pub fn fs_partitions<F: Backend>(
    fw: &mut Firmware<F>,
    creates_implicit: impl FnOnce(&mut Firmware<F>) -> bool,
) -> Vec<crate::fs::FsPartition> {
    let part = |name: String, offset: u32, size: u32, implicit: bool| crate::fs::FsPartition { name, offset, size, implicit };
    let mut parts: Vec<crate::fs::FsPartition> = fw
        .table
        .entries
        .iter()
        .filter(|p| p.ptype == crate::format::partition::TYPE_DATA)
        .map(|p| part(p.name(), p.offset, p.size, false))
        .collect();
    if !fw.has_vfs() && creates_implicit(fw) {
        let flash_size = fw.flash.device_facts().map_or(fw.flash_size(), |f| f.flash_size);
        if let Some(v) = fw.implicit_vfs(true, flash_size) {
            parts.push(part(v.name(), v.offset, v.size, true));
        }
    }
    parts
}

/// What the table edit of `plan` does with the filesystems of the current
/// table (MicroPython ≥ 1.26's implicit `vfs` included, up to the detected
/// flash end on a device): read and checked now, written after the table.
fn plan_carry<F: Backend>(args: &Args, fw: &mut Firmware<F>, summary: &Summary, plan: &Plan) -> Result<CarryPlan, OpError> {
    if plan.table == fw.table && plan.flash_size == fw.flash_size() {
        return Ok(CarryPlan::default());
    }
    // Only a table without vfs has an implicit one (on a device, finding the
    // MicroPython version reads the start of the app).
    let creates = (!has_vfs(&fw.table) || !has_vfs(&plan.table))
        && if fw.is_file() { creates_implicit_vfs(summary.app.as_ref()) } else { super::device::app_creates_implicit_vfs(fw) };
    let detected = fw.flash.device_facts().map(|f| f.flash_size);
    let (old_flash, new_flash) = (detected.unwrap_or(fw.flash_size()), detected.unwrap_or(plan.flash_size));
    let (old, new) = carry::layouts(&fw.table, old_flash, &plan.table, new_flash, creates);
    Ok(carry::plan(&mut fw.flash, &old, &new, args.discard_fs)?)
}

/// A firmware file that ends inside its app image is cut short: say so rather
/// than show (or edit) a broken firmware.
fn refuse_truncated_app(summary: &Summary) -> Result<(), OpError> {
    let Some(app) = &summary.app else { return Ok(()) };
    match &app.image.problem {
        Some(p) if app.image.truncated => Err(OpError::TruncatedApp {
            name: app.partition.clone().unwrap_or_default(),
            offset: app.image.offset,
            detail: p.split(';').next().unwrap_or(p).to_string(),
        }),
        _ => Ok(()),
    }
}

/// An image written into an app partition or the bootloader must be an image
/// for this chip.
fn check_image_for<F: Backend>(fw: &Firmware<F>, r: &Region, file: &str, data: &[u8]) -> Result<(), OpError> {
    let bad = |why: String| OpError::BadAppImage { file: file.into(), name: r.name.clone(), chip: fw.chip.name, why };
    let h = ImageHeader::parse(data).map_err(|e| bad(e.to_string()))?;
    match h.chip() {
        Some(c) if c.name == fw.chip.name => {}
        Some(c) => return Err(bad(format!("it is built for {}", c.name))),
        None => return Err(bad(format!("unknown chip id {}", h.chip_id))),
    }
    parse_image(data).map_err(|e| bad(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        for d in ["u0", "a1", "c3", "/dev/ttyUSB0", "/dev/ttyACM1", "/dev/cu.usbserial-1", "/dev/pts/4", "COM7"] {
            assert!(is_device(d), "{d}");
        }
        for f in ["fw.bin", "/dev/shm/fw.bin", "COMx", "u", "uu0", "/tmp/ttyUSB0"] {
            assert!(!is_device(f), "{f}");
        }
        assert_eq!(expand_device("u0"), "/dev/ttyUSB0");
        assert_eq!(expand_device("a12"), "/dev/ttyACM12");
        assert_eq!(expand_device("c3"), "COM3");
    }
}
