//! What a run found and did, as values: the summary and the [`RunResult`].
//! The human report and `--json` both render these.

use serde::Serialize;

use mpimg::flash::device::{DeviceFacts, WireStats};
use mpimg::format::partition::PartitionView;
use mpimg::fs::FsRunReport;
use mpimg::ops::assemble::Assembled;
use mpimg::ops::backup::Backup;
use mpimg::ops::carry::job::BackupFate;
use mpimg::ops::carry::Carried;
use mpimg::ops::check::ImageCheck;
use mpimg::ops::file_format::FileFormat;
use mpimg::ops::fit::Fit;
use mpimg::ops::flash_image::FlashReport;
use mpimg::ops::ota::{OtaReport, OtaStatus};
use mpimg::ops::place::Moved;
use mpimg::ops::plan::Edit;
use mpimg::ops::summary::Summary;
use mpimg::ops::update::UpdateReport;

use super::fix::DiagnosisView;

/// What a run did, rendered as the `result` of `--json`.
#[derive(Debug, Default, Serialize)]
pub struct RunResult {
    /// The firmware assembled from a build's pieces (a build directory or `--assemble`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assembled: Option<Assembled>,
    /// The firmware file written (None: no edit).
    pub output: Option<String>,
    /// How it is encoded: `bin`, `hex` or `uf2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
    /// The partitions after an edit, as the board will have them (the
    /// implicit `vfs` of MicroPython ≥ 1.26 included, marked `implicit`).
    pub partitions: Option<Vec<PartitionView>>,
    /// A firmware moved to the chip's bootloader offset (`--fit` on a device whose firmware was written elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<Moved>,
    /// What fitting the firmware to the flash changed (`--fit`, or `--flash` of a firmware that did not fit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitReport>,
    /// The table edits made, in order (an edit that changed nothing says why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<Edit>,
    /// What committing the edit did.
    pub update: Option<UpdateReport>,
    /// What `--backup FILE` wrote (the whole board).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backed_up: Option<BackedUp>,
    /// What a table edit did with each filesystem partition it touched.
    pub filesystems: Vec<Carried>,
    /// Devices: the host backup of the files a table edit carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupReport>,
    /// The app image file written (`-x`).
    pub extracted: Option<String>,
    /// Files written by `--read`.
    pub files_read: Vec<String>,
    /// Regions written by `--write`.
    pub partitions_written: Vec<String>,
    /// Regions erased by `--erase`.
    pub partitions_erased: Vec<String>,
    /// `--check-app` verdicts.
    pub checks: Option<Vec<ImageCheck>>,
    /// The CSV file written (`--to-csv`; `-` for stdout).
    pub csv: Option<String>,
    /// The table as CSV, with `--to-csv -`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv_text: Option<String>,
    /// Devices only: what the device said about itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceFacts>,
    /// Filesystem partitions whose first blocks were erased (`--erase-fs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filesystems_erased: Vec<String>,
    /// What `--ota-update` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ota_update: Option<OtaReport>,
    /// What otadata says (with `--check-app`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ota: Option<OtaStatus>,
    /// What `--flash` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flashed: Option<FlashReport>,
    /// What `--fs` commands printed (listings, file contents), with `--json`.
    pub fs_output: Option<String>,
    /// What `--fs` commands did.
    pub fs: Option<FsRunReport>,
    /// Warnings raised while running (those found while inspecting are the summary's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// A run on several boards: what each did, in the order of their ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub boards: Vec<BoardResult>,
}

/// An error as the JSON document carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorView {
    /// What is wrong.
    pub message: String,
    /// What to do about it, if mpimg knows.
    pub fix: Option<String>,
}

/// One board of a run on several.
#[derive(Debug, Serialize)]
pub struct BoardResult {
    /// Its port.
    pub port: String,
    /// Its MAC address (None when it was not reached).
    pub mac: Option<String>,
    /// Whether it did all that was asked.
    pub ok: bool,
    /// Why not.
    pub error: Option<ErrorView>,
    /// The error as one line of text (message and fix), for the summary.
    #[serde(skip)]
    pub error_line: Option<String>,
    /// Bytes on the wire, both ways (mpimg's commands and data).
    pub bytes: u64,
    /// Wall time of its run, connecting included.
    pub seconds: f64,
    /// What `--flash` did to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flashed: Option<FlashReport>,
    /// Its own run's document (`mpimg PORTS --json`): what the run on that one board gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<serde_json::Value>,
}

/// What a fit changed, and the options it amounts to.
#[derive(Debug, Serialize)]
pub struct FitReport {
    /// The changes.
    #[serde(flatten)]
    pub fit: Fit,
    /// The same as options (`-f 4M --resize vfs=0`).
    pub options: String,
}

/// The host backup of a table edit on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// Where it is (or was).
    pub path: String,
    /// When the interrupted edit this run finished made it (None: this run made it).
    pub resumed: Option<String>,
    /// `pending` (the edit has not finished: a re-run finishes it), `removed`, or `kept` (then `path` is where).
    pub state: &'static str,
}

impl BackupReport {
    /// A backup saved (or found) for an edit not yet finished.
    pub fn pending(path: &str, resumed: Option<String>) -> Self {
        BackupReport { path: path.to_owned(), resumed, state: "pending" }
    }

    /// The edit finished: what became of the backup.
    pub fn finished(&mut self, fate: &BackupFate) {
        match fate {
            BackupFate::Removed(_) => self.state = "removed",
            BackupFate::Kept(at) => {
                self.state = "kept";
                self.path = at.clone();
            }
            BackupFate::None => {}
        }
    }
}

/// Everything gathered so far: what an error report keeps too.
#[derive(Debug, Default)]
pub struct Gathered {
    /// FILENAME as given (for a document whose run failed before its summary).
    pub source: Option<String>,
    /// The facts shown before anything was done.
    pub summary: Option<Summary>,
    /// What was done.
    pub result: RunResult,
    /// The problems found, each with the command that fixes it.
    pub diagnoses: Vec<DiagnosisView>,
    /// An image check failed: the exit code is 1.
    pub failed: bool,
    /// What a device run put on the link (kept on failure too).
    pub wire: Option<WireStats>,
    /// This board's table edit that did not finish (its backup, and when it
    /// was made), found by a run that does not finish it.
    pub pending_edit: Option<(String, String)>,
}

/// A backup written (`--backup`).
#[derive(Debug, Serialize)]
pub struct BackedUp {
    /// The file.
    pub file: String,
    /// What it holds.
    #[serde(flatten)]
    pub backup: Backup,
}
