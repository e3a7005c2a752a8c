//! Diagnoses of esp-sim boards, one test each: the faulty flash built from
//! real images (files baked into the vfs where it has one), the exact
//! diagnosis, the printed fix run verbatim, then no diagnosis left and the
//! files intact as littlefs-python reads them with the partition's block
//! count. Also `--flash` fitting (and refusing) a firmware for the board.

use std::path::Path;

use mpimg::format::image::{parse_image, rehash};
use mpimg::format::otadata::{OtaRecord, OtaState};
use mpimg::format::partition::Partition;
use serde_json::Value;

use crate::util::diag::{
    assert_files, bake, baked_files, diag, diagnoses, fix_of, lfs_make, lfs_view, run_fix, set_table, table_of, Files,
};
use crate::util::sim::{self, assert_same_flash, flash_image, start, start_over, Dev};
use crate::util::{firmware, mpimg, ok};

const ESP32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const ESP32_OTA: &str = "ESP32_GENERIC-OTA-20250415-v1.25.0.bin";
const S3_8MB: &str = "ESP32_GENERIC_S3-20241129-v1.24.1.bin";
const S3_4MB: &str = "ESP32_GENERIC_S3-FLASH_4M-20240602-v1.23.0.bin";
const C3: &str = "ESP32_GENERIC_C3-20240602-v1.23.0.bin";
const V117: &str = "esp32-20210902-v1.17.bin";
const MB: u32 = 1 << 20;

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A board of `chip` whose flash holds `flash` (whole).
fn board(chip: &str, flash: &[u8]) -> Dev {
    start_over(chip, flash.len() as u32, Some(flash), None, vec![])
}

/// The board's diagnoses are exactly `want`; inspecting it exits with `code`.
#[track_caller]
fn assert_diagnoses(d: &Dev, want: &[Value], code: i32) {
    assert_eq!(diagnoses(d.dir.path(), &d.port()), (want.to_vec(), code));
}

/// Run the fix of `code` verbatim on the board; nothing is left to diagnose.
fn fix_and_recheck(d: &Dev, list: &[Value], code: &str, supply: &[(&str, &str)]) -> String {
    let r = run_fix(d.dir.path(), &fix_of(list, code), supply);
    ok(&r);
    assert_diagnoses(d, &[], 0);
    r.err
}

/// A 4 MB esp32 board holding the v1.23 image with files in its vfs; `edit`
/// changes the firmware file's bytes first.
fn baked_esp32(edit: impl FnOnce(&mut Vec<u8>)) -> Option<(Dev, Files)> {
    baked_esp32_on(4 * MB, edit)
}

/// [`baked_esp32`] on a board with `size` bytes of flash.
fn baked_esp32_on(size: u32, edit: impl FnOnce(&mut Vec<u8>)) -> Option<(Dev, Files)> {
    let fw = firmware(ESP32)?;
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let mut b = read(&work.path().join("baked.bin"));
    edit(&mut b);
    Some((board("esp32", &flash_image(&b, 0x1000, size)), files))
}

#[test]
fn a_firmware_written_at_0x0_of_an_esp32_is_moved_to_0x1000() {
    let Some(fw) = firmware(ESP32) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    // The board had the firmware and files in place; then the same firmware
    // was written at 0x0 (esptool write_flash 0x0 on an esp32).
    let release = read(&fw);
    let mut flash = flash_image(&read(&work.path().join("baked.bin")), 0x1000, 4 * MB);
    flash[..release.len()].copy_from_slice(&release);
    let d = board("esp32", &flash);
    let port = d.port();
    let want = [diag(
        "bootloader-offset",
        "error",
        "the bootloader is at 0x0, but an esp32 starts it from 0x1000: the firmware was written at the wrong offset",
        Some(&format!("mpimg {port} --fit")),
    )];
    assert_diagnoses(&d, &want, 1);
    let r = mpimg(d.dir.path(), &[&port]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.ends_with(&format!("error[bootloader-offset]: the bootloader is at 0x0, but an esp32 starts it from 0x1000: the firmware was written at the wrong offset\n  fix: mpimg {port} --fit\n")),
        "{}",
        r.err
    );
    // Any other run stops, saying so.
    let r = mpimg(d.dir.path(), &[&port, "--fs", "ls"]);
    assert_eq!(r.code, 1);
    assert!(r.err.ends_with("error: no bootloader at 0x1000, but one for esp32 at 0x0: the firmware was written at the wrong offset: move it where the chip starts it with --fit (a firmware for another chip: flash the right one with --flash)\n"), "{}", r.err);
    let err = fix_and_recheck(&d, &want, "bootloader-offset", &[]);
    let mut lines = err.lines();
    let saved = lines.next().unwrap();
    assert!(
        saved.starts_with("Saved the firmware being moved to mpimg-move-")
            && saved.ends_with(".bin: if the move is cut off, flash it with --flash"),
        "{err}"
    );
    assert_eq!(
        lines.next(),
        Some("Moved the firmware from 0x0 to 0x1000 (1734240 bytes: bootloader, table and apps), erased to 0x200000"),
        "{err}"
    );
    // The saved firmware is removed once the move is done.
    assert!(!std::fs::read_dir(d.dir.path()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("mpimg-move-")));
    // A move is a change: no "changed nothing" after it.
    assert!(!err.contains("changed nothing"), "{err}");
    let now = d.bytes();
    assert_eq!(now[0x1000..0x1000 + release.len()], release[..]);
    assert!(now[..0x1000].iter().all(|&b| b == 0xFF));
    assert!(now[0x1000 + release.len()..0x200000].iter().all(|&b| b == 0xFF));
    assert_files(&now, 0x200000, 0x200000, &files);
}

#[test]
fn a_firmware_written_at_0x1000_of_an_esp32s3_is_moved_to_0x0() {
    let Some(fw) = firmware(S3_4MB) else { return };
    let release = read(&fw);
    let mut flash = vec![0xFF; 4 * MB as usize];
    flash[0x1000..0x1000 + release.len()].copy_from_slice(&release);
    let d = board("esp32s3", &flash);
    let want = [diag(
        "bootloader-offset",
        "error",
        "the bootloader is at 0x1000, but an esp32s3 starts it from 0x0: the firmware was written at the wrong offset",
        Some(&format!("mpimg {} --fit", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    fix_and_recheck(&d, &want, "bootloader-offset", &[]);
    assert_same_flash(&d.bytes(), &flash_image(&release, 0, 4 * MB));
}

/// A firmware with files baked in, written `from` instead of where `chip`
/// starts it (a 4 MB board, blank before): the printed fix, run verbatim,
/// moves the filesystem with the firmware, so the board's flash is the
/// image where it belongs and littlefs-python finds every file in `vfs`.
fn baked_misplaced_is_moved_with_its_files(chip: &str, fw: &str, from: u32) {
    let Some(fw) = firmware(fw) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let baked = read(&work.path().join("baked.bin"));
    let to = if from == 0 { 0x1000 } else { 0 };
    let mut flash = vec![0xFF; 4 * MB as usize];
    let n = baked.len().min(flash.len() - from as usize);
    flash[from as usize..from as usize + n].copy_from_slice(&baked[..n]);
    let d = board(chip, &flash);
    let want = [diag(
        "bootloader-offset",
        "error",
        &format!(
            "the bootloader is at {from:#x}, but an {chip} starts it from {to:#x}: the firmware was written at the wrong offset"
        ),
        Some(&format!("mpimg {} --fit", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    let err = fix_and_recheck(&d, &want, "bootloader-offset", &[]);
    let moved = format!("Moved the firmware from {from:#x} to {to:#x} (");
    let line = err.lines().nth(1).unwrap();
    assert!(line.starts_with(&moved), "{err}");
    assert!(line.contains("bytes: bootloader, table, apps and the filesystem in 'vfs'), erased to 0x400000"), "{err}");
    let now = d.bytes();
    // The image where it belongs, byte for byte, but its last sector (off
    // the flash where it was written an image above its place).
    let mut want_flash = vec![0xFF; 4 * MB as usize];
    let kept = n.min(want_flash.len() - to as usize);
    want_flash[to as usize..to as usize + kept].copy_from_slice(&baked[..kept]);
    assert_same_flash(&now, &want_flash);
    assert_files(&now, 0x200000, 0x200000, &files);
}

#[test]
fn a_firmware_with_files_written_at_0x0_of_an_esp32_is_moved_with_its_files() {
    baked_misplaced_is_moved_with_its_files("esp32", ESP32, 0);
}

#[test]
fn a_firmware_with_files_written_at_0x1000_of_an_esp32s3_is_moved_with_its_files() {
    baked_misplaced_is_moved_with_its_files("esp32s3", S3_4MB, 0x1000);
}

/// `mpimg PORT --fit` moving a firmware with files (an esp32's, written at
/// 0x0) cut off at a few points of its writes: the error names the firmware
/// saved before the move and the command that flashes it; run verbatim, the
/// board's flash is what the uninterrupted move gives, files and all. `--fit`
/// run again on the cut board (its misplaced bootloader erased first) refuses,
/// naming that saved firmware.
#[test]
fn a_move_cut_off_is_finished_by_the_command_it_prints() {
    let Some(fw) = firmware(ESP32) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let baked = read(&work.path().join("baked.bin"));
    let mut flash = vec![0xFF; 4 * MB as usize];
    flash[..baked.len()].copy_from_slice(&baked);
    let reference = sim::start_with("esp32", 4 * MB, Some(&flash), None, vec![], |c| c.trace = true);
    ok(&mpimg(reference.dir.path(), &[&reference.port(), "--fit"]));
    let moved = reference.bytes();
    let trace = reference.sim.stats().trace;
    let data: Vec<usize> = (0..trace.len()).filter(|&i| trace[i].op == "FLASH_DEFL_DATA").collect();
    for (n, i) in [data[1], data[data.len() / 2], data[data.len() - 2]].into_iter().enumerate() {
        let at = trace[i].end - 7;
        let fault = esp_sim::Fault::Close { dir: esp_sim::fault::Dir::Rx, after_bytes: at };
        let d = start_over("esp32", 4 * MB, Some(&flash), None, vec![fault]);
        let old_port = d.port();
        let r = mpimg(d.dir.path(), &[&old_port, "--fit"]);
        assert_eq!(r.code, 1, "{}", r.err);
        let fix = "; the board may not start until the move is finished: ";
        let cmd = r.err.lines().find_map(|l| l.split_once(fix).map(|(_, c)| c.to_string()));
        let cmd = cmd.unwrap_or_else(|| panic!("cut {n} at {at}: {}", r.err));
        assert!(cmd.starts_with("mpimg mpimg-move-") && cmd.ends_with(&format!(".bin --flash {old_port}")), "{cmd}");
        let d = sim::restart(d, "esp32", vec![]);
        let port = d.port();
        if n == 1 {
            let r = mpimg(d.dir.path(), &[&port, "--fit"]);
            assert_eq!(r.code, 1, "{}", r.err);
            let saved = cmd.split(' ').nth(1).unwrap();
            assert!(
                r.err.ends_with(&format!(
                    "error: no bootloader found at 0x1000; flash the firmware saved before the move that was cut off: mpimg {saved} --flash {port}\n"
                )),
                "{}",
                r.err
            );
        }
        ok(&run_fix(d.dir.path(), &cmd, &[(&old_port, &port)]));
        assert_same_flash(&d.bytes(), &moved);
        assert_files(&d.bytes(), 0x200000, 0x200000, &files);
    }
}

#[test]
fn a_firmware_for_another_chip_is_replaced_by_one_for_the_board() {
    let (Some(s3), Some(esp32)) = (firmware(S3_4MB), firmware(ESP32)) else { return };
    // An esp32s3 firmware written at 0x0 of an esp32 (which starts at 0x1000).
    let d = board("esp32", &flash_image(&read(&s3), 0, 4 * MB));
    let want = [diag(
        "wrong-chip",
        "error",
        "the bootloader at 0x0 is for esp32s3, but the board is an esp32 (it starts a bootloader from 0x1000)",
        Some(&format!("mpimg FIRMWARE.bin --flash {}", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    fix_and_recheck(&d, &want, "wrong-chip", &[("FIRMWARE.bin", esp32.to_str().unwrap())]);
}

/// The C3 image retagged for chip revision v0.0 and later (bootloader and app, digests renewed).
fn c3_for_any_revision(c3: &[u8]) -> Vec<u8> {
    let mut b = c3.to_vec();
    for at in [0, 0x10000] {
        b[at + 14] = 0;
        b[at + 15..at + 17].copy_from_slice(&0u16.to_le_bytes());
        let end = if at == 0 { 0x8000 } else { b.len() };
        rehash(&mut b[at..end]).unwrap();
    }
    b
}

#[test]
fn a_firmware_for_a_newer_chip_revision_is_refused_diagnosed_and_replaced() {
    let Some(c3) = firmware(C3) else { return };
    // MicroPython's C3 images need revision v0.3; the emulated C3 is v0.0.
    let d = start("esp32c3", 4 * MB, None, vec![]);
    let port = d.port();
    let r = mpimg(d.dir.path(), &[c3.to_str().unwrap(), "--flash", &port]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        format!("error: the firmware needs esp32c3 revision v0.3 or later, but the esp32c3 on {port} is revision v0.0: it would not start; use a firmware built for this chip revision\n")
    );
    assert!(d.bytes().iter().all(|&b| b == 0xFF), "nothing written");
    // Written by another tool: diagnosed.
    let d = board("esp32c3", &flash_image(&read(&c3), 0, 4 * MB));
    let port = d.port();
    let want = [diag(
        "chip-revision",
        "error",
        "the bootloader needs esp32c3 revision v0.3 or later, but this esp32c3 is revision v0.0: it does not start",
        Some(&format!("mpimg FIRMWARE.bin --flash {port}")),
    )];
    assert_diagnoses(&d, &want, 1);
    std::fs::write(d.dir.path().join("c3-any.bin"), c3_for_any_revision(&read(&c3))).unwrap();
    fix_and_recheck(&d, &want, "chip-revision", &[("FIRMWARE.bin", "c3-any.bin")]);
}

#[test]
fn a_header_smaller_than_the_flash_is_fitted_and_vfs_grown() {
    // The 4 MB image with files in its vfs, on an 8 MB board.
    let Some((d, files)) = baked_esp32_on(8 * MB, |_| {}) else { return };
    let port = d.port();
    let want = [diag(
        "flash-size-mismatch",
        "warning",
        "the bootloader header says the flash is 4MB but the board has 8MB: MicroPython uses only the first 4MB of it",
        Some(&format!("mpimg {port} --fit")),
    )];
    // A warning: the board boots.
    assert_diagnoses(&d, &want, 0);
    let err = fix_and_recheck(&d, &want, "flash-size-mismatch", &[]);
    assert!(err.starts_with("Fitted to the 8MB flash: -f 8M --resize vfs=0\n"), "{err}");
    assert!(err.contains("\nKept 5 files (73 KiB) of 'vfs': littlefs 2.0 grown in place to 0x600000 bytes\n"), "{err}");
    let now = d.bytes();
    assert_eq!(now[0x1003] >> 4, 3, "8 MB in the header");
    assert_eq!(parse_image(&now[0x1000..0x8000]).unwrap().hash_ok(), Some(true));
    assert_eq!(table_of(&now[0x1000..], 0x1000).entries[3].end(), 0x800000);
    assert_files(&now, 0x200000, 0x600000, &files);
}

#[test]
fn an_8mb_firmware_on_a_4mb_board_is_fitted_when_flashed() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let d = start("esp32s3", 4 * MB, None, vec![]);
    let port = d.port();
    let r = mpimg(d.dir.path(), &[fw.to_str().unwrap(), "--flash", &port]);
    ok(&r);
    assert!(r.err.starts_with("Fitted to the 4MB flash: -f 4M --resize vfs=0\n"), "{}", r.err);
    assert!(!r.err.contains('['), "no diagnosis left: {}", r.err);
    let now = d.bytes();
    assert_eq!(now[3] >> 4, 2, "4 MB in the header");
    let t = table_of(&now, 0);
    assert_eq!(t.end(), 0x400000);
    // Valid hashes: the bootloader's renewed, the app's as it was.
    assert_eq!(parse_image(&now[..0x8000]).unwrap().hash_ok(), Some(true));
    assert_eq!(parse_image(&now[0x10000..0x200000]).unwrap().hash_ok(), Some(true));
    ok(&mpimg(d.dir.path(), &[&port, "--check-app"]));
    assert_diagnoses(&d, &[], 0);
    // MicroPython's first boot makes the filesystem; littlefs-python mounts
    // it with the partition's block count.
    ok(&mpimg(d.dir.path(), &[&port, "--fs", "mkfs", "vfs"]));
    let boot = vec![("boot.py".to_string(), mpimg::fs::lfs::BOOT_PY.as_bytes().to_vec())];
    assert_files(&d.bytes(), 0x200000, 0x200000, &boot);
}

#[test]
fn no_fit_writes_the_firmware_as_given_and_the_board_is_fitted_after() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let baked = work.path().join("baked.bin");
    let file = read(&baked);
    let d = start("esp32s3", 4 * MB, None, vec![]);
    let port = d.port();
    let r = mpimg(d.dir.path(), &[baked.to_str().unwrap(), "--flash", &port, "--no-fit"]);
    ok(&r);
    assert_same_flash(&d.bytes(), &flash_image(&file, 0, 4 * MB));
    let fix = format!("mpimg {port} --fit");
    let want = [
        diag(
            "flash-size-mismatch",
            "error",
            "the bootloader header says the flash is 8MB but the board has 4MB: the app stops at start-up, finding less flash than its header claims",
            Some(&fix),
        ),
        diag(
            "table-past-flash",
            "error",
            "'vfs' (0x200000..0x800000) ends past the end of the 4MB flash (0x400000): MicroPython cannot use it",
            Some(&fix),
        ),
    ];
    assert!(r.err.ends_with(&format!("error[flash-size-mismatch]: the bootloader header says the flash is 8MB but the board has 4MB: the app stops at start-up, finding less flash than its header claims\n  fix: {fix}\nerror[table-past-flash]: 'vfs' (0x200000..0x800000) ends past the end of the 4MB flash (0x400000): MicroPython cannot use it\n  fix: {fix}\n")), "{}", r.err);
    assert_diagnoses(&d, &want, 1);
    let err = fix_and_recheck(&d, &want, "table-past-flash", &[]);
    assert!(err.starts_with("Fitted to the 4MB flash: -f 4M --resize vfs=0\n"), "{err}");
    // The files went to a host backup first (removed once read back).
    assert!(err.contains("\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x200000 bytes\n"), "{err}");
    assert_eq!(table_of(&d.bytes(), 0).end(), 0x400000);
    assert_files(&d.bytes(), 0x200000, 0x200000, &files);
}

#[test]
fn baked_files_survive_fitting_when_flashed() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let baked = work.path().join("baked.bin");
    let d = start("esp32s3", 4 * MB, None, vec![]);
    let r = mpimg(d.dir.path(), &[baked.to_str().unwrap(), "--flash", &d.port()]);
    ok(&r);
    assert!(
        r.err.starts_with("Fitted to the 4MB flash: -f 4M --resize vfs=0\nSetting flash size in the bootloader header to 4MB\nResized 'vfs' to 0x200000 bytes\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x200000 bytes\nFlashed "),
        "{}",
        r.err
    );
    assert!(!r.err.contains('['), "no diagnosis left: {}", r.err);
    let now = d.bytes();
    assert_eq!(now[3] >> 4, 2, "4 MB in the header");
    assert_eq!(table_of(&now, 0).end(), 0x400000);
    assert_eq!(parse_image(&now[..0x8000]).unwrap().hash_ok(), Some(true));
    assert_eq!(parse_image(&now[0x10000..0x200000]).unwrap().hash_ok(), Some(true));
    assert_diagnoses(&d, &[], 0);
    assert_files(&now, 0x200000, 0x200000, &files);
}

#[test]
fn a_4mb_firmware_flashed_with_fit_grows_onto_a_16mb_board() {
    let Some(fw) = firmware(ESP32) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let baked = work.path().join("baked.bin");
    let d = start("esp32", 16 * MB, None, vec![]);
    let r = mpimg(d.dir.path(), &[baked.to_str().unwrap(), "--flash", &d.port(), "--fit"]);
    ok(&r);
    assert!(r.err.starts_with("Fitted to the 16MB flash: -f 16M --resize vfs=0\n"), "{}", r.err);
    assert!(
        r.err.contains("\nKept 5 files (73 KiB) of 'vfs': littlefs 2.0 grown in place to 0xe00000 bytes\n"),
        "{}",
        r.err
    );
    let now = d.bytes();
    assert_eq!(now[0x1003] >> 4, 4, "16 MB in the header");
    assert_eq!(parse_image(&now[0x1000..0x8000]).unwrap().hash_ok(), Some(true));
    let t = table_of(&now[0x1000..], 0x1000);
    assert_eq!((t.entries[3].offset, t.entries[3].end()), (0x200000, 0x1000000));
    assert_diagnoses(&d, &[], 0);
    // The filesystem was grown: littlefs-python mounts it with 3584 blocks.
    assert_files(&now, 0x200000, 0xe00000, &files);
}

#[test]
fn a_littlefs_too_new_for_the_app_on_a_board_is_made_again_at_2_0() {
    let Some(fw) = firmware(V117) else { return };
    let work = tempfile::tempdir().unwrap();
    let mut files = baked_files(&work.path().join("src"));
    files.sort();
    let Some(lfs) = lfs_make(&work.path().join("src"), 512, 0x20001) else { return };
    let mut flash = flash_image(&read(&fw), 0x1000, 4 * MB);
    flash[0x200000..0x400000].copy_from_slice(&lfs);
    let d = board("esp32", &flash);
    let want = [diag(
        "littlefs-version",
        "error",
        "'vfs' holds littlefs 2.1, which MicroPython v1.17 cannot mount (its littlefs reads 2.0 only)",
        Some(&format!("mpimg {} --fit", d.port())),
    )];
    // The version is in the banner, read from the app only when a littlefs 2.1 asks for it.
    assert_diagnoses(&d, &want, 1);
    let err = fix_and_recheck(&d, &want, "littlefs-version", &[]);
    assert!(err.contains("Kept 4 files (73 KiB) of 'vfs': made again as littlefs 2.0\n"), "{err}");
    let now = d.bytes();
    assert_eq!(lfs_view(&now, 0x200000, 0x200000).map(|v| v["disk_version"].clone()), Some(0x20000.into()));
    assert_files(&now, 0x200000, 0x200000, &files);
}

#[test]
fn a_firmware_that_fits_is_flashed_as_no_fit_flashes_it() {
    for (name, chip) in [(ESP32, "esp32"), (S3_4MB, "esp32s3")] {
        let Some(fw) = firmware(name) else { return };
        let fitted = start(chip, 4 * MB, None, vec![]);
        let r = mpimg(fitted.dir.path(), &[fw.to_str().unwrap(), "--flash", &fitted.port()]);
        ok(&r);
        assert!(!r.err.contains("Fitted"), "{}", r.err);
        let asis = start(chip, 4 * MB, None, vec![]);
        ok(&mpimg(asis.dir.path(), &[fw.to_str().unwrap(), "--flash", &asis.port(), "--no-fit"]));
        assert_same_flash(&fitted.bytes(), &asis.bytes());
        let bl = if chip == "esp32" { 0x1000 } else { 0 };
        assert_same_flash(&fitted.bytes(), &flash_image(&read(&fw), bl, 4 * MB));
    }
}

#[test]
fn otadata_selecting_an_empty_slot_on_a_board_is_erased() {
    let Some(fw) = firmware(ESP32_OTA) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let mut b = read(&work.path().join("baked.bin"));
    b[0xc000..0xc020].copy_from_slice(&OtaRecord::new(2, OtaState::Valid).to_bytes());
    let d = board("esp32", &flash_image(&b, 0x1000, 4 * MB));
    let want = [diag(
        "ota-empty-slot",
        "warning",
        "otadata (sequence 2) selects 'ota_1', which holds no app image: the bootloader falls back to 'ota_0'",
        Some(&format!("mpimg {} --erase otadata", d.port())),
    )];
    assert_diagnoses(&d, &want, 0);
    fix_and_recheck(&d, &want, "ota-empty-slot", &[]);
    assert_files(&d.bytes(), 0x310000, 0xf0000, &files);
}

#[test]
fn a_filesystem_larger_than_its_partition_on_a_board_gets_its_size_back() {
    let Some((d, files)) = baked_esp32(|b| {
        let mut t = table_of(b, 0x1000).entries;
        t[3].size = 0x100000;
        set_table(b, 0x1000, t);
    }) else {
        return;
    };
    let want = [diag(
        "fs-size-mismatch",
        "error",
        "the littlefs in 'vfs' has 512 blocks (0x200000 bytes) but its partition 256 (0x100000 bytes): MicroPython will not mount it",
        Some(&format!("mpimg {} --resize vfs=0x200000", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    fix_and_recheck(&d, &want, "fs-size-mismatch", &[]);
    assert_files(&d.bytes(), 0x200000, 0x200000, &files);
}

#[test]
fn a_filesystem_smaller_than_its_partition_on_a_board_is_grown() {
    // An 8 MB board whose header and table say 8 MB, vfs (6 MB) holding a
    // littlefs of 2 MB: a partition grown without its filesystem.
    let Some((d, files)) = baked_esp32_on(8 * MB, |b| {
        b[3] = 0x30 | (b[3] & 0x0F);
        rehash(&mut b[..0x7000]).unwrap();
        let mut t = table_of(b, 0x1000).entries;
        t[3].size = 0x600000;
        set_table(b, 0x1000, t);
    }) else {
        return;
    };
    let want = [diag(
        "fs-size-mismatch",
        "error",
        "the littlefs in 'vfs' has 512 blocks (0x200000 bytes) but its partition 1536 (0x600000 bytes): MicroPython will not mount it",
        Some(&format!("mpimg {} --fs grow vfs", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    fix_and_recheck(&d, &want, "fs-size-mismatch", &[]);
    assert_files(&d.bytes(), 0x200000, 0x600000, &files);
}

#[test]
fn an_app_larger_than_its_partition_on_a_board_gets_a_partition_that_holds_it() {
    let Some(fw) = firmware(ESP32) else { return };
    let mut b = read(&fw);
    let mut t = table_of(&b, 0x1000).entries;
    t[2].size = 0x190000;
    t[3] = Partition::new("vfs", 1, 0x81, 0x1a0000, 0x260000, 0);
    set_table(&mut b, 0x1000, t);
    let d = board("esp32", &flash_image(&b, 0x1000, 4 * MB));
    let want = [diag(
        "app-too-big",
        "error",
        "the app image in 'factory' is 1672800 bytes, larger than the partition (0x190000 bytes): it runs into 'vfs' at 0x1a0000",
        Some(&format!("mpimg {} --resize factory=0x1a0000", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    fix_and_recheck(&d, &want, "app-too-big", &[]);
    let t = table_of(&d.bytes()[0x1000..], 0x1000).entries;
    assert_eq!((t[2].size, t[3].offset), (0x1a0000, 0x1b0000));
}

#[test]
fn an_invalid_app_on_a_board_is_found_by_check_app_and_flashed_again() {
    let Some(fw) = firmware(ESP32) else { return };
    let Some((d, files)) = baked_esp32(|b| {
        let info = parse_image(&b[0xf000..]).unwrap();
        b[0xf000 + info.hashed_len - 1] ^= 0x55;
    }) else {
        return;
    };
    let port = d.port();
    // Inspecting reads headers only: the checksum is verified by --check-app.
    assert_diagnoses(&d, &[], 0);
    let r = mpimg(d.dir.path(), &[&port, "--check-app", "--json"]);
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    let list = v["diagnoses"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["code"].as_str(), list[0]["severity"].as_str()), (Some("app-invalid"), Some("error")));
    assert_eq!(list[0]["fix"], format!("mpimg FIRMWARE.bin --flash {port}"));
    let r = run_fix(d.dir.path(), &fix_of(&list, "app-invalid"), &[("FIRMWARE.bin", fw.to_str().unwrap())]);
    ok(&r);
    let r = mpimg(d.dir.path(), &[&port, "--check-app", "--json"]);
    assert_eq!(r.code, 0, "{}", r.out);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["diagnoses"], serde_json::json!([]));
    assert_files(&d.bytes(), 0x200000, 0x200000, &files);
}

/// `mpimg PORT --fit` cut off while it writes the shrunk vfs (the new table is
/// on the board, the old filesystem half overwritten): the same command run
/// again finds nothing left to fit, but the fit's host backup, and finishes.
#[test]
fn a_fit_cut_off_is_finished_by_running_it_again() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    // The 8 MB image with its files, written as it is onto a 4 MB board.
    let flash = flash_image(&read(&work.path().join("baked.bin")), 0, 4 * MB);
    let reference = sim::start_with("esp32s3", 4 * MB, Some(&flash), None, vec![], |c| c.trace = true);
    ok(&mpimg(reference.dir.path(), &[&reference.port(), "--fit"]));
    let trace = reference.sim.stats().trace;
    let table = trace.iter().position(|t| t.op == "FLASH_DEFL_BEGIN" && t.words.get(3) == Some(&0x8000)).unwrap();
    let vfs = table
        + trace[table..].iter().position(|t| t.op == "FLASH_DEFL_BEGIN" && t.words.get(3) >= Some(&0x200000)).unwrap();
    let data: Vec<usize> = (vfs..trace.len())
        .take_while(|&i| trace[i].op != "SPI_FLASH_MD5")
        .filter(|&i| trace[i].op == "FLASH_DEFL_DATA")
        .collect();
    let at = trace[data[data.len() / 2]].end - 7;
    let d = start_over(
        "esp32s3",
        4 * MB,
        Some(&flash),
        None,
        vec![esp_sim::Fault::Close { dir: esp_sim::fault::Dir::Rx, after_bytes: at }],
    );
    let r = mpimg(d.dir.path(), &[&d.port(), "--fit"]);
    assert_eq!(r.code, 1, "{}", r.err);
    assert!(r.err.contains("Saved the files to carry in mpimg-backup-"), "{}", r.err);
    assert_eq!(table_of(&d.bytes(), 0).end(), 0x400000, "the new table is on the board");
    let d = sim::restart(d, "esp32s3", vec![]);
    let r = mpimg(d.dir.path(), &[&d.port(), "--fit"]);
    ok(&r);
    assert!(r.err.contains("Finishing the table edit begun on "), "{}", r.err);
    assert_diagnoses(&d, &[], 0);
    assert_files(&d.bytes(), 0x200000, 0x200000, &files);
}

#[test]
fn a_firmware_that_cannot_be_fitted_is_refused_before_anything_is_written() {
    let Some(fw) = firmware(ESP32) else { return };
    let d = start("esp32", 4 * MB, None, vec![]);
    // An OTA table for 8 MB: ota_1 and vfs both end past 4 MB.
    ok(&mpimg(d.dir.path(), &[fw.to_str().unwrap(), "-f", "8M", "--table", "ota", "-o", "ota8.bin"]));
    let r = mpimg(d.dir.path(), &["ota8.bin", "--flash", &d.port()]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.ends_with("error: the table does not fit the 4MB flash: 'ota_1' (0x210000..0x410000), 'vfs' (0x410000..0x800000) end past its end (0x400000); a fit only resizes the last partition, and only a filesystem partition; give it a layout for this flash (-f SIZE --table ota|default|original), or (with --flash) write it as it is with --no-fit\n"),
        "{}",
        r.err
    );
    assert!(d.bytes().iter().all(|&b| b == 0xFF), "nothing written");
}

/// The C3 v1.27 image made into an esp32p4 firmware (chip id 18, revisions
/// v3.1..v3.99 as MicroPython's P4 builds have them, digests renewed), from
/// its bootloader offset 0x2000 on.
fn p4_firmware(c3: &[u8]) -> Vec<u8> {
    let retag = |image: &mut [u8]| {
        image[12..14].copy_from_slice(&18u16.to_le_bytes());
        image[14] = 3;
        image[15..17].copy_from_slice(&301u16.to_le_bytes());
        image[17..19].copy_from_slice(&399u16.to_le_bytes());
        rehash(image).unwrap();
    };
    let mut boot = c3[..0x6000].to_vec();
    retag(&mut boot);
    let mut app = c3[0x10000..].to_vec();
    retag(&mut app);
    [boot, c3[0x8000..0x10000].to_vec(), app].concat()
}

#[test]
fn an_esp32p4_firmware_written_at_0x0_is_moved_to_0x2000() {
    let Some(c3) = firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return };
    let fw = p4_firmware(&read(&c3));
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    std::fs::write(&flash, flash_image(&fw, 0, 4 * MB)).unwrap();
    let sim = esp_sim::Simulator::start(esp_sim::SimConfig::new(esp_sim::Chip::Esp32p4, 4 * MB, &flash)).unwrap();
    let d = Dev { sim, dir, flash, flash_size: 4 * MB };
    let want = [diag(
        "bootloader-offset",
        "error",
        "the bootloader is at 0x0, but an esp32p4 starts it from 0x2000: the firmware was written at the wrong offset",
        Some(&format!("mpimg {} --fit", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    fix_and_recheck(&d, &want, "bootloader-offset", &[]);
    assert_same_flash(&d.bytes(), &flash_image(&fw, 0x2000, 4 * MB));
}

#[test]
fn several_boards_are_each_fitted_to_their_own_flash() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let file = read(&fw);
    let small = start("esp32s3", 4 * MB, None, vec![]);
    let large = start("esp32s3", 8 * MB, None, vec![]);
    let ports = format!("{},{}", small.port(), large.port());
    let r = mpimg(small.dir.path(), &[fw.to_str().unwrap(), "--flash", &ports]);
    ok(&r);
    // Each board's block says what was done to it: the 4 MB one was fitted.
    assert!(r.err.contains("Fitted to the 4MB flash: -f 4M --resize vfs=0\n"), "{}", r.err);
    assert_eq!(r.err.matches("Fitted").count(), 1, "{}", r.err);
    // The 8 MB board holds the image as given; the 4 MB one, the fitted image.
    assert_same_flash(&large.bytes(), &flash_image(&file, 0, 8 * MB));
    let now = small.bytes();
    assert_eq!(now[3] >> 4, 2, "4 MB in the header");
    assert_eq!(table_of(&now, 0).end(), 0x400000);
    assert_eq!(parse_image(&now[..0x8000]).unwrap().hash_ok(), Some(true));
    assert_diagnoses(&small, &[], 0);
    assert_diagnoses(&large, &[], 0);
}

/// The C3 v1.27 image (no vfs in its table: MicroPython makes one at boot
/// from the end of the table to the end of the flash), for revision v0.0
/// chips, with an 8 MB header and files in that implicit vfs (6 MB).
fn v127_for_8mb_with_files(work: &Path) -> Option<(Vec<u8>, Files)> {
    let c3 = firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin")?;
    std::fs::write(work.join("c3.bin"), c3_for_any_revision(&read(&c3))).unwrap();
    let src = work.join("bake-src");
    let mut files = baked_files(&src);
    let o = crate::util::run_mpimg_env(
        work,
        &[
            "c3.bin",
            "-f",
            "8M",
            "--fs",
            "mkfs",
            "--fs",
            "put",
            "bake-src/main.py",
            "bake-src/lib",
            "bake-src/empty.txt",
            "/",
            "-o",
            "c3-8mb.bin",
        ],
        &[("SOURCE_DATE_EPOCH", crate::util::diag::EPOCH)],
    );
    assert!(o.status.success(), "{}", crate::util::text(&o.stderr));
    files.push(("boot.py".into(), mpimg::fs::lfs::BOOT_PY.as_bytes().to_vec()));
    files.sort();
    Some((read(&work.join("c3-8mb.bin")), files))
}

#[test]
fn an_implicit_vfs_made_for_8mb_is_fitted_to_a_4mb_board_with_its_files() {
    let work = tempfile::tempdir().unwrap();
    let Some((image, files)) = v127_for_8mb_with_files(work.path()) else { return };
    let path = work.path().join("c3-8mb.bin");
    // Flashed as it is: the header says 8 MB, and the littlefs in the
    // implicit vfs counts 1536 blocks where the board has 512.
    let d = start("esp32c3", 4 * MB, None, vec![]);
    let port = d.port();
    ok(&mpimg(d.dir.path(), &[path.to_str().unwrap(), "--flash", &port, "--no-fit"]));
    assert_same_flash(&d.bytes(), &flash_image(&image, 0, 4 * MB));
    let fix = format!("mpimg {port} --fit");
    let want = [
        diag(
            "flash-size-mismatch",
            "error",
            "the bootloader header says the flash is 8MB but the board has 4MB: the app stops at start-up, finding less flash than its header claims",
            Some(&fix),
        ),
        diag(
            "fs-size-mismatch",
            "error",
            "the littlefs in 'vfs' has 1536 blocks (0x600000 bytes) but its partition 512 (0x200000 bytes): MicroPython will not mount it",
            Some(&fix),
        ),
    ];
    assert_diagnoses(&d, &want, 1);
    let err = fix_and_recheck(&d, &want, "fs-size-mismatch", &[]);
    assert!(
        err.starts_with("Fitted to the 4MB flash: -f 4M; remade 'vfs' at its partition's size (files kept)\n"),
        "{err}"
    );
    assert!(err.contains("\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x200000 bytes\n"), "{err}");
    assert_files(&d.bytes(), 0x200000, 0x200000, &files);
    // Flashed without --no-fit, the same image is fitted on the way.
    let d = start("esp32c3", 4 * MB, None, vec![]);
    let r = mpimg(d.dir.path(), &[path.to_str().unwrap(), "--flash", &d.port()]);
    ok(&r);
    assert!(r.err.starts_with("Fitted to the 4MB flash: -f 4M\n"), "{}", r.err);
    assert!(r.err.contains("\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x200000 bytes\n"), "{}", r.err);
    assert_diagnoses(&d, &[], 0);
    assert_files(&d.bytes(), 0x200000, 0x200000, &files);
}

/// A fault of the v1.23 esp32 image (files in its vfs) on a board: what
/// `mpimg PORT --check-app --json` diagnoses (the message's start: a checksum
/// message ends with the bytes), and the fix (run with the release image for
/// `FIRMWARE.bin`).
struct ImageFault {
    what: &'static str,
    edit: fn(&mut Vec<u8>),
    code: &'static str,
    message: &'static str,
    fix: &'static str,
}

#[test]
fn image_faults_on_a_board_are_fixed_by_the_printed_command() {
    let Some(fw) = firmware(ESP32) else { return };
    let s3 = firmware(S3_4MB);
    let cases = [
        ImageFault {
            what: "an erased app",
            edit: |b| b[0xf000..0x1ff000].fill(0xFF),
            code: "no-app",
            message: "'factory', the app partition the bootloader starts with, holds no app image: no app boots",
            fix: "mpimg FIRMWARE.bin --flash PORT",
        },
        ImageFault {
            what: "a bootloader whose checksum fails",
            edit: |b| {
                let info = parse_image(b).unwrap();
                b[info.hashed_len - 1] ^= 0x55;
            },
            code: "bootloader-invalid",
            message: "the bootloader at 0x1000 does not load: its segment checksum fails",
            fix: "mpimg FIRMWARE.bin --flash PORT",
        },
    ];
    for c in cases {
        let Some((d, files)) = baked_esp32(c.edit) else { return };
        let port = d.port();
        let r = mpimg(d.dir.path(), &[&port, "--check-app", "--json"]);
        assert_eq!(r.code, 1, "{}", c.what);
        let v: Value = serde_json::from_str(&r.out).unwrap();
        let list = v["diagnoses"].as_array().unwrap().clone();
        assert_eq!(list.len(), 1, "{}: {list:?}", c.what);
        assert_eq!(
            (list[0]["code"].as_str(), list[0]["severity"].as_str()),
            (Some(c.code), Some("error")),
            "{}",
            c.what
        );
        assert!(list[0]["message"].as_str().unwrap().starts_with(c.message), "{}: {}", c.what, list[0]["message"]);
        assert_eq!(list[0]["fix"], c.fix.replace("PORT", &port), "{}", c.what);
        ok(&run_fix(d.dir.path(), list[0]["fix"].as_str().unwrap(), &[("FIRMWARE.bin", fw.to_str().unwrap())]));
        let r = mpimg(d.dir.path(), &[&port, "--check-app", "--json"]);
        assert_eq!(r.code, 0, "{}: {}", c.what, r.out);
        assert_eq!(serde_json::from_str::<Value>(&r.out).unwrap()["diagnoses"], serde_json::json!([]), "{}", c.what);
        assert_files(&d.bytes(), 0x200000, 0x200000, &files);
    }
    // The app of another chip: the S3's app in the esp32's factory partition.
    let Some(s3) = s3 else { return };
    let s3_app = read(&s3)[0x10000..].to_vec();
    let Some((d, files)) = baked_esp32(|b| {
        b[0xf000..0x1ff000].fill(0xFF);
        b[0xf000..0xf000 + s3_app.len()].copy_from_slice(&s3_app);
    }) else {
        return;
    };
    let want = [diag(
        "app-chip-mismatch",
        "error",
        "the app in 'factory' is built for esp32s3 but the bootloader for esp32",
        Some(&format!("mpimg FIRMWARE.bin --flash {}", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    fix_and_recheck(&d, &want, "app-chip-mismatch", &[("FIRMWARE.bin", fw.to_str().unwrap())]);
    assert_files(&d.bytes(), 0x200000, 0x200000, &files);
}

#[test]
fn otadata_selecting_an_invalid_slot_on_a_board_is_found_by_check_app_and_erased() {
    let Some(fw) = firmware(ESP32_OTA) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let mut b = read(&work.path().join("baked.bin"));
    b[0xc000..0xc020].copy_from_slice(&OtaRecord::new(2, OtaState::Valid).to_bytes());
    let app = parse_image(&b[0xf000..]).unwrap().total_len;
    let copy = b[0xf000..0xf000 + app].to_vec();
    b[0x18f000..0x18f000 + app].copy_from_slice(&copy);
    let info = parse_image(&b[0x18f000..]).unwrap();
    b[0x18f000 + info.hashed_len - 1] ^= 0x55;
    let d = board("esp32", &flash_image(&b, 0x1000, 4 * MB));
    let port = d.port();
    // Without --check-app only headers are read: ota_1's image looks whole.
    assert_diagnoses(&d, &[], 0);
    let r = mpimg(d.dir.path(), &[&port, "--check-app", "--json"]);
    let v: Value = serde_json::from_str(&r.out).unwrap();
    let list = v["diagnoses"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["code"].as_str(), list[0]["severity"].as_str()), (Some("ota-invalid-slot"), Some("warning")));
    assert_eq!(list[0]["fix"], format!("mpimg {port} --erase otadata"));
    ok(&run_fix(d.dir.path(), list[0]["fix"].as_str().unwrap(), &[]));
    let r = mpimg(d.dir.path(), &[&port, "--check-app", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&r.out).unwrap()["diagnoses"], serde_json::json!([]));
    assert_files(&d.bytes(), 0x310000, 0xf0000, &files);
}

#[test]
fn a_littlefs_that_does_not_mount_on_a_board_is_corrupt_and_made_again() {
    // The two blocks of the superblock's metadata pair zeroed past the magic.
    let Some((d, _)) = baked_esp32(|b| b[0x1ff000 + 0x18..0x1ff000 + 0x2000].fill(0)) else { return };
    let want = [diag(
        "fs-corrupt",
        "error",
        "the littlefs filesystem in 'vfs' is corrupt (mount: corrupted filesystem): it does not mount, no file in it can be read, and MicroPython's boot says \"The filesystem appears to be corrupted\" (or makes a new one)",
        Some(&format!("mpimg {} --fs mkfs vfs", d.port())),
    )];
    assert_diagnoses(&d, &want, 1);
    fix_and_recheck(&d, &want, "fs-corrupt", &[]);
    let now = d.bytes();
    assert_eq!(lfs_view(&now, 0x200000, 0x200000).map(|v| v["block_count"].clone()), Some(512.into()));
}

#[test]
fn several_boards_with_fit_each_say_what_was_done_to_them_under_their_port() {
    let Some(fw) = firmware(ESP32) else { return };
    let work = tempfile::tempdir().unwrap();
    bake(work.path(), &fw, "baked.bin");
    let baked = work.path().join("baked.bin");
    let (b8, b4, b16) = (
        start("esp32", 8 * MB, None, vec![]),
        start("esp32", 4 * MB, None, vec![]),
        start("esp32", 16 * MB, None, vec![]),
    );
    let ports = [b8.port(), b4.port(), b16.port()];
    let r = mpimg(work.path(), &[baked.to_str().unwrap(), "--flash", &ports.join(","), "--fit"]);
    ok(&r);
    // Each board's block starts with its port; only the 4 MB board's says nothing changed.
    let blocks: Vec<&str> = r.err.split("== ").skip(1).collect();
    assert!(r.err.starts_with("== "), "{}", r.err);
    assert_eq!(blocks.len(), 3, "{}", r.err);
    assert!(
        blocks[0].starts_with(&format!("{} ==\nFitted to the 8MB flash: -f 8M --resize vfs=0\nFlashed ", ports[0])),
        "{}",
        r.err
    );
    assert!(
        blocks[1].starts_with(&format!(
            "{} ==\nwarning: --fit changed nothing: the firmware fits the 4MB flash as it is\nFlashed ",
            ports[1]
        )),
        "{}",
        r.err
    );
    assert!(
        blocks[2].starts_with(&format!("{} ==\nFitted to the 16MB flash: -f 16M --resize vfs=0\nFlashed ", ports[2])),
        "{}",
        r.err
    );
    assert_eq!(r.err.matches("changed nothing").count(), 1, "{}", r.err);
    for b in [&b8, &b4, &b16] {
        assert_diagnoses(b, &[], 0);
    }
}

#[test]
fn a_board_fitted_to_a_smaller_size_given_with_f_keeps_its_files_and_a_resize_given_wins() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let work = tempfile::tempdir().unwrap();
    let files = bake(work.path(), &fw, "baked.bin");
    let baked = read(&work.path().join("baked.bin"));
    let d = board("esp32s3", &flash_image(&baked, 0, 8 * MB));
    let port = d.port();
    let r = mpimg(d.dir.path(), &[&port, "-f", "4M", "--fit"]);
    ok(&r);
    assert!(r.err.starts_with("Fitted to the 4MB flash: -f 4M --resize vfs=0\n"), "{}", r.err);
    assert!(r.err.contains("\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x200000 bytes\n"), "{}", r.err);
    let now = d.bytes();
    assert_eq!(now[3] >> 4, 2, "4 MB in the header");
    assert_eq!(parse_image(&now[..0x8000]).unwrap().hash_ok(), Some(true));
    assert_eq!(table_of(&now, 0).end(), 0x400000);
    assert_files(&now, 0x200000, 0x200000, &files);
    ok(&mpimg(d.dir.path(), &[&port, "--check-app"]));
    // The user's --resize with --fit: vfs as asked, not grown back to the end of the 4 MB.
    let r = mpimg(d.dir.path(), &[&port, "-f", "4M", "--fit", "--resize", "vfs=1M"]);
    ok(&r);
    assert_eq!(r.err.matches("Resized 'vfs'").count(), 1, "{}", r.err);
    assert!(r.err.contains("Resized 'vfs' to 0x100000 bytes\n"), "{}", r.err);
    let now = d.bytes();
    assert_eq!(table_of(&now, 0).entries[3].size, 0x100000);
    assert_files(&now, 0x200000, 0x100000, &files);
}
