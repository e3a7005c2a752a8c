//! The steps of a run on a firmware, written once for files and devices: each
//! does one thing the request asks, records it in the [`Gathered`] result and
//! tells the [`Reporter`]. [`Session::run`] runs them in mp-image-tool-esp32's
//! order.

use std::path::{Path, PathBuf};

use mpimg::flash::{write_atomically, Flash};
use mpimg::format::csv::to_csv;
use mpimg::format::image::{parse_image, ImageHeader};
use mpimg::format::partition::PartitionView;
use mpimg::fs::run_fs;
use mpimg::ops::backup::backup;
use mpimg::ops::carry::backup::Board;
use mpimg::ops::carry::job::{finish, made_at, plan_change, prepare, Backups};
use mpimg::ops::carry::store::DirStore;
use mpimg::ops::check::check_all;
use mpimg::ops::firmware::Firmware;
use mpimg::ops::inspect::{check_complete, extract_app, summarize};
use mpimg::ops::partition_io::{erase_region, read_region, trim_blocks, write_region};
use mpimg::ops::region::{find_region, Region, RegionKind};
use mpimg::ops::summary::Warning;
use mpimg::ops::update::DATA_ERASE_LEN;
use mpimg::ops::walk::apps_without_image;
use mpimg::ops::{ota, EditError};
use mpimg::Error;

use super::error::CliError;
use super::outcome::{BackedUp, BackupReport, Gathered};
use super::report::Reporter;
use super::request::{CsvOut, Request};

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
    /// Warnings the caller found (a device that disagrees with its firmware), shown with the summary's.
    pub warnings: Vec<String>,
    /// Devices: where the files a table edit moves are backed up on this computer.
    pub backup: Option<HostBackup>,
}

/// The host backups of a run on a device (see [`mpimg::ops::carry::job`]).
pub struct HostBackup {
    /// The directory they are kept in.
    pub store: DirStore,
    /// The board.
    pub board: Board,
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
    std::fs::read(path).map_err(|source| Error::Read { path: path.into(), source })
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
        if let Some(path) = &self.req.extract_app {
            return self.extract_app(path);
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

    /// Summarise the firmware (a firmware file cut short inside its app is refused).
    fn inspect(&mut self) -> Step {
        // Hashing the app is most of an inspection's cost: skip it when nothing shows it.
        let verify = !self.req.show.quiet || self.req.show.json;
        let mut summary = summarize(&mut self.fw, &self.req.source, verify);
        summary.warnings.extend(self.warnings.drain(..).map(Warning::Note));
        check_complete(&self.fw, &summary)?;
        self.rep.summary(&summary)?;
        self.g.summary = Some(summary);
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
    fn extract_app(&mut self, path: &Path) -> Step {
        let data = extract_app(&mut self.fw)?;
        write_file(path, &data)?;
        self.rep.extracted(&path.display().to_string(), data.len())?;
        self.g.result.extracted = Some(path.display().to_string());
        Ok(())
    }

    /// Plan the table and header edits (or find the interrupted one this run
    /// finishes), and commit them when the run writes a firmware, carrying the
    /// files along (on a device, with a host backup saved before anything is erased).
    fn edit(&mut self) -> Step {
        let app_size = self.g.summary.as_ref().and_then(|s| s.app.as_ref()).and_then(|a| a.image.size).unwrap_or(0);
        let mut backups = self.backup.as_mut().map(HostBackup::backups);
        let change = plan_change(&mut self.fw, &self.req.edits, app_size, backups.as_mut())?;
        change.plan.check_fits(self.fw.flash.detected_size(), self.req.edits.flash_size, self.req.writes_firmware)?;
        self.rep.pending_backups(&change.damaged, &change.others, self.req.writes_firmware)?;
        if !self.req.writes_firmware {
            return Ok(());
        }
        if let Some(p) = &change.resumes {
            self.rep.resuming(&p.location, &made_at(&p.backup))?;
        }
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
        self.g.result.fs = Some(run.map_err(Error::from)?);
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
/// for this chip.
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
    Ok(())
}
