//! The parsed arguments turned, once, into a checked [`Request`]: the target,
//! the typed edits, reads and writes, the parsed `--fs` commands, where the
//! output goes, and one [`Mode`]. Everything the command line can get wrong
//! is found here, before a file is opened or a port touched.

use std::path::{Path, PathBuf};

use mpimg::flash::device::bars_allowed;
use mpimg::flash::DeviceOptions;
use mpimg::format::csv::parse_csv_bytes;
use mpimg::fs::time::TimeSource;
use mpimg::fs::FsCommand;
use mpimg::ops::assemble::{flasher_args_path, Recipe};
use mpimg::ops::file_format::FileFormat;
use mpimg::ops::firmware::read_recipe;
use mpimg::ops::layout::Preset;
use mpimg::ops::plan::{Layout, TableEdits};

use super::arglist::{parse_names, parse_pairs, parse_part_list, parse_pieces};
use super::args::Args;
use super::error::CliError;
use super::naming::{app_bin_name, basename, build_basename, edit_suffix, with_extension, with_suffix};
use super::port::{expand_device, is_board_list, is_device, Boards};

/// What the run works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A firmware or app image file.
    File(PathBuf),
    /// A serial port (short names expanded: `u0` is `/dev/ttyUSB0`).
    Device(String),
    /// Several boards (`u0,u1`, or `all`): the same run on each, in parallel.
    Boards(Boards),
    /// A firmware to assemble from a build's pieces (its `flasher_args.json`,
    /// or `--assemble`), then to work on as a firmware file.
    Build(Recipe),
}

/// What kind of run it is, from the options given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing asked: show the facts (on a device, with filesystem usage).
    Inspect,
    /// Only `--check-app`: show and verify.
    Check,
    /// Only `--fs` commands.
    Fs,
    /// `-x`: write the app image out (as in the Python tool, the other
    /// options are not done; a warning names them).
    ExtractApp,
    /// `--ota-update` (with whatever else is asked).
    OtaUpdate,
    /// `--flash DEVICE`: the firmware file, edited as asked, written to a device.
    Flash,
    /// Edits, reads, writes or erases.
    Edit,
    /// Only `--backup` (devices): the whole flash to a file.
    Backup,
}

/// Whether the run fits the firmware to the board's flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitMode {
    /// With `--flash`: fit a firmware that does not fit the board (shrink only).
    Auto,
    /// `--fit`: fit it, growing too (to `-f`, the board's flash, or a file's header).
    Fit,
    /// `--no-fit`: write the firmware exactly as given.
    NoFit,
}

/// Where a table written as CSV goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvOut {
    /// To this file.
    File(PathBuf),
    /// To stdout (`--to-csv -`).
    Stdout,
}

/// Where `-x` writes the app image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppOut {
    /// To this file (`-o`, or the input's name with `.app-bin`).
    File(PathBuf),
    /// A device without `-o`: a file named after the chip and the app
    /// partition (`esp32-factory.app-bin`, see [`super::naming::device_app_name`]),
    /// known once the board is read (the port's name says nothing of the app).
    ByBoard,
}

impl AppOut {
    /// The file, when it is known before the run.
    pub fn file(&self) -> Option<&Path> {
        match self {
            AppOut::File(p) => Some(p),
            AppOut::ByBoard => None,
        }
    }
}

/// What stdout carries: one product per run, and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// The `--json` document.
    Json,
    /// What `--fs` commands print (ls, cat, df, info), and the table as CSV
    /// with `--to-csv -`: the report goes to stderr.
    Data,
    /// The human report.
    Report,
}

/// How results are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Show {
    /// One JSON document on stdout.
    pub json: bool,
    /// Errors only.
    pub quiet: bool,
    /// More detail (segments, block and byte counts).
    pub debug: bool,
}

/// One run, checked and typed.
#[derive(Debug, Clone)]
pub struct Request {
    /// What it works on.
    pub target: Target,
    /// FILENAME as given (reported as the source, and the base of output names).
    pub source: String,
    /// Table and header edits.
    pub edits: TableEdits,
    /// Regions to erase.
    pub erase: Vec<String>,
    /// Filesystem partitions whose first blocks to erase (devices).
    pub erase_fs: Vec<String>,
    /// Regions to copy into files: region, file.
    pub reads: Vec<(String, PathBuf)>,
    /// Files to write into regions: region, file.
    pub writes: Vec<(String, PathBuf)>,
    /// Trailing blank 4 KB blocks removed from what is read.
    pub trimblocks: bool,
    /// Trailing blank bytes removed (to 16 bytes) from what is read.
    pub trim: bool,
    /// `-x`: where the app image goes.
    pub extract_app: Option<AppOut>,
    /// Options given with `-x` that it leaves undone (it ends the run, as
    /// in the Python tool).
    pub ignored_by_x: Vec<&'static str>,
    /// Verify the bootloader and apps.
    pub check_app: bool,
    /// An app image for the next OTA slot (devices).
    pub ota_update: Option<PathBuf>,
    /// Let the bootloader roll an OTA update back.
    pub rollback: bool,
    /// Filesystem commands, in order.
    pub fs: Vec<FsCommand>,
    /// The table as CSV.
    pub to_csv: Option<CsvOut>,
    /// `--flash DEVICE`: the boards to flash the firmware file to (one
    /// port, a list, or `all`).
    pub flash_to: Option<Boards>,
    /// `--erase-rest`: flashing erases the device past the image to the end of its flash.
    pub erase_rest: bool,
    /// `--backup FILE`: the device's whole flash to this file (before any change).
    pub backup: Option<PathBuf>,
    /// Whether to fit the firmware to the flash.
    pub fit: FitMode,
    /// The firmware file written (files; None: nothing to write).
    pub output: Option<PathBuf>,
    /// How the output firmware file is encoded (`--format`, else its extension).
    pub output_format: FileFormat,
    /// Where the times written into filesystems come from (`SOURCE_DATE_EPOCH` or the clock).
    pub time: TimeSource,
    /// The output is the input file itself (`--in-place`).
    pub in_place: bool,
    /// A table edit may drop the files of a filesystem partition it deletes or re-types (`--discard-fs`).
    pub discard_fs: bool,
    /// Devices: where host backups of carried files are kept.
    pub backup_dir: PathBuf,
    /// Devices: where pointers to pending host backups are kept, whatever
    /// the current directory (None: nowhere; see [`backup_index`]).
    pub backup_index: Option<PathBuf>,
    /// Devices: keep a backup after its edit finished.
    pub keep_backup: bool,
    /// The run writes a firmware (a new file, the file itself, or the device's table).
    pub writes_firmware: bool,
    /// The output file is written only because `--fs` commands may change
    /// the filesystem (its name's one suffix is `-fs`; no `-o`, `--in-place`
    /// or `--format`): when they changed nothing, no file is written.
    pub output_for_fs_only: bool,
    /// How to connect to devices.
    pub device: DeviceOptions,
    /// How results are shown.
    pub show: Show,
}

impl Request {
    /// Check and type `args`.
    ///
    /// Errors: malformed option values ([`CliError::Arg`]), a `--fs`
    /// command that does not parse, a CSV file or `flasher_args.json` that
    /// cannot be read or is not valid, an invalid `SOURCE_DATE_EPOCH`,
    /// options for devices only on a file ([`CliError::DeviceOnly`]),
    /// `--flash` from a device ([`CliError::FlashFromDevice`]), and
    /// `--in-place` on a build ([`CliError::InPlaceBuild`]).
    pub fn from_args(args: &Args) -> Result<Request, CliError> {
        let time = TimeSource::from_env().map_err(mpimg::Error::from)?;
        let (target, source, base) = target_of(args)?;
        check_target(args, &target)?;
        let edits = table_edits(args)?;
        let fs =
            args.fs.iter().map(|c| FsCommand::parse(c)).collect::<Result<Vec<_>, _>>().map_err(mpimg::Error::from)?;
        let fs_changes = fs.iter().any(FsCommand::modifies_flash);
        let suffix = edit_suffix(args, &edits.resize, &edits.add, fs_changes);
        // `--format` asks for a file in that format, edited or not (a conversion).
        let writes_firmware = !suffix.is_empty() || args.output.is_some() || args.in_place || args.format.is_some();
        let (output, output_format) = output_of(args, &target, &base, &suffix, writes_firmware);
        // `-` means stdout for outputs only (`--read`): a file `--write` reads is named as given.
        let pairs = |arg: &Option<String>, option, name: fn(&str) -> PathBuf| -> Result<Vec<_>, CliError> {
            let list = arg.as_deref().map(|a| parse_pairs(a, option)).transpose()?.unwrap_or_default();
            Ok(list.into_iter().map(|(part, file)| (part, name(&file))).collect())
        };
        let reads = pairs(&args.read, "--read", out_path)?;
        let writes = pairs(&args.write, "--write", |f| PathBuf::from(f))?;
        one_on_stdout(args)?;
        let extract_app = args.extract_app.then(|| match (&args.output, &target) {
            (Some(o), _) => AppOut::File(out_path(o)),
            (None, Target::Device(_) | Target::Boards(_)) => AppOut::ByBoard,
            (None, _) => AppOut::File(PathBuf::from(app_bin_name(&base))),
        });
        Ok(Request {
            target,
            source,
            edits,
            erase: args.erase.as_deref().map(parse_names).unwrap_or_default(),
            erase_fs: args.erase_fs.as_deref().map(parse_names).unwrap_or_default(),
            reads,
            writes,
            trimblocks: args.trimblocks,
            trim: args.trim,
            extract_app,
            ignored_by_x: if args.extract_app { ignored_by_x(args) } else { Vec::new() },
            check_app: args.check_app,
            ota_update: args.ota_update.as_ref().map(PathBuf::from),
            rollback: !args.no_rollback,
            fs,
            to_csv: args
                .to_csv
                .as_deref()
                .map(|p| if p == "-" { CsvOut::Stdout } else { CsvOut::File(PathBuf::from(p)) }),
            flash_to: args.flash.as_deref().map(Boards::parse),
            erase_rest: args.erase_rest,
            backup: args.backup.as_deref().map(out_path),
            fit: if args.fit {
                FitMode::Fit
            } else if args.no_fit {
                FitMode::NoFit
            } else {
                FitMode::Auto
            },
            output,
            output_format,
            time,
            in_place: args.in_place,
            discard_fs: args.discard_fs,
            backup_dir: PathBuf::from(args.backup_dir.as_deref().unwrap_or(".")),
            backup_index: backup_index(),
            keep_backup: args.keep_backup,
            writes_firmware,
            output_for_fs_only: suffix == "-fs" && args.output.is_none() && !args.in_place && args.format.is_none(),
            device: DeviceOptions {
                baud: args.baud,
                reset: !args.no_reset,
                progress: bars_allowed(args.quiet),
                bars: None,
            },
            show: Show { json: args.json, quiet: args.quiet, debug: args.debug },
        })
    }

    /// The files on this computer the run writes besides `--in-place`'s
    /// input: the output firmware, `-x`'s app image, `--read`'s and
    /// `--to-csv`'s files.
    pub fn files_written(&self) -> Vec<&Path> {
        let output = self.output.as_deref().filter(|_| !self.in_place);
        let csv = match &self.to_csv {
            Some(CsvOut::File(p)) => Some(p.as_path()),
            _ => None,
        };
        output
            .into_iter()
            .chain(self.extract_app.as_ref().and_then(AppOut::file))
            .chain(self.reads.iter().map(|(_, f)| f.as_path()))
            .chain(csv)
            .collect()
    }

    /// The kind of run.
    pub fn mode(&self) -> Mode {
        if self.extract_app.is_some() {
            Mode::ExtractApp
        } else if self.flash_to.is_some() {
            Mode::Flash
        } else if self.ota_update.is_some() {
            Mode::OtaUpdate
        } else if self.writes_firmware
            || !self.erase.is_empty()
            || !self.erase_fs.is_empty()
            || !self.reads.is_empty()
            || self.to_csv.is_some()
        {
            Mode::Edit
        } else if self.backup.is_some() {
            Mode::Backup
        } else if !self.fs.is_empty() {
            Mode::Fs
        } else if self.check_app {
            Mode::Check
        } else {
            Mode::Inspect
        }
    }

    /// What stdout carries.
    pub fn product(&self) -> Product {
        if self.show.json {
            Product::Json
        } else if matches!(self.target, Target::Boards(_)) {
            // Several boards: the summary; each board's own output goes to stderr.
            Product::Report
        } else if self.fs.iter().any(FsCommand::prints)
            || self.to_csv == Some(CsvOut::Stdout)
            || self.files_written().into_iter().chain(self.backup.as_deref()).any(|p| p == Path::new(STDOUT))
        {
            Product::Data
        } else {
            Product::Report
        }
    }

    /// An app image (`.app-bin`) has no table: only showing and checking it make sense.
    pub fn check_for_app_image(&self) -> Result<(), CliError> {
        match self.mode() {
            Mode::Inspect | Mode::Check => Ok(()),
            _ => Err(mpimg::Error::AppImageOnly { what: "edit or read".into() }.into()),
        }
    }
}

/// Where an output named `-` goes: stdout, written into as any stream is
/// (see [`mpimg::flash::write_atomically`]).
pub const STDOUT: &str = "/dev/stdout";

/// An output file as given: `-` is stdout (as with `--to-csv -`).
fn out_path(given: &str) -> PathBuf {
    PathBuf::from(if given == "-" { STDOUT } else { given })
}

/// The options given with `-x` that do something only after it, which it
/// leaves undone: `-x` writes the app image and ends the run (as
/// mp-image-tool-esp32's does). `--backup` runs before it.
fn ignored_by_x(args: &Args) -> Vec<&'static str> {
    [
        (args.flash_size.is_some(), "-f"),
        (args.from_csv.is_some(), "--from-csv"),
        (args.table.is_some(), "--table"),
        (args.app_size.is_some(), "-a"),
        (args.delete.is_some(), "--delete"),
        (args.resize.is_some(), "--resize"),
        (args.rename.is_some(), "--rename"),
        (args.add.is_some(), "--add"),
        (args.in_place, "--in-place"),
        (args.format.is_some(), "--format"),
        (args.fit, "--fit"),
        (args.erase.is_some(), "--erase"),
        (args.erase_fs.is_some(), "--erase-fs"),
        (args.read.is_some(), "--read"),
        (args.write.is_some(), "--write"),
        (args.ota_update.is_some(), "--ota-update"),
        (args.flash.is_some(), "--flash"),
        (args.check_app, "--check-app"),
        (!args.fs.is_empty(), "--fs"),
        (args.to_csv.is_some(), "--to-csv"),
    ]
    .into_iter()
    .filter_map(|(given, option)| given.then_some(option))
    .collect()
}

/// Refuse two products on stdout: an output named `-` (or `/dev/stdout`)
/// besides `--json`, `--to-csv -`, a printing `--fs` command, or another such output.
fn one_on_stdout(args: &Args) -> Result<(), CliError> {
    let stdout = |f: &str| f == "-" || f == STDOUT;
    let reads = args.read.as_deref().map(|a| parse_pairs(a, "--read")).transpose()?.unwrap_or_default();
    let fs_prints = args.fs.iter().any(|c| FsCommand::parse(c).is_ok_and(|c| c.prints()));
    let on_stdout: Vec<String> = [
        (args.json, "--json".to_string()),
        (args.to_csv.as_deref().is_some_and(stdout), "--to-csv -".into()),
        (fs_prints, "--fs".into()),
        (args.output.as_deref().is_some_and(stdout), format!("-o {}", args.output.as_deref().unwrap_or_default())),
        (
            args.backup.as_deref().is_some_and(stdout),
            format!("--backup {}", args.backup.as_deref().unwrap_or_default()),
        ),
    ]
    .into_iter()
    .filter_map(|(given, what)| given.then_some(what))
    .chain(reads.iter().filter(|(_, f)| stdout(f)).map(|(p, f)| format!("--read {p}={f}")))
    .collect();
    let writes_bytes = |w: &String| !matches!(w.as_str(), "--json" | "--to-csv -" | "--fs");
    match on_stdout.iter().position(writes_bytes) {
        Some(i) if on_stdout.len() > 1 => {
            let other = if i == 0 { 1 } else { 0 };
            let (a, b) = if other < i { (other, i) } else { (i, other) };
            Err(CliError::TwoOnStdout { first: on_stdout[a].clone(), second: on_stdout[b].clone() })
        }
        _ => Ok(()),
    }
}

/// Where pointers to pending host backups are kept: `pending/` in
/// `$MPIMG_STATE_DIR` (empty: keep none), else in `$XDG_STATE_HOME/mpimg`,
/// else in `~/.local/state/mpimg`. A re-run finds a backup through them from
/// any directory.
pub fn backup_index() -> Option<PathBuf> {
    let nonempty = |v: &str| std::env::var_os(v).filter(|d| !d.is_empty()).map(PathBuf::from);
    let state = match std::env::var_os("MPIMG_STATE_DIR") {
        Some(d) if d.is_empty() => return None,
        Some(d) => PathBuf::from(d),
        None => match nonempty("XDG_STATE_HOME") {
            Some(d) => d.join("mpimg"),
            None => nonempty("HOME")?.join(".local/state/mpimg"),
        },
    };
    Some(state.join("pending"))
}

/// What FILENAME (or `--assemble`) names, the source as reported, and the
/// base of output file names. A build's `flasher_args.json` is read here.
fn target_of(args: &Args) -> Result<(Target, String, String), CliError> {
    if let Some(list) = &args.assemble {
        let recipe = Recipe { pieces: parse_pieces(list)?, ..Recipe::default() };
        return Ok((Target::Build(recipe), "(--assemble)".into(), "firmware.bin".into()));
    }
    let filename = args.filename.clone().unwrap_or_default();
    if is_board_list(&filename) {
        let target = match Boards::parse(&filename) {
            Boards::Ports(p) if p.len() == 1 => Target::Device(p[0].clone()),
            b => Target::Boards(b),
        };
        return Ok((target, filename.clone(), basename(&filename)));
    }
    if is_device(&filename) {
        return Ok((Target::Device(expand_device(&filename)), filename.clone(), basename(&filename)));
    }
    match flasher_args_path(Path::new(&filename)) {
        Some(json) if !json.exists() && Path::new(&filename).is_dir() => {
            Err(mpimg::Error::NotABuild { path: PathBuf::from(&filename) }.into())
        }
        Some(json) => Ok((Target::Build(read_recipe(&json)?), filename, build_basename(&json))),
        None => Ok((Target::File(PathBuf::from(&filename)), filename.clone(), basename(&filename))),
    }
}

/// The output firmware file and its format: `--in-place` the input itself,
/// else `-o`, else the input's name with the edits' suffix (a device is
/// changed in place: no file). `--format` sets the format (and the default
/// name's extension); else the file's extension does.
fn output_of(args: &Args, target: &Target, base: &str, suffix: &str, writes: bool) -> (Option<PathBuf>, FileFormat) {
    let asked = args.format.as_deref().and_then(FileFormat::from_name);
    let output = match target {
        Target::File(path) if writes && args.in_place => Some(path.clone()),
        Target::File(_) | Target::Build(_) if writes => Some(PathBuf::from(match (&args.output, asked) {
            (Some(o), _) => out_path(o).to_string_lossy().into_owned(),
            (None, Some(f)) => with_extension(&with_suffix(base, suffix), f.extension()),
            (None, None) => with_suffix(base, suffix),
        })),
        _ => None,
    };
    let format = asked.or_else(|| output.as_deref().map(FileFormat::from_path)).unwrap_or(FileFormat::Bin);
    (output, format)
}

/// Options that need the other kind of target.
fn check_target(args: &Args, target: &Target) -> Result<(), CliError> {
    match target {
        Target::Build(_) if args.in_place => Err(CliError::InPlaceBuild),
        Target::File(_) if args.erase_fs.is_some() => Err(CliError::DeviceOnly { option: "--erase-fs" }),
        Target::File(_) if args.ota_update.is_some() => Err(CliError::DeviceOnly { option: "--ota-update" }),
        Target::File(_) if args.keep_backup => Err(CliError::DeviceOnly { option: "--keep-backup" }),
        Target::File(_) if args.backup_dir.is_some() => Err(CliError::DeviceOnly { option: "--backup-dir" }),
        Target::File(_) | Target::Build(_) if args.backup.is_some() => Err(CliError::DeviceOnly { option: "--backup" }),
        _ if args.erase_rest && args.flash.is_none() => {
            Err(CliError::Needs { option: "--erase-rest", needs: "--flash" })
        }
        _ if args.no_fit && args.flash.is_none() => Err(CliError::Needs { option: "--no-fit", needs: "--flash" }),
        Target::Device(_) | Target::Boards(_) if args.flash.is_some() => Err(CliError::FlashFromDevice),
        Target::Boards(_) => match one_board_option(args) {
            Some(option) => Err(CliError::OneBoard { option }),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// An option that writes a file on this computer, which several boards
/// would each overwrite.
fn one_board_option(args: &Args) -> Option<&'static str> {
    let fs_get = args.fs.iter().any(|c| c.first().is_some_and(|w| w == "get"));
    [
        (args.backup.is_some(), "--backup"),
        (args.read.is_some(), "--read"),
        (args.extract_app, "-x"),
        (args.to_csv.as_deref().is_some_and(|f| f != "-"), "--to-csv FILE"),
        (fs_get, "--fs get"),
    ]
    .into_iter()
    .find_map(|(given, option)| given.then_some(option))
}

/// The table and header edits, typed; a CSV file is read and parsed here.
fn table_edits(args: &Args) -> Result<TableEdits, CliError> {
    let from_csv = match &args.from_csv {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|source| mpimg::Error::ReadCsv { path: PathBuf::from(path), source })?;
            let table =
                parse_csv_bytes(&bytes).map_err(|source| mpimg::Error::Csv { path: PathBuf::from(path), source })?;
            Some((table, path.clone()))
        }
        None => None,
    };
    let layout = match &args.table {
        Some(spec) => {
            let layout = match Preset::from_name(spec) {
                Some(p) => Layout::Preset(p),
                None => Layout::Parts(parse_part_list(spec)?),
            };
            Some((layout, spec.clone()))
        }
        None => None,
    };
    Ok(TableEdits {
        flash_size: args.flash_size,
        from_csv,
        layout,
        app_size: args.app_size,
        delete: args.delete.as_deref().map(parse_names).unwrap_or_default(),
        resize: args.resize.as_deref().map(parse_part_list).transpose()?.unwrap_or_default(),
        rename: args.rename.as_deref().map(|a| parse_pairs(a, "--rename")).transpose()?.unwrap_or_default(),
        add: args.add.as_deref().map(parse_part_list).transpose()?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::parse_from;

    fn req(words: &[&str]) -> Result<Request, CliError> {
        let args = parse_from(words.iter().map(|w| w.into()).collect()).unwrap();
        Request::from_args(&args)
    }

    #[test]
    fn two_products_on_stdout_are_refused() {
        let err = |w: &[&str]| req(&[&["mpimg", "fw.bin"], w].concat()).err().map(|e| e.to_string());
        let two = |a: &str, b: &str| {
            Some(format!("{a} and {b} both write to stdout, which carries one product: send one of them to a file"))
        };
        assert_eq!(err(&["-f", "8M", "-o", "-", "--json"]), two("--json", "-o -"));
        assert_eq!(err(&["-o", "/dev/stdout", "--to-csv", "-"]), two("--to-csv -", "-o /dev/stdout"));
        assert_eq!(err(&["-o", "-", "--read", "nvs=-"]), two("-o -", "--read nvs=-"));
        assert_eq!(err(&["--fs", "cat", "boot.py", "--read", "nvs=-"]), two("--fs", "--read nvs=-"));
        assert_eq!(err(&["--json", "--to-csv", "-", "--fs", "ls"]), None, "the document holds them");
        assert_eq!(err(&["-o", "-", "--fs", "put", "a", "/"]), None);
    }

    #[test]
    fn options_x_leaves_undone_are_named() {
        let ignored = |w: &[&str]| req(&[&["mpimg", "fw.bin"], w].concat()).unwrap().ignored_by_x;
        assert_eq!(
            ignored(&["-x", "-f", "8M", "--fs", "ls", "--check-app", "--to-csv", "-"]),
            ["-f", "--check-app", "--fs", "--to-csv"]
        );
        assert_eq!(ignored(&["-x", "-o", "a.app-bin", "-q", "--json"]), Vec::<&str>::new());
        assert_eq!(ignored(&["-f", "8M"]), Vec::<&str>::new(), "no -x");
    }

    #[test]
    fn one_mode_per_run() {
        let mode = |w: &[&str]| req(&[&["mpimg", "fw.bin"], w].concat()).unwrap().mode();
        assert_eq!(mode(&[]), Mode::Inspect);
        assert_eq!(mode(&["--check-app"]), Mode::Check);
        assert_eq!(mode(&["--fs", "ls"]), Mode::Fs);
        assert_eq!(mode(&["--fs", "mkfs"]), Mode::Edit, "a changing --fs command writes a firmware");
        assert_eq!(mode(&["-x", "-f", "8M"]), Mode::ExtractApp);
        assert_eq!(mode(&["--flash", "u0"]), Mode::Flash);
        assert_eq!(mode(&["--flash", "u0,u1"]), Mode::Flash);
        assert_eq!(mode(&["-f", "8M"]), Mode::Edit);
        assert_eq!(mode(&["--read", "nvs=n.bin"]), Mode::Edit);
        assert_eq!(mode(&["-o", "x.bin"]), Mode::Edit);
        assert_eq!(req(&["mpimg", "u0", "--ota-update", "a.bin"]).unwrap().mode(), Mode::OtaUpdate);
        assert_eq!(req(&["mpimg", "u0", "--backup", "b.bin"]).unwrap().mode(), Mode::Backup);
        assert_eq!(req(&["mpimg", "u0", "--backup", "b.bin", "-f", "8M"]).unwrap().mode(), Mode::Edit);
    }

    #[test]
    fn output_names_and_typed_values() {
        let r =
            req(&["mpimg", "dir/fw.bin", "-f", "8M", "--resize", "vfs=0", "--read", "nvs=n.bin, phy_init:C:\\p.bin"])
                .unwrap();
        assert_eq!(r.output, Some(PathBuf::from("fw-8MB-resize=vfs.bin")));
        assert_eq!(r.reads, vec![("nvs".into(), "n.bin".into()), ("phy_init".into(), "C:\\p.bin".into())]);
        assert_eq!(r.edits.flash_size, Some(0x800000));
        let r = req(&["mpimg", "fw.bin", "--in-place", "--fs", "put", "a", "/"]).unwrap();
        assert_eq!(r.output, Some(PathBuf::from("fw.bin")));
        assert_eq!(req(&["mpimg", "fw.bin", "-x"]).unwrap().extract_app, Some(AppOut::File("fw.app-bin".into())));
        assert_eq!(req(&["mpimg", "/dev/pts/2", "-x"]).unwrap().extract_app, Some(AppOut::ByBoard));
        assert_eq!(req(&["mpimg", "u0", "-x", "-o", "a.bin"]).unwrap().extract_app, Some(AppOut::File("a.bin".into())));
        assert_eq!(req(&["mpimg", "u0", "--rename", "vfs=data"]).unwrap().output, None);
    }

    #[test]
    fn one_product_on_stdout() {
        let product = |w: &[&str]| req(&[&["mpimg", "fw.bin"], w].concat()).unwrap().product();
        assert_eq!(product(&[]), Product::Report);
        assert_eq!(product(&["-f", "8M", "--check-app"]), Product::Report);
        assert_eq!(product(&["--fs", "mkfs", "--fs", "put", "a", "/"]), Product::Report);
        for data in [&["--fs", "cat", "a"][..], &["--fs", "ls"], &["--fs", "df"], &["--fs", "info"], &["--to-csv", "-"]]
        {
            assert_eq!(product(data), Product::Data, "{data:?}");
        }
        assert_eq!(product(&["--to-csv", "t.csv"]), Product::Report);
        assert_eq!(product(&["--fs", "ls", "--json"]), Product::Json);
        assert_eq!(product(&["-f", "8M", "-o", "-"]), Product::Data, "the firmware: the report goes to stderr");
        assert_eq!(product(&["--read", "nvs=/dev/stdout"]), Product::Data);
    }

    #[test]
    fn target_checks() {
        let e = |w: &[&str]| req(w).unwrap_err().to_string();
        assert_eq!(
            e(&["mpimg", "fw.bin", "--erase-fs", "vfs"]),
            "--erase-fs needs a serial-attached device (e.g. /dev/ttyUSB0 or u0), not a firmware file"
        );
        assert_eq!(e(&["mpimg", "u0", "--flash", "u1"]), "--flash writes a firmware file to a device: give the firmware file as FILENAME, e.g. mpimg fw.bin --flash u0");
        assert_eq!(e(&["mpimg", "fw.bin", "--fs", "cat"]), "cat: needs a file");
        assert_eq!(
            e(&["mpimg", "fw.bin", "--backup", "b.bin"]),
            "--backup needs a serial-attached device (e.g. /dev/ttyUSB0 or u0), not a firmware file"
        );
        assert_eq!(e(&["mpimg", "fw.bin", "--erase-rest"]), "--erase-rest only works with --flash");
        assert_eq!(
            e(&["mpimg", "u0,u1", "--read", "vfs=v.bin"]),
            "--read writes a file on this computer: give one board, not several"
        );
        assert_eq!(
            e(&["mpimg", "all", "--fs", "get", "/", "out"]),
            "--fs get writes a file on this computer: give one board, not several"
        );
        assert_eq!(req(&["mpimg", "u0,u0"]).unwrap().target, Target::Device("/dev/ttyUSB0".into()));
        assert_eq!(
            req(&["mpimg", "u0,a1", "--fs", "ls"]).unwrap().target,
            Target::Boards(Boards::Ports(vec!["/dev/ttyUSB0".into(), "/dev/ttyACM1".into()]))
        );
        assert_eq!(req(&["mpimg", "fw.bin", "--flash", "all"]).unwrap().flash_to, Some(Boards::All));
        assert_eq!(e(&["mpimg", "fw.bin", "--no-fit"]), "--no-fit only works with --flash");
        let fit = |w: &[&str]| req(w).unwrap().fit;
        assert_eq!(fit(&["mpimg", "fw.bin", "--flash", "u0"]), FitMode::Auto);
        assert_eq!(fit(&["mpimg", "fw.bin", "--flash", "u0", "--no-fit"]), FitMode::NoFit);
        assert_eq!(fit(&["mpimg", "u0", "--fit"]), FitMode::Fit);
        // --fit on a file writes a file named for it; with --flash it is about the board.
        assert_eq!(req(&["mpimg", "fw.bin", "--fit"]).unwrap().output, Some(PathBuf::from("fw-fit.bin")));
        assert_eq!(
            req(&["mpimg", "fw.bin", "-f", "16M", "--fit"]).unwrap().output,
            Some(PathBuf::from("fw-16MB-fit.bin"))
        );
        assert_eq!(req(&["mpimg", "fw.bin", "--fit", "--flash", "u0"]).unwrap().output, None);
        assert_eq!(req(&["mpimg", "u0", "--fit"]).unwrap().mode(), Mode::Edit);
    }
}
