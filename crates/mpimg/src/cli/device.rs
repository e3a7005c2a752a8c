//! A run on a serial-attached device: connect once, open the firmware in its
//! flash, warn where the firmware and the device disagree, and run the same
//! steps as on a file (edits go to the device as they are made). Inspecting
//! a device ends with its filesystem's usage.

use mpimg::flash::device::DeviceFacts;
use mpimg::flash::DeviceFlash;
use mpimg::format::chip::Chip;
use mpimg::format::size::flash_label as mb;
use mpimg::fs::time::now_ns;
use mpimg::fs::{run_fs, FsCommand, DEFAULT_PARTITION};
use mpimg::ops::carry::backup::Board;
use mpimg::ops::carry::store::DirStore;
use mpimg::ops::firmware::Firmware;

use super::error::{shown, CliError};
use super::outcome::Gathered;
use super::report::Reporter;
use super::request::{Mode, Request};
use super::steps::{HostBackup, Session};

/// Run `req` on the device on `port`.
pub fn run_device(req: &Request, port: &str, rep: &mut Reporter, g: &mut Gathered) -> Result<(), CliError> {
    let fw = Firmware::open_device(port, req.device.clone())?;
    let facts = fw.flash.facts().clone();
    rep.device(&facts)?;
    g.result.device = Some(facts.clone());
    // -f in this run sets the size: no warning about the old one.
    let header_size = fw.header.flash_size().filter(|_| req.edits.flash_size.is_none());
    let bootloader_chip = Chip::by_image_id(fw.header.chip_id).map(|c| c.name);
    let warnings = mismatches(&facts, bootloader_chip, header_size);
    let backup = HostBackup {
        store: DirStore::new(&req.backup_dir),
        board: Board { port: facts.port.clone(), mac: facts.mac.clone() },
        now: now_ns() / 1_000_000_000,
        keep: req.keep_backup,
    };
    let mut s = Session { req, fw, rep, g, warnings, backup: Some(backup) };
    let run = s.run();
    if run.is_ok() && req.mode() == Mode::Inspect {
        fs_usage(&mut s.fw, s.rep)?;
    }
    s.g.wire = Some(s.fw.flash.wire().clone());
    s.rep.wire(s.fw.flash.wire(), &s.fw.flash.counts)?;
    run
}

/// Where the firmware in flash and the device itself disagree.
fn mismatches(facts: &DeviceFacts, bootloader_chip: Option<&str>, header_size: Option<u32>) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(size) = header_size.filter(|&s| s != facts.flash_size) {
        w.push(format!(
            "the bootloader header says the flash is {} but the device has {}: set it with -f {}",
            mb(size),
            mb(facts.flash_size),
            mb(facts.flash_size).trim_end_matches('B')
        ));
    }
    if let Some(c) = bootloader_chip.filter(|&c| c != facts.chip) {
        w.push(format!(
            "the bootloader is built for {c} but the device is an {}: flash a firmware for {} with --flash",
            facts.chip, facts.chip
        ));
    }
    w
}

/// Filesystem usage, as `--fs df` shows it (the filesystem layer reads only
/// the blocks littlefs walks). A partition without a filesystem is a note, not an error.
fn fs_usage(fw: &mut Firmware<DeviceFlash>, rep: &mut Reporter) -> Result<(), CliError> {
    let parts = fw.fs_partitions();
    if !parts.iter().any(|p| p.name == DEFAULT_PARTITION) {
        return Ok(());
    }
    let (mut listing, mut log) = (Vec::new(), Vec::new());
    let df = [FsCommand::Df { parts: vec![DEFAULT_PARTITION.to_string()] }];
    match run_fs(&mut fw.flash, &parts, &df, &mut listing, &mut log) {
        Ok(_) => rep.fs_usage(Ok(&listing))?,
        Err(e) => rep.fs_usage(Err(shown(&CliError::Lib(e.into())).to_string()))?,
    }
    Ok(())
}
