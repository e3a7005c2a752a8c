//! A run on a serial-attached device: connect once, find the firmware in its
//! flash (where the chip starts it, or, written at the wrong offset,
//! elsewhere: diagnosed, and moved by `--fit`), and run the same steps as on
//! a file (edits go to the device as they are made). Inspecting a device
//! ends with its filesystem's usage.

use mpimg::flash::{DeviceFlash, Flash};
use mpimg::format::chip::Chip;
use mpimg::format::image::{ImageHeader, HEADER_LEN};
use mpimg::fs::time::now_ns;
use mpimg::fs::{run_fs, FsCommand, FsError, DEFAULT_PARTITION};
use mpimg::ops::carry::backup::Board as BackupBoard;
use mpimg::ops::carry::store::backup_name;
use mpimg::ops::carry::store::DirStore;
use mpimg::ops::diagnose::{misplaced, Board};
use mpimg::ops::firmware::Firmware;
use mpimg::ops::flash_image::board_of;
use mpimg::ops::place::{find_misplaced, read_move, write_move, Misplaced, Moved};
use mpimg::Error;

use super::error::{shown, CliError};
use super::fix::view;
use super::outcome::Gathered;
use super::report::Reporter;
use super::request::{FitMode, Mode, Request};
use super::steps::{write_file, HostBackup, Session};

/// Run `req` on the device on `port`.
pub fn run_device(req: &Request, port: &str, rep: &mut Reporter, g: &mut Gathered) -> Result<(), CliError> {
    let mut flash = DeviceFlash::open(port, req.device.clone()).map_err(Error::from)?;
    let facts = flash.facts().clone();
    rep.device(&facts)?;
    g.result.device = Some(facts.clone());
    let board = board_of(&flash);
    if let Some(m) = misplaced_firmware(&mut flash)? {
        if req.fit != FitMode::Fit || m.chip.name != board.chip.name {
            return report_misplaced(req, port, &board, &m, rep, g);
        }
        let board_id = BackupBoard { port: facts.port.clone(), mac: facts.mac.clone() };
        let moved = move_misplaced(req, port, &board_id, &mut flash, board.chip, m.offset, rep)?;
        rep.moved(&moved)?;
        g.result.moved = Some(moved);
    }
    let chip = flash.chip();
    let offset = chip.bootloader_offset;
    let fw = match Firmware::open(flash, chip) {
        Err(Error::Image(source)) => {
            let e = Error::NotABootloader { offset, source };
            // A move cut off before its bootloader landed: the firmware saved before it finishes it.
            let board_id = BackupBoard { port: facts.port.clone(), mac: facts.mac.clone() };
            return Err(match saved_moves(req, &board_id).pop() {
                Some(saved) => {
                    CliError::MoveNotWhole { source: Box::new(e.into()), saved: Some(saved), port: port.into() }
                }
                None => e.into(),
            });
        }
        other => other,
    }?;
    let backup = HostBackup {
        store: DirStore::new(&req.backup_dir).with_index(req.backup_index.clone()),
        board: BackupBoard { port: facts.port.clone(), mac: facts.mac.clone() },
        now: now_ns() / 1_000_000_000,
        keep: req.keep_backup,
    };
    let mut s = Session { req, fw, rep, g, board: Some(board), backup: Some(backup) };
    let run = s.run().and_then(|()| if req.extract_app.is_some() { Ok(()) } else { s.diagnose() });
    if run.is_ok() && req.mode() == Mode::Inspect {
        fs_usage(&mut s.fw, s.rep, s.g.pending_edit.as_ref())?;
    }
    s.g.wire = Some(s.fw.flash.wire().clone());
    s.rep.wire(s.fw.flash.wire(), &s.fw.flash.counts)?;
    run
}

/// The start of the name of a firmware saved before it is moved.
const MOVE_PREFIX: &str = "mpimg-move-";

/// Move the misplaced firmware at `from` where `chip` starts it: read whole
/// (a fragment is refused, naming the firmware saved before an earlier move
/// of this board if there is one), saved to the backup directory before
/// anything is written (`mpimg-move-PORT-MAC-TIME.bin`, the board's MAC as
/// in the table edit backups), then written. A cut-off write names the
/// command that flashes the saved firmware; a finished move removes it
/// (`--keep-backup` keeps it).
fn move_misplaced(
    req: &Request,
    port: &str,
    board: &BackupBoard,
    flash: &mut DeviceFlash,
    chip: &'static Chip,
    from: u32,
    rep: &mut Reporter,
) -> Result<Moved, CliError> {
    let plan = match read_move(flash, chip, from) {
        Ok(plan) => plan,
        Err(e @ Error::MisplacedNotWhole { .. }) => {
            let saved = saved_moves(req, board).pop();
            return Err(CliError::MoveNotWhole { source: Box::new(e.into()), saved, port: port.to_string() });
        }
        Err(e) => return Err(e.into()),
    };
    let name = backup_name(board, now_ns() / 1_000_000_000).replacen("mpimg-backup-", MOVE_PREFIX, 1);
    let path = if req.backup_dir.as_os_str().is_empty() || req.backup_dir == std::path::Path::new(".") {
        std::path::PathBuf::from(&name)
    } else {
        req.backup_dir.join(&name)
    };
    write_file(&path, &plan.image)?;
    let saved = path.display().to_string();
    rep.note(&format!("Saved the firmware being moved to {saved}: if the move is cut off, flash it with --flash"))?;
    let moved = write_move(flash, &plan).map_err(|e| CliError::MoveCut {
        source: Box::new(e.into()),
        saved: saved.clone(),
        port: port.to_string(),
    })?;
    if !req.keep_backup {
        // Best effort: the move is done, the copy only a convenience now.
        let _ = std::fs::remove_file(&path);
    }
    Ok(moved)
}

/// The firmwares saved before moves on `board` (by its MAC) still in the
/// backup directory, oldest first.
fn saved_moves(req: &Request, board: &BackupBoard) -> Vec<String> {
    let probe = backup_name(board, 0).replacen("mpimg-backup-", MOVE_PREFIX, 1);
    // PREFIX PORT-MAC-TIME.bin: the MAC is the part before the time.
    let Some(mac) = probe.rsplit('-').nth(1).map(|m| format!("-{m}-")) else { return Vec::new() };
    let dir = if req.backup_dir.as_os_str().is_empty() { std::path::Path::new(".") } else { req.backup_dir.as_path() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(MOVE_PREFIX) && n.ends_with(".bin") && n.contains(&mac))
        .collect();
    found.sort_by_key(|n| n.rsplit('-').next().map(str::to_string));
    found
        .into_iter()
        .map(|n| if dir == std::path::Path::new(".") { n } else { dir.join(n).display().to_string() })
        .collect()
}

/// A bootloader at another offset than the chip's, when there is none at the chip's own.
fn misplaced_firmware(flash: &mut DeviceFlash) -> Result<Option<Misplaced>, CliError> {
    let chip = flash.chip();
    let head = flash.read_vec(chip.bootloader_offset, HEADER_LEN as u32).map_err(Error::from)?;
    if ImageHeader::parse(&head).is_ok() {
        return Ok(None);
    }
    Ok(find_misplaced(flash, chip)?)
}

/// A firmware that is not where the chip starts it: the diagnosis (and the
/// fix), then an inspection ends, failed; any other run stops with the error.
fn report_misplaced(
    req: &Request,
    port: &str,
    board: &Board,
    m: &Misplaced,
    rep: &mut Reporter,
    g: &mut Gathered,
) -> Result<(), CliError> {
    let d = view(&misplaced(board, m), port);
    rep.diagnoses(std::slice::from_ref(&d))?;
    g.diagnoses.push(d);
    if matches!(req.mode(), Mode::Inspect | Mode::Check) {
        g.failed = true;
        return Ok(());
    }
    Err(Error::Misplaced { offset: board.chip.bootloader_offset, found: m.offset, chip: m.chip.name }.into())
}

/// Filesystem usage, as `--fs df` shows it (the filesystem layer reads only
/// the blocks littlefs walks). A partition without a filesystem is a note, not an error.
fn fs_usage(
    fw: &mut Firmware<DeviceFlash>,
    rep: &mut Reporter,
    pending_edit: Option<&(String, String)>,
) -> Result<(), CliError> {
    let parts = fw.fs_partitions();
    if !parts.iter().any(|p| p.name == DEFAULT_PARTITION) {
        return Ok(());
    }
    let (mut listing, mut log) = (Vec::new(), Vec::new());
    let df = [FsCommand::Df { parts: vec![DEFAULT_PARTITION.to_string()] }];
    match run_fs(&mut fw.flash, &parts, &df, &mut listing, &mut log) {
        Ok(_) => rep.fs_usage(Ok(&listing))?,
        Err(e) => {
            let lost = matches!(e, FsError::Corrupt { .. } | FsError::NoFilesystem(_));
            let e = match pending_edit {
                // Not lost: in the backup of the edit that did not finish.
                Some((backup, made)) if lost => CliError::PendingEdit {
                    source: Box::new(CliError::Lib(e.into())),
                    backup: backup.clone(),
                    made: made.clone(),
                },
                _ => CliError::Lib(e.into()),
            };
            rep.fs_usage(Err(shown(&e).to_string()))?
        }
    }
    Ok(())
}
