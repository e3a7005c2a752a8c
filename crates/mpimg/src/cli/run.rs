//! One run of mpimg: on a file (a firmware, edited in memory and written out
//! at the end, so an error anywhere leaves no output behind; or an app image,
//! shown and checked), on a firmware assembled from a build's pieces (then as
//! on a file), or on a device (see [`super::device`]). Every time written into
//! a filesystem comes from the request's time source (`SOURCE_DATE_EPOCH`).

use std::path::Path;

use mpimg::flash::{DeviceFlash, FileFlash, Flash};
use mpimg::fs::time::with_time_source;
use mpimg::ops::assemble::Recipe;
use mpimg::ops::check::check_image;
use mpimg::ops::file_format::FileFormat;
use mpimg::ops::firmware::{assemble_files, check_outputs, check_writable, open_bytes, open_path, Firmware, Opened};
use mpimg::ops::flash_image::{board_of, check_board, write_image};
use mpimg::ops::inspect::summarize_app;
use mpimg::ops::region::{Region, RegionKind};
use mpimg::Error;

use super::boards::{flash_boards, run_boards};
use super::device::run_device;
use super::error::CliError;
use super::outcome::Gathered;
use super::report::Reporter;
use super::request::{Request, Target};
use super::steps::Session;

/// Run `req`, telling `rep` what happens and recording it in `g` (which an
/// error report uses too). Returns the exit code of a run that did not fail:
/// 1 when an image check failed, else 0.
pub fn run(req: &Request, rep: &mut Reporter, g: &mut Gathered) -> Result<i32, CliError> {
    with_time_source(req.time, || match &req.target {
        Target::Device(port) => run_device(req, port, rep, g),
        Target::File(path) => {
            check_host_files(req, path)?;
            match open_path(path)? {
                Opened::App(data) => run_app(req, data.as_slice(), rep, g),
                Opened::Firmware(fw) => run_file(req, *fw, rep, g),
            }
        }
        Target::Build(recipe) => run_build(req, recipe, rep, g),
        Target::Boards(boards) => run_boards(req, boards, rep, g),
    })?;
    Ok(i32::from(g.failed))
}

/// Before any work on the input file: a file to write must not be the input
/// itself (unless `--in-place` asks for that), and an input to change in
/// place must be writable.
fn check_host_files(req: &Request, input: &Path) -> Result<(), Error> {
    check_outputs(input, req.files_written())?;
    if req.in_place {
        check_writable(input)?;
    }
    Ok(())
}

/// A build: its pieces joined into one firmware, then as a firmware file.
fn run_build(req: &Request, recipe: &Recipe, rep: &mut Reporter, g: &mut Gathered) -> Result<(), CliError> {
    let mut assembled = assemble_files(recipe)?;
    let bytes = std::mem::take(&mut assembled.bytes);
    rep.assembled(&assembled, bytes.len())?;
    g.result.assembled = Some(assembled);
    match open_bytes(bytes)? {
        Opened::Firmware(fw) => run_file(req, *fw, rep, g),
        Opened::App(_) => Err(mpimg::Error::AppImageOnly { what: "assemble".into() }.into()),
    }
}

/// A firmware file: the steps, then the output file, then `--flash`. With
/// `--flash` the device is connected to first: a firmware it would not start
/// (another chip, another chip revision) is refused before anything else,
/// and the steps fit the firmware to its flash; once flashed, the board is diagnosed.
fn run_file(req: &Request, fw: Firmware<FileFlash>, rep: &mut Reporter, g: &mut Gathered) -> Result<(), CliError> {
    let mut device = match req.flash_to.as_ref().and_then(|b| b.single()) {
        Some(port) => {
            let d = DeviceFlash::open(port, req.device.clone()).map_err(Error::from)?;
            check_board(&d, fw.chip, &fw.header)?;
            g.result.device = Some(d.facts().clone());
            Some(d)
        }
        None => None,
    };
    let board = device.as_ref().map(board_of);
    let mut s = Session { req, fw, rep, g, board, backup: None };
    s.run()?;
    if req.extract_app.is_some() {
        return Ok(());
    }
    let fs_changed_nothing = s.g.result.fs.as_ref().is_some_and(|r| !r.changed);
    if req.output_for_fs_only && fs_changed_nothing {
        // As an edit that changes nothing says so; here no copy of the input is made either.
        s.rep.warning("--fs changed nothing: no output file written")?;
    } else if let Some(path) = &req.output {
        save(&mut s.fw, path, req.in_place, req.output_format, s.rep)?;
        s.g.result.output = Some(path.display().to_string());
        s.g.result.format = Some(req.output_format);
    }
    match (device.as_mut(), &req.flash_to) {
        (Some(d), _) => {
            let r = write_image(d, s.fw.flash.bytes(), s.fw.chip, req.erase_rest)?;
            s.rep.flashed(&r)?;
            s.g.result.flashed = Some(r);
        }
        // Several boards: each its own fit, its own result in the summary.
        (None, Some(boards)) => return flash_boards(req, boards, s.fw.flash.bytes(), s.fw.chip, s.rep, s.g),
        (None, None) => {}
    }
    s.diagnose()
}

/// Write the output firmware: a new file in `format`, or only the changes
/// into the input (`--in-place` on a raw file; a HEX or UF2 file is written
/// anew, its records depending on the whole image).
fn save(
    fw: &mut Firmware<FileFlash>,
    path: &Path,
    in_place: bool,
    format: FileFormat,
    rep: &mut Reporter,
) -> Result<(), CliError> {
    let patch = in_place && format == FileFormat::Bin;
    let n = if patch { fw.save_in_place(path)? } else { fw.save_as(path, format)? };
    rep.saved(&path.display().to_string(), n, patch)?;
    Ok(())
}

/// An app image file: shown, and checked with `--check-app`.
fn run_app(req: &Request, data: &[u8], rep: &mut Reporter, g: &mut Gathered) -> Result<(), CliError> {
    req.check_for_app_image()?;
    let summary = summarize_app(data, &req.source);
    rep.summary(&summary)?;
    if req.check_app {
        let r = Region { name: "app".into(), offset: 0, size: data.len() as u32, kind: RegionKind::App, entry: None };
        let mut f = FileFlash::new(data.to_vec(), 0, data.len() as u32);
        let checks: Vec<_> = check_image(&mut f as &mut dyn Flash, &r).into_iter().collect();
        g.failed = checks.iter().any(|c| !c.is_valid());
        g.result.checks = Some(checks);
    }
    g.summary = Some(summary);
    Ok(())
}
