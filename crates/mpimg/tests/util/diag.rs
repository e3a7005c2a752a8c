//! Helpers of the diagnosis tests: a run's diagnoses from `--json`, a fix
//! command run verbatim (split as a POSIX shell splits it), firmware images
//! with files baked into their vfs, and littlefs-python's view of a vfs.

use std::path::{Path, PathBuf};

use mpimg::format::partition::{Partition, PartitionTable, TABLE_OFFSET, TABLE_SIZE};
use serde_json::{json, Value};

use super::{mpimg, ok, run_mpimg_env, text, venv_python, Run};

/// Files by path (`lib/util.py`) and contents.
pub type Files = Vec<(String, Vec<u8>)>;

/// The time every baked file and mkfs gets (seconds since 1970).
pub const EPOCH: &str = "1700000000";

/// Split `cmd` as a POSIX shell does: words apart at blanks, single quotes
/// literal, a backslash escaping the next character outside them.
pub fn shell_words(cmd: &str) -> Vec<String> {
    let (mut words, mut cur, mut any) = (Vec::new(), String::new(), false);
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                any = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '\\' => {
                any = true;
                cur.extend(chars.next());
            }
            ' ' | '\t' => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                any = true;
                cur.push(c);
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

/// Run a printed fix command in `dir`, exactly as a shell would, after
/// replacing each `(placeholder, file)` the user supplies. The first word
/// must be `mpimg`.
pub fn run_fix(dir: &Path, cmd: &str, supply: &[(&str, &str)]) -> Run {
    let words = shell_words(cmd);
    assert_eq!(words.first().map(String::as_str), Some("mpimg"), "{cmd}");
    let args: Vec<String> =
        words[1..].iter().map(|w| supply.iter().fold(w.clone(), |w, (from, to)| w.replace(from, to))).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run_mpimg_env(dir, &args, &[("SOURCE_DATE_EPOCH", EPOCH)]);
    Run { out: text(&o.stdout), err: text(&o.stderr), code: o.status.code().unwrap_or(-1) }
}

/// The diagnoses of `mpimg TARGET --json` (and its exit code).
pub fn diagnoses(dir: &Path, target: &str) -> (Vec<Value>, i32) {
    let r = mpimg(dir, &[target, "--json"]);
    let v: Value = serde_json::from_str(&r.out).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.out, r.err));
    (v["diagnoses"].as_array().cloned().unwrap_or_default(), r.code)
}

/// One diagnosis as `--json` has it.
pub fn diag(code: &str, severity: &str, message: &str, fix: Option<&str>) -> Value {
    json!({ "code": code, "severity": severity, "message": message, "fix": fix })
}

/// The fix command of the diagnosis with `code` in `list`.
pub fn fix_of(list: &[Value], code: &str) -> String {
    let d = list.iter().find(|d| d["code"] == code).unwrap_or_else(|| panic!("no {code} in {list:?}"));
    d["fix"].as_str().unwrap_or_else(|| panic!("{code} has no fix")).to_string()
}

/// The files baked into test images: nested directories, an empty file.
pub fn baked_files(root: &Path) -> Files {
    let files: Vec<(String, Vec<u8>)> = vec![
        ("main.py".into(), b"print('hello from main')\n".to_vec()),
        ("lib/util.py".into(), (0..5000u32).map(|i| (i * 7 % 251) as u8).collect()),
        ("lib/deep/data.bin".into(), (0..70_000u32).map(|i| (i % 253) as u8).collect()),
        ("empty.txt".into(), Vec::new()),
    ];
    for (name, data) in &files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
    files
}

/// Bake [`baked_files`] into the vfs of `fw` (a fresh littlefs, as
/// MicroPython makes it, plus the files), written to `dir/out` (`dir` is
/// where the files are made, as `dir/bake-src`). Returns the
/// files as baked (boot.py of mkfs included), as littlefs-python lists them.
pub fn bake(dir: &Path, fw: &Path, out: &str) -> Files {
    let src = dir.join("bake-src");
    let mut files = baked_files(&src);
    let mut args = vec![fw.to_str().unwrap(), "--fs", "mkfs", "--fs", "put"];
    args.extend(["bake-src/main.py", "bake-src/lib", "bake-src/empty.txt", "/", "-o", out]);
    let o = run_mpimg_env(dir, &args, &[("SOURCE_DATE_EPOCH", EPOCH)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    files.push(("boot.py".into(), mpimg::fs::lfs::BOOT_PY.as_bytes().to_vec()));
    files.sort();
    files
}

/// littlefs-python's view of the filesystem in `flash[offset..offset + size]`
/// (a whole-flash or firmware-file image; bytes past its end read erased),
/// mounted with the partition's block count (see tests/scripts/lfs_check.py).
pub fn lfs_view(image: &[u8], offset: u32, size: u32) -> Option<Value> {
    let py = venv_python()?;
    let mut part = image.get(offset as usize..).unwrap_or_default().to_vec();
    part.resize(size as usize, 0xFF);
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("vfs.img");
    std::fs::write(&img, &part).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/lfs_check.py");
    let o = std::process::Command::new(py)
        .arg(script)
        .arg("dump")
        .arg(&img)
        .arg((size / 4096).to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "littlefs-python cannot mount it: {}", text(&o.stderr));
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

/// A littlefs of `blocks` 4 KB blocks at on-disk version `disk_version`
/// (0x20001: 2.1) holding the files under `src`, made by littlefs-python.
pub fn lfs_make(src: &Path, blocks: u32, disk_version: u32) -> Option<Vec<u8>> {
    let py = venv_python()?;
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("made.img");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/lfs_check.py");
    let o = std::process::Command::new(py)
        .arg(script)
        .args(["make", img.to_str().unwrap(), &blocks.to_string(), &format!("{disk_version:#x}")])
        .arg(src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    Some(std::fs::read(&img).unwrap())
}

/// Assert littlefs-python finds exactly `files` in the vfs at `offset`
/// (`size` bytes: its block count is the partition's), byte for byte.
#[track_caller]
pub fn assert_files(image: &[u8], offset: u32, size: u32, files: &[(String, Vec<u8>)]) {
    let Some(v) = lfs_view(image, offset, size) else { return };
    assert_eq!(v["block_count"], size / 4096);
    let got = v["files"].as_object().unwrap();
    let names: Vec<&String> = got.keys().collect();
    let want: Vec<&String> = files.iter().map(|(n, _)| n).collect();
    assert_eq!(names, want);
    for (name, data) in files {
        let sha = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(data));
        assert_eq!(got[name]["sha256"], sha, "{name}");
    }
}

/// The partition table of a firmware file's bytes (`bl`: its bootloader offset).
pub fn table_of(file: &[u8], bl: u32) -> PartitionTable {
    let at = (TABLE_OFFSET - bl) as usize;
    PartitionTable::parse(&file[at..at + TABLE_SIZE]).unwrap()
}

/// Replace the table of a firmware file's bytes with `entries` (MD5 renewed).
pub fn set_table(file: &mut [u8], bl: u32, entries: Vec<Partition>) {
    let at = (TABLE_OFFSET - bl) as usize;
    let t = PartitionTable { entries, had_md5: true };
    file[at..at + TABLE_SIZE].copy_from_slice(&t.to_bytes().unwrap());
}

/// The file a run wrote (its `Wrote NAME (N bytes)` note), in `dir`.
pub fn written(dir: &Path, r: &Run) -> PathBuf {
    ok(r);
    let line = r.err.lines().find(|l| l.starts_with("Wrote ")).unwrap_or_else(|| panic!("nothing written: {}", r.err));
    let name = line.trim_start_matches("Wrote ").rsplit_once(" (").unwrap().0;
    dir.join(name)
}
