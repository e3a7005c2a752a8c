//! The mpimg command line on esp-sim devices (esp32 and esp32s3 images from
//! ../shared/firmware): every device option, each checked against the same
//! operation on a firmware file, byte for byte in the device's flash file.

mod common;
mod devsim;

use std::path::Path;

use common::{firmware, run_mpimg, text};
use devsim::{assert_same_flash, flash_image, Dev};

const ESP32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const ESP32S3: &str = "ESP32_GENERIC_S3-20241129-v1.24.1.bin";
const ESP32_OTA: &str = "ESP32_GENERIC-OTA-20250415-v1.25.0.bin";

struct Run {
    out: String,
    err: String,
    code: i32,
}

fn mpimg(dir: &Path, args: &[&str]) -> Run {
    let o = run_mpimg(dir, args);
    Run { out: text(&o.stdout), err: text(&o.stderr), code: o.status.code().unwrap_or(-1) }
}

#[track_caller]
fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.out, r.err);
}

/// The lines of a run's output from the partition table on.
fn from_table(out: &str) -> String {
    out.lines().skip_while(|l| !l.starts_with("Partition table")).collect::<Vec<_>>().join("\n")
}

fn device(chip: &str, fw: &str, size: u32) -> Option<(Dev, Vec<u8>, std::path::PathBuf)> {
    let path = firmware(fw)?;
    let file = std::fs::read(&path).unwrap();
    Some((devsim::start(chip, size, Some(&path), vec![]), file, path))
}

fn inspect(chip: &str, fw: &str, size: u32) {
    let Some((d, file, path)) = device(chip, fw, size) else { return };
    let bl = devsim::bootloader_offset(chip);
    let r = mpimg(d.dir.path(), &[&d.port()]);
    ok(&r);
    let first = r.out.lines().next().unwrap();
    assert!(first.starts_with(&format!("Connected to {}: {chip} ", d.port())), "{first}");
    let f = mpimg(d.dir.path(), &[path.to_str().unwrap()]);
    ok(&f);
    // Same table, same app facts; the device does not verify digests while inspecting.
    let table = |s: &str| s.lines().skip_while(|l| !l.starts_with("Partition table")).take_while(|l| !l.starts_with("App:")).collect::<Vec<_>>().join("\n");
    assert_eq!(table(&r.out), table(&f.out));
    let app = |s: &str| s.lines().find(|l| l.starts_with("App:")).unwrap_or_default().to_string();
    assert_eq!(app(&r.out), app(&f.out));
    let fills = |s: &str| s.lines().find(|l| l.trim_start().starts_with("fills")).unwrap_or_default().to_string();
    assert_eq!(fills(&r.out), fills(&f.out));
    assert!(r.out.contains("  image: "), "{}", r.out);
    // The device is untouched.
    assert_same_flash(&d.bytes(), &flash_image(&file, bl, size));
}

#[test]
fn inspect_esp32() {
    inspect("esp32", ESP32, 4 << 20);
}

#[test]
fn inspect_esp32s3() {
    inspect("esp32s3", ESP32S3, 8 << 20);
}

#[test]
#[ignore]
fn show_inspect() {
    let Some((d, _, _)) = device("esp32", ESP32, 8 << 20) else { return };
    let r = mpimg(d.dir.path(), &[&d.port(), "-d"]);
    println!("{}\n--- stderr\n{}", r.out, r.err);
    let r = mpimg(d.dir.path(), &[&d.port(), "--check-app", "--json"]);
    println!("{}\n--- stderr\n{}", r.out, r.err);
}
