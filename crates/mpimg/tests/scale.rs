//! Boards at scale (issue 12), on esp-sim devices with flash files checked
//! byte for byte: sparse reads, backup and clone, `--fs sync`, and several
//! boards in one run.

use std::path::{Path, PathBuf};

use crate::util::fs::set_mtime;
use crate::util::sim::{self, assert_same_flash, flash_image, Dev};
use crate::util::{firmware, ok, run_mpimg_env, text, venv_python, Run};

const ESP32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const MB4: u32 = 4 << 20;
const VFS: (usize, usize) = (0x200000, 0x400000);
/// The files' modification times (T0 + their index).
const T0: u64 = 1_700_000_000;

/// mpimg in `dir` (without `SOURCE_DATE_EPOCH`: the files keep their own times).
fn mpimg(dir: &Path, args: &[&str]) -> Run {
    mpimg_env(dir, args, &[])
}

fn mpimg_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let o = run_mpimg_env(dir, args, env);
    Run { out: text(&o.stdout), err: text(&o.stderr), code: o.status.code().unwrap_or(-1) }
}

/// Deterministic text of `len` bytes (source code compresses like this).
fn source(len: usize, seed: u32) -> Vec<u8> {
    let words = ["def ", "return ", "x", " = ", "(self", ")", ":\n    ", "import ", "os", "\n", "0", "1"];
    let mut out = Vec::with_capacity(len + 16);
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    while out.len() < len {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        out.extend_from_slice(words[(s % words.len() as u32) as usize].as_bytes());
    }
    out.truncate(len);
    out
}

/// Write `files` (relative path, bytes) under `root`, each with time T0 + its index.
fn write_tree(root: &Path, files: &[(String, Vec<u8>)]) {
    for (i, (rel, data)) in files.iter().enumerate() {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        set_mtime(&p, T0 + i as u64);
    }
}

/// A project of about 100 KB in 12 files of 2 to 16 KB.
fn project_100k() -> Vec<(String, Vec<u8>)> {
    let sizes = [16_000, 14_000, 12_000, 10_000, 9_000, 8_000, 8_000, 7_000, 6_000, 5_000, 3_000, 2_000];
    sizes.iter().enumerate().map(|(i, &n)| (format!("lib/mod{i:02}.py"), source(n, i as u32))).collect()
}

/// 100 files of about 1 KB: 20 at the top, 80 in `lib/`.
fn tree_100() -> Vec<(String, Vec<u8>)> {
    (0..100)
        .map(|i| {
            let name = if i < 20 { format!("f{i:03}.py") } else { format!("lib/f{i:03}.py") };
            (name, source(700 + (i * 37) % 600, 1000 + i as u32))
        })
        .collect()
}

/// The ESP32 firmware with a littlefs vfs holding `files` (made by mpimg on
/// the file: mkfs, then sync), written to `dir/name`.
fn firmware_with(dir: &Path, name: &str, files: &[(String, Vec<u8>)]) -> Option<(PathBuf, Vec<u8>)> {
    let fw = firmware(ESP32)?;
    let src = dir.join(format!("{name}.src"));
    write_tree(&src, files);
    let out = dir.join(name);
    let r = mpimg(
        dir,
        &[
            fw.to_str().unwrap(),
            "--fs",
            "mkfs",
            "--fs",
            "sync",
            src.to_str().unwrap(),
            "/",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    ok(&r);
    let bytes = std::fs::read(&out).unwrap();
    Some((out, bytes))
}

/// (bytes read, bytes skipped) from `-d`'s device line.
fn read_and_skipped(err: &str) -> (u64, u64) {
    let line = err.lines().find(|l| l.starts_with("device: ")).unwrap_or_else(|| panic!("no device line in\n{err}"));
    let num = |after: &str| -> u64 {
        let i = line.find(after).unwrap_or_else(|| panic!("{line}"));
        line[..i].rsplit(' ').next().unwrap().parse().unwrap()
    };
    (num(" bytes read, "), num(" skipped (erased, by flash MD5)"))
}

/// A sparse `--read vfs` of a 2 MB vfs holding 100 KB of files: the bytes
/// are exactly the partition's, every erased 64 KB chunk is skipped, and
/// the MD5s asked cover the partition.
#[test]
fn sparse_read_of_a_2mb_vfs_holding_100kb() {
    let dir = tempfile::tempdir().unwrap();
    let Some((path, file)) = firmware_with(dir.path(), "fw-files.bin", &project_100k()) else { return };
    let d = sim::start("esp32", MB4, Some(&path), vec![]);
    let r = mpimg(d.dir.path(), &[&d.port(), "--read", "vfs=vfs.bin", "-d", "-n"]);
    ok(&r);
    let flash = flash_image(&file, 0x1000, MB4);
    let want = &flash[VFS.0..VFS.1];
    assert_eq!(std::fs::read(d.dir.path().join("vfs.bin")).unwrap(), want);
    let erased_chunks = want.chunks(0x10000).filter(|c| c.iter().all(|&b| b == 0xFF)).count() as u64;
    let used_sectors = want.chunks(0x1000).filter(|c| c.iter().any(|&b| b != 0xFF)).count() as u64;
    let (read, skipped) = read_and_skipped(&r.err);
    assert!(erased_chunks >= 26, "the files lie in at most 6 of the 32 chunks ({erased_chunks} erased)");
    assert!(skipped >= erased_chunks * 0x10000, "{skipped} skipped, {erased_chunks} chunks erased");
    assert_eq!(skipped % 0x1000, 0);
    // What was read: the sectors that hold data, and little else (the
    // inspection's headers; whole 64 KB chunks amid the files).
    assert!(read >= used_sectors * 0x1000, "{read} read, {used_sectors} sectors used");
    assert!(read + skipped <= 0x200000 + 0x4000, "{read} + {skipped}");
    let stats = d.sim.stats();
    assert!(stats.commands["SPI_FLASH_MD5"] >= 32, "{:?}", stats.commands);
    assert_same_flash(&d.bytes(), &flash);
}

/// `--backup` of a used board (app, files, NVS data), then `--flash` of the
/// backup to a blank board: the two flashes are identical. The backup is a
/// firmware file like any other. With `--erase-rest`, a board that held
/// something else becomes the same too (below the bootloader nothing changes).
#[test]
fn backup_then_flash_to_a_blank_board_gives_identical_flash() {
    let dir = tempfile::tempdir().unwrap();
    let files = project_100k();
    let Some((_, file)) = firmware_with(dir.path(), "fw-files.bin", &files) else { return };
    let mut used = flash_image(&file, 0x1000, MB4);
    used[0x9000..0x9040].copy_from_slice(&source(0x40, 7)); // NVS data
    let src = sim::start_over("esp32", MB4, Some(&used), None, vec![]);
    let r = mpimg(src.dir.path(), &[&src.port(), "--backup", "board.bin", "-n"]);
    ok(&r);
    let last = used.iter().rposition(|&b| b != 0xFF).unwrap() + 1;
    let end = last.div_ceil(0x1000) * 0x1000;
    let backup_path = src.dir.path().join("board.bin");
    let backup = std::fs::read(&backup_path).unwrap();
    assert_eq!(backup, used[0x1000..end], "the flash from 0x1000 to the end of its last used sector");
    assert!(
        r.err.contains(&format!(
            "Backed up flash 0x1000..{end:#x} to board.bin ({} bytes; the rest, to the end of the 4MB flash, is blank)",
            end - 0x1000
        )),
        "{}",
        r.err
    );
    assert_same_flash(&src.bytes(), &used);

    // Every mpimg command works on it.
    let got = dir.path().join("got");
    ok(&mpimg(dir.path(), &[backup_path.to_str().unwrap(), "--fs", "get", "/lib", got.to_str().unwrap()]));
    for (rel, data) in &files {
        assert_eq!(&std::fs::read(got.join(rel.trim_start_matches("lib/"))).unwrap(), data, "{rel}");
    }

    let blank = sim::start("esp32", MB4, None, vec![]);
    ok(&mpimg(blank.dir.path(), &[backup_path.to_str().unwrap(), "--flash", &blank.port(), "-n"]));
    assert_same_flash(&blank.bytes(), &used);

    let mut want = sim::foreign(MB4);
    let other = sim::start_over("esp32", MB4, Some(&want), None, vec![]);
    let r = mpimg(other.dir.path(), &[backup_path.to_str().unwrap(), "--flash", &other.port(), "--erase-rest", "-n"]);
    ok(&r);
    assert!(r.err.contains("erased to 0x400000"), "{}", r.err);
    want[0x1000..].copy_from_slice(&used[0x1000..]);
    assert_same_flash(&other.bytes(), &want);
}

/// The device's flash after `args` equals the same run on the firmware file
/// `fw` (written to `out.bin` and placed in erased flash).
fn same_as_on_file(d: &Dev, fw: &Path, args: &[&str]) -> Run {
    let out = d.dir.path().join("out.bin");
    let mut fa = vec![fw.to_str().unwrap()];
    fa.extend_from_slice(args);
    fa.extend_from_slice(&["-o", out.to_str().unwrap()]);
    let on_file = mpimg(d.dir.path(), &fa);
    ok(&on_file);
    let port = d.port();
    let mut da = vec![port.as_str(), "-n"];
    da.extend_from_slice(args);
    let r = mpimg(d.dir.path(), &da);
    ok(&r);
    assert_same_flash(&d.bytes(), &flash_image(&std::fs::read(&out).unwrap(), 0x1000, MB4));
    let sync_lines = |s: &str| s.lines().filter(|l| l.contains(" vfs:/")).map(String::from).collect::<Vec<_>>();
    assert_eq!(sync_lines(&r.err), sync_lines(&on_file.err));
    r
}

/// `--fs sync` on a device after one of 100 files changed, one was added
/// and one deleted: without `--delete` the deleted one stays, with it it
/// goes; each time the device's flash is what the same sync makes of the
/// firmware file, and littlefs-python reads the files back.
#[test]
fn sync_after_one_change_one_addition_one_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = tree_100();
    let Some((path, _)) = firmware_with(dir.path(), "fw-100.bin", &files) else { return };
    let Some(py) = venv_python() else { return };
    let d = sim::start("esp32", MB4, Some(&path), vec![]);
    let tree = d.dir.path().join("tree");
    write_tree(&tree, &files);
    let t = tree.to_str().unwrap();

    // Nothing changed: nothing written.
    let r = mpimg(d.dir.path(), &[&d.port(), "-n", "-d", "--fs", "sync", t, "/"]);
    ok(&r);
    assert!(
        r.err.lines().any(|l| l == format!("sync {t} -> vfs:/: 0 added, 0 updated, 0 deleted, 101 unchanged")),
        "{}",
        r.err
    );
    assert!(r.err.contains("blocks written: 0, blocks erased: 0"), "{}", r.err);
    assert!(r.err.contains("sectors written 0, erased 0"), "{}", r.err);

    // One changed (new size and time), one added, one deleted.
    files[50].1 = source(10_240, 4242);
    std::fs::write(tree.join(&files[50].0), &files[50].1).unwrap();
    set_mtime(&tree.join(&files[50].0), T0 + 5000);
    files.push(("lib/new.py".into(), source(3000, 77)));
    std::fs::write(tree.join("lib/new.py"), &files[100].1).unwrap();
    set_mtime(&tree.join("lib/new.py"), T0 + 5001);
    let gone = files.remove(7);
    std::fs::remove_file(tree.join(&gone.0)).unwrap();

    let r = same_as_on_file(&d, &path, &["--fs", "sync", t, "/"]);
    let lines: Vec<&str> = r.err.lines().filter(|l| l.contains(" vfs:/")).collect();
    assert_eq!(
        lines,
        [
            "updated vfs:/lib/f050.py",
            "added vfs:/lib/new.py",
            &format!("sync {t} -> vfs:/: 1 added, 1 updated, 0 deleted, 99 unchanged"),
        ]
    );
    let v = lfs_files(&py, &d.bytes(), d.dir.path());
    assert!(v.contains_key("f007.py"), "without --delete the file stays");

    // With --delete (boot.py, made by mkfs, protected by --exclude).
    let synced = d.dir.path().join("synced.bin");
    ok(&mpimg(d.dir.path(), &[path.to_str().unwrap(), "--fs", "sync", t, "/", "-o", synced.to_str().unwrap()]));
    let r = same_as_on_file(&d, &synced, &["--fs", "sync", "--delete", "--exclude", "boot.py", t, "/"]);
    let lines: Vec<&str> = r.err.lines().filter(|l| l.contains(" vfs:/")).collect();
    assert_eq!(
        lines,
        ["deleted vfs:/f007.py", &format!("sync {t} -> vfs:/: 0 added, 0 updated, 1 deleted, 101 unchanged")]
    );
    let v = lfs_files(&py, &d.bytes(), d.dir.path());
    let mut names: Vec<&String> = v.keys().collect();
    names.sort();
    let mut want: Vec<String> = files.iter().map(|f| f.0.clone()).chain(["boot.py".to_string()]).collect();
    want.sort();
    assert_eq!(names, want.iter().collect::<Vec<_>>());
    for (i, (rel, data)) in files.iter().enumerate() {
        use sha2::Digest;
        let sha: String = sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(v[rel]["sha256"], sha.as_str(), "{rel}");
        let t = if rel == "lib/f050.py" {
            T0 + 5000
        } else if rel == "lib/new.py" {
            T0 + 5001
        } else {
            T0 + i as u64 + u64::from(i >= 7)
        };
        let le: String = (t * 1_000_000_000).to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(v[rel]["mtime"], le.as_str(), "{rel}");
    }
}

/// littlefs-python's view of the vfs in `flash`: path -> {size, sha256, mtime}.
fn lfs_files(py: &Path, flash: &[u8], dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    let img = dir.join("vfs.img");
    std::fs::write(&img, &flash[VFS.0..VFS.1]).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/lfs_check.py");
    let o = std::process::Command::new(py).arg(script).arg("dump").arg(&img).arg("512").output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["files"].as_object().unwrap().clone()
}

/// `--flash` to four boards at once, one of which loses its port part way:
/// the other three hold the firmware, the summary names the failure, and
/// the run fails.
#[test]
fn flash_four_boards_one_of_them_unplugged() {
    let Some(path) = firmware(ESP32) else { return };
    let file = std::fs::read(&path).unwrap();
    let boards: Vec<Dev> = (0..4)
        .map(|i| {
            let faults = if i == 2 { esp_sim::fault::parse("close:300000").unwrap() } else { vec![] };
            sim::start("esp32", MB4, None, faults)
        })
        .collect();
    let ports: Vec<String> = boards.iter().map(Dev::port).collect();
    let dir = boards[0].dir.path();
    let r = mpimg(dir, &[path.to_str().unwrap(), "--flash", &ports.join(","), "-n"]);
    assert_eq!(r.code, 1, "{}\n{}", r.out, r.err);
    let want = flash_image(&file, 0x1000, MB4);
    for (i, b) in boards.iter().enumerate() {
        if i != 2 {
            assert_same_flash(&b.bytes(), &want);
        }
    }
    assert_ne!(boards[2].bytes(), want);
    assert!(r.err.ends_with(&format!("error: 1 of 4 boards failed: {}\n", ports[2])), "{}", r.err);
    for (i, p) in ports.iter().enumerate() {
        let flashed = format!("Flashed {} bytes to {p} at 0x1000, erased to 0x200000", file.len());
        assert_eq!(r.err.contains(&flashed), i != 2, "{}", r.err);
    }
    // The summary: one row per board, the failure named with what was written.
    let table: Vec<&str> = r.out.lines().skip_while(|l| !l.starts_with("Boards: ")).collect();
    assert_eq!(table[0], "Boards: 3 of 4 OK");
    let cols = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(cols(table[1]), ["Port", "MAC", "Result", "Bytes", "Time"]);
    for (i, p) in ports.iter().enumerate() {
        let row = cols(table[2 + i]);
        assert_eq!(row[0], *p);
        assert_eq!(row[1], "02:e5:51:00:00:10");
        assert_eq!(row[2], if i == 2 { "FAILED" } else { "OK" });
        assert!(row[3].parse::<u64>().unwrap() > 0);
        assert_eq!(row[5], "s");
    }
    assert_eq!(table.len(), 7, "{}", r.out);
    assert!(
        table[6].starts_with(&format!("{}: writing 0x", ports[2])) && table[6].contains("was interrupted"),
        "{}",
        table[6]
    );
}

/// `all` finds the boards among the ports it looks at (`$MPIMG_PORTS`),
/// skips a port with nothing on it, and `--json` is one document with a
/// per-board array.
#[test]
fn all_boards_with_json() {
    let Some(path) = firmware(ESP32) else { return };
    let boards: Vec<Dev> = (0..2).map(|_| sim::start("esp32", MB4, Some(&path), vec![])).collect();
    let dir = boards[0].dir.path();
    let ports = format!("{} /dev/pts/999 {}", boards[0].port(), boards[1].port());
    let r = mpimg_env(dir, &["all", "-n"], &[("MPIMG_PORTS", &ports)]);
    ok(&r);
    assert!(r.err.starts_with("/dev/pts/999: no ESP loader answered; skipped\n"), "{}", r.err);
    // Each board's report is a block on stderr; the summary is the product.
    for b in &boards {
        assert!(r.err.contains(&format!("== {} ==\nConnected to {}: esp32 ", b.port(), b.port())), "{}", r.err);
    }
    assert!(r.out.starts_with("Boards: 2 of 2 OK\n"), "{}", r.out);
    let r = mpimg_env(dir, &["all", "-n", "--json", "--erase-fs", "nvs"], &[("MPIMG_PORTS", &ports)]);
    ok(&r);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    let list = v["result"]["boards"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for (b, dev) in list.iter().zip(&boards) {
        assert_eq!(b["port"], dev.port());
        assert_eq!(b["ok"], true);
        assert_eq!(b["error"], serde_json::Value::Null);
        assert_eq!(b["run"]["result"]["filesystems_erased"], serde_json::json!(["nvs"]));
        assert_eq!(b["run"]["result"]["device"]["port"], dev.port());
    }
    // A named port that does not answer is a failure, not skipped.
    let named = format!("{},/dev/pts/999", boards[0].port());
    let r = mpimg(dir, &[&named, "--json", "-n"]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["error"]["message"], "1 of 2 boards failed: /dev/pts/999");
    assert_eq!(v["result"]["boards"][1]["ok"], false);
    assert!(v["result"]["boards"][1]["error"]["message"].as_str().unwrap().starts_with("no such port '/dev/pts/999'"));
}

/// `sync` on FAT (times kept to 2 seconds): a second sync of the same tree
/// changes nothing; excluded names are neither copied nor deleted; `--delete`
/// removes only what is in DEST alone; `--checksum` finds a change that
/// kept size and time.
#[test]
fn sync_on_fat_with_excludes_delete_and_checksum() {
    use crate::util::fs::{blank, run};
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let files: Vec<(String, Vec<u8>)> = vec![
        ("main.py".into(), source(300, 1)),
        ("lib/a.py".into(), source(5000, 2)),
        ("lib/__pycache__/a.pyc".into(), source(100, 3)),
        ("build/x.bin".into(), source(100, 4)),
    ];
    write_tree(&src, &files);
    set_mtime(&src.join("main.py"), T0 + 1); // odd: FAT keeps T0
    let s = src.to_str().unwrap();
    let (mut flash, parts) = blank(0x10_0000, &[("vfs", 0, 0x10_0000)]);
    run(&mut flash, &parts, &["mkfs vfs fat"]).ok();
    let sync = format!("sync --exclude __pycache__ --exclude build/ {s} /");
    let (report, _, log) = run(&mut flash, &parts, &[&sync]).ok();
    assert_eq!(
        log,
        format!(
            "added vfs:/lib/\nadded vfs:/lib/a.py\nadded vfs:/main.py\n\
             sync {s} -> vfs:/: 3 added, 0 updated, 0 deleted, 0 unchanged, 2 excluded\n"
        )
    );
    assert_eq!(report.sync[0].added, ["vfs:/lib/", "vfs:/lib/a.py", "vfs:/main.py"]);
    // The same again: what was added (lib/ too: directories count everywhere) is unchanged.
    let (report, _, log) = run(&mut flash, &parts, &[&sync]).ok();
    assert_eq!(log, format!("sync {s} -> vfs:/: 0 added, 0 updated, 0 deleted, 3 unchanged, 2 excluded\n"));
    assert!(!report.changed, "{:?}", report.stats);

    // In DEST only: old.txt (deleted), and build/ (excluded: kept).
    let extra = dir.path().join("old.txt");
    std::fs::write(&extra, b"old").unwrap();
    run(&mut flash, &parts, &["mkdir /build", &format!("put {} /", extra.display())]).ok();
    let (_, _, log) = run(&mut flash, &parts, &[&format!("sync --delete --exclude build/ {s} /")]).ok();
    assert_eq!(
        log,
        format!(
            "added vfs:/lib/__pycache__/\nadded vfs:/lib/__pycache__/a.pyc\ndeleted vfs:/old.txt\n\
             sync {s} -> vfs:/: 2 added, 0 updated, 1 deleted, 3 unchanged, 1 excluded\n"
        )
    );
    let (_, out, _) = run(&mut flash, &parts, &["ls"]).ok();
    assert_eq!(out, "main.py\nbuild/\nlib/\nlib/a.py\nlib/__pycache__/\nlib/__pycache__/a.pyc\n");

    // Same size, same time, other bytes: only --checksum sees it.
    std::fs::write(src.join("main.py"), source(300, 99)).unwrap();
    set_mtime(&src.join("main.py"), T0 + 1);
    let (_, _, log) = run(&mut flash, &parts, &[&sync]).ok();
    assert!(log.ends_with("0 added, 0 updated, 0 deleted, 3 unchanged, 2 excluded\n"), "{log}");
    let (_, _, log) = run(&mut flash, &parts, &[&format!("sync -c --exclude build/ {s} /")]).ok();
    assert!(log.starts_with("updated vfs:/main.py\n"), "{log}");
    let (_, out, _) = run(&mut flash, &parts, &["cat /main.py"]).ok();
    assert_eq!(out.as_bytes(), source(300, 99));
}
