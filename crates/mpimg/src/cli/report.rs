//! All output of a run. The [`Reporter`] is told what happens, step by step,
//! and sends each piece where the one rule puts it (the text is in [`text`]):
//!
//! - stdout carries one product and nothing else: the `--json` document;
//!   else what `--fs` commands print (ls, cat, df, info) and the table of
//!   `--to-csv -`, in the order asked; else the human report;
//! - the human report (device facts, summary, tables, OTA status, check
//!   verdicts) goes to stdout when it is the product, else to stderr;
//! - notes on what was done ("Resized ...", "Wrote ..."), warnings, progress
//!   and `--fs` logs go to stderr;
//! - `-q` leaves out everything on stderr but errors (the product, the
//!   report included when it is the product, stays); `--json` puts the
//!   facts, warnings included, in the document, and an error too: on failure
//!   the document has an `error` object (message and fix) and the facts
//!   gathered before it.

mod text;

use std::io::{IsTerminal, Write};

use serde::Serialize;

use mpimg::flash::device::{DeviceFacts, SectorCounts, WireStats};
use mpimg::format::partition::PartitionView;
use mpimg::fs::CacheStats;
use mpimg::ops::assemble::Assembled;
use mpimg::ops::backup::Backup;
use mpimg::ops::carry::job::{made_at, BackupFate, Pending};
use mpimg::ops::carry::Carried;
use mpimg::ops::diagnose::Severity;
use mpimg::ops::fit::Fit;
use mpimg::ops::flash_image::FlashReport;
use mpimg::ops::ota::{OtaReport, OtaStatus};
use mpimg::ops::place::Moved;
use mpimg::ops::plan::{Edit, EditKind};
use mpimg::ops::summary::Summary;

use super::error::{shown, shown_warning, CliError};
use super::fix::{fitted_line, DiagnosisView};
use super::outcome::{BoardResult, ErrorView, Gathered, RunResult};
use super::request::{Product, Show};

/// Where and how a run's output goes.
pub struct Reporter<'w> {
    out: &'w mut dyn Write,
    err: &'w mut dyn Write,
    show: Show,
    product: Product,
    /// Tables get box drawing (their stream is a terminal and NO_COLOR is unset).
    fancy: bool,
    /// Warnings of the run, for the JSON document.
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorView>,
    /// The file name given, when there is no summary (which has it) to show.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(flatten)]
    summary: Option<&'a Summary>,
    diagnoses: &'a [DiagnosisView],
    result: &'a RunResult,
}

type Io = std::io::Result<()>;

impl<'w> Reporter<'w> {
    /// A reporter writing to `out` (stdout) and `err` (stderr), for a run whose product is `product`.
    pub fn new(out: &'w mut dyn Write, err: &'w mut dyn Write, show: Show, product: Product) -> Self {
        let terminal =
            if product == Product::Report { std::io::stdout().is_terminal() } else { std::io::stderr().is_terminal() };
        let fancy = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Reporter { out, err, show, product, fancy, warnings: Vec::new() }
    }

    /// The stream the human report goes to, if it is shown.
    fn report(&mut self) -> Option<&mut dyn Write> {
        // `-q` keeps the product: the report stays when it is the product (on stdout).
        match self.product {
            Product::Json => None,
            Product::Report => Some(&mut *self.out),
            Product::Data if self.show.quiet => None,
            Product::Data => Some(&mut *self.err),
        }
    }

    /// The stream notes on what was done go to, if they are shown.
    fn notes(&mut self) -> Option<&mut dyn Write> {
        (!self.show.quiet && !self.show.json).then_some(&mut *self.err)
    }

    /// A warning: on stderr, or in the JSON document; not with `-q`.
    pub fn warning(&mut self, text: &str) -> Io {
        if self.show.quiet {
            Ok(())
        } else if self.show.json {
            self.warnings.push(text.to_string());
            Ok(())
        } else {
            writeln!(self.err, "warning: {text}")
        }
    }

    /// Whether the run's product is the JSON document.
    pub fn is_json(&self) -> bool {
        self.show.json
    }

    /// A note on what was done (stderr; not with `-q` or `--json`).
    pub fn note(&mut self, text: &str) -> Io {
        match self.notes() {
            Some(w) => writeln!(w, "{text}"),
            None => Ok(()),
        }
    }

    /// What one board of several printed (its stdout and stderr) and what
    /// was flashed to it, as a block on stderr headed by its port (every
    /// line of the block is that board's). With `--json` it is in the document.
    pub fn board_output(&mut self, port: &str, out: &[u8], err: &[u8], flashed: Option<&FlashReport>) -> Io {
        let shows_flashed = flashed.is_some() && (self.show.debug || !self.show.quiet);
        if self.show.json || (out.is_empty() && err.is_empty() && !shows_flashed) {
            // (`-d`'s wire counts still go to stderr.)
            return flashed.map_or(Ok(()), |r| self.flashed(r));
        }
        writeln!(self.err, "== {port} ==")?;
        self.err.write_all(out)?;
        self.err.write_all(err)?;
        match flashed {
            Some(r) => self.flashed(r),
            None => Ok(()),
        }
    }

    /// The summary of a run on several boards.
    pub fn boards(&mut self, boards: &[BoardResult]) -> Io {
        let fancy = self.fancy;
        match self.report() {
            Some(w) => text::print_boards(w, boards, fancy),
            None => Ok(()),
        }
    }

    /// The device connected to.
    pub fn device(&mut self, facts: &DeviceFacts) -> Io {
        match self.report() {
            Some(w) => text::print_facts(w, facts),
            None => Ok(()),
        }
    }

    /// The facts about the firmware, and the problems found with it (in the
    /// JSON document those are the summary's `warnings`).
    pub fn summary(&mut self, s: &Summary) -> Io {
        let (fancy, debug) = (self.fancy, self.show.debug);
        if let Some(w) = self.report() {
            text::print_summary(w, s, fancy)?;
            if debug {
                text::print_segments(w, s)?;
            }
        }
        if !self.show.json {
            for w in &s.warnings {
                self.warning(&shown_warning(w))?;
            }
        }
        Ok(())
    }

    /// `--backup` wrote the flash to a file.
    pub fn backed_up(&mut self, file: &str, b: &Backup) -> Io {
        match self.notes() {
            Some(w) => writeln!(
                w,
                "Backed up flash {:#x}..{:#x} to {file} ({} bytes; the rest, to the end of the {} flash, is blank)",
                b.offset,
                b.end,
                b.len(),
                mpimg::format::size::flash_label(b.flash_size)
            ),
            None => Ok(()),
        }
    }

    /// A firmware was assembled from a build's pieces (`len` bytes from the bootloader offset).
    pub fn assembled(&mut self, a: &Assembled, len: usize) -> Io {
        let Some(w) = self.notes() else { return Ok(()) };
        let pieces: Vec<String> = a.placed.iter().map(|p| format!("{:#x} {}", p.offset, p.path.display())).collect();
        let (chip, at) = (a.chip.name, a.chip.bootloader_offset);
        writeln!(w, "Assembled an {chip} firmware ({len} bytes from {at:#x}) from {}", pieces.join(", "))?;
        if a.header_changed {
            writeln!(w, "Flash settings written into the bootloader header (SHA-256 renewed)")?;
        }
        Ok(())
    }

    /// `-x` wrote the app image.
    pub fn extracted(&mut self, name: &str, len: usize) -> Io {
        match self.notes() {
            Some(w) => writeln!(w, "Wrote app image ({len} bytes) to {name}"),
            None => Ok(()),
        }
    }

    /// The edits made (an edit that changed nothing is a warning, with the
    /// reason), then the table as the board will have it.
    pub fn planned(&mut self, edits: &[Edit], table: &[PartitionView], flash_size: u32, warnings: &[String]) -> Io {
        for e in edits {
            match e {
                Edit::Unchanged { edit, reason } => {
                    self.warning(&format!("{} changed nothing: {reason}", option(*edit)))?
                }
                e => {
                    if let Some(w) = self.notes() {
                        writeln!(w, "{}", note(e))?;
                    }
                }
            }
        }
        let fancy = self.fancy;
        if let Some(w) = self.report() {
            text::print_table(w, table, flash_size, fancy)?;
        }
        for w in warnings {
            self.warning(w)?;
        }
        Ok(())
    }

    /// What a table edit did with each filesystem partition it touched, one line each.
    pub fn carried(&mut self, parts: &[Carried]) -> Io {
        match self.notes() {
            Some(w) => parts.iter().try_for_each(|c| writeln!(w, "{}", text::carried_line(c))),
            None => Ok(()),
        }
    }

    /// Backups found that this run does not use: damaged ones, and (when the
    /// run does not write, which it would refuse) this board's from an edit
    /// that did not finish.
    pub fn pending_backups(&mut self, damaged: &[(String, String)], others: &[Pending], writes: bool) -> Io {
        for (at, why) in damaged {
            self.warning(&format!("the backup {at} cannot be read ({why}); it is left as it is"))?;
        }
        if writes {
            return Ok(());
        }
        for p in others {
            self.warning(&format!(
                "a table edit on this board made on {} did not finish: its backup of the files is {}; run that edit again to finish it",
                made_at(&p.backup),
                p.location
            ))?;
        }
        Ok(())
    }

    /// This run finishes an interrupted table edit from its backup.
    pub fn resuming(&mut self, at: &str, made: &str) -> Io {
        match self.notes() {
            Some(w) => writeln!(w, "Finishing the table edit begun on {made}: the files come from its backup {at}"),
            None => Ok(()),
        }
    }

    /// The backup of the files to carry is saved (before anything on the board is erased).
    pub fn backup_saved(&mut self, at: &str) -> Io {
        match self.notes() {
            Some(w) => writeln!(
                w,
                "Saved the files to carry in {at}: if this run is cut off, the same command run again finishes it"
            ),
            None => Ok(()),
        }
    }

    /// What became of the backup once the edit finished.
    pub fn backup_done(&mut self, fate: &BackupFate) -> Io {
        match (self.notes(), fate) {
            (Some(w), BackupFate::Removed(at)) => writeln!(w, "Removed the backup {at}: the files read back as saved"),
            (Some(w), BackupFate::Kept(at)) => writeln!(w, "Kept the backup as {at}"),
            _ => Ok(()),
        }
    }

    /// App partitions left without an app by an edit (devices).
    pub fn apps_without_image(&mut self, names: &[String]) -> Io {
        for name in names {
            self.warning(&format!(
                "app partition '{name}' holds no app image: write one with --write {name}=FILE (or --ota-update FILE)"
            ))?;
        }
        Ok(())
    }

    /// What `--ota-update` did.
    pub fn ota_update(&mut self, r: &OtaReport) -> Io {
        match self.notes() {
            Some(w) if r.already => writeln!(
                w,
                "'{}' at {:#x} holds this app already and otadata boots it next (seq {}, state {}): nothing written",
                r.partition, r.offset, r.seq, r.state
            ),
            Some(w) => writeln!(
                w,
                "Wrote {} bytes to '{}' at {:#x}; otadata: boots '{}' next (seq {}, state {})",
                r.bytes, r.partition, r.offset, r.partition, r.seq, r.state
            ),
            None => Ok(()),
        }
    }

    /// What otadata says.
    pub fn ota_status(&mut self, st: &OtaStatus) -> Io {
        match self.report() {
            Some(w) => writeln!(w, "OTA: boots '{}' next; an update goes to '{}'", st.boots, st.next),
            None => Ok(()),
        }
    }

    /// What `--fs` commands printed (`output`, the product) and logged (`log`), and the flash traffic.
    pub fn fs(&mut self, output: &[u8], log: &[u8], stats: Option<&CacheStats>) -> Io {
        if !self.show.quiet {
            self.err.write_all(log)?;
            if let (Some(stats), true) = (stats, self.show.debug) {
                writeln!(self.err, "fs: {stats}")?;
            }
        }
        if !self.show.json {
            self.out.write_all(output)?;
        }
        Ok(())
    }

    /// The table as CSV for stdout (`--to-csv -`).
    pub fn csv(&mut self, csv: &str) -> Io {
        if self.show.json {
            return Ok(());
        }
        self.out.write_all(csv.as_bytes())
    }

    /// `--read` wrote a file.
    pub fn read(&mut self, file: &str, len: usize) -> Io {
        match self.notes() {
            Some(w) => writeln!(w, "Wrote {len} bytes to {file}"),
            None => Ok(()),
        }
    }

    /// The output firmware was written: `bytes` long, or (`in_place`) `bytes` written into the input.
    pub fn saved(&mut self, path: &str, bytes: usize, in_place: bool) -> Io {
        match self.notes() {
            Some(w) if in_place => writeln!(w, "Updated {path} in place ({bytes} bytes written)"),
            Some(w) => writeln!(w, "Wrote {path} ({bytes} bytes)"),
            None => Ok(()),
        }
    }

    /// `--flash` wrote the firmware to a device.
    pub fn flashed(&mut self, r: &FlashReport) -> Io {
        self.wire(&r.wire, &r.sectors)?;
        match self.notes() {
            Some(w) => writeln!(
                w,
                "Flashed {} bytes to {} at {:#x}, erased to {:#x} ({} sectors written, {} unchanged, {} erased)",
                r.bytes, r.port, r.offset, r.erased_to, r.sectors.written, r.sectors.unchanged, r.sectors.erased
            ),
            None => Ok(()),
        }
    }

    /// The problems found, each with the command that fixes it: on stderr
    /// (`error[code]: message` and `  fix: command`), or in the JSON document.
    pub fn diagnoses(&mut self, list: &[DiagnosisView]) -> Io {
        if self.show.quiet || self.show.json {
            return Ok(());
        }
        for d in list {
            let severity = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            writeln!(self.err, "{severity}[{}]: {}", d.code, d.message)?;
            match &d.fix {
                Some(fix) => writeln!(self.err, "  fix: {fix}")?,
                None => writeln!(self.err, "  fix: none that mpimg can make")?,
            }
        }
        Ok(())
    }

    /// A fit changed the firmware: one line with the options it amounts to,
    /// and what no option does.
    pub fn fitted(&mut self, fit: &Fit) -> Io {
        match self.notes() {
            Some(w) => writeln!(w, "{}", fitted_line(fit)),
            None => Ok(()),
        }
    }

    /// A firmware written at the wrong offset was moved where the chip starts it.
    pub fn moved(&mut self, m: &Moved) -> Io {
        match self.notes() {
            Some(w) => {
                let what = match m.partitions.as_slice() {
                    [] => "bootloader, table and apps".to_string(),
                    parts => format!("bootloader, table, apps and the filesystem in {}", quoted_list(parts)),
                };
                writeln!(
                    w,
                    "Moved the firmware from {:#x} to {:#x} ({} bytes: {what}), erased to {:#x}",
                    m.from, m.to, m.bytes, m.erased_to
                )
            }
            None => Ok(()),
        }
    }

    /// The filesystem usage closing a device's inspection, or why there is none.
    pub fn fs_usage(&mut self, usage: Result<&[u8], String>) -> Io {
        match (self.report(), usage) {
            (Some(w), Ok(text)) => w.write_all(text),
            (Some(w), Err(e)) => writeln!(w, "Filesystem: {e}"),
            (None, _) => Ok(()),
        }
    }

    /// What a device run put on the link (`-d`).
    pub fn wire(&mut self, w: &WireStats, c: &SectorCounts) -> Io {
        if !self.show.debug {
            return Ok(());
        }
        text::print_wire(self.err, w, c)
    }

    /// The end of a successful run: the check verdicts, or the JSON document.
    pub fn finish(&mut self, g: &mut Gathered) -> Io {
        if self.show.json {
            g.result.warnings.append(&mut self.warnings);
            self.json(None, g)?;
        } else if let (Some(checks), Some(w)) = (&g.result.checks, self.report()) {
            text::print_checks(w, checks)?;
        }
        self.out.flush()
    }

    /// The end of a failed run: one line on stderr, or (`--json`) the
    /// document with an `error` and what was gathered, on stdout.
    pub fn fail(&mut self, e: &CliError, g: &mut Gathered) -> Io {
        let shown = shown(e);
        if self.show.json {
            g.result.warnings.append(&mut self.warnings);
            return self.json(Some(ErrorView { message: shown.message, fix: shown.fix }), g);
        }
        let _ = self.out.flush();
        writeln!(self.err, "error: {shown}")
    }

    fn json(&mut self, error: Option<ErrorView>, g: &Gathered) -> Io {
        let source = g.source.as_deref().filter(|_| g.summary.is_none());
        let doc = JsonDoc { error, source, summary: g.summary.as_ref(), diagnoses: &g.diagnoses, result: &g.result };
        let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
        writeln!(self.out, "{text}")?;
        self.out.flush()
    }
}

/// A command line clap refuses (or `--help`, `--version`): clap prints it, or,
/// when `--json` was asked for, one JSON document with the error. Returns the
/// exit code.
pub fn usage_error(e: &clap::Error, json: bool, out: &mut dyn Write) -> i32 {
    use clap::error::ErrorKind;
    if !json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return e.exit_code();
    }
    let error = usage_view(&e.to_string());
    let doc =
        JsonDoc { error: Some(error), source: None, summary: None, diagnoses: &[], result: &RunResult::default() };
    if let Ok(text) = serde_json::to_string_pretty(&doc) {
        let _ = writeln!(out, "{text}");
    }
    e.exit_code()
}

/// clap's text of a usage error as an error view: the message is what
/// comes before the usage lines (a list of missing arguments joined onto
/// it), the fix clap's tips (None without one); the usage and "For more
/// information" lines are left out.
fn usage_view(text: &str) -> ErrorView {
    let (mut message, mut tips) = (Vec::new(), Vec::new());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        match line.strip_prefix("tip: ") {
            Some(tip) => tips.push(tip),
            None => message.push(line.trim_start_matches("error: ")),
        }
    }
    ErrorView { message: message.join(" "), fix: (!tips.is_empty()).then(|| tips.join("; ")) }
}

/// The option behind an edit, as the warning that it changed nothing names it.
fn option(e: EditKind) -> &'static str {
    match e {
        EditKind::FlashSize => "-f",
        EditKind::FromCsv => "--from-csv",
        EditKind::Layout => "--table",
        EditKind::AppSize => "-a",
        EditKind::Resize => "--resize",
    }
}

/// One edit as the notes say it.
fn note(e: &Edit) -> String {
    match e {
        Edit::FlashSize { size } => format!("Setting flash size in the bootloader header to {}MB", size >> 20),
        Edit::Loaded { source } => format!("Loaded partition table from {source}"),
        Edit::NewTable { spec } => format!("New partition table ({spec})"),
        Edit::AppSize { size } => format!("Setting app partitions to {size:#x} bytes"),
        Edit::Deleted { name } => format!("Deleted partition '{name}'"),
        Edit::Resized { name, size } => format!("Resized '{name}' to {size:#x} bytes"),
        Edit::Renamed { from, to } => format!("Renamed '{from}' to '{to}'"),
        Edit::Added { name } => format!("Added partition '{name}'"),
        Edit::Unchanged { edit, reason } => format!("{} changed nothing: {reason}", option(*edit)),
        _ => format!("{e:?}"),
    }
}

/// `'a'`, `'a' and 'b'`, `'a', 'b' and 'c'`.
fn quoted_list(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match q.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}
