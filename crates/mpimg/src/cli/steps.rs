//! The steps of a run on a firmware, written once for files and devices: each
//! does one thing the request asks, records it in the [`Gathered`] result and
//! tells the [`Reporter`]. [`Session::run`] runs them in mp-image-tool-esp32's
//! order.

use std::path::{Path, PathBuf};

use mpimg::flash::{read_capped, write_atomically, Flash};
use mpimg::format::app_kind::not_an_app;
use mpimg::format::csv::to_csv;
use mpimg::format::image::{parse_image, ImageHeader};
use mpimg::format::partition::PartitionView;
use mpimg::format::size::flash_label as mb;
use mpimg::fs::{run_fs, FsError};
use mpimg::ops::backup::backup;
use mpimg::ops::carry::backup::Board as BackupBoard;
use mpimg::ops::carry::job::{finish, made_at, plan_change, prepare, Backups, Change};
use mpimg::ops::carry::store::DirStore;
use mpimg::ops::check::check_all;
use mpimg::ops::diagnose::{diagnose, Board, Code, Depth, Severity};
use mpimg::ops::firmware::Firmware;
use mpimg::ops::fit::{fit_edits, whole_fit_edits, Fit, FitGoal};
use mpimg::ops::inspect::{check_complete, extract_app, summarize};
use mpimg::ops::partition_io::{erase_region, read_region, trim_blocks, write_region};
use mpimg::ops::region::{find_region, Region, RegionKind};
use mpimg::ops::update::DATA_ERASE_LEN;
use mpimg::ops::walk::apps_without_image;
use mpimg::ops::{ota, EditError};
use mpimg::Error;

use super::error::CliError;
use super::fix::{fit_options, view, DiagnosisView};
use super::naming::device_app_name;
use super::outcome::{BackedUp, BackupReport, FitReport, Gathered};
use super::report::Reporter;
use super::request::{AppOut, CsvOut, FitMode, Mode, Product, Request, Target};

/// One run on one firmware.
pub struct Session<'a, 'w, F: Flash> {
    /// What is asked.
    pub req: &'a Request,
    /// The firmware worked on.
    pub fw: Firmware<F>,
    /// Where output goes.
    pub rep: &'a mut Reporter<'w>,
    /// What was found and done so far.
    pub g: &'a mut Gathered,
    /// The board the firmware is on (a device) or is flashed to (`--flash`).
    pub board: Option<Board>,
    /// Devices: where the files a table edit moves are backed up on this computer.
    pub backup: Option<HostBackup>,
}

/// The host backups of a run on a device (see [`mpimg::ops::carry::job`]).
pub struct HostBackup {
    /// The directory they are kept in.
    pub store: DirStore,
    /// The board.
    pub board: BackupBoard,
    /// Now, seconds since 1970.
    pub now: u64,
    /// `--keep-backup`.
    pub keep: bool,
}

impl HostBackup {
    fn backups(&mut self) -> Backups<'_> {
        Backups { store: &mut self.store, board: self.board.clone(), now: self.now, keep: self.keep }
    }
}

type Step = Result<(), CliError>;

/// Read a file the command line names.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    read_capped(path).map_err(|source| Error::Read { path: path.into(), source })
}

/// Write a file the command line names (atomically).
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), Error> {
    write_atomically(path, data).map_err(|source| Error::Write { path: path.into(), source })
}

impl<F: Flash> Session<'_, '_, F> {
    /// Every step from the summary to the CSV, in order. Files read by
    /// `--read` are written at the end, so an error leaves none behind.
    pub fn run(&mut self) -> Step {
        self.inspect()?;
        self.backup()?;
        if let Some(out) = &self.req.extract_app {
            if !self.req.ignored_by_x.is_empty() {
                self.rep.warning(&format!(
                    "-x writes the app image and ends the run (as mp-image-tool-esp32 does): {} not done; run them without -x",
                    self.req.ignored_by_x.join(", ")
                ))?;
            }
            return self.extract_app(out);
        }
        self.edit()?;
        self.erase()?;
        self.erase_fs()?;
        self.ota_update()?;
        let reads = self.read_regions()?;
        self.write_regions()?;
        self.check()?;
        self.fs()?;
        self.write_csv()?;
        for (file, data) in &reads {
            write_file(file, data)?;
            self.rep.read(&file.display().to_string(), data.len())?;
            self.g.result.files_read.push(file.display().to_string());
        }
        Ok(())
    }

    /// Diagnose the firmware as the run leaves it (the file written, the
    /// device, the board flashed): each problem with the command that fixes
    /// it. An inspection or check that finds an error fails (exit code 1).
    pub fn diagnose(&mut self) -> Step {
        let slow = self.fw.flash.reads_are_slow();
        let depth = Depth { verify: !slow || self.req.check_app };
        let mut found = diagnose(&mut self.fw, self.board.as_ref(), depth);
        if self.g.pending_edit.is_some() {
            // The files are in the backup of a table edit that did not finish:
            // its warning says to run that edit again, never --fs mkfs.
            found.retain(|d| d.code != Code::FsCorrupt);
        }
        let subject = self.subject();
        let views: Vec<DiagnosisView> = found.iter().map(|d| view(d, &subject)).collect();
        self.rep.diagnoses(&views)?;
        if matches!(self.req.mode(), Mode::Inspect | Mode::Check) && found.iter().any(|d| d.severity == Severity::Error)
        {
            self.g.failed = true;
        }
        self.g.diagnoses = views;
        Ok(())
    }

    /// What the diagnoses are about, as the fix commands name it: the port
    /// flashed to, the device, the file written, or the file as given.
    fn subject(&self) -> String {
        match (self.req.flash_to.as_ref().and_then(|b| b.single()), &self.req.target, &self.req.output) {
            (Some(port), _, _) => port.to_string(),
            (None, Target::Device(port), _) => port.clone(),
            (None, _, Some(out)) => out.display().to_string(),
            _ => self.req.source.clone(),
        }
    }

    /// Summarise the firmware. A firmware file cut short inside its app is
    /// shown, then refused for anything but a look (the diagnoses and
    /// `--check-app` say what is wrong with the app).
    fn inspect(&mut self) -> Step {
        // Hashing the app is most of an inspection's cost: skip it when nothing shows it.
        let verify = !self.req.show.quiet || self.req.product() != Product::Data;
        let summary = summarize(&mut self.fw, &self.req.source, verify);
        self.rep.summary(&summary)?;
        let complete = check_complete(&self.fw, &summary);
        self.g.summary = Some(summary);
        if !matches!(self.req.mode(), Mode::Inspect | Mode::Check) {
            complete?;
        }
        Ok(())
    }

    /// `--backup`: the whole flash, before anything changes it, to a firmware file.
    fn backup(&mut self) -> Step {
        let Some(path) = &self.req.backup else { return Ok(()) };
        let (backup, data) = backup(&mut self.fw)?;
        write_file(path, &data)?;
        let file = path.display().to_string();
        self.rep.backed_up(&file, &backup)?;
        self.g.result.backed_up = Some(BackedUp { file, backup });
        Ok(())
    }

    /// `-x`: the app image to a file.
    fn extract_app(&mut self, out: &AppOut) -> Step {
        let data = extract_app(&mut self.fw)?;
        let path = match out {
            AppOut::File(p) => p.clone(),
            AppOut::ByBoard => {
                let part = self.fw.table.first_app().map(|p| p.name()).unwrap_or_default();
                PathBuf::from(device_app_name(self.fw.chip.name, &part))
            }
        };
        let path = path.as_path();
        write_file(path, &data)?;
        self.rep.extracted(&path.display().to_string(), data.len())?;
        self.g.result.extracted = Some(path.display().to_string());
        Ok(())
    }

    /// Plan the table and header edits, with the fit when the run fits (or
    /// find the interrupted edit this run finishes), and commit them when the
    /// run writes a firmware, carrying the files along (on a device, with a
    /// host backup saved before anything is erased).
    fn edit(&mut self) -> Step {
        let app_size = self.g.summary.as_ref().and_then(|s| s.app.as_ref()).and_then(|a| a.image.size).unwrap_or(0);
        let Some((change, fit)) = self.planned_change(app_size)? else { return Ok(()) };
        if let Some(p) = &change.resumes {
            self.rep.resuming(&p.location, &made_at(&p.backup))?;
        }
        if let Some(fit) = fit {
            let options = fit_options(&fit);
            self.rep.fitted(&fit)?;
            self.g.result.fit = Some(FitReport { fit, options });
        }
        let mut backups = self.backup.as_mut().map(HostBackup::backups);
        // Every read and check of the filesystems the edit moves comes before the first write.
        let prepared = prepare(&mut self.fw, change, self.req.discard_fs, backups.as_mut())?;
        let plan = &prepared.plan;
        let after: Vec<PartitionView> = self.fw.partitions_of(&plan.table, plan.flash_size);
        self.rep.planned(&plan.edits, &after, plan.flash_size, &plan.warnings)?;
        self.g.result.edits = plan.edits.clone();
        if let Some(at) = &prepared.backup {
            // Before anything is erased: where the files are if the run is cut off.
            if prepared.resumed.is_none() {
                self.rep.backup_saved(at)?;
            }
            self.g.result.backup = Some(BackupReport::pending(at, prepared.resumed.clone()));
        }
        let done = finish(&mut self.fw, &prepared, backups.as_mut())
            .map_err(|e| CliError::after_backup(e, prepared.backup.as_deref()))?;
        self.rep.carried(&done.carried)?;
        self.rep.backup_done(&done.backup)?;
        if let Some(b) = &mut self.g.result.backup {
            b.finished(&done.backup);
        }
        self.g.result.partitions = Some(after);
        self.g.result.update = Some(done.update);
        self.g.result.filesystems = done.carried;
        if self.fw.flash.stored_end().is_none() {
            // On a device the edit is live: say which app partitions now boot nothing.
            let empty = apps_without_image(&mut self.fw.flash, &self.fw.table);
            self.rep.apps_without_image(&empty)?;
        }
        Ok(())
    }

    /// This run's change: the user's edits, with the fit when it fits (see
    /// [`Session::fit_goal`]), planned (an interrupted edit found in a host
    /// backup is resumed) and checked against the board. None when nothing is
    /// committed: the run only looks, or a fit found nothing to change.
    fn planned_change(&mut self, app_size: u32) -> Result<Option<(Change, Option<Fit>)>, CliError> {
        let goal = self.fit_goal();
        let (mut edits, fit) = match goal {
            Some(g) => {
                let (e, f) = fit_edits(&mut self.fw, &self.req.edits, g, app_size)?;
                (e, Some(f).filter(|f| !f.is_empty()))
            }
            None => (self.req.edits.clone(), None),
        };
        // What the user asked is committed, and what a fit changes.
        let fit_only = self.req.fit == FitMode::Fit && self.req.edits.is_empty();
        let commit = fit.is_some() || (self.req.writes_firmware && !fit_only);
        if let (Some(g), None, Some(_)) = (goal, &fit, &self.backup) {
            // A fit cut off on a device: nothing is left to fit, but its backup may be.
            edits = whole_fit_edits(&self.fw.table, &self.req.edits, g);
        }
        let mut backups = self.backup.as_mut().map(HostBackup::backups);
        // A run that commits nothing plans only to find a host backup to finish.
        let planned = if !commit && backups.is_none() {
            None
        } else {
            match plan_change(&mut self.fw, &edits, app_size, backups.as_mut()) {
                Ok(c) => Some(c),
                // Planning no edit fails only on a table that breaks a rule: the diagnoses say which.
                Err(_) if !commit => None,
                Err(e) => return Err(e.into()),
            }
        };
        let resumes = planned.as_ref().is_some_and(|c| c.resumes.is_some());
        // Only a run that changed nothing at all says so (a move, or the user's own edits, are changes).
        let nothing_else = self.req.edits.is_empty() && self.g.result.moved.is_none();
        if let (Some(g), None, false, FitMode::Fit, true) = (goal, &fit, resumes, self.req.fit, nothing_else) {
            self.rep
                .warning(&format!("--fit changed nothing: the firmware fits the {} flash as it is", mb(g.target)))?;
        }
        let Some(mut change) = planned else { return Ok(None) };
        let writes = commit || resumes;
        change.plan.renew_digest = fit.as_ref().is_some_and(|f| f.renew_digest);
        change.plan.repairs = fit.as_ref().map(Fit::repairs).unwrap_or_default();
        if !(self.req.mode() == Mode::Flash && self.req.fit == FitMode::NoFit) {
            let board = self.board.as_ref().map(|b| b.flash_size);
            change.plan.check_fits(board, edits.flash_size, writes || self.req.mode() == Mode::Flash)?;
        }
        self.rep.pending_backups(&change.damaged, &change.others, writes)?;
        self.g.pending_edit = change.others.first().map(|p| (p.location.clone(), made_at(&p.backup)));
        Ok(writes.then_some((change, fit)))
    }

    /// Whether and how this run fits the firmware: `--fit` to `-f`, else the
    /// board's flash, else (a file) the header's size; `--flash` (unless
    /// `--no-fit`, or `-f` says the size) to the board's flash when it does not fit.
    fn fit_goal(&self) -> Option<FitGoal> {
        let board = self.board.as_ref().map(|b| b.flash_size);
        // Several boards flashed at once: each board is fitted to its own flash (see `flash_boards`).
        let several = self.req.flash_to.as_ref().is_some_and(|b| b.single().is_none());
        match self.req.fit {
            FitMode::Fit if several => None,
            FitMode::Fit => {
                let target = self.req.edits.flash_size.or(board).unwrap_or(self.fw.flash_size());
                Some(FitGoal { target, grow: true, repair: true })
            }
            FitMode::Auto if self.req.mode() == Mode::Flash && self.req.edits.flash_size.is_none() => {
                board.map(|target| FitGoal { target, grow: false, repair: false })
            }
            _ => None,
        }
    }

    fn region(&self, name: &str) -> Result<Region, Error> {
        find_region(&self.fw.table, self.fw.bootloader_offset(), name).ok_or_else(|| {
            EditError::NotFound {
                name: name.to_string(),
                have: self.fw.table.entries.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
            }
            .into()
        })
    }

    /// `--erase`.
    fn erase(&mut self) -> Step {
        for name in &self.req.erase {
            let r = self.region(name)?;
            if let (0, Some(end)) = (self.fw.flash.stored_len(r.offset, r.size), self.fw.flash.stored_end()) {
                self.rep.warning(&format!(
                    "--erase changed nothing: '{name}' lies past the end of the file ({end:#x}): it reads as erased already"
                ))?;
            }
            erase_region(&mut self.fw.flash, &r)?;
            self.g.result.partitions_erased.push(name.clone());
        }
        Ok(())
    }

    /// `--erase-fs`: the first blocks of filesystem partitions (devices).
    fn erase_fs(&mut self) -> Step {
        for name in &self.req.erase_fs {
            let r = self.region(name)?;
            if !r.is_data() {
                return Err(Error::NotDataPartition { name: name.clone() }.into());
            }
            self.fw.flash.erase(r.offset, r.size.min(DATA_ERASE_LEN)).map_err(Error::from)?;
            self.g.result.filesystems_erased.push(name.clone());
        }
        Ok(())
    }

    /// `--ota-update`: the app to the next OTA slot (devices).
    fn ota_update(&mut self) -> Step {
        let Some(file) = &self.req.ota_update else { return Ok(()) };
        let data = read_file(file)?;
        let st = ota::ota_status(&mut self.fw.flash, &self.fw.table)?;
        if let Some(target) = st.as_ref().and_then(|s| self.fw.table.find(&s.next)).map(Region::of) {
            check_image_for(&self.fw, &target, file, &data)?;
        }
        let r = ota::ota_update(&mut self.fw.flash, &self.fw.table, &data, self.req.rollback)?;
        self.rep.ota_update(&r)?;
        self.g.result.ota_update = Some(r);
        Ok(())
    }

    /// `--read`: the regions' bytes, trimmed as asked (written to files at the end).
    fn read_regions(&mut self) -> Result<Vec<(PathBuf, Vec<u8>)>, CliError> {
        let mut reads = Vec::new();
        for (name, file) in &self.req.reads {
            let r = self.region(name)?;
            let mut data = read_region(&mut self.fw.flash, &r)?;
            if self.req.trimblocks {
                data.truncate(trim_blocks(&data, 0x1000).len());
            }
            if self.req.trim {
                data.truncate(trim_blocks(&data, 16).len());
            }
            reads.push((file.clone(), data));
        }
        Ok(reads)
    }

    /// `--write`: files into regions (an image must suit the chip).
    fn write_regions(&mut self) -> Step {
        for (name, file) in &self.req.writes {
            let r = self.region(name)?;
            let data = read_file(file)?;
            if matches!(r.kind, RegionKind::App | RegionKind::Bootloader) {
                check_image_for(&self.fw, &r, file, &data)?;
            }
            write_region(&mut self.fw.flash, &r, &data)?;
            if r.kind == RegionKind::App {
                self.fw.app_changed();
            }
            self.g.result.partitions_written.push(name.clone());
        }
        Ok(())
    }

    /// `--check-app`: verify the bootloader and every app; a failure sets the exit code.
    fn check(&mut self) -> Step {
        if !self.req.check_app {
            return Ok(());
        }
        let status = ota::ota_status(&mut self.fw.flash, &self.fw.table)?;
        // The app that boots: otadata's choice, else the first app partition.
        let boots = status.as_ref().map(|s| s.boots.clone()).or_else(|| self.fw.table.first_app().map(|p| p.name()));
        let bl = self.fw.bootloader_offset();
        let checks = check_all(&mut self.fw.flash, &self.fw.table, bl, boots.as_deref());
        self.g.failed = checks.iter().any(|c| !c.is_valid());
        self.g.result.checks = Some(checks);
        if let Some(st) = &status {
            self.rep.ota_status(st)?;
        }
        self.g.result.ota = status;
        Ok(())
    }

    /// `--fs`: the commands, all or nothing.
    fn fs(&mut self) -> Step {
        if self.req.fs.is_empty() {
            return Ok(());
        }
        let parts = self.fw.fs_partitions();
        let (mut output, mut log) = (Vec::new(), Vec::new());
        let run = run_fs(&mut self.fw.flash, &parts, &self.req.fs, &mut output, &mut log);
        let stats = run.as_ref().ok().map(|r| r.stats);
        self.rep.fs(&output, &log, stats.as_ref())?;
        if self.req.show.json {
            self.g.result.fs_output = Some(String::from_utf8_lossy(&output).into_owned());
        }
        let run = run.map_err(|e| match (&e, &self.g.pending_edit) {
            (FsError::Corrupt { .. } | FsError::NoFilesystem(_), Some((backup, made))) => CliError::PendingEdit {
                source: Box::new(Error::from(e).into()),
                backup: backup.clone(),
                made: made.clone(),
            },
            _ => Error::from(e).into(),
        });
        self.g.result.fs = Some(run?);
        Ok(())
    }

    /// `--to-csv`: the table as ESP-IDF CSV, to a file or stdout.
    fn write_csv(&mut self) -> Step {
        let csv = to_csv(&self.fw.table);
        match &self.req.to_csv {
            Some(CsvOut::File(path)) => {
                write_file(path, csv.as_bytes())?;
                self.g.result.csv = Some(path.display().to_string());
            }
            Some(CsvOut::Stdout) => {
                self.rep.csv(&csv)?;
                self.g.result.csv = Some("-".into());
                self.g.result.csv_text = Some(csv);
            }
            None => {}
        }
        Ok(())
    }
}

/// An image written into an app partition or the bootloader must be an image
/// for this chip, and one written into an app partition an app (not a
/// bootloader or a whole firmware).
fn check_image_for<F: Flash>(fw: &Firmware<F>, r: &Region, file: &Path, data: &[u8]) -> Result<(), Error> {
    let bad = |why: String| Error::BadAppImage {
        file: file.display().to_string(),
        name: r.name.clone(),
        chip: fw.chip.name,
        why,
    };
    let h = ImageHeader::parse(data).map_err(|e| bad(e.to_string()))?;
    match h.chip() {
        Some(c) if c.name == fw.chip.name => {}
        Some(c) => return Err(bad(format!("it is built for {}", c.name))),
        None => return Err(bad(format!("unknown chip id {}", h.chip_id))),
    }
    parse_image(data).map_err(|e| bad(e.to_string()))?;
    if r.kind == RegionKind::App {
        if let Some(looks) = not_an_app(data) {
            return Err(Error::NotAnApp { file: file.display().to_string(), name: r.name.clone(), looks });
        }
    }
    Ok(())
}
