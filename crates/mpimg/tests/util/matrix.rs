//! The fault matrix (issue 13): each operation that writes to a device, run
//! once uninterrupted on an esp-sim device (the reference: its bytes on the
//! link, the frames that changed the flash, the flash it leaves), then cut
//! off at points spread over those bytes. Each cell records two facts:
//!
//! 1. does the board still start? The bootloader, the partition table and the
//!    app otadata selects are valid, by mpimg's own checks and, separately,
//!    by `scripts/boot_check.py` (esptool's image parser, the table and
//!    otadata read as ESP-IDF reads them). Where it does not, the message of
//!    the cut run must say so.
//! 2. does the same command, run again, end where the reference ended (byte
//!    for byte, or file for file where littlefs places blocks differently),
//!    with no user file lost?
//!
//! Cells are small on purpose: synthetic firmware of ~20 KB bootloaders and
//! ~100 KB apps, littlefs trees of a few dozen files, one simulator per cell,
//! no baud model. With `MPIMG_MATRIX_OUT=FILE` every cell appends its result
//! as one JSON line (before it asserts anything), which
//! `scripts/fault-matrix.sh` prints as a table.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use esp_sim::fault::Dir;
use esp_sim::{Fault, Traced};
use mpimg::flash::FileFlash;
use mpimg::format::chip::Chip;
use mpimg::ops::check::check_all;
use mpimg::ops::firmware::Firmware;
use mpimg::ops::ota::ota_status;

use super::sim::{bootloader_offset, first_diff, flash_image, Dev};
use super::{root, run_mpimg_env, synth, text, venv_python, Run};

/// Every time written into a filesystem: the same in every run.
const EPOCH: &str = "1700000000";
/// Where the littlefs partition lies in every row (the generic table's `vfs`).
const VFS: (u32, u32) = (0x200000, 0x200000);
const MB: u32 = 1 << 20;

/// The operations that write to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `-f 8M --resize vfs=0` on an 8 MB board holding a 4 MB firmware.
    TableF,
    /// `-f 8M --table ota` on the same board: `vfs` moves, its files are carried.
    TableMove,
    /// `--fs put` of a tree of 40 files and a replaced `main.py`.
    FsPut,
    /// `--fs mkfs` over a filesystem with files.
    FsMkfs,
    /// `--ota-update` of a new app into ota_1.
    OtaUpdate,
    /// `--flash` of a firmware onto an erased board.
    FlashBlank,
    /// `--flash` of a newer firmware onto a board with an older one and files.
    FlashUsed,
    /// `--erase-fs vfs`.
    EraseFs,
}

impl Op {
    /// How the table names the row.
    pub fn title(self) -> &'static str {
        match self {
            Op::TableF => "table edit -f 8M --resize vfs=0",
            Op::TableMove => "table edit that moves a filesystem",
            Op::FsPut => "--fs put (41 files)",
            Op::FsMkfs => "--fs mkfs",
            Op::OtaUpdate => "--ota-update",
            Op::FlashBlank => "--flash onto a blank board",
            Op::FlashUsed => "--flash onto a used board",
            Op::EraseFs => "--erase-fs vfs",
        }
    }
}

/// How a cell interrupts the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Close the port at the k-th (0..9) of the points spread over the run's bytes.
    Close(usize),
    /// Corrupt the host frame of the flash change at this fraction (percent) of the list.
    Corrupt(usize),
    /// Drop that frame.
    Drop(usize),
    /// Stall that frame for this many milliseconds.
    Stall(usize, u64),
}

/// Where each operation starts and what it runs.
pub struct Row {
    pub chip: &'static str,
    pub flash_size: u32,
    /// The whole flash before the run.
    pub initial: Vec<u8>,
    /// Files the command names.
    pub host: tempfile::TempDir,
    /// The command; "PORT" stands for the device.
    pub args: Vec<String>,
    /// Files the command replaces: after a cut they hold the old or the new bytes.
    pub replaced: Vec<String>,
    /// The run removes the filesystem's files by intent.
    pub wipes: bool,
    /// The run moves or grows the filesystem (carry): cut off, its files may
    /// be only in the host backup the run wrote, or on the flash at the
    /// filesystem's old size under a table that already has the new one (the
    /// same command run again finishes it).
    pub carries: bool,
    /// The end state is the same bytes however it was reached (else compared file by file).
    pub byte_exact: bool,
}

/// Files of a littlefs: path to SHA-256, and directories (`None`: it does not mount).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    pub files: BTreeMap<String, String>,
    pub dirs: Vec<String>,
}

/// What the independent and the own checks say about a flash.
pub struct Check {
    /// mpimg's checks: the app that boots, or why the board does not start.
    pub mpimg: Result<String, String>,
    /// boot_check.py: the same.
    pub independent: Result<String, String>,
    /// The littlefs files at each place looked at (flash offset and size:
    /// the matrix's `vfs` as the run found it, and the table's), or why they
    /// cannot be read.
    pub places: BTreeMap<(u32, u32), Result<Files, String>>,
    /// Where the table puts `vfs` (offset, size).
    pub vfs: Option<(u32, u32)>,
}

impl Check {
    pub fn boots(&self) -> bool {
        self.mpimg.is_ok()
    }

    /// The files of the table's `vfs`.
    pub fn files(&self) -> Result<Files, String> {
        self.vfs.and_then(|o| self.places.get(&o).cloned()).unwrap_or_else(|| Err("no vfs in the table".into()))
    }
}

/// A row's uninterrupted run.
pub struct Reference {
    pub row: Row,
    /// Host bytes of the whole run.
    pub total: u64,
    /// The frames that changed the flash.
    pub changes: Vec<Traced>,
    /// The flash it leaves.
    pub end: Vec<u8>,
    pub files_before: Result<Files, String>,
    pub files_after: Result<Files, String>,
}

/// Start a device holding `flash`, with `faults` (and tracing every request).
pub fn start(row: &Row, flash: &[u8], faults: Vec<Fault>, trace: bool) -> Dev {
    super::sim::start_with(row.chip, row.flash_size, Some(flash), None, faults, |c| {
        c.seed = 7;
        c.trace = trace;
    })
}

/// Copy the files and directories under `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

impl Row {
    /// A directory of its own for a cell to run the command in, holding the
    /// files the command names: whatever a run leaves there (a table edit's
    /// host backup of the files) is seen by the same cell's re-run only.
    pub fn workdir(&self) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        copy_tree(self.host.path(), d.path());
        d
    }

    /// Run the command on `dev` in `dir`.
    pub fn run(&self, dev: &Dev, dir: &Path) -> Run {
        let port = dev.port();
        let args: Vec<&str> = self.args.iter().map(|a| if a == "PORT" { port.as_str() } else { a.as_str() }).collect();
        let o = run_mpimg_env(dir, &args, &[("SOURCE_DATE_EPOCH", EPOCH)]);
        Run { out: text(&o.stdout), err: text(&o.stderr), code: o.status.code().unwrap_or(-1) }
    }

    /// The command as a user types it.
    pub fn command(&self) -> String {
        self.args.iter().map(|a| if a == "PORT" { "/dev/ttyUSB0" } else { a.as_str() }).collect::<Vec<_>>().join(" ")
    }

    /// Both checks of `flash` (None: the checkers' venv is missing).
    pub fn check(&self, flash: &[u8]) -> Option<Check> {
        let py = venv_python()?;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("flash.bin");
        std::fs::write(&path, flash).unwrap();
        let script = root().join("crates/mpimg/tests/scripts/boot_check.py");
        let o = std::process::Command::new(py)
            .arg(script)
            .arg(&path)
            .arg(self.chip)
            .arg(format!("{:#x}", bootloader_offset(self.chip)))
            .arg(format!("{:#x}", VFS.0))
            .arg(format!("{:#x}", VFS.1))
            .output()
            .unwrap();
        assert!(o.status.success(), "boot_check.py: {}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let problems: Vec<String> = ["bootloader", "table", "app"]
            .iter()
            .filter(|k| v[**k] != "ok")
            .map(|k| format!("{k}: {}", v[*k].as_str().unwrap_or("?")))
            .collect();
        let independent = if problems.is_empty() {
            Ok(v["boots"].as_str().unwrap_or_default().to_string())
        } else {
            Err(problems.join("; "))
        };
        let files = |fs: &serde_json::Value| match fs["error"].as_str() {
            Some(e) => Err(e.to_string()),
            None => Ok(Files {
                files: fs["files"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect(),
                dirs: fs["dirs"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect(),
            }),
        };
        let places = v["fs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, fs)| {
                let (o, n) = k.split_once(':').unwrap();
                let num = |x: &str| u32::from_str_radix(x.trim_start_matches("0x"), 16).unwrap();
                ((num(o), num(n)), files(fs))
            })
            .collect();
        let vfs = v["vfs"].as_array().map(|a| (a[0].as_u64().unwrap() as u32, a[1].as_u64().unwrap() as u32));
        Some(Check { mpimg: mpimg_boots(flash, self.chip), independent, places, vfs })
    }
}

/// mpimg's own verdict: the bootloader, the table, and the app otadata picks
/// (else the first app) are valid. Returns that app's name.
pub fn mpimg_boots(flash: &[u8], chip: &str) -> Result<String, String> {
    let bl = bootloader_offset(chip);
    let c = Chip::by_name(chip).unwrap();
    let f = FileFlash::new(flash[bl as usize..].to_vec(), bl, flash.len() as u32);
    let mut fw = Firmware::open(f, c).map_err(|e| e.to_string())?;
    if let Some(e) = &fw.table_error {
        return Err(format!("table: {e}"));
    }
    let status = ota_status(&mut fw.flash, &fw.table).map_err(|e| e.to_string())?;
    let boots = status.map(|s| s.boots).or_else(|| fw.table.first_app().map(|p| p.name())).ok_or("no app")?;
    let checks = check_all(&mut fw.flash, &fw.table, bl, Some(&boots));
    let bad: Vec<String> = checks
        .iter()
        .filter(|c| c.required && !c.is_valid())
        .map(|c| format!("{}: {}", c.name, c.image.problem.clone().unwrap_or_default()))
        .collect();
    if bad.is_empty() {
        Ok(boots)
    } else {
        Err(bad.join("; "))
    }
}

/// A user's files, as the boards in the matrix hold them before the run.
fn user_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("main.py"), "import lib.util\nlib.util.run()\n").unwrap();
    std::fs::write(dir.join("lib/util.py"), "def run():\n    print('hello')\n").unwrap();
    std::fs::write(dir.join("data.bin"), synth::code(10_000, 99)).unwrap();
}

/// A firmware file (from the bootloader offset) with `user_tree` in its vfs.
fn with_user_files(fw: &[u8]) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path();
    let user = host.join("user");
    user_tree(&user);
    std::fs::write(host.join("plain.bin"), fw).unwrap();
    let args = [
        "plain.bin",
        "--fs",
        "mkfs",
        "--fs",
        "put",
        "user/main.py",
        "user/data.bin",
        "user/lib",
        "/",
        "-o",
        "with-files.bin",
    ];
    let o = run_mpimg_env(host, &args, &[("SOURCE_DATE_EPOCH", EPOCH)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::read(host.join("with-files.bin")).unwrap()
}

/// A firmware for `chip_id` whose bootloader sits at `bl`: a code-like
/// bootloader and app from `seed`, `table`, the header saying 4 MB.
fn firmware(chip_id: u16, bl: u32, table: &[u8], seed: u64, version: &str) -> Vec<u8> {
    let banner = format!("MicroPython {version} on 2024-11-29; matrix board");
    let app = synth::code_app(chip_id, &banner, 96 * 1024, seed + 10);
    let mut f = synth::code_bootloader(chip_id, 2, 20_000, seed);
    f.resize((0x8000 - bl) as usize, 0xFF);
    f.extend_from_slice(table);
    f.resize((0x10000 - bl) as usize, 0xFF);
    f.extend_from_slice(&app);
    f
}

/// A table with otadata and two OTA apps, and the generic vfs.
fn ota_table() -> Vec<u8> {
    use synth::entry;
    synth::table(&[
        entry("nvs", 1, 2, 0x9000, 0x4000, 0),
        entry("otadata", 1, 0, 0xd000, 0x2000, 0),
        entry("phy_init", 1, 1, 0xf000, 0x1000, 0),
        entry("ota_0", 0, 0x10, 0x10000, 0xf0000, 0),
        entry("ota_1", 0, 0x11, 0x100000, 0xf0000, 0),
        entry("vfs", 1, 0x81, VFS.0, VFS.1, 0),
    ])
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// Build the row of `op`.
fn row(op: Op) -> Row {
    let host = tempfile::tempdir().unwrap();
    let h = host.path();
    let generic = synth::generic_table();
    let (chip, flash_size, initial, args, replaced, wipes, byte_exact) = match op {
        Op::TableF | Op::TableMove => {
            let fw = with_user_files(&firmware(0, 0x1000, &generic, 1, "v1.24.1"));
            let args = if op == Op::TableF {
                s(&["PORT", "-f", "8M", "--resize", "vfs=0"])
            } else {
                s(&["PORT", "-f", "8M", "--table", "ota"])
            };
            ("esp32", 8 * MB, flash_image(&fw, 0x1000, 8 * MB), args, vec![], false, true)
        }
        Op::FsPut | Op::FsMkfs | Op::EraseFs => {
            let fw = with_user_files(&firmware(9, 0, &generic, 2, "v1.24.1"));
            let args = match op {
                Op::FsPut => {
                    let up = h.join("up");
                    std::fs::create_dir_all(up.join("pkg")).unwrap();
                    for i in 0..32 {
                        std::fs::write(up.join(format!("m{i:02}.py")), synth::code(100 + i * 97, i as u64)).unwrap();
                    }
                    for i in 0..6 {
                        std::fs::write(up.join(format!("pkg/p{i}.py")), synth::code(700 * (i + 1), 50 + i as u64))
                            .unwrap();
                    }
                    std::fs::write(up.join("pkg/big.bin"), synth::code(24_000, 77)).unwrap();
                    std::fs::write(h.join("main.py"), "print('new main')\n").unwrap();
                    s(&["PORT", "--fs", "put", "up", "/", "--fs", "put", "main.py", "/"])
                }
                Op::FsMkfs => s(&["PORT", "--fs", "mkfs"]),
                _ => s(&["PORT", "--erase-fs", "vfs"]),
            };
            let replaced = if op == Op::FsPut { vec!["main.py".to_string()] } else { vec![] };
            let exact = op != Op::FsPut;
            ("esp32s3", 4 * MB, flash_image(&fw, 0, 4 * MB), args, replaced, op != Op::FsPut, exact)
        }
        Op::OtaUpdate => {
            let fw = with_user_files(&firmware(0, 0x1000, &ota_table(), 3, "v1.24.1"));
            let app = synth::code_app(0, "MicroPython v1.25.0 on 2025-04-15; matrix board", 96 * 1024, 33);
            std::fs::write(h.join("new.app-bin"), app).unwrap();
            let args = s(&["PORT", "--ota-update", "new.app-bin"]);
            ("esp32", 4 * MB, flash_image(&fw, 0x1000, 4 * MB), args, vec![], false, true)
        }
        Op::FlashBlank => {
            std::fs::write(h.join("fw.bin"), firmware(9, 0, &generic, 4, "v1.25.0")).unwrap();
            let args = s(&["fw.bin", "--flash", "PORT"]);
            ("esp32s3", 4 * MB, vec![0xFF; 4 * MB as usize], args, vec![], true, true)
        }
        Op::FlashUsed => {
            let old = with_user_files(&firmware(0, 0x1000, &generic, 5, "v1.23.0"));
            std::fs::write(h.join("fw.bin"), firmware(0, 0x1000, &generic, 6, "v1.25.0")).unwrap();
            let args = s(&["fw.bin", "--flash", "PORT"]);
            ("esp32", 4 * MB, flash_image(&old, 0x1000, 4 * MB), args, vec![], false, true)
        }
    };
    let carries = matches!(op, Op::TableF | Op::TableMove);
    Row { chip, flash_size, initial, host, args, replaced, wipes, carries, byte_exact }
}

/// The reference run of `op`, made once per test process (None: no checkers).
pub fn reference(op: Op) -> Option<&'static Reference> {
    static REFS: [OnceLock<Option<Reference>>; 8] = [const { OnceLock::new() }; 8];
    let i = op as usize;
    REFS[i]
        .get_or_init(|| {
            let row = row(op);
            let before = row.check(&row.initial)?;
            let d = start(&row, &row.initial, vec![], true);
            let dir = row.workdir();
            let r = row.run(&d, dir.path());
            assert_eq!(r.code, 0, "{}: the uninterrupted run failed:\n{}", op.title(), r.err);
            let stats = d.sim.stats();
            let end = d.bytes();
            let after = row.check(&end)?;
            assert!(
                after.boots(),
                "{}: the reference run leaves a board that does not start: {:?}",
                op.title(),
                after.mpimg
            );
            assert_eq!(after.mpimg, after.independent, "{}: the checks disagree", op.title());
            let changes: Vec<Traced> = stats.trace.into_iter().filter(|t| t.flash.is_some()).collect();
            assert!(!changes.is_empty(), "{}: the reference run wrote nothing", op.title());
            Some(Reference {
                row,
                total: stats.bytes_from_host,
                changes,
                end,
                files_before: before.files(),
                files_after: after.files(),
            })
        })
        .as_ref()
}

impl Reference {
    /// The 9 byte counts the `Close` cells cut at, in order: one while
    /// nothing is written yet, one just before the first flash change lands,
    /// five spread over the writes, one just after the last change lands (its
    /// verification cut off), one half way through what follows. A run whose
    /// writes take too few bytes for five distinct points spreads those five
    /// over the whole run instead.
    pub fn close_points(&self) -> Vec<u64> {
        let first = self.changes[0].end;
        let last = self.changes[self.changes.len() - 1].end;
        let mut inner: Vec<u64> = (1..=5).map(|k| first - 1 + (last - first + 1) * k / 6).collect();
        inner.dedup();
        if inner.len() < 5 || inner.iter().any(|&p| p < first || p >= last) {
            inner = (1..=5).map(|k| self.total * k / 6).collect();
        }
        let mut p = vec![first / 2, first - 1, last, (last + self.total) / 2];
        p.extend(inner);
        p.sort_unstable();
        p
    }

    /// The fault of `cut`, and a label for the table.
    pub fn fault(&self, cut: Cut) -> (Fault, String) {
        let at = |pct: usize| &self.changes[(self.changes.len() - 1) * pct / 100];
        let what = |c: &Traced| {
            let (a, b) = c.flash.unwrap_or_default();
            format!("{} {a:#x}..{b:#x}", c.op)
        };
        match cut {
            Cut::Close(k) => {
                let n = self.close_points()[k];
                let landed = self.changes.iter().filter(|c| c.end <= n).count();
                let next = self.changes.iter().find(|c| c.end > n).map_or("none".into(), what);
                let label = format!(
                    "close at {n} of {} bytes ({}%): {landed}/{} writes landed, next {next}",
                    self.total,
                    n * 100 / self.total,
                    self.changes.len()
                );
                (Fault::Close { dir: Dir::Rx, after_bytes: n }, label)
            }
            Cut::Corrupt(pct) => {
                (Fault::Corrupt { dir: Dir::Rx, frame: at(pct).frame }, format!("corrupt frame of {}", what(at(pct))))
            }
            Cut::Drop(pct) => {
                (Fault::Drop { dir: Dir::Rx, frame: at(pct).frame }, format!("drop frame of {}", what(at(pct))))
            }
            Cut::Stall(pct, ms) => {
                (Fault::Stall { frame: at(pct).frame, ms }, format!("stall {ms} ms before frame of {}", what(at(pct))))
            }
        }
    }
}

/// The sentence a cut run must end its message with when the board it
/// leaves may not start.
pub const MAY_NOT_START: &str = "The board may not start until then";

/// One cell's facts, as the table shows them.
#[derive(serde::Serialize)]
struct Record<'a> {
    op: &'a str,
    command: String,
    cell: &'a str,
    cut: &'a str,
    boots: bool,
    why_not: Option<String>,
    message: String,
    rerun: bool,
    files_kept: bool,
    detail: String,
}

fn record(r: &Record) {
    let Some(path) = std::env::var_os("MPIMG_MATRIX_OUT") else { return };
    use std::io::Write;
    let line = serde_json::to_string(r).unwrap() + "\n";
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(line.as_bytes()).unwrap();
}

/// The files of `before` that `now` holds nowhere with their bytes (a
/// replaced file may hold the bytes of `after`).
fn lost(row: &Row, before: &Files, after: &Files, now: &Check) -> Vec<String> {
    let holds = |path: &str, sha: &str| {
        now.places.values().flatten().any(|f| {
            f.files.get(path).map(String::as_str) == Some(sha)
                || (row.replaced.iter().any(|r| r == path) && f.files.get(path) == after.files.get(path))
        })
    };
    before.files.iter().filter(|(p, sha)| !holds(p, sha)).map(|(p, _)| p.clone()).collect()
}

/// Run one cell: the cut run, then (for a close) the same command again on
/// the same flash. Records the facts, then asserts them.
pub fn cell(op: Op, cut: Cut, name: &str) {
    let Some(r) = reference(op) else { return };
    let row = &r.row;
    let (fault, label) = r.fault(cut);
    let dir = row.workdir();
    let d = start(row, &row.initial, vec![fault], false);
    let first = row.run(&d, dir.path());
    let fired = d.sim.stats().faults_fired;
    let cut_flash = d.bytes();
    let after_cut = row.check(&cut_flash).unwrap();
    let message = first.err.lines().last().unwrap_or_default().to_string();
    let closing = matches!(cut, Cut::Close(_));
    // The same command again (a close), on the board as the cut left it.
    let (second, end) = if closing {
        drop(d);
        let d = start(row, &cut_flash, vec![], false);
        let run = row.run(&d, dir.path());
        (Some(run), d.bytes())
    } else {
        (None, cut_flash.clone())
    };
    let end_check = if row.byte_exact && end == r.end { None } else { row.check(&end) };
    let finished = second.as_ref().map_or(first.code == 0, |s| s.code == 0);
    // Where littlefs puts blocks may differ; the bootloader and table may not.
    let same_end = match &end_check {
        None => true,
        Some(c) => !row.byte_exact && end[..0x9000] == r.end[..0x9000] && c.files() == r.files_after && c.boots(),
    };
    let completed = finished && same_end;
    let (before, after) = (r.files_before.as_ref().ok(), r.files_after.as_ref().ok());
    // Files missing from the flash after the cut: a carrying run keeps them
    // in its host backup meanwhile (and the re-run restores them).
    let (mut gone, mut in_backup) = (vec![], vec![]);
    if let (false, Some(b), Some(a)) = (row.wipes, before, after) {
        let missing = lost(row, b, a, &after_cut);
        if row.carries && super::files_in(dir.path()).iter().any(|f| f.starts_with("mpimg-backup-")) {
            in_backup = missing;
        } else {
            gone = missing;
        }
        if let Some(c) = &end_check {
            gone.extend(lost(row, b, a, c));
        }
    }
    let detail = format!(
        "first run exit {} ({} fault fired){}; re-run {}",
        first.code,
        fired.len(),
        if in_backup.is_empty() { String::new() } else { format!(", files only in the host backup: {in_backup:?}") },
        second.as_ref().map_or("not needed".to_string(), |s| match s.code {
            0 => "exit 0".to_string(),
            c => format!("exit {c}: {}", s.err.lines().last().unwrap_or_default()),
        })
    );
    record(&Record {
        op: op.title(),
        command: row.command(),
        cell: name,
        cut: &label,
        boots: after_cut.boots(),
        why_not: after_cut.mpimg.clone().err(),
        message: message.clone(),
        rerun: completed,
        files_kept: gone.is_empty(),
        detail: detail.clone(),
    });

    let ctx = format!("{} / {name} ({label}): {detail}\nfirst run:\n{}", op.title(), first.err);
    assert_eq!(fired.len(), 1, "{ctx}: the fault did not fire");
    // (1) Both checks agree; a board that may not start is said to.
    assert_eq!(
        after_cut.mpimg.is_ok(),
        after_cut.independent.is_ok(),
        "{ctx}: {:?} vs {:?}",
        after_cut.mpimg,
        after_cut.independent
    );
    if !after_cut.boots() {
        assert!(
            message.contains(MAY_NOT_START),
            "{ctx}: the board does not start ({:?}) and the message does not say so",
            after_cut.mpimg
        );
    }
    // (2) The re-run (or the run itself, for a survived fault) ends where the reference did.
    if let Some(s) = &second {
        assert_eq!(s.code, 0, "{ctx}\nre-run:\n{}", s.err);
    } else {
        assert_eq!(first.code, 0, "{ctx}: a {fault} must be survived");
    }
    if row.byte_exact {
        if let Some(at) = first_diff(&end, &r.end) {
            panic!("{ctx}: the end state differs from the uninterrupted run's first at {at:#x}");
        }
    } else {
        let c = end_check.as_ref().unwrap();
        assert!(c.boots(), "{ctx}: after the re-run the board does not start: {:?}", c.mpimg);
        if let Some(at) = first_diff(&end[..0x9000], &r.end[..0x9000]) {
            panic!("{ctx}: the bootloader or table differs from the uninterrupted run's at {at:#x}");
        }
        assert_eq!(c.files(), r.files_after, "{ctx}: the files differ from the uninterrupted run's");
    }
    assert!(gone.is_empty(), "{ctx}: user files lost: {gone:?}");
}
