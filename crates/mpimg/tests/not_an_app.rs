//! A bootloader or a whole firmware is not an app: refused where an app goes
//! (`--write`, `--assemble`, `--ota-update`) before anything is written, and
//! called out by `--check-app` and the inspection when an app partition
//! holds one (trial 1, finding 3).

use std::path::Path;

use crate::util::sim::{self, assert_same_flash};
use crate::util::synth::*;
use crate::util::{firmware as shared_firmware, mpimg, ok};

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap();
}

#[test]
fn write_and_assemble_refuse_a_bootloader_and_a_whole_firmware_at_an_app_partition() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "fw.bin", &s3_firmware());
    write(dir, "bl.bin", &bootloader_image(9));
    write(dir, "pt.bin", &generic_table());
    write(dir, "app.bin", &app_image(9, "MicroPython v1.26.1 on 2025-08-01"));
    let r = mpimg(dir, &["fw.bin", "--write", "factory=bl.bin", "-o", "w.bin"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        "error: 'bl.bin' is not an app image for 'factory': it is a bootloader image: write an app image there \
         (the .app-bin that `mpimg FIRMWARE -x` extracts)\n"
    );
    let r = mpimg(dir, &["fw.bin", "--write", "factory=fw.bin", "-o", "w.bin"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        "error: 'fw.bin' is not an app image for 'factory': it is a whole firmware image (bootloader at 0x0 followed \
         by a table): extract its app with `mpimg fw.bin -x` and write that app image\n"
    );
    assert!(!dir.join("w.bin").exists(), "nothing is written");
    // The app itself goes in.
    ok(&mpimg(dir, &["fw.bin", "--write", "factory=app.bin", "-o", "w.bin"]));

    let r = mpimg(dir, &["--assemble", "0x0=bl.bin,0x8000=pt.bin,0x10000=bl.bin", "-o", "a.bin"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        "error: 'bl.bin' at 0x10000 is not an app image for partition 'factory': it is a bootloader image\n"
    );
    let r = mpimg(dir, &["--assemble", "0x0=bl.bin,0x8000=pt.bin,0x10000=fw.bin", "-o", "a.bin"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        "error: 'fw.bin' at 0x10000 is not an app image for partition 'factory': it is a whole firmware image \
         (bootloader at 0x0 followed by a table): extract its app with `mpimg fw.bin -x` and give that\n"
    );
    assert!(!dir.join("a.bin").exists(), "nothing is written");
    ok(&mpimg(dir, &["--assemble", "0x0=bl.bin,0x8000=pt.bin,0x10000=app.bin", "-o", "a.bin"]));
    assert_eq!(std::fs::read(dir.join("a.bin")).unwrap(), s3_firmware());
}

#[test]
fn check_app_and_inspection_say_an_app_partition_holds_no_app() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "bl.bin", &firmware(9, 0, &generic_table(), &bootloader_image(9)));
    write(dir, "whole.bin", &firmware(9, 0, &generic_table(), &s3_firmware()));
    for (file, looks) in [
        ("bl.bin", "a bootloader image"),
        ("whole.bin", "a whole firmware image (bootloader at 0x0 followed by a table)"),
    ] {
        let r = mpimg(dir, &[file, "--check-app"]);
        assert_eq!(r.code, 1, "{file}: {}", r.out);
        let checks: Vec<&str> = r.out.lines().filter(|l| l.starts_with("Check ")).collect();
        let bl_len = bootloader_image(9).len();
        assert_eq!(
            checks,
            [
                format!("Check 'bootloader' at 0x0: valid esp32s3 image, {bl_len} bytes, checksum ok, SHA-256 ok"),
                format!("Check 'factory' at 0x10000: INVALID: not an app: it is {looks}"),
            ],
            "{file}"
        );
        let r = mpimg(dir, &[file]);
        assert_eq!(r.code, 1, "{file}: {}", r.out);
        assert_eq!(
            r.err,
            format!(
                "error[app-invalid]: 'factory', the app partition the bootloader starts with, holds no valid app \
                 image (it is {looks}): no app boots\n  fix: mpimg {file} --write factory=APP.app-bin\n"
            ),
            "{file}"
        );
    }
}

#[test]
fn ota_update_refuses_a_whole_firmware_and_check_app_on_the_board_names_it() {
    let Some(ota_fw) = shared_firmware("ESP32_GENERIC-OTA-20250415-v1.25.0.bin") else { return };
    let d = sim::start("esp32", 4 << 20, Some(&ota_fw), vec![]);
    let port = d.port();
    let before = d.bytes();
    let fw = ota_fw.to_str().unwrap();
    let r = mpimg(d.dir.path(), &[&port, "--ota-update", fw]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert_eq!(
        r.err.lines().last().unwrap(),
        format!(
            "error: '{fw}' is not an app image for 'ota_1': it is a whole firmware image (bootloader at 0x0 followed \
             by a table): extract its app with `mpimg {fw} -x` and write that app image"
        )
    );
    assert_same_flash(&d.bytes(), &before);
    drop(d);

    // A board whose ota_0 holds the whole firmware (flashed at the wrong offset by hand).
    let data = std::fs::read(&ota_fw).unwrap();
    let mut flash = vec![0xFF; 4 << 20];
    flash[0x1000..0x1000 + data.len()].copy_from_slice(&data);
    flash[0x10000..0x10000 + data.len()].copy_from_slice(&data);
    let d = sim::start_over("esp32", 4 << 20, Some(&flash), None, vec![]);
    let r = mpimg(d.dir.path(), &[&d.port(), "--check-app"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out.contains(
            "Check 'ota_0' at 0x10000: INVALID: not an app: it is a whole firmware image (bootloader at 0x0 \
             followed by a table)\n"
        ),
        "{}",
        r.out
    );
}
