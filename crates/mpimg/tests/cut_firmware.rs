//! A firmware file cut short: the inspection still shows the bootloader and
//! the table and flags the app (a diagnosis), `--check-app` gives its
//! verdicts, and an edit is refused (trial 1, finding 10). A board whose app
//! was flashed half way: the advice is to flash it again (finding 11).

use crate::util::sim;
use crate::util::synth::*;
use crate::util::{mpimg, Run};

fn cut(at: usize, args: &[&str]) -> Run {
    let d = tempfile::tempdir().unwrap();
    let mut f = s3_firmware();
    f.truncate(at);
    std::fs::write(d.path().join("fw.bin"), f).unwrap();
    mpimg(d.path(), args)
}

fn checks(r: &Run) -> Vec<&str> {
    r.out.lines().filter(|l| l.starts_with("Check ")).collect()
}

/// The report's lines up to the app: the file, the bootloader, the table.
fn report_head(end: usize) -> String {
    let bl = bootloader_image(9).len();
    format!(
        "Firmware file fw.bin: esp32s3, bootloader at 0x0, flash size 4MB, file covers 0x0..{end:#x}\n\
         Bootloader: 2 segments, {bl} bytes, checksum ok, SHA-256 ok\n\
         Partition table (flash size: 4MB):\n\
         Name      Type  SubType    Offset      Size       End  Flags\n\
         nvs       data  nvs        0x9000    0x6000    0xf000         (24.0 KiB)\n\
         phy_init  data  phy        0xf000    0x1000   0x10000         (4.0 KiB)\n\
         factory   app   factory   0x10000  0x1f0000  0x200000         (1.9 MiB)\n\
         vfs       data  fat      0x200000  0x200000  0x400000         (2.0 MiB)\n"
    )
}

#[test]
fn a_file_cut_inside_its_app_is_shown_and_its_app_flagged() {
    let bl = bootloader_image(9).len();
    let end = 0x10000 + 5000;
    let r = cut(end, &["fw.bin"]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(r.out.starts_with(&report_head(end)), "{}", r.out);
    assert_eq!(
        r.err,
        "error[app-invalid]: 'factory', the app partition the bootloader starts with, holds no valid app image (the \
         file ends at 0x11388, 5000 bytes into the image: the file is cut short): no app boots\n  \
         fix: mpimg fw.bin --write factory=APP.app-bin\n"
    );
    let r = cut(end, &["fw.bin", "--check-app"]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(
        checks(&r),
        [
            format!("Check 'bootloader' at 0x0: valid esp32s3 image, {bl} bytes, checksum ok, SHA-256 ok"),
            "Check 'factory' at 0x10000: INVALID: image truncated: the data of segment 1 at offset 0xce0 needs 20000 \
             bytes but only 1704 are there; the file is incomplete or cut short: get the image again"
                .to_string(),
        ]
    );
    // Cut inside the digest, the headers walk: still cut short, not a digest to renew.
    let app = app_image(9, "MicroPython v1.26.1 on 2025-08-01").len();
    let r = cut(0x10000 + app - 10, &["fw.bin"]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(
        r.err,
        format!(
            "error[app-invalid]: 'factory', the app partition the bootloader starts with, holds no valid app image \
             (the file ends at {:#x}, {} bytes into the image: the file is cut short): no app boots\n  \
             fix: mpimg fw.bin --write factory=APP.app-bin\n",
            0x10000 + app - 10,
            app - 10
        )
    );
    // An edit of a cut firmware is refused, after the report.
    let r = cut(end, &["fw.bin", "-f", "8M"]);
    assert_eq!(r.code, 1);
    assert!(r.out.starts_with(&report_head(end)), "{}", r.out);
    assert_eq!(
        r.err,
        "error: the firmware file is truncated: the app in 'factory' at 0x10000 is cut short (image truncated: the \
         data of segment 1 at offset 0xce0 needs 20000 bytes but only 1704 are there)\n"
    );
}

#[test]
fn a_file_that_ends_before_its_app_says_there_is_no_app() {
    let r = cut(0x9000, &["fw.bin"]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(r.out, report_head(0x9000));
    assert_eq!(
        r.err,
        "error[no-app]: 'factory', the app partition the bootloader starts with, holds no app image: no app boots\n  \
         fix: mpimg fw.bin --write factory=APP.app-bin\n"
    );
    let r = cut(0x9000, &["fw.bin", "--check-app"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        checks(&r)[1],
        "Check 'factory' at 0x10000: INVALID: not in the file (it ends at 0x9000): nothing to boot"
    );
}

#[test]
fn a_half_flashed_board_is_told_to_flash_again() {
    // The app's first segment landed; from its second segment's header on, the flash is erased.
    let mut flash = vec![0xFF; 4 << 20];
    let fw = s3_firmware();
    flash[..fw.len()].copy_from_slice(&fw);
    flash[0x10800..].fill(0xFF);
    let d = sim::start_over("esp32s3", 4 << 20, Some(&flash), None, vec![]);
    let port = d.port();
    let fault = "segment 1 (header at offset 0xcd8) has length 0xffffffff, 16 MB or more";
    let r = mpimg(d.dir.path(), &[&port]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(
        r.out.contains(&format!(
            "  image: checksum none, SHA-256 none, {fault}; the image in flash is incomplete or damaged (as a cut \
             --flash leaves it): flash it again\n"
        )),
        "{}",
        r.out
    );
    assert!(!r.out.contains("only 256 are there"), "{}", r.out);
    assert!(
        r.err.ends_with(&format!(
            "error[app-invalid]: 'factory', the app partition the bootloader starts with, holds no valid app image \
             ({fault}): no app boots\n  fix: mpimg FIRMWARE.bin --flash {port}\n"
        )),
        "{}",
        r.err
    );
    let r = mpimg(d.dir.path(), &[&port, "--check-app"]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(
        checks(&r)[1],
        format!(
            "Check 'factory' at 0x10000: INVALID: {fault}; the image in flash is incomplete or damaged (as a cut \
             --flash leaves it): flash it again"
        )
    );
}
