//! `--fs` on esp-sim devices: the same commands on a firmware file (through
//! the library) give the same flash bytes, and littlefs-python reads back
//! what mpimg put on the device.

use std::path::Path;

use crate::util::sim;
use crate::util::sim::{assert_same_flash, flash_image};
use crate::util::{firmware, run_mpimg_env, text, venv_python};
use mpimg::flash::FileFlash;
use mpimg::fs::time::with_now;
use mpimg::fs::{run_fs_commands, FsPartition};

fn cmds(c: &[&[&str]]) -> Vec<Vec<String>> {
    c.iter().map(|v| v.iter().map(|s| s.to_string()).collect()).collect()
}

/// "Now" for the timestamps mkfs and mkdir make, in file and device runs alike.
const NOW_SECS: u64 = 1_700_000_000;

/// mpimg with "now" fixed at [`NOW_SECS`].
fn run_at_fixed_time(dir: &Path, args: &[&str]) -> std::process::Output {
    run_mpimg_env(dir, args, &[("SOURCE_DATE_EPOCH", &NOW_SECS.to_string())])
}

/// The same commands through the library on a whole-flash file image.
fn on_file(flash: Vec<u8>, size: u32, vfs: (u32, u32), commands: &[Vec<String>]) -> (Vec<u8>, String) {
    let mut f = FileFlash::new(flash, 0, size);
    let parts = [FsPartition { name: "vfs".into(), offset: vfs.0, size: vfs.1, implicit: false }];
    let (mut out, mut log) = (Vec::new(), Vec::new());
    with_now(NOW_SECS * 1_000_000_000, || run_fs_commands(&mut f, &parts, commands, &mut out, &mut log)).unwrap();
    (f.into_bytes(), text(&out))
}

/// littlefs-python's view of the filesystem in `image`: `{"files": {path: {size, sha256, mtime}}, ...}`.
fn lfs_dump(py: &Path, image: &[u8], dir: &Path) -> serde_json::Value {
    let img = dir.join("vfs.img");
    std::fs::write(&img, image).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/lfs_check.py");
    let o = std::process::Command::new(py)
        .arg(script)
        .arg("dump")
        .arg(&img)
        .arg((image.len() / 4096).to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn fs_on_device(chip: &str, fw: &str, size: u32, vfs: (u32, u32)) {
    let (Some(path), Some(py)) = (firmware(fw), venv_python()) else { return };
    // mkfs and mkdir stamp "now": fixed, so file and device runs match.
    let file = std::fs::read(&path).unwrap();
    let bl = sim::bootloader_offset(chip);
    let d = sim::start(chip, size, Some(&path), vec![]);
    let dir = d.dir.path();
    // Files to put, with fixed modification times (put stores them).
    let a: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(dir.join("a.txt"), &a).unwrap();
    std::fs::write(dir.join("main.py"), b"print('hello')\n").unwrap();
    for f in ["a.txt", "main.py"] {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        std::fs::File::options().write(true).open(dir.join(f)).unwrap().set_modified(t).unwrap();
    }
    let a_path = dir.join("a.txt").display().to_string();
    let m_path = dir.join("main.py").display().to_string();
    let commands = cmds(&[&["mkfs", "vfs"], &["mkdir", "/lib"], &["put", &a_path, "/lib"], &["put", &m_path, "/"]]);
    let (want, _) = on_file(flash_image(&file, bl, size), size, vfs, &commands);

    let mut args: Vec<String> = vec![d.port(), "-q".into()];
    for c in &commands {
        args.push("--fs".into());
        args.extend(c.iter().cloned());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run_at_fixed_time(dir, &argv);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_same_flash(&d.bytes(), &want);

    // An independent reader sees the files.
    let bytes = d.bytes();
    let v = lfs_dump(&py, &bytes[vfs.0 as usize..(vfs.0 + vfs.1) as usize], dir);
    assert_eq!(v["disk_version"], 0x20000);
    assert_eq!(v["dirs"], serde_json::json!(["lib"]));
    let files = v["files"].as_object().unwrap();
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    assert_eq!(names, ["boot.py", "lib/a.txt", "main.py"]);
    assert_eq!(files["lib/a.txt"]["size"], 10_000);
    assert_eq!(files["main.py"]["size"], 15);
    // mtime attribute: 1_700_000_000 s in nanoseconds, u64 little-endian.
    assert_eq!(files["main.py"]["mtime"], hex::encode_le(1_700_000_000u64 * 1_000_000_000));

    // Inspecting the device ends with the filesystem's usage, as df gives it on the file.
    let (_, df) = on_file(bytes.clone(), size, vfs, &cmds(&[&["df", "vfs"]]));
    let o = run_at_fixed_time(dir, &[&d.port()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).ends_with(&df), "{}", text(&o.stdout));

    // Reading commands: same listing as on the file, nothing written.
    let (_, listing) = on_file(bytes.clone(), size, vfs, &cmds(&[&["ls", "-l"]]));
    let o = run_at_fixed_time(dir, &[&d.port(), "-q", "--fs", "ls", "-l"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), listing);
    let o = run_at_fixed_time(dir, &[&d.port(), "-q", "--fs", "get", "/lib/a.txt", "back.txt"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(dir.join("back.txt")).unwrap(), a);
    assert_same_flash(&d.bytes(), &bytes);
}

mod hex {
    pub fn encode_le(v: u64) -> String {
        v.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[test]
fn fs_esp32() {
    fs_on_device("esp32", "ESP32_GENERIC-20240602-v1.23.0.bin", 4 << 20, (0x200000, 0x200000));
}

#[test]
fn fs_esp32s3() {
    fs_on_device("esp32s3", "ESP32_GENERIC_S3-20241129-v1.24.1.bin", 8 << 20, (0x200000, 0x600000));
}

#[test]
fn implicit_vfs_fills_the_detected_flash() {
    // v1.27 has no vfs in its table: MicroPython makes one from the end of the
    // table to the end of the flash it detects (8 MB here; the header says 4 MB).
    let Some(path) = firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return };
    let size = 8 << 20;
    let file = std::fs::read(&path).unwrap();
    let d = sim::start("esp32c3", size, Some(&path), vec![]);
    let commands = cmds(&[&["mkfs", "vfs"]]);
    let (want, _) = on_file_parts(
        flash_image(&file, 0, size),
        size,
        FsPartition { name: "vfs".into(), offset: 0x200000, size: 0x600000, implicit: true },
        &commands,
    );
    let o = run_at_fixed_time(d.dir.path(), &[&d.port(), "-q", "--fs", "mkfs", "vfs"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_same_flash(&d.bytes(), &want);
    let o = run_at_fixed_time(d.dir.path(), &[&d.port(), "-q", "--fs", "df"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (_, df) = on_file_parts(
        want,
        size,
        FsPartition { name: "vfs".into(), offset: 0x200000, size: 0x600000, implicit: true },
        &cmds(&[&["df"]]),
    );
    assert_eq!(text(&o.stdout), df);
    assert!(df.contains("vfs          littlefs 2.0       6144 "), "{df}");
}

fn on_file_parts(flash: Vec<u8>, size: u32, part: FsPartition, commands: &[Vec<String>]) -> (Vec<u8>, String) {
    let mut f = FileFlash::new(flash, 0, size);
    let (mut out, mut log) = (Vec::new(), Vec::new());
    with_now(NOW_SECS * 1_000_000_000, || run_fs_commands(&mut f, &[part], commands, &mut out, &mut log)).unwrap();
    (f.into_bytes(), text(&out))
}
