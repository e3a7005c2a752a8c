//! `--ota-update` and `--flash DEVICE` on esp-sim devices, each checked
//! against the same operation applied to a firmware file in memory.

use crate::util::sim;
use crate::util::sim::{assert_same_flash, flash_image, Dev};
use crate::util::{firmware, mpimg, ok};
use mpimg::flash::FileFlash;
use mpimg::format::partition::PartitionTable;
use mpimg::ops::ota::{ota_status, ota_update};

/// The device's flash as a whole-flash FileFlash, with its table.
fn as_file(d: &Dev) -> (FileFlash, PartitionTable) {
    let bytes = d.bytes();
    let t = PartitionTable::parse(&bytes[0x8000..0x9000]).unwrap();
    (FileFlash::new(bytes, 0, d.flash_size), t)
}

fn ota(chip: &str, fw: &str, app_fw: &str, size: u32) {
    let (Some(fw), Some(app_fw)) = (firmware(fw), firmware(app_fw)) else { return };
    let tmp = tempfile::tempdir().unwrap();
    // An OTA firmware: the image itself if it has OTA partitions, else made with --table ota.
    let ota_fw = tmp.path().join("ota.bin");
    let f = format!("{}M", size >> 20);
    ok(&mpimg(tmp.path(), &[fw.to_str().unwrap(), "-f", &f, "--table", "ota", "-o", ota_fw.to_str().unwrap()]));
    ok(&mpimg(tmp.path(), &[app_fw.to_str().unwrap(), "-x", "-o", "new.app-bin"]));
    let app = std::fs::read(tmp.path().join("new.app-bin")).unwrap();
    let d = sim::start(chip, size, Some(&ota_fw), vec![]);
    let port = d.port();

    // ota_1 holds no app yet: fine for a spare slot (the device boots ota_0); the
    // check says so and where the update goes.
    let r = mpimg(d.dir.path(), &[&port, "--check-app"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        r.out.contains("Check 'ota_1' at 0x210000: empty (no app image; fine for a spare OTA slot)\n"),
        "{}",
        r.out
    );
    assert!(r.out.contains("OTA: boots 'ota_0' next; an update goes to 'ota_1'\n"), "{}", r.out);

    for (round, (part, seq, state, rollback)) in
        [("ota_1", 2, "new", true), ("ota_0", 3, "undefined", false), ("ota_1", 4, "new", true)].into_iter().enumerate()
    {
        let (mut file, table) = as_file(&d);
        let want = ota_update(&mut file, &table, &app, rollback).unwrap();
        assert_eq!((want.partition.as_str(), want.seq, want.state.as_str()), (part, seq, state), "round {round}");
        let mut args =
            vec![port.as_str(), "--ota-update", tmp.path().join("new.app-bin").to_str().unwrap().to_string().leak()];
        if !rollback {
            args.push("--no-rollback");
        }
        let r = mpimg(d.dir.path(), &args);
        ok(&r);
        assert!(r.err.contains(&format!("Wrote {} bytes to '{part}' at ", app.len())), "{}", r.err);
        assert_same_flash(&d.bytes(), file.bytes());
        let (mut now, table) = as_file(&d);
        assert_eq!(ota_status(&mut now, &table).unwrap().unwrap().boots, part);
    }
    // The app that was written checks out.
    let r = mpimg(d.dir.path(), &[&port, "--check-app"]);
    ok(&r);
    assert!(
        r.out.contains(&format!(
            "Check 'ota_1' at 0x{:x}: valid {chip} image, {} bytes",
            as_file(&d).1.find("ota_1").unwrap().offset,
            app.len()
        )),
        "{}",
        r.out
    );
    assert!(r.out.contains("OTA: boots 'ota_1' next; an update goes to 'ota_0'\n"), "{}", r.out);
    // On a file it is refused.
    let r = mpimg(tmp.path(), &[ota_fw.to_str().unwrap(), "--ota-update", "new.app-bin"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        "error: --ota-update needs a serial-attached device (e.g. /dev/ttyUSB0 or u0), not a firmware file\n"
    );
}

#[test]
fn ota_update_esp32() {
    ota("esp32", "ESP32_GENERIC-20240602-v1.23.0.bin", "ESP32_GENERIC-20250415-v1.25.0.bin", 8 << 20);
}

#[test]
fn ota_update_esp32s3() {
    ota(
        "esp32s3",
        "ESP32_GENERIC_S3-20241129-v1.24.1.bin",
        "ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.25.0.bin",
        8 << 20,
    );
}

#[test]
fn ota_update_on_the_real_ota_image() {
    // Its otadata is erased: ota_0 boots, the update goes to ota_1 (sector 0, seq 2).
    let (Some(fw), Some(app_fw)) =
        (firmware("ESP32_GENERIC-OTA-20250415-v1.25.0.bin"), firmware("esp32-20210902-v1.17.bin"))
    else {
        return;
    };
    let d = sim::start("esp32", 4 << 20, Some(&fw), vec![]);
    ok(&mpimg(d.dir.path(), &[app_fw.to_str().unwrap(), "-x", "-o", "a.app-bin"]));
    let app = std::fs::read(d.dir.path().join("a.app-bin")).unwrap();
    let (mut file, table) = as_file(&d);
    ota_update(&mut file, &table, &app, true).unwrap();
    ok(&mpimg(d.dir.path(), &[&d.port(), "--ota-update", "a.app-bin"]));
    assert_same_flash(&d.bytes(), file.bytes());
    assert_eq!(&d.bytes()[0xd000..0xd004], &2u32.to_le_bytes());
}

fn flash(chip: &str, fw: &str, size: u32) {
    let Some(path) = firmware(fw) else { return };
    let file = std::fs::read(&path).unwrap();
    let bl = sim::bootloader_offset(chip);
    let p = path.to_str().unwrap();

    // A blank (new) board.
    let d = sim::start(chip, size, None, vec![]);
    let r = mpimg(d.dir.path(), &[&d.port()]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        format!("error: no bootloader found at {bl:#x} (flash is erased there): flash a firmware with --flash\n")
    );
    // What mpimg learnt on connecting is shown all the same (trial 1, finding 16): chip, MAC, flash size.
    let port = d.port();
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.out);
    assert!(lines[0].starts_with(&format!("Connected to {port}: {chip} v")), "{}", r.out);
    assert!(lines[0].contains(", MAC 02:e5:51:"), "{}", r.out);
    assert!(lines[2].ends_with(&format!(", {}MB detected; link at 921600 baud", size >> 20)), "{}", r.out);
    let r = mpimg(d.dir.path(), &[&port, "--json"]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["error"]["message"], format!("no bootloader found at {bl:#x} (flash is erased there)"));
    assert_eq!(v["result"]["device"]["chip"], chip);
    assert_eq!(v["result"]["device"]["port"], port.as_str());
    assert_eq!(v["result"]["device"]["flash_size"], size);
    let r = mpimg(d.dir.path(), &[p, "--flash", &d.port()]);
    ok(&r);
    assert_same_flash(&d.bytes(), &flash_image(&file, bl, size));
    // Flashing the same again writes nothing (the device's MD5 says it is there).
    let r = mpimg(d.dir.path(), &[p, "--flash", &d.port(), "--json"]);
    ok(&r);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["result"]["flashed"]["sectors"]["written"], 0);
    assert_same_flash(&d.bytes(), &flash_image(&file, bl, size));

    // A board holding something else entirely: the image is written, the rest
    // of the partition it ends in is erased, everything else is left alone.
    let d = sim::start_over(chip, size, Some(&sim::foreign(size)), None, vec![]);
    let r = mpimg(d.dir.path(), &[&d.port()]);
    assert_eq!(r.code, 1);
    assert_eq!(r.err, format!("error: no bootloader found at {bl:#x}: flash a firmware with --flash\n"));
    // With an edit in the same run: the edited image goes to the device.
    let out = d.dir.path().join("edited.bin");
    let r = mpimg(
        d.dir.path(),
        &[p, "-f", &format!("{}M", size >> 20), "--resize", "vfs=0", "-o", out.to_str().unwrap(), "--flash", &d.port()],
    );
    ok(&r);
    let edited = std::fs::read(&out).unwrap();
    let mut want = sim::foreign(size);
    let end = bl as usize + edited.len();
    want[bl as usize..end].copy_from_slice(&edited);
    want[end..0x200000].fill(0xFF);
    assert_same_flash(&d.bytes(), &want);
    let r = mpimg(d.dir.path(), &[&d.port(), "--check-app"]);
    ok(&r);
    assert_eq!(r.err, "");
}

#[test]
fn flash_esp32() {
    flash("esp32", "ESP32_GENERIC-20240602-v1.23.0.bin", 4 << 20);
}

#[test]
fn flash_esp32s3() {
    flash("esp32s3", "ESP32_GENERIC_S3-20241129-v1.24.1.bin", 8 << 20);
}

#[test]
fn flash_refuses_another_chip() {
    let Some(path) = firmware("ESP32_GENERIC_S3-20241129-v1.24.1.bin") else { return };
    let d = sim::start("esp32", 4 << 20, None, vec![]);
    let r = mpimg(d.dir.path(), &[path.to_str().unwrap(), "--flash", &d.port()]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        format!(
            "error: the firmware is for esp32s3 but the device on {} is an esp32: use a firmware for esp32\n",
            d.port()
        )
    );
    assert!(d.bytes().iter().all(|&b| b == 0xFF));
}

#[test]
fn no_such_port() {
    let dir = tempfile::tempdir().unwrap();
    let r = mpimg(dir.path(), &["/dev/ttyUSB93"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.err, "error: no such port '/dev/ttyUSB93': check the device name (ls /dev/ttyUSB* /dev/ttyACM*) and that the board is plugged in\n");
    let r = mpimg(dir.path(), &["u93"]);
    assert_eq!(r.err, "error: no such port '/dev/ttyUSB93': check the device name (ls /dev/ttyUSB* /dev/ttyACM*) and that the board is plugged in\n");
}

#[test]
fn flash_warns_about_the_header_flash_size_and_refuses_app_images() {
    let Some(path) = firmware("ESP32_GENERIC-20240602-v1.23.0.bin") else { return };
    let d = sim::start("esp32", 8 << 20, None, vec![]);
    let r = mpimg(d.dir.path(), &[path.to_str().unwrap(), "--flash", &d.port()]);
    ok(&r);
    let file = std::fs::read(&path).unwrap();
    let err: Vec<&str> = r.err.lines().collect();
    // What was flashed is a note on stderr (stdout carries the report of the
    // file), then the board as flashed is diagnosed.
    assert!(
        err[0].starts_with(&format!("Flashed {} bytes to {} at 0x1000, erased to 0x200000 (", file.len(), d.port())),
        "{}",
        r.err
    );
    assert_eq!(
        err[1..],
        [
            "warning[flash-size-mismatch]: the bootloader header says the flash is 4MB but the board has 8MB: MicroPython uses only the first 4MB of it",
            &format!("  fix: mpimg {} --fit", d.port())
        ],
        "{}",
        r.err
    );
    assert!(r.out.starts_with("Firmware file "), "{}", r.out);
    assert_same_flash(&d.bytes(), &flash_image(&file, 0x1000, 8 << 20));
    // An app image has no bootloader or table to flash.
    ok(&mpimg(d.dir.path(), &[path.to_str().unwrap(), "-x", "-o", "a.app-bin"]));
    let r = mpimg(d.dir.path(), &["a.app-bin", "--flash", &d.port()]);
    assert_eq!(r.code, 1);
    assert!(r.err.starts_with("error: this is an app image (.app-bin), not a full firmware"), "{}", r.err);
}
