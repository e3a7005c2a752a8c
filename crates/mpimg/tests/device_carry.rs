//! Table edits on esp-sim boards keep the files (issue 10, devices). A board
//! holds a real firmware whose vfs has the test tree of [`crate::carry`]
//! (134 files in 12 directories, 300 KB and empty files): the file tests'
//! littlefs 2.0, littlefs 2.1 (littlefs-python's) and FAT images on esp32,
//! littlefs 2.0 on esp32s3.
//!
//! - Every edit of the file tests, on each of those boards: the
//!   board's bootloader and table afterwards are those of the same edit on
//!   the firmware file, and its vfs reads (littlefs-python, block count of
//!   the new size) as the file's does, which is what the board held before.
//! - A link cut at each point of `-f 8M --table ota` (one test each), placed
//!   by esp-sim's trace of a whole run (the request the cut lands before or
//!   in), checked by what the first run said and what the flash held; then
//!   the same command, run again, leaves every file in place.
//! - Another board's backup is not used; another change is refused while a
//!   backup waits; a board whose table changed meanwhile is refused;
//!   `--keep-backup` and `--json`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use esp_sim::fault::Dir;
use esp_sim::{Fault, Traced};
use serde_json::Value;

use crate::carry::{bases, dump, CSV, KINDS};
use crate::util::sim::{self, Dev};
use crate::util::{files_in, firmware, run_mpimg_env, text, Run};

const SIZE: u32 = 8 << 20;
/// "Now" for mpimg's runs: names the backups (2025-11-29 10:15:00 UTC).
const NOW: &str = "1764411300";
const MADE: &str = "2025-11-29 10:15:00 UTC";

/// A chip's firmware with files in its vfs, and what littlefs-python (or mtools) reads there.
struct Board {
    chip: &'static str,
    bl: u32,
    image: PathBuf,
    /// `lfs` or `fat`: how the checker reads it.
    reader: &'static str,
    dump: Value,
    /// "135 files (487 KiB)", as the Kept line says it.
    files: &'static str,
}

struct Fixtures {
    _dir: tempfile::TempDir,
    py: PathBuf,
    /// esp32 with littlefs 2.0, 2.1 and FAT (the file tests' images), esp32s3 with littlefs 2.0.
    boards: Vec<Board>,
    /// Other files (3, 69 KiB) on the esp32 firmware.
    other: Board,
}

static FIXTURES: OnceLock<Option<Fixtures>> = OnceLock::new();

fn fixtures() -> Option<&'static Fixtures> {
    FIXTURES.get_or_init(make_fixtures).as_ref()
}

/// `fw` with the tree at `tree` put into a new littlefs in vfs, as `out`.
fn with_files(d: &Path, fw: &Path, tree: &Path, out: &str) {
    let mut top: Vec<String> =
        std::fs::read_dir(tree).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    top.sort();
    let mut args = vec![fw.to_str().unwrap(), "-q", "--fs", "mkfs", "--fs", "put"];
    args.extend(top.iter().map(String::as_str));
    args.extend(["/", "-o", out]);
    let r = mpimg(d, &args);
    assert_eq!(r.code, 0, "{}", r.err);
}

fn make_fixtures() -> Option<Fixtures> {
    let bases = bases()?;
    let e32 = firmware("ESP32_GENERIC-20240602-v1.23.0.bin")?;
    let s3 = firmware("ESP32_GENERIC_S3-FLASH_4M-20240602-v1.23.0.bin")?;
    let py = bases.py.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = ["135 files (487 KiB)", "134 files (486 KiB)", "134 files (486 KiB)"];
    let mut boards: Vec<Board> = KINDS
        .iter()
        .zip(&bases.images)
        .zip(files)
        .map(|((kind, (image, dump)), files)| Board {
            chip: "esp32",
            bl: 0x1000,
            image: image.clone(),
            reader: kind.reader(),
            dump: dump.clone(),
            files,
        })
        .collect();
    let image = d.join("esp32s3.bin");
    with_files(d, &s3, &bases.tree, image.to_str().unwrap());
    let read = dump(&py, &image, 0, "vfs", "lfs");
    boards.push(Board { chip: "esp32s3", bl: 0, image, reader: "lfs", dump: read, files: files[0] });
    let other = d.join("other");
    std::fs::create_dir_all(other.join("lib")).unwrap();
    std::fs::write(other.join("main.py"), b"print('the other board')\n").unwrap();
    std::fs::write(other.join("lib/other.bin"), vec![0x5Au8; 70_000]).unwrap();
    let image = d.join("other.bin");
    with_files(d, &e32, &other, image.to_str().unwrap());
    let read = dump(&py, &image, 0x1000, "vfs", "lfs");
    let other = Board { chip: "esp32", bl: 0x1000, image, reader: "lfs", dump: read, files: "3 files (69 KiB)" };
    Some(Fixtures { _dir: dir, py, boards, other })
}

/// mpimg with "now" fixed (backup names and times).
fn mpimg(dir: &Path, args: &[&str]) -> Run {
    let o = run_mpimg_env(dir, args, &[("SOURCE_DATE_EPOCH", NOW)]);
    Run { out: text(&o.stdout), err: text(&o.stderr), code: o.status.code().unwrap_or(-1) }
}

/// Run `edit` on the board's port; the arguments with the port first.
fn on_board(d: &Dev, edit: &str) -> Run {
    let port = d.port();
    let mut args = vec![port.as_str()];
    args.extend(edit.split_whitespace());
    mpimg(d.dir.path(), &args)
}

/// The same edit on the firmware file: the output file.
fn on_file(b: &Board, edit: &str, dir: &Path) -> PathBuf {
    std::fs::write(dir.join("table.csv"), CSV).unwrap();
    let out = dir.join(format!("{}-file.bin", b.chip));
    let mut args = vec![b.image.to_str().unwrap(), "-q"];
    args.extend(edit.split_whitespace());
    args.extend(["-o", out.to_str().unwrap()]);
    let r = mpimg(dir, &args);
    assert_eq!(r.code, 0, "{edit} on the file: {}", r.err);
    out
}

/// The board's flash from its bootloader offset on, as a firmware file (to read it as one).
fn as_file(d: &Dev, bl: u32, path: &Path) -> PathBuf {
    std::fs::write(path, &d.bytes()[bl as usize..]).unwrap();
    path.to_path_buf()
}

/// The board holds what the edit of the file gives: bootloader and table
/// byte for byte, and a vfs where the file's is that reads as the original's.
#[track_caller]
fn same_as_file(f: &Fixtures, b: &Board, d: &Dev, file_out: &Path, what: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let board = as_file(d, b.bl, &scratch.path().join("board.bin"));
    let (on_board, on_file) = (std::fs::read(&board).unwrap(), std::fs::read(file_out).unwrap());
    let end = (0x9000 - b.bl) as usize;
    assert!(on_board[..end] == on_file[..end], "{what}: bootloader and table as on the file");
    let (got, want) = (dump(&f.py, &board, b.bl, "vfs", b.reader), dump(&f.py, file_out, b.bl, "vfs", b.reader));
    assert_eq!((&got["offset"], &got["size"]), (&want["offset"], &want["size"]), "{what}: where vfs is");
    assert_eq!(got["fs"], want["fs"], "{what}: the vfs as littlefs-python (or mtools) reads it");
    assert_eq!(got["fs"]["files"], b.dump["fs"]["files"], "{what}: files, bytes, mtimes, attributes as before");
    if b.reader == "lfs" {
        assert_eq!(got["fs"]["block_count"], Value::from(got["size"].as_u64().unwrap() / 4096), "{what}");
        assert_eq!(got["fs"]["dirs"], b.dump["fs"]["dirs"], "{what}: directories and their attributes");
        assert_eq!(got["fs"]["disk_version"], b.dump["fs"]["disk_version"], "{what}: disk version");
    } else {
        let names = |v: &Value| v["fs"]["dirs"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&got), names(&b.dump), "{what}: directories");
    }
}

fn start(b: &Board) -> Dev {
    sim::start(b.chip, SIZE, Some(&b.image), vec![])
}

const EDITS: [&str; 7] = [
    "-f 8M --resize vfs=0",
    "-f 8M --table ota",
    "--resize factory=2M",
    "-f 8M -a 0x200000 --table ota",
    "--resize vfs=1M",
    "--table nvs=7B,factory=2M,vfs=0",
    "--from-csv table.csv",
];

/// Every edit on the `nth` board of `chip` (esp32: littlefs 2.0, 2.1, FAT).
fn every_edit_keeps_the_files(chip: &str, nth: usize) {
    let Some(f) = fixtures() else { return };
    let files = tempfile::tempdir().unwrap();
    if let Some(b) = f.boards.iter().filter(|b| b.chip == chip).nth(nth) {
        for edit in EDITS {
            let what = format!("{chip} {} {edit}", b.reader);
            let d = start(b);
            std::fs::write(d.dir.path().join("table.csv"), CSV).unwrap();
            let r = on_board(&d, edit);
            assert_eq!(r.code, 0, "{what}: {}", r.err);
            let kept = format!("Kept {} of 'vfs'", b.files);
            assert!(r.err.lines().any(|l| l.starts_with(&kept)), "{what}: {}", r.err);
            // A FAT volume in a partition grown in place is left as it is: nothing to save.
            let saved = r.err.lines().find_map(|l| l.strip_prefix("Saved the files to carry in "));
            match saved.and_then(|l| l.split(':').next()) {
                Some(at) => assert!(r.err.contains(&format!("Removed the backup {at}: the files read back as saved"))),
                None => assert!(r.err.contains("the FAT12 volume stays"), "{what}: {}", r.err),
            }
            assert_eq!(files_in(d.dir.path()), ["flash.bin", "table.csv"], "{what}: the backup is gone");
            let out = on_file(b, edit, files.path());
            same_as_file(f, b, &d, &out, &what);
        }
    }
}

#[test]
fn every_edit_keeps_the_files_on_esp32_littlefs_2_0() {
    every_edit_keeps_the_files("esp32", 0);
}

#[test]
fn every_edit_keeps_the_files_on_esp32_littlefs_2_1() {
    every_edit_keeps_the_files("esp32", 1);
}

#[test]
fn every_edit_keeps_the_files_on_esp32_fat() {
    every_edit_keeps_the_files("esp32", 2);
}

#[test]
fn every_edit_keeps_the_files_on_esp32s3() {
    every_edit_keeps_the_files("esp32s3", 0);
}

/// What a whole run of the cut tests' edit sends, and what it leaves.
struct Reference {
    trace: Vec<Traced>,
    /// The same edit on the firmware file.
    file_out: PathBuf,
    _dir: tempfile::TempDir,
}

const CUT_EDIT: &str = "-f 8M --table ota";

static REFERENCE: OnceLock<Option<Reference>> = OnceLock::new();

fn reference() -> Option<(&'static Fixtures, &'static Reference)> {
    let f = fixtures()?;
    let r = REFERENCE.get_or_init(|| {
        let b = &f.boards[0];
        let d = sim::start_with(b.chip, SIZE, None, Some(&b.image), vec![], |c| c.trace = true);
        let r = on_board(&d, CUT_EDIT);
        assert_eq!(r.code, 0, "{}", r.err);
        let dir = tempfile::tempdir().unwrap();
        let file_out = on_file(b, CUT_EDIT, dir.path());
        same_as_file(f, b, &d, &file_out, "the whole run");
        Some(Reference { trace: d.sim.stats().trace, file_out, _dir: dir })
    });
    r.as_ref().map(|r| (f, r))
}

/// The index in the trace of the first request after `from` that `pick` takes.
fn find(trace: &[Traced], from: usize, pick: impl Fn(&Traced) -> bool) -> usize {
    from + trace[from..].iter().position(pick).unwrap_or_else(|| panic!("no such request after {from}"))
}

fn is_write(t: &Traced) -> bool {
    matches!(t.op.as_str(), "ERASE_REGION" | "FLASH_DEFL_BEGIN" | "FLASH_BEGIN")
}

/// Offset of a FLASH_DEFL_BEGIN (its fourth word).
fn begin_at(t: &Traced) -> Option<u32> {
    (t.op == "FLASH_DEFL_BEGIN").then(|| t.words.get(3).copied()).flatten()
}

const OLD_VFS: std::ops::Range<u32> = 0x200000..0x400000;
const NEW_VFS: u32 = 0x410000;

/// Where a cut lands: the request it comes before (the request does not get
/// through) or in the middle of (its frame is cut short).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cut {
    /// In the middle of the reads of the old vfs.
    TreeRead,
    /// After the backup is saved, before the first erase.
    AfterBackup,
    /// After the data partitions are erased, before the header and table.
    BeforeTable,
    /// In the table's data frame (the header is written already).
    MidTable,
    /// In the middle of writing the new vfs.
    Restore,
    /// Before the whole-partition MD5 that reads the new vfs back.
    Verify,
}

/// (bytes from the host after which the port closes, the index of the
/// request cut: kept out whole, or cut short inside its frame).
fn place(trace: &[Traced], cut: Cut) -> (u64, usize) {
    // Nothing is written before the backup is saved, and the tree is read before that (the
    // end of the run may read the header of the new ota_1, in the old vfs's place, again).
    let first_write = find(trace, 0, is_write);
    let vfs_reads: Vec<usize> =
        (0..first_write).filter(|&i| trace[i].op == "READ_FLASH" && OLD_VFS.contains(&trace[i].words[0])).collect();
    assert!(vfs_reads.len() > 10, "the tree is read before the first write");
    let header = find(trace, first_write, |t| begin_at(t).is_some_and(|a| a < 0x8000));
    let table = find(trace, header, |t| begin_at(t) == Some(0x8000));
    let vfs = find(trace, table, |t| begin_at(t).is_some_and(|a| a >= NEW_VFS));
    let verify = find(trace, vfs, |t| t.op == "SPI_FLASH_MD5" && t.words[..2] == [NEW_VFS, 0x3f0000]);
    let data: Vec<usize> = (vfs..verify).filter(|&i| trace[i].op == "FLASH_DEFL_DATA").collect();
    let before = |i: usize| (trace[i].end - 1, i);
    let inside = |i: usize| (trace[i].end - 7, i);
    match cut {
        Cut::TreeRead => before(vfs_reads[vfs_reads.len() / 2]),
        Cut::AfterBackup => before(first_write),
        Cut::BeforeTable => before(header),
        Cut::MidTable => inside(table + 1),
        Cut::Restore => inside(data[data.len() / 2]),
        Cut::Verify => before(verify),
    }
}

/// The bytes of the table sector and the header's flash size byte.
fn table_and_size(flash: &[u8], bl: u32) -> (&[u8], u8) {
    (&flash[0x8000..0x9000], flash[bl as usize + 3] >> 4)
}

/// Cut a run of `-f 8M --table ota` at `cut`, check where it landed, run the
/// same command again: every file in place, the backup gone.
fn cut_then_rerun(cut: Cut) {
    let Some((f, reference)) = reference() else { return };
    let b = &f.boards[0];
    let before = sim::flash_image(&std::fs::read(&b.image).unwrap(), b.bl, SIZE);
    let (at, index) = place(&reference.trace, cut);
    let d = sim::start_with(
        b.chip,
        SIZE,
        None,
        Some(&b.image),
        vec![Fault::Close { dir: Dir::Rx, after_bytes: at }],
        |c| c.trace = true,
    );
    let r = on_board(&d, CUT_EDIT);
    assert_eq!(r.code, 1, "{cut:?}: the cut run fails\n{}", r.err);
    // The cut landed where it was placed: the requests the device handled are the reference's up to it.
    let handled = d.sim.stats().trace;
    assert_eq!(handled.len(), index, "{cut:?}: requests handled before the cut");
    assert!(handled.iter().zip(&reference.trace).all(|(a, b)| a == b), "{cut:?}: the same requests as a whole run");
    assert_eq!(d.sim.stats().faults_fired.len(), 1);

    let flash = d.bytes();
    let backups: Vec<String> = files_in(d.dir.path()).into_iter().filter(|n| n.starts_with("mpimg-backup-")).collect();
    let port = d.port();
    let name =
        format!("mpimg-backup-{}-02e551000010-20251129T101500Z.bin", port.trim_start_matches("/dev/").replace('/', ""));
    let (old_table, old_size) = table_and_size(&before, b.bl);
    let (table, size) = table_and_size(&flash, b.bl);
    let new_table = &std::fs::read(&reference.file_out).unwrap()[(0x8000 - b.bl) as usize..(0x9000 - b.bl) as usize];
    match cut {
        Cut::TreeRead => {
            assert!(!r.err.contains("Saved the files"), "{}", r.err);
            assert!(backups.is_empty(), "no backup yet: {backups:?}");
            assert!(flash == before, "nothing written");
        }
        _ => {
            let said = format!(
                "Saved the files to carry in {name}: if this run is cut off, the same command run again finishes it"
            );
            assert!(r.err.lines().any(|l| l == said), "{cut:?}: {}", r.err);
            assert_eq!(backups, std::slice::from_ref(&name), "{cut:?}: the backup is kept for the re-run");
            assert!(
                r.err.trim_end().ends_with(&format!(
                    "the files are safe in the backup {name}: the same command run again finishes the edit"
                )),
                "{cut:?}: {}",
                r.err
            );
        }
    }
    match cut {
        Cut::TreeRead => {}
        Cut::AfterBackup => assert!(flash == before, "nothing erased yet"),
        Cut::BeforeTable => {
            assert!(flash[0x9000..0xd000].iter().all(|&x| x == 0xFF), "nvs erased");
            assert_eq!((table, size), (old_table, old_size), "header and table as they were");
        }
        Cut::MidTable => assert_eq!((table, size), (old_table, 3), "the header says 8 MB, the table is the old one"),
        Cut::Restore | Cut::Verify => {
            assert_eq!((table, size), (new_table, 3), "header and table are the new ones");
            let region = &flash[NEW_VFS as usize..SIZE as usize];
            let written = region.iter().any(|&x| x != 0xFF);
            assert!(written, "{cut:?}: the new vfs is (partly) written");
        }
    }

    let d = sim::restart(d, b.chip, vec![]);
    let r = on_board(&d, CUT_EDIT);
    assert_eq!(r.code, 0, "{cut:?}: the re-run finishes\n{}", r.err);
    if cut != Cut::TreeRead {
        let finishing = format!("Finishing the table edit begun on {MADE}: the files come from its backup {name}");
        assert!(r.err.lines().any(|l| l == finishing), "{cut:?}: {}", r.err);
        assert!(r.err.contains(&format!("Removed the backup {name}: the files read back as saved")), "{}", r.err);
    }
    assert!(
        r.err.lines().any(|l| l == "Kept 135 files (487 KiB) of 'vfs': moved to 0x410000, 0x3f0000 bytes"),
        "{}",
        r.err
    );
    assert_eq!(files_in(d.dir.path()), ["flash.bin"], "{cut:?}: no backup left");
    same_as_file(f, b, &d, &reference.file_out, &format!("{cut:?}"));
}

#[test]
fn cut_during_the_tree_read() {
    cut_then_rerun(Cut::TreeRead);
}

#[test]
fn cut_after_the_backup() {
    cut_then_rerun(Cut::AfterBackup);
}

#[test]
fn cut_between_erase_and_table_write() {
    cut_then_rerun(Cut::BeforeTable);
}

#[test]
fn cut_mid_table_write() {
    cut_then_rerun(Cut::MidTable);
}

#[test]
fn cut_during_the_restore() {
    cut_then_rerun(Cut::Restore);
}

#[test]
fn cut_during_verify() {
    cut_then_rerun(Cut::Verify);
}

/// The move that overwrites the old filesystem (vfs 64 KB later): cut while
/// the new one is half written, neither place holds the files, the backup does.
#[test]
fn cut_while_the_move_overwrites_the_old_filesystem() {
    let Some(f) = fixtures() else { return };
    let b = &f.boards[0];
    let edit = "--resize factory=2M";
    let d = sim::start_with(b.chip, SIZE, None, Some(&b.image), vec![], |c| c.trace = true);
    assert_eq!(on_board(&d, edit).code, 0);
    let trace = d.sim.stats().trace;
    let vfs = find(&trace, 0, |t| begin_at(t) == Some(0x210000));
    let data: Vec<usize> = (vfs..trace.len()).filter(|&i| trace[i].op == "FLASH_DEFL_DATA").collect();
    let at = trace[data[data.len() / 2]].end - 7;
    let d = sim::start(b.chip, SIZE, Some(&b.image), vec![Fault::Close { dir: Dir::Rx, after_bytes: at }]);
    assert_eq!(on_board(&d, edit).code, 1);
    // The table is the new one, and its vfs (0x210000), half written over most of the old
    // filesystem's blocks, does not hold the files: only the backup does.
    let scratch = tempfile::tempdir().unwrap();
    let cut = as_file(&d, b.bl, &scratch.path().join("cut.bin"));
    let py = std::process::Command::new(&f.py)
        .arg(crate::util::root().join("crates/mpimg/tests/scripts/carry_check.py"))
        .args(["dump", cut.to_str().unwrap(), "0x1000", "vfs", "lfs"])
        .output()
        .unwrap();
    if py.status.success() {
        let v: Value = serde_json::from_slice(&py.stdout).unwrap();
        assert_eq!(v["offset"], 0x210000, "the new table");
        assert_ne!(v["fs"]["files"], b.dump["fs"]["files"], "the new vfs is not complete");
    }
    let d = sim::restart(d, b.chip, vec![]);
    let r = on_board(&d, edit);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.err.contains("Finishing the table edit begun on"), "{}", r.err);
    let out = on_file(b, edit, scratch.path());
    same_as_file(f, b, &d, &out, edit);
}

/// Cut a run of the reference edit after its backup: the board, and the backup's name.
fn cut_after_backup(b: &Board, mac: Option<[u8; 6]>) -> Option<(Dev, String)> {
    let (_, reference) = reference()?;
    let (at, _) = place(&reference.trace, Cut::AfterBackup);
    let d = sim::start_with(
        b.chip,
        SIZE,
        None,
        Some(&b.image),
        vec![Fault::Close { dir: Dir::Rx, after_bytes: at }],
        |c| c.mac = mac,
    );
    assert_eq!(on_board(&d, CUT_EDIT).code, 1);
    let name = files_in(d.dir.path()).into_iter().find(|n| n.starts_with("mpimg-backup-")).expect("a backup");
    Some((d, name))
}

/// A backup for another board (another MAC) in the directory is left alone:
/// this board's edit reads its own files and keeps them.
#[test]
fn another_boards_backup_is_not_used() {
    let Some(f) = fixtures() else { return };
    let Some((a, name)) = cut_after_backup(&f.boards[0], Some([0x24, 0x0a, 0xc4, 0, 0, 0xa1])) else { return };
    // Board B holds other files, on the same port name pattern, with the same firmware.
    let d = sim::start_with("esp32", SIZE, None, Some(&f.other.image), vec![], |c| {
        c.mac = Some([0x24, 0x0a, 0xc4, 0, 0, 0xb2])
    });
    std::fs::copy(a.dir.path().join(&name), d.dir.path().join(&name)).unwrap();
    let r = on_board(&d, CUT_EDIT);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(!r.err.contains("Finishing"), "{}", r.err);
    let kept = format!("Kept {} of 'vfs': moved to 0x410000, 0x3f0000 bytes", f.other.files);
    assert!(r.err.contains(&kept), "{}", r.err);
    assert_eq!(files_in(d.dir.path()), ["flash.bin".to_string(), name], "A's backup stays, B's is gone");
    let scratch = tempfile::tempdir().unwrap();
    let v = dump(&f.py, &as_file(&d, 0x1000, &scratch.path().join("b.bin")), 0x1000, "vfs", "lfs");
    assert_eq!(v["fs"]["files"], f.other.dump["fs"]["files"], "B's own files");
}

/// While a backup of an unfinished edit waits, another edit of the board is
/// refused (nothing written); a run that only reads is warned; the same
/// edit then finishes.
#[test]
fn another_change_waits_for_the_unfinished_one() {
    let Some(f) = fixtures() else { return };
    let b = &f.boards[0];
    let Some((d, name)) = cut_after_backup(b, None) else { return };
    let d = sim::restart(d, b.chip, vec![]);
    let before = d.bytes();
    let r = on_board(&d, "--resize vfs=1M");
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err.lines().last().unwrap(),
        format!(
            "error: a table edit on this board made on {MADE} did not finish: its backup of the files is {name}, and \
             this run asks for another change: run that edit again (the same options) to finish it and put the files \
             back; to give them up, move the backup out of the backup directory"
        )
    );
    assert!(d.bytes() == before, "nothing written");
    let r = on_board(&d, "--fs ls");
    assert_eq!(r.code, 0, "{}", r.err);
    let warned = format!("warning: a table edit on this board made on {MADE} did not finish: its backup of the files is {name}; run that edit again to finish it");
    assert!(r.err.lines().any(|l| l == warned), "{}", r.err);
    let r = on_board(&d, CUT_EDIT);
    assert_eq!(r.code, 0, "{}", r.err);
    let (_, reference) = reference().unwrap();
    same_as_file(f, b, &d, &reference.file_out, "finished after a refusal");
}

/// A board whose table is neither the old nor the new one of the waiting
/// backup (flashed with something else meanwhile) is refused: the backup
/// would not fit it.
#[test]
fn a_board_changed_meanwhile_is_refused() {
    let Some(f) = fixtures() else { return };
    let b = &f.boards[0];
    let Some((d, name)) = cut_after_backup(b, None) else { return };
    // Someone wrote the OTA firmware's table (vfs at 0x310000) meanwhile.
    let Some(ota) = firmware("ESP32_GENERIC-OTA-20250415-v1.25.0.bin") else { return };
    let mut flash = d.bytes();
    flash[0x8000..0x9000].copy_from_slice(&std::fs::read(ota).unwrap()[0x7000..0x8000]);
    std::fs::write(&d.flash, &flash).unwrap();
    let d = sim::restart(d, b.chip, vec![]);
    let r = on_board(&d, CUT_EDIT);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err.lines().last().unwrap(),
        format!(
            "error: the partition table on this board is neither the one before nor the one after the table edit made \
             on {MADE} that did not finish (its backup of the files is {name}): the board was changed since: the files \
             are in that backup; to edit the board anyway, move the backup out of the backup directory"
        )
    );
    assert!(d.bytes() == flash, "nothing written");
}

/// `--keep-backup` keeps it as a finished one (which a later run ignores);
/// `--json` says where it is and what happened to vfs.
#[test]
fn keep_backup_and_json() {
    let Some(f) = fixtures() else { return };
    let b = &f.boards[3];
    let d = start(b);
    let port = d.port();
    let r = on_board(&d, &format!("{CUT_EDIT} --keep-backup --json --backup-dir saved"));
    assert_eq!(r.code, 0, "{}", r.err);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    let name = format!(
        "saved/mpimg-backup-{}-02e551000012-20251129T101500Z-done.bin",
        port.trim_start_matches("/dev/").replace('/', "")
    );
    assert_eq!(v["result"]["backup"], serde_json::json!({"path": name, "resumed": null, "state": "kept"}));
    assert_eq!(v["result"]["filesystems"][0]["action"], "recreated");
    assert_eq!(v["result"]["filesystems"][0]["contents"]["files"], 135);
    assert!(d.dir.path().join(&name).is_file());
    // A later edit is not held up by it.
    let r = on_board(&d, "--resize vfs=1M --backup-dir saved");
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.err.contains("Kept 135 files (487 KiB) of 'vfs': shrunk to 0x100000 bytes"), "{}", r.err);
}

/// `--json` on a run cut after its backup: one document whose error says
/// where the files are, and `result.backup` still pending.
#[test]
fn a_cut_run_in_json_names_its_backup() {
    let Some((f, reference)) = reference() else { return };
    let b = &f.boards[0];
    let (at, _) = place(&reference.trace, Cut::Restore);
    let d = sim::start(b.chip, SIZE, Some(&b.image), vec![Fault::Close { dir: Dir::Rx, after_bytes: at }]);
    let r = on_board(&d, &format!("{CUT_EDIT} --json"));
    assert_eq!((r.code, r.err.as_str()), (1, ""), "nothing but the document");
    let v: Value = serde_json::from_str(&r.out).unwrap();
    let name = files_in(d.dir.path()).into_iter().find(|n| n.starts_with("mpimg-backup-")).expect("a backup");
    assert_eq!(v["result"]["backup"], serde_json::json!({"path": name, "resumed": null, "state": "pending"}));
    let fix = v["error"]["fix"].as_str().unwrap();
    assert!(
        fix.ends_with(&format!(
            "the files are safe in the backup {name}: the same command run again finishes the edit"
        )),
        "{fix}"
    );
    assert!(v["error"]["message"].as_str().unwrap().starts_with("writing 0x"), "{}", v["error"]);
}

/// A cut edit's backup is found from any directory through its pointer in
/// the state directory: a run elsewhere whose filesystem does not mount
/// (the table is the new one, the files not yet back) says where the files
/// are instead of advising mkfs, another change is refused, and the same
/// edit run from there finishes it.
#[test]
fn a_cut_edit_is_found_from_another_directory() {
    let Some((f, reference)) = reference() else { return };
    let b = &f.boards[0];
    let state = tempfile::tempdir().unwrap();
    let env = [("SOURCE_DATE_EPOCH", NOW), ("MPIMG_STATE_DIR", state.path().to_str().unwrap())];
    let run = |dir: &Path, d: &Dev, edit: &str| {
        let port = d.port();
        let args: Vec<&str> = std::iter::once(port.as_str()).chain(edit.split_whitespace()).collect();
        let o = run_mpimg_env(dir, &args, &env);
        Run { out: text(&o.stdout), err: text(&o.stderr), code: o.status.code().unwrap_or(-1) }
    };
    let (at, _) = place(&reference.trace, Cut::Restore);
    let d = sim::start(b.chip, SIZE, Some(&b.image), vec![Fault::Close { dir: Dir::Rx, after_bytes: at }]);
    assert_eq!(run(d.dir.path(), &d, CUT_EDIT).code, 1);
    let name = files_in(d.dir.path()).into_iter().find(|n| n.starts_with("mpimg-backup-")).expect("a backup");
    let backup = std::fs::canonicalize(d.dir.path().join(&name)).unwrap().display().to_string();
    assert_eq!(files_in(&state.path().join("pending")), [format!("{name}.path")]);
    let d = sim::restart(d, b.chip, vec![]);
    let elsewhere = tempfile::tempdir().unwrap();
    let r = run(elsewhere.path(), &d, "--fs ls");
    assert_eq!(r.code, 1, "{}", r.err);
    let lines: Vec<&str> = r.err.lines().collect();
    assert!(lines.contains(&format!("warning: a table edit on this board made on {MADE} did not finish: its backup of the files is {backup}; run that edit again to finish it").as_str()), "{}", r.err);
    assert_eq!(
        lines.last().unwrap(),
        &format!(
            "error: the littlefs filesystem on 'vfs' is corrupt (mount: corrupted filesystem): a table edit on this \
             board made on {MADE} did not finish, and its backup {backup} holds the files: run that edit again (the \
             same options) to finish it and put them back"
        )
    );
    // Inspecting the board says the same where it shows the filesystem's usage.
    let r = run(elsewhere.path(), &d, "");
    let usage = format!(
        "Filesystem: the littlefs filesystem on 'vfs' is corrupt (mount: corrupted filesystem): a table edit on this \
         board made on {MADE} did not finish, and its backup {backup} holds the files: run that edit again (the same \
         options) to finish it and put them back"
    );
    assert!(r.out.lines().any(|l| l == usage), "{}", r.out);
    let before = d.bytes();
    let r = run(elsewhere.path(), &d, "--fs mkfs vfs");
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(r.err.ends_with("to give them up, move the backup out of the backup directory\n"), "{}", r.err);
    assert!(d.bytes() == before, "nothing written");
    let r = run(elsewhere.path(), &d, CUT_EDIT);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.err.contains("Finishing the table edit begun on"), "{}", r.err);
    same_as_file(f, b, &d, &reference.file_out, "finished from another directory");
    assert_eq!(files_in(d.dir.path()), ["flash.bin"], "the backup is gone");
    assert_eq!(files_in(&state.path().join("pending")), Vec::<String>::new(), "and its pointer");
}
