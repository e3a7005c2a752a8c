//! The mpimg command line on esp-sim devices (esp32 and esp32s3 images from
//! ../shared/firmware): every device option, each checked against the same
//! operation on a firmware file, byte for byte in the device's flash file.

use std::path::Path;

use crate::util::sim;
use crate::util::sim::{assert_same_flash, flash_image, Dev};
use crate::util::{firmware, mpimg, ok, Run};

const ESP32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const ESP32S3: &str = "ESP32_GENERIC_S3-20241129-v1.24.1.bin";

/// The lines of a run's output from the partition table on.
fn device(chip: &str, fw: &str, size: u32) -> Option<(Dev, Vec<u8>, std::path::PathBuf)> {
    let path = firmware(fw)?;
    let file = std::fs::read(&path).unwrap();
    Some((sim::start(chip, size, Some(&path), vec![]), file, path))
}

fn inspect(chip: &str, fw: &str, size: u32) {
    let Some((d, file, path)) = device(chip, fw, size) else { return };
    let bl = sim::bootloader_offset(chip);
    let r = mpimg(d.dir.path(), &[&d.port()]);
    ok(&r);
    let first = r.out.lines().next().unwrap();
    assert!(first.starts_with(&format!("Connected to {}: {chip} ", d.port())), "{first}");
    let f = mpimg(d.dir.path(), &[path.to_str().unwrap()]);
    ok(&f);
    // Same table, same app facts; the device does not verify digests while inspecting.
    let table = |s: &str| {
        s.lines()
            .skip_while(|l| !l.starts_with("Partition table"))
            .take_while(|l| !l.starts_with("App:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&r.out), table(&f.out));
    let app = |s: &str| s.lines().find(|l| l.starts_with("App:")).unwrap_or_default().to_string();
    // Inspecting a device reads headers only: no banner search through the app.
    let file_app = app(&f.out);
    let banner = file_app.split(", IDF").next().unwrap().trim_start_matches("App: ").to_string();
    assert_eq!(app(&r.out), file_app.replace(&banner, "MicroPython (version not read from a device)"));
    // Filesystem usage closes the report (the test images have an erased vfs).
    assert_eq!(
        r.out.lines().last().unwrap(),
        "Filesystem: no littlefs or FAT filesystem on 'vfs'; create one with --fs mkfs vfs"
    );
    assert!(r.out.contains(" bytes, not verified (--check-app reads and verifies it)\n"), "{}", r.out);
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

/// Apply `args` to the firmware file (output in `out`) and to the device;
/// the device's flash must equal the output placed in erased flash.
fn same_as_file(d: &Dev, chip: &str, path: &Path, args: &[&str]) -> Run {
    let out = d.dir.path().join("out.bin");
    let mut fa: Vec<&str> = vec![path.to_str().unwrap()];
    fa.extend_from_slice(args);
    fa.extend_from_slice(&["-o", out.to_str().unwrap()]);
    ok(&mpimg(d.dir.path(), &fa));
    let port = d.port();
    let mut da: Vec<&str> = vec![&port];
    da.extend_from_slice(args);
    let r = mpimg(d.dir.path(), &da);
    ok(&r);
    let want = flash_image(&std::fs::read(&out).unwrap(), sim::bootloader_offset(chip), d.flash_size);
    assert_same_flash(&d.bytes(), &want);
    r
}

fn table_edits(chip: &str, fw: &str) {
    let Some((d, _, path)) = device(chip, fw, 8 << 20) else { return };
    let r = same_as_file(&d, chip, &path, &["-f", "8M", "--resize", "vfs=0"]);
    // The esp32 image's vfs grows in place, the s3 image's fills 8 MB already;
    // neither holds a filesystem on the board, so there is nothing to keep or
    // say, and nothing to diagnose: the header now says what the device has.
    assert!(!r.err.contains("warning: filesystem") && !r.err.contains("Kept"), "{}\n{}", r.out, r.err);
    assert!(!r.err.contains('['), "no diagnosis: {}", r.err);
    // Then an OTA layout: data partitions that moved are erased, ota_1 has no app yet.
    let r = same_as_file(&d, chip, &path, &["-f", "8M", "--table", "ota"]);
    assert!(r.err.contains("warning: app partition 'ota_1' holds no app image: write one with --write ota_1=FILE (or --ota-update FILE)"), "{}", r.err);
}

#[test]
fn table_edits_esp32() {
    table_edits("esp32", ESP32);
}

#[test]
fn table_edits_esp32s3() {
    table_edits("esp32s3", ESP32S3);
}

#[test]
fn no_table_past_the_device_flash() {
    // A 4 MB device: -f 8M is refused and nothing is written.
    let Some((d, file, _)) = device("esp32", ESP32, 4 << 20) else { return };
    let r = mpimg(d.dir.path(), &[&d.port(), "-f", "8M", "--resize", "vfs=0"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.err.lines().last(), Some("error: -f 8M is larger than the device's flash (4 MB): the device cannot hold that table; use -f 4M or less"));
    assert_same_flash(&d.bytes(), &flash_image(&file, 0x1000, 4 << 20));
    // An 8 MB image on a 4 MB device: a table edit is refused until -f fits it.
    let Some((d, file, _)) = device("esp32s3", ESP32S3, 4 << 20) else { return };
    let r = mpimg(d.dir.path(), &[&d.port(), "--rename", "vfs=data"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err.lines().last(),
        Some("error: the new table ends at 0x800000, past the end of the device's 4 MB flash (0x400000): set the flash size with -f 4M and fit the table to it (e.g. --resize vfs=0)")
    );
    assert_same_flash(&d.bytes(), &flash_image(&file, 0, 4 << 20));
    ok(&mpimg(d.dir.path(), &[&d.port(), "-f", "4M", "--resize", "vfs=0"]));
}

#[test]
fn header_flash_size_warning() {
    let Some((d, _, _)) = device("esp32", ESP32, 8 << 20) else { return };
    let r = mpimg(d.dir.path(), &[&d.port()]);
    ok(&r);
    assert_eq!(
        r.err,
        format!(
            "warning[flash-size-mismatch]: the bootloader header says the flash is 4MB but the board has 8MB: MicroPython uses only the first 4MB of it\n  fix: mpimg {} --fit\n",
            d.port()
        )
    );
}

fn partitions_and_files(chip: &str, fw: &str, other_fw: &str, size: u32) {
    let (Some(path), Some(other)) = (firmware(fw), firmware(other_fw)) else { return };
    let file = std::fs::read(&path).unwrap();
    let bl = sim::bootloader_offset(chip);
    // Foreign bytes everywhere the firmware does not cover (an old filesystem, say).
    let d = sim::start_over(chip, size, Some(&sim::foreign(size)), Some(&path), vec![]);
    let mut want = sim::foreign(size);
    want[bl as usize..bl as usize + file.len()].copy_from_slice(&file);
    assert_same_flash(&d.bytes(), &want);
    let dir = d.dir.path();
    let port = d.port();

    // -x gives the same app image as from the file.
    ok(&mpimg(dir, &[path.to_str().unwrap(), "-x", "-o", "file.app-bin"]));
    ok(&mpimg(dir, &[&port, "-x", "-o", "dev.app-bin"]));
    assert_eq!(std::fs::read(dir.join("dev.app-bin")).unwrap(), std::fs::read(dir.join("file.app-bin")).unwrap());
    // Without -o: named after the chip and the app partition, not the port (`2.app-bin` for /dev/pts/2).
    let r = mpimg(dir, &[&port, "-x"]);
    ok(&r);
    let named = format!("{chip}-factory.app-bin");
    let size = std::fs::metadata(dir.join("file.app-bin")).unwrap().len();
    assert!(r.err.ends_with(&format!("Wrote app image ({size} bytes) to {named}\n")), "{}", r.err);
    assert_eq!(std::fs::read(dir.join(&named)).unwrap(), std::fs::read(dir.join("file.app-bin")).unwrap());

    // --read: the whole partition (a file holds only what it covers).
    ok(&mpimg(dir, &[&port, "--read", "factory=f.bin,nvs=n.bin,bootloader=b.bin"]));
    let p = |s: &str| std::fs::read(dir.join(s)).unwrap();
    assert_eq!(p("f.bin"), &want[0x10000..0x200000]);
    assert_eq!(p("n.bin"), &want[0x9000..0xF000]);
    assert_eq!(p("b.bin"), &want[bl as usize..0x8000]);

    // --erase and --erase-fs: as on the file, and the filesystem's first 4 blocks.
    let r = mpimg(dir, &[&port, "--erase", "nvs", "--erase-fs", "vfs"]);
    ok(&r);
    want[0x9000..0xF000].fill(0xFF);
    want[0x200000..0x204000].fill(0xFF);
    assert_same_flash(&d.bytes(), &want);

    // --write an app for the same chip: the rest of the partition is erased.
    ok(&mpimg(dir, &[other.to_str().unwrap(), "-x", "-o", "other.app-bin"]));
    let app = p("other.app-bin");
    ok(&mpimg(dir, &[&port, "--write", "factory=other.app-bin"]));
    want[0x10000..0x200000].fill(0xFF);
    want[0x10000..0x10000 + app.len()].copy_from_slice(&app);
    assert_same_flash(&d.bytes(), &want);
    // ... and the firmware file with the same --write gives the same bytes where it reaches.
    ok(&mpimg(dir, &[path.to_str().unwrap(), "--write", "factory=other.app-bin", "-o", "w.bin"]));
    let w = p("w.bin");
    assert_eq!(&d.bytes()[bl as usize..bl as usize + w.len()], &w[..]);

    // An app for another chip is refused before anything is written.
    let wrong = if chip == "esp32" { ESP32S3 } else { ESP32 };
    if let Some(wp) = firmware(wrong) {
        ok(&mpimg(dir, &[wp.to_str().unwrap(), "-x", "-o", "wrong.app-bin"]));
        let r = mpimg(dir, &[&port, "--write", "factory=wrong.app-bin"]);
        assert_eq!(r.code, 1);
        let other_chip = if chip == "esp32" { "esp32s3" } else { "esp32" };
        assert_eq!(
            r.err.lines().last().unwrap(),
            format!(
                "error: 'wrong.app-bin' is not a valid {chip} app image for 'factory': it is built for {other_chip}"
            )
        );
        assert_same_flash(&d.bytes(), &want);
    }

    // --check-app reads and verifies what is there.
    let r = mpimg(dir, &[&port, "--check-app"]);
    ok(&r);
    let checks: Vec<&str> = r.out.lines().filter(|l| l.starts_with("Check ")).collect();
    assert_eq!(checks.len(), 2, "{}", r.out);
    assert!(
        checks[1].starts_with(&format!("Check 'factory' at 0x10000: valid {chip} image, {} bytes", app.len())),
        "{}",
        checks[1]
    );
}

#[test]
fn partitions_and_files_esp32() {
    partitions_and_files("esp32", ESP32, "ESP32_GENERIC-20250415-v1.25.0.bin", 4 << 20);
}

#[test]
fn partitions_and_files_esp32s3() {
    partitions_and_files("esp32s3", ESP32S3, "ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.25.0.bin", 8 << 20);
}
