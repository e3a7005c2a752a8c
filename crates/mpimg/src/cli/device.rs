//! Runs on a serial-attached device: connect once, open the firmware in its
//! flash, and hand it to the same run flow as a file (edits go in place); and
//! `--flash DEVICE`, which writes a firmware file (with this run's edits) to a
//! device.

use std::io::Write;

use serde::Serialize;

use crate::flash::device::{bars_allowed, DeviceError, DeviceFacts, SectorCounts, WireStats};
use crate::flash::{align_up, DeviceFlash, DeviceOptions, Flash, SECTOR_SIZE};
use crate::format::chip::Chip;
use crate::format::image::ImageHeader;
use crate::format::partition::{PartitionTable, TABLE_OFFSET, TABLE_SIZE};
use crate::fs::{run_fs_commands, DEFAULT_PARTITION};
use crate::ops::firmware::Firmware;
use crate::ops::inspect::{app_summary, creates_implicit_vfs};
use crate::ops::OpError;

use super::args::Args;
use super::backend::Backend;
use super::run::{expand_device, run_firmware};

/// What `--flash DEVICE` did.
#[derive(Debug, Clone, Serialize)]
pub struct FlashReport {
    pub port: String,
    pub offset: u32,
    pub bytes: u32,
    /// Erased after the image, to the end of the partition it ends in.
    pub erased_to: u32,
    pub sectors: SectorCounts,
}

fn options(args: &Args) -> DeviceOptions {
    DeviceOptions { baud: args.baud, reset: !args.no_reset, progress: bars_allowed(args.quiet) }
}

fn dev_err(e: DeviceError) -> OpError {
    OpError::Io(e.to_string())
}

/// Connect to the device `name` (a port or short name).
pub fn connect(name: &str, args: &Args) -> Result<DeviceFlash, OpError> {
    DeviceFlash::open(&expand_device(name), options(args)).map_err(dev_err)
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

fn print_wire(err: &mut dyn Write, w: &WireStats, c: &SectorCounts) -> std::io::Result<()> {
    writeln!(
        err,
        "device: {} commands, {} bytes sent, ~{} bytes received, {} retries; {} bytes read; sectors written {}, erased {}, unchanged {}",
        w.commands, w.bytes_sent, w.bytes_received, w.retries, c.bytes_read, c.written, c.erased, c.unchanged
    )
}

/// Run `args` on the device named by FILENAME.
pub fn run_device(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, OpError> {
    if args.flash.is_some() {
        return Err(OpError::Io("--flash writes a firmware file to a device: give the firmware file as FILENAME, e.g. mpimg fw.bin --flash u0".into()));
    }
    let io = |e: std::io::Error| OpError::Io(format!("cannot write output: {e}"));
    let flash = connect(&args.filename, args)?;
    if !args.json && !args.quiet {
        print_facts(out, flash.facts()).map_err(io)?;
    }
    let chip = flash.chip();
    let mut fw = open_firmware(flash, chip)?;
    let code = run_firmware(args, &mut fw, out, err);
    if code.is_ok() && inspect_only(args) && !args.json && !args.quiet {
        fs_usage(&mut fw, out)?;
    }
    if args.debug {
        print_wire(err, fw.flash.wire(), &fw.flash.counts).map_err(io)?;
    }
    code
}

/// Whether the device's app makes MicroPython ≥ 1.26's implicit `vfs`: read
/// only the start of the app, where the version banner lies (inspecting a
/// device does not read it otherwise).
pub fn app_creates_implicit_vfs<F: Backend>(fw: &mut Firmware<F>) -> bool {
    let Some(app) = fw.table.first_app().cloned() else { return false };
    let Ok(head) = fw.flash.read_vec(app.offset, BANNER_WINDOW.min(app.size)) else { return false };
    creates_implicit_vfs(Some(&app_summary(app.offset, &head, Some(&app), false)))
}

/// A run that only shows the device (no edit, read, write or check).
fn inspect_only(a: &Args) -> bool {
    let options = [
        a.flash_size.is_some(),
        a.app_size.is_some(),
        a.from_csv.is_some(),
        a.table.is_some(),
        a.delete.is_some(),
        a.add.is_some(),
        a.resize.is_some(),
        a.rename.is_some(),
        a.erase.is_some(),
        a.erase_fs.is_some(),
        a.read.is_some(),
        a.write.is_some(),
        a.ota_update.is_some(),
        a.extract_app,
        a.check_app,
        a.to_csv.is_some(),
        !a.fs.is_empty(),
        a.output.is_some(),
    ];
    !options.iter().any(|&o| o)
}

/// Filesystem usage, as `--fs df` shows it (the filesystem layer reads only
/// the blocks littlefs walks). A partition without a filesystem is a note, not an error.
fn fs_usage(fw: &mut Firmware<DeviceFlash>, out: &mut dyn Write) -> Result<(), OpError> {
    let io = |e: std::io::Error| OpError::Io(format!("cannot write output: {e}"));
    let parts = super::run::fs_partitions(fw, app_creates_implicit_vfs);
    if !parts.iter().any(|p| p.name == DEFAULT_PARTITION) {
        return Ok(());
    }
    let mut listing = Vec::new();
    let mut log = Vec::new();
    let df = vec![vec!["df".to_string(), DEFAULT_PARTITION.to_string()]];
    match run_fs_commands(&mut fw.flash, &parts, &df, &mut listing, &mut log) {
        Ok(_) => out.write_all(&listing).map_err(io),
        Err(e) => writeln!(out, "Filesystem: {e}").map_err(io),
    }
}

/// Where MicroPython's banner lies in its app (within the first segment).
const BANNER_WINDOW: u32 = 0x4_0000;

/// Open the firmware in a device's flash: erased or foreign flash is not an
/// error of the tool but a device that needs a firmware.
fn open_firmware(flash: DeviceFlash, chip: &'static Chip) -> Result<Firmware<DeviceFlash>, OpError> {
    let bl = chip.bootloader_offset;
    match Firmware::open(flash, chip) {
        Err(OpError::Image(_)) => {
            Err(OpError::Io(format!("no bootloader found at {bl:#x}: flash a firmware with --flash")))
        }
        other => other,
    }
}

/// `--flash DEVICE`: write `image` (a firmware file's bytes, bootloader offset
/// on) to the device, erase the rest of the partition it ends in, verify.
pub fn flash_firmware(
    args: &Args,
    device: &str,
    image: &[u8],
    chip: &'static Chip,
    err: &mut dyn Write,
) -> Result<FlashReport, OpError> {
    let io = |e: std::io::Error| OpError::Io(format!("cannot write output: {e}"));
    let mut d = connect(device, args)?;
    if d.chip().name != chip.name {
        return Err(OpError::Io(format!(
            "the firmware is for {} but the device on {} is an {}: use a firmware for {}",
            chip.name,
            d.facts().port,
            d.chip().name,
            d.chip().name
        )));
    }
    let bl = chip.bootloader_offset;
    let end = bl + image.len() as u32;
    if end > d.data_end() {
        return Err(OpError::Io(format!(
            "the firmware ({} bytes from {bl:#x}) does not fit the device's {}MB flash",
            image.len(),
            d.data_end() >> 20
        )));
    }
    if let Ok(h) = ImageHeader::parse(image) {
        if let Some(size) = h.flash_size().filter(|&s| s != d.facts().flash_size) {
            if !args.quiet {
                writeln!(err, "warning: the firmware's header says the flash is {}MB but the device has {}MB: change it with -f {}M", size >> 20, d.facts().flash_size >> 20, d.facts().flash_size >> 20).map_err(io)?;
            }
        }
    }
    // The image's last sector is padded with 0xFF, then the partition it
    // ends in is erased to its end, so no old data follows the new image.
    let padded_end = align_up(end, SECTOR_SIZE).min(d.data_end());
    let mut data = image.to_vec();
    data.resize((padded_end - bl) as usize, 0xFF);
    let table_at = (TABLE_OFFSET - bl) as usize;
    let part_end = image
        .get(table_at..table_at + TABLE_SIZE)
        .and_then(|t| PartitionTable::parse(t).ok())
        .and_then(|t| t.entries.iter().find(|p| p.offset < end && end <= p.end()).map(|p| p.end()))
        .unwrap_or(padded_end)
        .max(padded_end);
    d.write(bl, &data)?;
    if part_end > padded_end {
        d.erase(padded_end, part_end - padded_end)?;
    }
    let report = FlashReport {
        port: d.facts().port.clone(),
        offset: bl,
        bytes: image.len() as u32,
        erased_to: part_end,
        sectors: d.counts.clone(),
    };
    if args.debug {
        print_wire(err, d.wire(), &d.counts).map_err(io)?;
    }
    d.close();
    Ok(report)
}
