//! Baking files into firmware images for pipelines: the same inputs give the
//! same bytes (SOURCE_DATE_EPOCH fixes every time written, nothing depends on
//! the clock, the source tree's times or its place), and a baked filesystem
//! is packed at the start of its partition so the image ends right after it.
//! Checked through the library on the real v1.23 esp32 and v1.27 c3 images;
//! littlefs-python mounts the results as a board would and writes more files.

use std::path::Path;
use std::process::Command;

use crate::util::fs::*;
use crate::util::{firmware_bytes as firmware, venv_python};
use mpimg::flash::{FileFlash, Flash};
use mpimg::fs::time::{with_time_source, Civil, Clock, TimeSource};
use mpimg::fs::FsPartition;
use serde_json::Value;

const VFS: u32 = 0x200000;
const VFS_SIZE: u32 = 0x200000;
const EPOCH: u64 = 1_700_000_000;
const HOUR_NS: u64 = 3600 * 1_000_000_000;

/// The v1.27 C3 image: file from 0x0, MicroPython's implicit vfs (end of the
/// table to the end of the 4 MB flash) past the end of the file.
fn c3_v127() -> Option<(FileFlash, Vec<FsPartition>)> {
    let data = firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin")?;
    let vfs = FsPartition { name: "vfs".into(), offset: VFS, size: VFS_SIZE, implicit: true };
    Some((FileFlash::new(data, 0, 4 * MB), vec![vfs]))
}

/// `files` (relative path, size) under `root`, contents from the path.
fn write_tree(root: &Path, files: &[(String, usize)], mtime: u64) {
    for (rel, size) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let seed = rel.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let data: Vec<u8> =
            (0..*size as u32).map(|i| (seed.wrapping_add(i.wrapping_mul(2_654_435_761)) >> 13) as u8).collect();
        std::fs::write(&p, data).unwrap();
        set_mtime(&p, mtime);
    }
}

/// 100 files in 10 directories, 0 bytes to 9 KB (inline and multi-block files).
fn hundred_files() -> Vec<(String, usize)> {
    (0..100).map(|i| (format!("d{}/f{:02}.py", i / 10, i), (i * 937) % 9300)).collect()
}

/// mkfs (littlefs or FAT) then put what `tree` holds into `/`, with `source`
/// as the time source.
fn bake(flash: &mut FileFlash, parts: &[FsPartition], kind: &str, tree: &Path, source: TimeSource) {
    let mut entries: Vec<String> =
        std::fs::read_dir(tree).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    entries.sort();
    let put: Vec<String> = ["put".to_owned()].into_iter().chain(entries).chain(["/".to_owned()]).collect();
    let mkfs = if kind == "fat" { cmd("mkfs vfs fat") } else { cmd("mkfs") };
    with_time_source(source, || run_words(flash, parts, &[mkfs, put]).ok());
}

fn stopped(epoch: Option<u64>, ns: u64) -> TimeSource {
    TimeSource { epoch, clock: Clock::Stopped(ns) }
}

#[test]
fn same_epoch_same_bytes_whatever_the_clock_and_the_source_tree() {
    for kind in ["littlefs", "fat"] {
        let Some((base, parts)) = esp32_v123() else { return };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // Two checkouts of the same tree, in different places, touched at different times.
        write_tree(&a.path().join("app"), &hundred_files(), 1_600_000_000);
        write_tree(&b.path().join("app"), &hundred_files(), 1_650_000_123);
        let now = 1_750_000_000 * 1_000_000_000;
        let mut one = FileFlash::new(base.bytes().to_vec(), 0x1000, 4 * MB);
        let mut two = FileFlash::new(base.bytes().to_vec(), 0x1000, 4 * MB);
        bake(&mut one, &parts, kind, &a.path().join("app"), stopped(Some(EPOCH), now));
        bake(&mut two, &parts, kind, &b.path().join("app"), stopped(Some(EPOCH), now + 5 * HOUR_NS + 17));
        assert!(one.bytes() == two.bytes(), "{kind}: two bakes differ");

        // Every time listed is the epoch (FAT keeps even seconds: the epoch is even).
        let (_, ls, _) = run(&mut one, &parts, &["ls -l"]).ok();
        let stamp = Civil::from_unix(EPOCH as i64).to_string();
        let lines: Vec<&str> = ls.lines().filter(|l| !l.trim_start().starts_with('-')).collect();
        assert_eq!(lines.len(), if kind == "fat" { 100 } else { 101 }, "{kind}:\n{ls}");
        assert!(lines.iter().all(|l| l.contains(&stamp)), "{kind}:\n{ls}");

        // Without an epoch the clock reaches the image (so the check above can fail).
        let mut three = FileFlash::new(base.bytes().to_vec(), 0x1000, 4 * MB);
        let mut four = FileFlash::new(base.bytes().to_vec(), 0x1000, 4 * MB);
        bake(&mut three, &parts, kind, &a.path().join("app"), stopped(None, now));
        bake(&mut four, &parts, kind, &a.path().join("app"), stopped(None, now + 5 * HOUR_NS));
        assert!(three.bytes() != four.bytes(), "{kind}: the clock did not reach the image");
        // ... and the same clock and source times give the same bytes again.
        let mut five = FileFlash::new(base.bytes().to_vec(), 0x1000, 4 * MB);
        bake(&mut five, &parts, kind, &a.path().join("app"), stopped(None, now));
        assert!(three.bytes() == five.bytes(), "{kind}: same clock, different bytes");
    }
}

#[test]
fn littlefs_times_are_the_epoch_as_littlefs_python_reads_them() {
    let Some((mut flash, parts)) = c3_v127() else { return };
    let Some(py) = venv_python() else { return };
    let src = tempfile::tempdir().unwrap();
    write_tree(&src.path().join("app"), &hundred_files(), 1_600_000_000);
    bake(&mut flash, &parts, "littlefs", &src.path().join("app"), stopped(Some(EPOCH), 3 * HOUR_NS));
    let v = checker(&py, &["dump"], &vfs_bytes(&mut flash), 512);
    let files = v["files"].as_object().unwrap();
    assert_eq!(files.len(), 101);
    let want = hex_le(EPOCH * 1_000_000_000);
    for (name, f) in files {
        assert_eq!(f["mtime"].as_str(), Some(want.as_str()), "{name}");
    }
}

fn hex_le(v: u64) -> String {
    v.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The vfs as far as the image file holds it.
fn vfs_bytes(flash: &mut FileFlash) -> Vec<u8> {
    let end = flash.data_end();
    assert!(end > VFS, "the file ends at {end:#x}, before the vfs");
    flash.read_vec(VFS, end - VFS).unwrap()
}

/// Run lfs_check.py COMMAND on `image` (written to a temporary file) with
/// `blocks`, plus `more` arguments; its JSON output.
fn checker(py: &Path, command: &[&str], image: &[u8], blocks: u32) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("vfs.img");
    std::fs::write(&img, image).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/lfs_check.py");
    let out = Command::new(py)
        .arg(script)
        .arg(command[0])
        .arg(&img)
        .arg(blocks.to_string())
        .args(&command[1..])
        .output()
        .unwrap();
    assert!(out.status.success(), "lfs_check.py {command:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Bake `files` into `fw`'s vfs; the flash offset where the image file ends.
fn bake_and_measure(fw: (FileFlash, Vec<FsPartition>), files: &[(String, usize)]) -> (FileFlash, u32) {
    let (mut flash, parts) = fw;
    let src = tempfile::tempdir().unwrap();
    write_tree(src.path(), files, 1_600_000_000);
    bake(&mut flash, &parts, "littlefs", src.path(), stopped(Some(EPOCH), 0));
    let end = flash.data_end();
    (flash, end)
}

/// littlefs-python mounts the baked vfs with the partition's block count,
/// finds every file, writes 200 more and reads everything back.
fn mounts_and_takes_200_more(flash: &mut FileFlash, files: &[(String, usize)]) {
    let Some(py) = venv_python() else { return };
    let v = checker(&py, &["fill", "200", "1000"], &vfs_bytes(flash), VFS_SIZE / 4096);
    assert_eq!(v["block_count"], 512);
    let names = v["files"].as_object().unwrap();
    for (rel, size) in files {
        assert_eq!(names[rel]["size"].as_u64(), Some(*size as u64), "{rel}");
    }
    assert_eq!(names.len(), files.len() + 1 + 200);
}

/// The example (one 10 KB file), and 10 KB as ten 1 KB files.
/// littlefs keeps a file of more than 128 bytes in whole 4 KB blocks, so the
/// second needs 2 (superblock pair) + 1 (boot.py) + 10 blocks.
fn ten_kb() -> [Vec<(String, usize)>; 2] {
    [vec![("main.bin".to_owned(), 10 * 1024)], (0..10).map(|i| (format!("f{i}.py"), 1024)).collect()]
}

/// 1 MB as eight 128 KB files.
fn one_mb() -> Vec<(String, usize)> {
    (0..8).map(|i| (format!("data{i}.bin"), 128 * 1024)).collect()
}

#[test]
fn ten_kb_into_an_empty_vfs_ends_within_64_kb_of_its_start() {
    for (name, fw) in [("esp32 v1.23", esp32_v123()), ("c3 v1.27", c3_v127())] {
        let Some(fw) = fw else { return };
        for (files, blocks) in ten_kb().iter().zip([6, 13]) {
            let (mut flash, end) =
                bake_and_measure((FileFlash::new(fw.0.bytes().to_vec(), fw.0.start(), 4 * MB), fw.1.clone()), files);
            assert_eq!(end, VFS + blocks * 4096, "{name}: {files:?}");
            assert!(end - VFS <= 64 * 1024);
            mounts_and_takes_200_more(&mut flash, files);
        }
    }
}

#[test]
fn one_mb_into_an_empty_vfs_ends_within_1_1_mb_of_its_start() {
    for (name, fw) in [("esp32 v1.23", esp32_v123()), ("c3 v1.27", c3_v127())] {
        let Some(fw) = fw else { return };
        let (mut flash, end) = bake_and_measure(fw, &one_mb());
        // Each 128 KB file takes 33 blocks (its CTZ skip-list pointers need room), plus 3.
        assert_eq!(end, VFS + 267 * 4096, "{name}");
        assert!(u64::from(end - VFS) <= 11 * 1024 * 1024 / 10);
        mounts_and_takes_200_more(&mut flash, &one_mb());
    }
}

#[test]
fn the_file_holds_every_block_littlefs_uses_blank_ones_too() {
    let Some((mut flash, parts)) = c3_v127() else { return };
    with_time_source(stopped(Some(EPOCH), 0), || run(&mut flash, &parts, &["mkfs", "mkdir /data"]).ok());
    // Superblock pair, boot.py, then /data's metadata pair: one half written,
    // the other still erased. The file must hold that one too, so flashing
    // it erases a stale block a board may have there (a stale metadata block
    // with a higher revision would win over the new half).
    assert_eq!(flash.data_end(), VFS + 5 * 4096);
    let blocks = vfs_bytes(&mut flash);
    assert!(blocks[3 * 4096..4 * 4096].iter().any(|&b| b != 0xFF));
    assert!(blocks[4 * 4096..].iter().all(|&b| b == 0xFF));
}
