//! Interop with an independent littlefs implementation, both directions:
//! littlefs-python (PyPI) reads what mpimg wrote, and mpimg reads, changes
//! and rewrites images that littlefs-python made, keeping their version.

use std::path::Path;
use std::process::Command;

use crate::util::fs::*;
use crate::util::venv_python;
use mpimg::flash::{FileFlash, Flash};
use serde_json::Value;
use sha2::{Digest, Sha256};

const VFS: u32 = 0x200000;

/// Run the checker script; its stdout parsed as JSON (for `dump`).
fn checker(py: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/lfs_check.py");
    let out = Command::new(py).arg(script).args(args).output().unwrap();
    assert!(out.status.success(), "lfs_check.py {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn dump(py: &Path, flash: &mut dyn Flash, size: u32) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("vfs.img");
    std::fs::write(&img, flash.read_vec(VFS, size).unwrap()).unwrap();
    serde_json::from_str(&checker(py, &["dump", img.to_str().unwrap(), "0"])).unwrap()
}

fn sha(d: &[u8]) -> String {
    Sha256::digest(d).iter().map(|b| format!("{b:02x}")).collect()
}

/// The files and directories a dump lists, as comparable values.
fn files_of(v: &Value) -> Vec<(String, u64, String)> {
    let mut out: Vec<(String, u64, String)> = v["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, f)| (k.clone(), f["size"].as_u64().unwrap(), f["sha256"].as_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

fn dirs_of(v: &Value) -> Vec<String> {
    v["dirs"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect()
}

fn expect(files: &[(String, Vec<u8>)]) -> Vec<(String, u64, String)> {
    let mut out: Vec<_> = files.iter().map(|(p, d)| (p.clone(), d.len() as u64, sha(d))).collect();
    out.sort();
    out
}

#[test]
fn littlefs_python_reads_what_mpimg_wrote() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let Some(py) = venv_python() else { return };
    let host = tempfile::tempdir().unwrap();
    let mut files = make_tree(host.path());
    set_mtime(&host.path().join("main.py"), 1_234_567_890);
    let s = |rel: &str| host.path().join(rel).to_string_lossy().into_owned();
    let put: Vec<String> = ["put", &s("main.py"), &s("lib"), &s("Long File Name With Spaces.txt"), "/"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    run_words(&mut flash, &parts, &[cmd("mkfs"), put, cmd("mkdir empty/inner")]).ok();

    // The baked firmware file is a flashable image: write it out and read it back.
    let dir = tempfile::tempdir().unwrap();
    let fw = dir.path().join("fw.bin");
    flash.save(&fw).unwrap();
    let mut reread = FileFlash::new(std::fs::read(&fw).unwrap(), 0x1000, 4 * MB);

    let v = dump(&py, &mut reread, 0x200000);
    assert_eq!(v["disk_version"], 0x0002_0000, "mkfs makes 2.0");
    assert_eq!(v["block_count"], 512);
    files.push(("boot.py".into(), mpimg::fs::lfs::BOOT_PY.as_bytes().to_vec()));
    assert_eq!(files_of(&v), expect(&files));
    assert_eq!(dirs_of(&v), vec!["empty", "empty/inner", "lib", "lib/pkg"]);
    // MicroPython's mtime attribute: u64 LE nanoseconds since 1970.
    let mtime = hex_u64_le(v["files"]["main.py"]["mtime"].as_str().unwrap());
    assert_eq!(mtime, 1_234_567_890 * 1_000_000_000);
}

fn hex_u64_le(h: &str) -> u64 {
    let b: Vec<u8> = (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect();
    u64::from_le_bytes(b.try_into().unwrap())
}

/// Put a littlefs image made elsewhere into the vfs of a blank 4 MB flash.
fn flash_with(image: &[u8]) -> (FileFlash, Vec<mpimg::fs::FsPartition>) {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", VFS, 0x200000)]);
    flash.write(VFS, image).unwrap();
    (flash, parts)
}

#[test]
fn mpimg_reads_changes_and_rewrites_a_littlefs_python_create_image() {
    let Some(py) = venv_python() else { return };
    let cli = py.with_file_name("littlefs-python");
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("src");
    let files = make_tree(&src);
    let img = host.path().join("lfs.img");
    let out = Command::new(&cli)
        .args(["create", src.to_str().unwrap(), img.to_str().unwrap(), "--block-size", "4096", "--fs-size", "2MB"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (mut flash, parts) = flash_with(&std::fs::read(&img).unwrap());

    let (_, out, _) = run(&mut flash, &parts, &["ls", "cat lib/util.py", "info"]).ok();
    assert!(
        out.starts_with(
            "Long File Name With Spaces.txt\nmain.py\nlib/\nlib/util.py\nlib/pkg/\nlib/pkg/data.bin\nlib/pkg/empty.txt\n\
             def f():\n    return 42\nFilesystem 'vfs': littlefs 2.1\n"
        ),
        "{out}"
    );
    let dest = tempfile::tempdir().unwrap();
    run(&mut flash, &parts, &[&format!("get / {}", dest.path().display())]).ok();
    assert_eq!(summary(&read_tree(dest.path())), summary(&files));

    // Change it: add, replace, remove, rename, mkdir.
    let new = host.path().join("new.py");
    std::fs::write(&new, b"x = 1\n").unwrap();
    let replaced = host.path().join("main.py");
    std::fs::write(&replaced, b"print('replaced')\n").unwrap();
    run(
        &mut flash,
        &parts,
        &[
            &format!("put {} {} /", new.display(), replaced.display()),
            "rm lib/pkg/empty.txt",
            "rename lib/util.py lib/tools.py",
            "mkdir data",
        ],
    )
    .ok();
    let v = dump(&py, &mut flash, 0x200000);
    assert_eq!(v["disk_version"], 0x0002_0001, "a 2.1 image stays 2.1");
    let want = vec![
        ("Long File Name With Spaces.txt".to_owned(), b"long name\n".to_vec()),
        ("lib/pkg/data.bin".to_owned(), files[2].1.clone()),
        ("lib/tools.py".to_owned(), b"def f():\n    return 42\n".to_vec()),
        ("main.py".to_owned(), b"print('replaced')\n".to_vec()),
        ("new.py".to_owned(), b"x = 1\n".to_vec()),
    ];
    assert_eq!(files_of(&v), expect(&want));
    assert_eq!(dirs_of(&v), vec!["data", "lib", "lib/pkg"]);
}

#[test]
fn a_2_0_image_from_littlefs_python_stays_2_0_through_every_change() {
    let Some(py) = venv_python() else { return };
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("src");
    make_tree(&src);
    let img = host.path().join("lfs20.img");
    // 256 blocks in a 512-block partition, so that grow has room.
    checker(&py, &["make", img.to_str().unwrap(), "256", "0x20000", src.to_str().unwrap()]);
    let (mut flash, parts) = flash_with(&std::fs::read(&img).unwrap());
    let f = host.path().join("f.bin");
    std::fs::write(&f, vec![7u8; 40_000]).unwrap();
    let steps = [
        format!("put {} /", f.display()),
        "rm lib/pkg".to_owned(),
        "rename main.py start.py".to_owned(),
        "mkdir a/b".to_owned(),
        "grow".to_owned(),
    ];
    for step in &steps {
        run(&mut flash, &parts, &[step]).ok();
        let v = dump(&py, &mut flash, 0x200000);
        assert_eq!(v["disk_version"], 0x0002_0000, "after '{step}'");
    }
    let v = dump(&py, &mut flash, 0x200000);
    assert_eq!(v["block_count"], 512);
    let names: Vec<String> = files_of(&v).into_iter().map(|f| f.0).collect();
    assert_eq!(names, vec!["Long File Name With Spaces.txt", "f.bin", "lib/util.py", "start.py"]);
    assert_eq!(dirs_of(&v), vec!["a", "a/b", "lib"]);
}
