//! Table edits keep the files (issue 10, firmware files). Three base images
//! from the v1.23 esp32 firmware hold the same tree (134 files in 12 nested
//! directories, a 300 KB file, an empty one): littlefs 2.0 made by mpimg
//! (`--fs mkfs`, `--fs put`), littlefs 2.1 made by littlefs-python (with
//! mtime and other attribute types on files, directories and the root), and
//! FAT (mpimg's mkfs, files copied in by mtools with their times). Each goes
//! through every layout change of the issue; then littlefs-python (with a
//! block count of the new partition's size) or mtools reads the new `vfs`,
//! found through the output's own table, and must find what the original
//! held: every file's bytes, mtime and other attributes, the directories,
//! the on-disk version. The implicit vfs of v1.27 is carried the same way;
//! deleting or over-shrinking a filesystem is refused before anything is
//! written. Each base image is built once per run of this test binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::*;
use serde_json::{json, Value};

const E32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const C3_27: &str = "ESP32_GENERIC_C3-20251209-v1.27.0.bin";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Lfs20,
    Lfs21,
    Fat,
}

pub(crate) const KINDS: [Kind; 3] = [Kind::Lfs20, Kind::Lfs21, Kind::Fat];

impl Kind {
    pub(crate) fn reader(self) -> &'static str {
        if self == Kind::Fat {
            "fat"
        } else {
            "lfs"
        }
    }
}

/// The base images, the tree they hold, and what the readers found in them.
pub(crate) struct Bases {
    _dir: tempfile::TempDir,
    pub(crate) py: PathBuf,
    pub(crate) tree: PathBuf,
    /// (image, dump of its vfs) per kind, in [`KINDS`] order.
    pub(crate) images: Vec<(PathBuf, Value)>,
    /// The v1.27 image whose implicit vfs holds the tree (littlefs 2.0).
    c3: (PathBuf, Value),
}

static BASES: OnceLock<Option<Bases>> = OnceLock::new();

pub(crate) fn bases() -> Option<&'static Bases> {
    BASES.get_or_init(make_bases).as_ref()
}

/// The test tree: 12 directories up to 4 deep, 132 small files of 0 to
/// 3 KB (some inline in littlefs metadata), a 300 KB file and an empty one,
/// each with its own mtime (even seconds: FAT keeps 2-second steps).
pub(crate) fn write_tree(root: &Path) {
    let dirs = [
        "lib",
        "lib/net",
        "lib/net/http",
        "lib/ui",
        "lib/ui/widgets",
        "data",
        "data/logs",
        "data/logs/2024",
        "www",
        "www/static",
        "www/static/css",
        "www/static/js",
    ];
    for d in dirs {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let mut n = 0u64;
    let mut file = |rel: String, data: Vec<u8>| {
        assert!(!rel.starts_with('/'), "{rel}: inside the tree");
        let p = root.join(rel);
        std::fs::write(&p, data).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000 + n * 7_202)).unwrap();
        n += 1;
    };
    for i in 0..132u32 {
        // Every 13th file at the top, the others spread over the directories.
        let dir = if i % 13 == 0 { String::new() } else { format!("{}/", dirs[(i % 12) as usize]) };
        let len = (i * 337 % 3100) as usize;
        let data: Vec<u8> = (0..len as u32).map(|j| (j.wrapping_mul(2_654_435_761) >> 13) as u8 ^ i as u8).collect();
        file(format!("{dir}file{i:03}{}", if i % 3 == 0 { ".py" } else { ".txt" }), data);
    }
    file("www/big.bin".into(), (0..300_000u32).map(|j| (j * 7 + j / 4093) as u8).collect());
    file("data/empty.log".into(), Vec::new());
}

/// The checker script's JSON for partition `name` of `fw`.
pub(crate) fn dump(py: &Path, fw: &Path, bl: u32, name: &str, reader: &str) -> Value {
    let script = root().join("crates/mpimg/tests/scripts/carry_check.py");
    let o = Command::new(py)
        .arg(script)
        .args(["dump", fw.to_str().unwrap(), &format!("{bl:#x}"), name, reader])
        .output()
        .unwrap();
    assert!(o.status.success(), "carry_check.py dump {} failed:\n{}", fw.display(), text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[track_caller]
fn run_ok(dir: &Path, args: &[&str]) -> Run {
    let r = mpimg(dir, args);
    ok(&r);
    r
}

fn make_bases() -> Option<Bases> {
    let fw = firmware(E32)?;
    let c3 = firmware(C3_27)?;
    let py = venv_python()?;
    Command::new("mcopy").arg("-V").output().ok().or_else(|| skip("mtools (mcopy)"))?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tree = d.join("tree");
    write_tree(&tree);
    let mut put: Vec<String> = vec!["--fs".into(), "put".into()];
    let mut top: Vec<String> =
        std::fs::read_dir(&tree).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    top.sort();
    put.extend(top.iter().cloned());
    put.push("/".into());
    let put: Vec<&str> = put.iter().map(String::as_str).collect();

    // littlefs 2.0 by mpimg.
    let mut args = vec![fw.to_str().unwrap(), "-q", "--fs", "mkfs"];
    args.extend(&put);
    args.extend(["-o", "lfs20.bin"]);
    run_ok(d, &args);

    // littlefs 2.1 by littlefs-python, written into vfs.
    let script = root().join("crates/mpimg/tests/scripts/carry_check.py");
    let o = Command::new(&py)
        .arg(&script)
        .args(["make-lfs", d.join("lfs21.img").to_str().unwrap(), "512", "0x20001", tree.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    run_ok(d, &[fw.to_str().unwrap(), "-q", "--write", "vfs=lfs21.img", "-o", "lfs21.bin"]);

    // FAT: MicroPython's layout by mpimg, the files copied in by mtools.
    run_ok(d, &[fw.to_str().unwrap(), "-q", "--fs", "mkfs", "vfs", "fat", "-o", "fat0.bin"]);
    run_ok(d, &["fat0.bin", "-q", "--read", "vfs=fat.img"]);
    let mut img = std::fs::read(d.join("fat.img")).unwrap();
    img.resize(0x200000, 0xFF);
    std::fs::write(d.join("fat.img"), img).unwrap();
    let mut mcopy = Command::new("mcopy");
    mcopy.env("TZ", "UTC").env("MTOOLS_SKIP_CHECK", "1").args(["-s", "-m", "-i", d.join("fat.img").to_str().unwrap()]);
    let o = mcopy.args(&top).arg("::/").output().unwrap();
    assert!(o.status.success(), "mcopy: {}", text(&o.stderr));
    run_ok(d, &[fw.to_str().unwrap(), "-q", "--write", "vfs=fat.img", "-o", "fat.bin"]);

    let images: Vec<(PathBuf, Value)> = ["lfs20.bin", "lfs21.bin", "fat.bin"]
        .iter()
        .zip(KINDS)
        .map(|(f, k)| (d.join(f), dump(&py, &d.join(f), 0x1000, "vfs", k.reader())))
        .collect();

    // v1.27: the implicit vfs (0x200000 to the end of the 4 MB flash).
    let mut args = vec![c3.to_str().unwrap(), "-q", "--fs", "mkfs"];
    args.extend(&put);
    args.extend(["-o", "c3.bin"]);
    run_ok(d, &args);
    let c3 = (d.join("c3.bin"), dump(&py, &d.join("c3.bin"), 0, "vfs", "lfs"));
    Some(Bases { _dir: dir, py, tree, images, c3 })
}

/// Every file of the host tree as (path, size, sha256).
fn host_files(root: &Path) -> Vec<(String, u64, String, u64)> {
    use sha2::{Digest, Sha256};
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, u64, String, u64)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
                continue;
            }
            let data = std::fs::read(&p).unwrap();
            let sha: String = Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
            let mtime =
                std::fs::metadata(&p).unwrap().modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            out.push((rel, data.len() as u64, sha, mtime.as_secs()));
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn mtime_attr(secs: u64) -> String {
    (secs * 1_000_000_000).to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The base images hold the tree as the host has it (so a carried copy that
/// equals them is a real check), with the extra attributes where made.
#[test]
fn the_base_images_hold_the_tree() {
    let Some(b) = bases() else { return };
    let host = host_files(&b.tree);
    assert_eq!(host.len(), 134);
    assert!(host.iter().any(|f| f.1 == 300_000) && host.iter().any(|f| f.1 == 0));
    for (kind, (_, v)) in KINDS.iter().zip(&b.images) {
        let files = v["fs"]["files"].as_object().unwrap();
        for (path, size, sha, mtime) in &host {
            let f = &files[path.as_str()];
            assert_eq!((&f["size"], f["sha256"].as_str()), (&json!(size), Some(sha.as_str())), "{kind:?} {path}");
            match kind {
                Kind::Fat => assert_eq!(f["mtime"], json!(mtime), "{path}"),
                _ => assert_eq!(f["attrs"]["1"], json!(mtime_attr(*mtime)), "{kind:?} {path}"),
            }
        }
        let extra = if *kind == Kind::Lfs20 { 1 } else { 0 }; // mkfs's boot.py
        assert_eq!(files.len(), host.len() + extra, "{kind:?}");
        assert_eq!(v["fs"]["dirs"].as_object().unwrap().len(), if *kind == Kind::Fat { 12 } else { 13 });
    }
    let lfs21 = &b.images[1].1["fs"];
    assert_eq!(lfs21["disk_version"], json!(0x0002_0001));
    assert_eq!(b.images[0].1["fs"]["disk_version"], json!(0x0002_0000));
    assert_eq!(lfs21["files"]["data/logs/file030.py"]["attrs"]["66"], json!(hex("other data/logs/file030.py")));
    assert_eq!(lfs21["dirs"]["lib/net"], json!({"7": hex("dir lib/net")}));
    assert_eq!(lfs21["dirs"]["/"], json!({"200": hex("root of the test tree")}));
    assert_eq!(b.c3.1["implicit"], json!(true));
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// "134 files (N kB)" as the run line says it.
fn files_said(v: &Value) -> String {
    let files = v["fs"]["files"].as_object().unwrap();
    let bytes: u64 = files.values().map(|f| f["size"].as_u64().unwrap()).sum();
    format!("{} files ({} KiB)", files.len(), (bytes + 512) / 1024)
}

/// What an edit should do to vfs.
#[derive(Clone, Copy)]
enum Expect {
    Moved,
    Shrunk,
    Grown,
    Unchanged,
}

/// Check that `out` holds in `name` at (offset, size) what `base` held.
fn check_carried(b: &Bases, kind: Kind, base: &Value, out: &Path, bl: u32, at: (u32, u32), what: Expect) {
    let v = dump(&b.py, out, bl, "vfs", kind.reader());
    assert_eq!((v["offset"].as_u64(), v["size"].as_u64()), (Some(u64::from(at.0)), Some(u64::from(at.1))), "{kind:?}");
    let (new, old) = (&v["fs"], &base["fs"]);
    assert_eq!(new["files"], old["files"], "{kind:?}: files, bytes, mtimes and attributes");
    if kind == Kind::Fat {
        // A FAT directory's times are not kept (see fs::tree::fat): its name is.
        let names = |v: &Value| v["dirs"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(new), names(old), "directories");
    } else {
        assert_eq!(new["dirs"], old["dirs"], "{kind:?}: directories and their attributes");
    }
    match kind {
        Kind::Fat => {
            let volume = new["sectors"].as_u64().unwrap() * new["bytes_per_sector"].as_u64().unwrap();
            let want = if matches!(what, Expect::Grown | Expect::Unchanged) { 0x200000 } else { at.1 };
            assert_eq!(volume, u64::from(want), "FAT volume size");
        }
        _ => {
            assert_eq!(new["disk_version"], old["disk_version"], "{kind:?}: disk version");
            assert_eq!(new["block_count"], json!(at.1 / 4096), "{kind:?}: block count = partition size");
        }
    }
}

fn line(kind: Kind, base: &Value, at: (u32, u32), what: Expect) -> String {
    let files = files_said(base);
    match (what, kind) {
        (Expect::Moved, _) => format!("Kept {files} of 'vfs': moved to {:#x}, {:#x} bytes", at.0, at.1),
        (Expect::Shrunk, _) => format!("Kept {files} of 'vfs': shrunk to {:#x} bytes", at.1),
        (Expect::Grown, Kind::Fat) => {
            format!(
                "Kept {files} of 'vfs': the partition grew to {:#x} bytes, the FAT12 volume stays 0x200000 bytes",
                at.1
            )
        }
        (Expect::Grown, _) => {
            let v = if kind == Kind::Lfs20 { "2.0" } else { "2.1" };
            format!("Kept {files} of 'vfs': littlefs {v} grown in place to {:#x} bytes", at.1)
        }
        (Expect::Unchanged, _) => format!("Kept 'vfs' (littlefs 2.0) as it was, at {:#x}, {:#x} bytes", at.0, at.1),
    }
}

pub(crate) const CSV: &str = "# Name, Type, SubType, Offset, Size, Flags\n\
nvs, data, nvs, 0x9000, 0x6000,\n\
phy_init, data, phy, 0xf000, 0x1000,\n\
factory, app, factory, 0x10000, 0x270000,\n\
vfs, data, fat, 0x280000, 0x180000,\n";

/// Apply `edit` to each base image and check what the new vfs holds. The
/// bootloader and table are also those of the same edit on the plain image.
fn edit_keeps_the_files(edit: &str, at: (u32, u32), what: Expect) {
    let Some(b) = bases() else { return };
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("table.csv"), CSV).unwrap();
    let words: Vec<&str> = edit.split_whitespace().collect();
    let plain = firmware(E32).unwrap();
    let mut args = vec![plain.to_str().unwrap()];
    args.extend(&words);
    args.extend(["-o", "plain.bin"]);
    run_ok(d.path(), &args);
    let plain = std::fs::read(d.path().join("plain.bin")).unwrap();
    for (kind, (image, base)) in KINDS.iter().zip(&b.images) {
        let out = format!("{kind:?}.bin");
        let mut args = vec![image.to_str().unwrap()];
        args.extend(&words);
        args.extend(["-o", &out]);
        let r = run_ok(d.path(), &args);
        let want = line(*kind, base, at, what);
        assert!(r.err.lines().any(|l| l == want), "{kind:?} {edit}: no line\n{want}\nin\n{}", r.err);
        assert!(!r.err.contains("--fs grow"), "nothing is left to do: {}", r.err);
        let out = d.path().join(out);
        check_carried(b, *kind, base, &out, 0x1000, at, what);
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes[..0x8000] == plain[..0x8000], "{kind:?} {edit}: bootloader and table as on the plain image");
    }
}

#[test]
fn grow_in_place_to_8mb() {
    edit_keeps_the_files("-f 8M --resize vfs=0", (0x200000, 0x600000), Expect::Grown);
}

#[test]
fn ota_table_on_8mb() {
    edit_keeps_the_files("-f 8M --table ota", (0x410000, 0x3f0000), Expect::Moved);
}

#[test]
fn larger_factory() {
    edit_keeps_the_files("--resize factory=2M", (0x210000, 0x1f0000), Expect::Moved);
}

#[test]
fn ota_table_with_app_size() {
    edit_keeps_the_files("-f 8M -a 0x200000 --table ota", (0x410000, 0x3f0000), Expect::Moved);
}

#[test]
fn shrink_in_place() {
    edit_keeps_the_files("--resize vfs=1M", (0x200000, 0x100000), Expect::Shrunk);
}

#[test]
fn custom_table() {
    edit_keeps_the_files("--table nvs=7B,factory=2M,vfs=0", (0x210000, 0x1f0000), Expect::Moved);
}

#[test]
fn table_from_csv() {
    edit_keeps_the_files("--from-csv table.csv", (0x280000, 0x180000), Expect::Moved);
}

/// MicroPython ≥ 1.26's implicit vfs moves, grows or is pinned with the table.
#[test]
fn the_implicit_vfs_of_v127_keeps_its_files() {
    let Some(b) = bases() else { return };
    let d = tempfile::tempdir().unwrap();
    let (image, base) = &b.c3;
    let cases = [
        ("--add data:nvs:0:64K", (0x210000, 0x1f0000), Expect::Moved),
        ("--resize factory=2M", (0x210000, 0x1f0000), Expect::Moved),
        ("-f 8M", (0x200000, 0x600000), Expect::Grown),
        ("--add vfs:fat:0:0", (0x200000, 0x200000), Expect::Unchanged),
    ];
    for (edit, at, what) in cases {
        let mut args = vec![image.to_str().unwrap()];
        args.extend(edit.split_whitespace());
        args.extend(["-o", "out.bin"]);
        let r = run_ok(d.path(), &args);
        let want = line(Kind::Lfs20, base, at, what);
        assert!(r.err.lines().any(|l| l == want), "{edit}: no line\n{want}\nin\n{}", r.err);
        check_carried(b, Kind::Lfs20, base, &d.path().join("out.bin"), 0, at, what);
        let v = dump(&b.py, &d.path().join("out.bin"), 0, "vfs", "lfs");
        assert_eq!(v["implicit"], json!(!matches!(what, Expect::Unchanged)), "{edit}");
    }
}

/// A refused edit: the exact error, exit code 1, and no file written.
#[track_caller]
fn refused(image: &Path, edit: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let mut args = vec![image.to_str().unwrap(), "-q"];
    args.extend(edit.split_whitespace());
    let r = mpimg(d.path(), &args);
    assert_eq!(r.code, 1, "{edit}: {}", r.out);
    assert_eq!(files_in(d.path()), Vec::<String>::new(), "{edit}: nothing is written");
    r.err.trim_end().to_owned()
}

#[test]
fn deleting_or_overshrinking_a_filesystem_is_refused() {
    let Some(b) = bases() else { return };
    let (lfs20, fat) = (&b.images[0].0, &b.images[2].0);
    assert_eq!(
        refused(lfs20, "--delete vfs"),
        "error: partition 'vfs' holds 135 files (487 KiB) in a littlefs 2.0 filesystem, and this edit deletes the \
         partition: the files would be lost. Copy them out first (--fs get vfs:/ DIR), then run the edit again with \
         --discard-fs"
    );
    assert_eq!(
        refused(fat, "--table nvs=7B,factory=2M,vfs=nvs:0"),
        "error: partition 'vfs' holds 134 files (486 KiB) in a FAT12 filesystem, and this edit re-types it as nvs: \
         the files would be lost. Copy them out first (--fs get vfs:/ DIR), then run the edit again with --discard-fs"
    );
    assert_eq!(
        refused(lfs20, "--resize vfs=512K"),
        "error: the 135 files (487 KiB) of 'vfs' do not fit its new size, 0x80000 bytes (128 blocks): littlefs 2.0 \
         needs 227 blocks (929792 bytes) for them, so 'vfs' must be at least 0xe3000 bytes; choose a layout that \
         leaves it that much, or first remove files (--fs rm) in a run of their own"
    );
    // The size named is the least that works.
    let d = tempfile::tempdir().unwrap();
    run_ok(d.path(), &[lfs20.to_str().unwrap(), "-q", "--resize", "vfs=0xe3000", "-o", "min.bin"]);
    assert!(refused(lfs20, "--resize vfs=0xe2000").contains("must be at least 0xe3000 bytes"));
    // Said and done: the files go.
    let r = run_ok(d.path(), &[lfs20.to_str().unwrap(), "--delete", "vfs", "--discard-fs", "-o", "gone.bin"]);
    assert!(r.err.lines().any(|l| l == "Discarded 135 files (487 KiB) of 'vfs' (deleted, --discard-fs)"), "{}", r.err);
}

/// `--json` carries the same facts under `result.filesystems`.
#[test]
fn json_result_says_what_happened() {
    let Some(b) = bases() else { return };
    let d = tempfile::tempdir().unwrap();
    let r = run_ok(d.path(), &[b.images[1].0.to_str().unwrap(), "--json", "-f", "8M", "--table", "ota", "-o", "o.bin"]);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    let stats = &b.images[1].1["fs"]["files"];
    let bytes: u64 = stats.as_object().unwrap().values().map(|f| f["size"].as_u64().unwrap()).sum();
    assert_eq!(
        v["result"]["filesystems"],
        json!([{
            "partition": "vfs", "new_name": "vfs", "filesystem": "littlefs 2.1", "action": "recreated",
            "from": {"offset": 0x200000, "size": 0x200000, "implicit": false},
            "to": {"offset": 0x410000, "size": 0x3f0000, "implicit": false},
            "contents": {"files": 134, "dirs": 12, "bytes": bytes},
            "fs_size": 0x3f0000
        }])
    );
    assert_eq!(v["result"]["update"], json!({"bootloader_rewritten": true, "erased": ["nvs", "otadata"]}));
}

/// A rename leaves the filesystem where it is (the Python tool erases its
/// first 16 KB): the files are found under the new name.
#[test]
fn a_renamed_partition_keeps_its_filesystem() {
    let Some(b) = bases() else { return };
    let d = tempfile::tempdir().unwrap();
    let (image, base) = &b.images[0];
    let r = run_ok(d.path(), &[image.to_str().unwrap(), "--rename", "vfs=data", "-o", "out.bin"]);
    let said = "Kept 'vfs' (littlefs 2.0) as it was, at 0x200000, 0x200000 bytes, now named 'data'";
    assert!(r.err.lines().any(|l| l == said), "{}", r.err);
    let v = dump(&b.py, &d.path().join("out.bin"), 0x1000, "data", "lfs");
    assert_eq!(v["fs"], base["fs"]);
}

/// Two filesystems move at once, the new place of one over the old place of
/// the other: both trees are read before either is written.
#[test]
fn two_filesystems_move_over_each_other() {
    let Some(b) = bases() else { return };
    let d = tempfile::tempdir().unwrap();
    let (image, base) = &b.images[0];
    let lib = b.tree.join("lib");
    run_ok(
        d.path(),
        &[
            image.to_str().unwrap(),
            "-q",
            "--resize",
            "vfs=1M",
            "--add",
            "vfs2:fat:0:0",
            "--fs",
            "mkfs",
            "vfs2",
            "fat",
            "--fs",
            "put",
            lib.to_str().unwrap(),
            "vfs2:/",
            "-o",
            "two.bin",
        ],
    );
    let two = d.path().join("two.bin");
    let vfs2 = dump(&b.py, &two, 0x1000, "vfs2", "fat");
    assert_eq!((vfs2["offset"].as_u64(), vfs2["fs"]["files"].as_object().unwrap().len()), (Some(0x300000), 50));
    // factory grows by 64 KB: vfs moves onto the start of vfs2's old place, vfs2 moves and is cut at the flash end.
    let r = run_ok(d.path(), &[two.to_str().unwrap(), "--resize", "factory=2M", "-o", "moved.bin"]);
    let files = |v: &Value| files_said(v);
    for want in [
        format!("Kept {} of 'vfs': moved to 0x210000, 0x100000 bytes", files(base)),
        format!("Kept {} of 'vfs2': moved to 0x310000, 0xf0000 bytes", files(&vfs2)),
    ] {
        assert!(r.err.lines().any(|l| l == want), "no line {want} in\n{}", r.err);
    }
    let moved = d.path().join("moved.bin");
    check_carried(b, Kind::Lfs20, base, &moved, 0x1000, (0x210000, 0x100000), Expect::Moved);
    let v = dump(&b.py, &moved, 0x1000, "vfs2", "fat");
    assert_eq!((v["offset"].as_u64(), v["size"].as_u64()), (Some(0x310000), Some(0xf0000)));
    assert_eq!(v["fs"]["files"], vfs2["fs"]["files"]);
}
