//! Diagnoses of firmware files, one test each: the faulty state built from a
//! real image (files baked into its vfs where it has one), the exact
//! diagnosis (`--json` and the human lines), the printed fix run verbatim,
//! then no diagnosis left and the files intact as littlefs-python reads them
//! with the partition's block count.

use std::path::Path;

use mpimg::format::image::{parse_image, rehash};
use mpimg::format::otadata::{OtaRecord, OtaState};
use mpimg::format::partition::Partition;
use serde_json::Value;

use crate::util::diag::{
    assert_files, bake, baked_files, diag, diagnoses, fix_of, lfs_make, lfs_view, run_fix, set_table, table_of,
    written, Files,
};
use crate::util::{firmware, mpimg, ok};

const ESP32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const ESP32_OTA: &str = "ESP32_GENERIC-OTA-20250415-v1.25.0.bin";
const S3_8MB: &str = "ESP32_GENERIC_S3-20241129-v1.24.1.bin";
const V117: &str = "esp32-20210902-v1.17.bin";

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Flip the checksum byte of the image at `at` in `file` (its SHA-256 fails too).
fn break_checksum(file: &mut [u8], at: usize) -> (u8, u8) {
    let info = parse_image(&file[at..]).unwrap();
    file[at + info.hashed_len - 1] ^= 0x55;
    (info.checksum_calc ^ 0x55, info.checksum_calc)
}

/// The diagnoses of `name` are exactly `want`, and `mpimg name` exits with `code`.
#[track_caller]
fn assert_diagnoses(dir: &Path, name: &str, want: &[Value], code: i32) {
    let (got, _) = diagnoses(dir, name);
    assert_eq!(got, want);
    assert_eq!(mpimg(dir, &[name]).code, code, "exit code of mpimg {name}");
}

/// Run the fix of `code` for `name` verbatim; the file it wrote has no diagnosis left.
fn fix_and_recheck(dir: &Path, list: &[Value], code: &str, supply: &[(&str, &str)]) -> Vec<u8> {
    let r = run_fix(dir, &fix_of(list, code), supply);
    let out = written(dir, &r);
    let (after, c) = diagnoses(dir, out.to_str().unwrap());
    assert_eq!((after, c), (vec![], 0), "after {}", fix_of(list, code));
    read(&out)
}

#[test]
fn fs_smaller_than_its_partition_is_grown() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    // An 8 MB header and a vfs of 6 MB around a littlefs of 2 MB: a
    // partition grown without its filesystem.
    let mut b = read(&d.join("baked.bin"));
    b[3] = 0x30 | (b[3] & 0x0F);
    rehash(&mut b[..0x7000]).unwrap();
    let mut t = table_of(&b, 0x1000).entries;
    t[3].size = 0x600000;
    set_table(&mut b, 0x1000, t);
    std::fs::write(d.join("grown.bin"), &b).unwrap();
    let want = [diag(
        "fs-size-mismatch",
        "error",
        "the littlefs in 'vfs' has 512 blocks (0x200000 bytes) but its partition 1536 (0x600000 bytes): MicroPython will not mount it",
        Some("mpimg grown.bin --fs grow vfs"),
    )];
    assert_diagnoses(d, "grown.bin", &want, 1);
    let r = mpimg(d, &["grown.bin"]);
    assert!(
        r.err.ends_with(
            "error[fs-size-mismatch]: the littlefs in 'vfs' has 512 blocks (0x200000 bytes) but its partition 1536 (0x600000 bytes): MicroPython will not mount it\n  fix: mpimg grown.bin --fs grow vfs\n"
        ),
        "{}",
        r.err
    );
    let after = fix_and_recheck(d, &want, "fs-size-mismatch", &[]);
    assert_files(&after, 0x200000 - 0x1000, 0x600000, &files);
}

#[test]
fn fs_larger_than_its_partition_gets_its_size_back() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    let mut b = read(&d.join("baked.bin"));
    let mut t = table_of(&b, 0x1000).entries;
    t[3].size = 0x100000;
    set_table(&mut b, 0x1000, t);
    std::fs::write(d.join("shrunk.bin"), &b).unwrap();
    let want = [diag(
        "fs-size-mismatch",
        "error",
        "the littlefs in 'vfs' has 512 blocks (0x200000 bytes) but its partition 256 (0x100000 bytes): MicroPython will not mount it",
        Some("mpimg shrunk.bin --resize vfs=0x200000"),
    )];
    assert_diagnoses(d, "shrunk.bin", &want, 1);
    let after = fix_and_recheck(d, &want, "fs-size-mismatch", &[]);
    assert_files(&after, 0x200000 - 0x1000, 0x200000, &files);
}

/// The OTA image (ota_0 holds the app, ota_1 is empty) with files in its vfs
/// and otadata selecting ota_1 (sequence 2).
fn ota_selecting_ota_1(d: &Path) -> Option<(Vec<u8>, Files)> {
    let fw = firmware(ESP32_OTA)?;
    let files = bake(d, &fw, "baked.bin");
    let mut b = read(&d.join("baked.bin"));
    let at = 0xd000 - 0x1000;
    b[at..at + 32].copy_from_slice(&OtaRecord::new(2, OtaState::Valid).to_bytes());
    Some((b, files))
}

#[test]
fn otadata_selecting_an_empty_slot_is_erased() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((b, files)) = ota_selecting_ota_1(d) else { return };
    std::fs::write(d.join("ota.bin"), &b).unwrap();
    let want = [diag(
        "ota-empty-slot",
        "warning",
        "otadata (sequence 2) selects 'ota_1', which holds no app image: the bootloader falls back to 'ota_0'",
        Some("mpimg ota.bin --erase otadata"),
    )];
    // A warning: the board boots (ota_0), so an inspection does not fail.
    assert_diagnoses(d, "ota.bin", &want, 0);
    let r = mpimg(d, &["ota.bin"]);
    assert!(
        r.err.ends_with("warning[ota-empty-slot]: otadata (sequence 2) selects 'ota_1', which holds no app image: the bootloader falls back to 'ota_0'\n  fix: mpimg ota.bin --erase otadata\n"),
        "{}",
        r.err
    );
    let after = fix_and_recheck(d, &want, "ota-empty-slot", &[]);
    assert!(after[0xc000..0xe000].iter().all(|&x| x == 0xFF));
    assert_files(&after, 0x310000 - 0x1000, 0xf0000, &files);
}

#[test]
fn otadata_selecting_an_invalid_slot_is_erased() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some((mut b, files)) = ota_selecting_ota_1(d) else { return };
    // ota_1 gets a copy of ota_0's app with a wrong checksum byte.
    let app = parse_image(&b[0xf000..]).unwrap().total_len;
    let copy = b[0xf000..0xf000 + app].to_vec();
    b[0x18f000..0x18f000 + app].copy_from_slice(&copy);
    let (stored, computed) = break_checksum(&mut b, 0x18f000);
    std::fs::write(d.join("ota.bin"), &b).unwrap();
    let want = [diag(
        "ota-invalid-slot",
        "warning",
        &format!("otadata (sequence 2) selects 'ota_1', which holds an app image that does not load: its segment checksum fails (stored {stored:#04x}, computed {computed:#04x}): the bootloader falls back to 'ota_0'"),
        Some("mpimg ota.bin --erase otadata"),
    )];
    assert_diagnoses(d, "ota.bin", &want, 0);
    let after = fix_and_recheck(d, &want, "ota-invalid-slot", &[]);
    assert_files(&after, 0x310000 - 0x1000, 0xf0000, &files);
}

#[test]
fn an_app_larger_than_its_partition_gets_a_partition_that_holds_it() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // factory cut to 0x190000 and vfs moved up to follow it: the app (0x198660
    // bytes) runs 0x8660 bytes into vfs, which can hold no files.
    let mut b = read(&fw);
    let mut t = table_of(&b, 0x1000).entries;
    t[2].size = 0x190000;
    t[3] = Partition::new("vfs", 1, 0x81, 0x1a0000, 0x260000, 0);
    set_table(&mut b, 0x1000, t);
    std::fs::write(d.join("big.bin"), &b).unwrap();
    let want = [diag(
        "app-too-big",
        "error",
        "the app image in 'factory' is 1672800 bytes, larger than the partition (0x190000 bytes): it runs into 'vfs' at 0x1a0000",
        Some("mpimg big.bin --resize factory=0x1a0000"),
    )];
    assert_diagnoses(d, "big.bin", &want, 1);
    let after = fix_and_recheck(d, &want, "app-too-big", &[]);
    let t = table_of(&after, 0x1000).entries;
    assert_eq!((t[2].size, t[3].offset, t[3].end()), (0x1a0000, 0x1b0000, 0x400000));
    // The app itself is untouched.
    assert_eq!(after[0xf000..0xf000 + 0x198660], b[0xf000..0xf000 + 0x198660]);
}

/// The app of the esp32 image, extracted, for fixes that name `APP.app-bin`.
fn good_app(d: &Path, fw: &Path) -> String {
    ok(&mpimg(d, &[fw.to_str().unwrap(), "-x", "-o", "good.app-bin"]));
    "good.app-bin".into()
}

#[test]
fn an_invalid_app_is_written_again() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    let mut b = read(&d.join("baked.bin"));
    let (stored, computed) = break_checksum(&mut b, 0xf000);
    std::fs::write(d.join("bad.bin"), &b).unwrap();
    let want = [diag(
        "app-invalid",
        "error",
        &format!("'factory', the app partition the bootloader starts with, holds an app image that does not load: its segment checksum fails (stored {stored:#04x}, computed {computed:#04x}): no app boots"),
        Some("mpimg bad.bin --write factory=APP.app-bin"),
    )];
    assert_diagnoses(d, "bad.bin", &want, 1);
    let app = good_app(d, &fw);
    let after = fix_and_recheck(d, &want, "app-invalid", &[("APP.app-bin", &app)]);
    assert_files(&after, 0x200000 - 0x1000, 0x200000, &files);
}

#[test]
fn a_missing_app_is_written() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    let mut b = read(&d.join("baked.bin"));
    b[0xf000..0x1ff000].fill(0xFF);
    std::fs::write(d.join("empty.bin"), &b).unwrap();
    let want = [diag(
        "no-app",
        "error",
        "'factory', the app partition the bootloader starts with, holds no app image: no app boots",
        Some("mpimg empty.bin --write factory=APP.app-bin"),
    )];
    assert_diagnoses(d, "empty.bin", &want, 1);
    let app = good_app(d, &fw);
    let after = fix_and_recheck(d, &want, "no-app", &[("APP.app-bin", &app)]);
    assert_files(&after, 0x200000 - 0x1000, 0x200000, &files);
}

#[test]
fn an_app_for_another_chip_is_replaced() {
    let (Some(fw), Some(s3)) = (firmware(ESP32), firmware(S3_8MB)) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    let mut b = read(&d.join("baked.bin"));
    let s3 = read(&s3);
    let s3_app = &s3[0x10000..];
    b[0xf000..0x1ff000].fill(0xFF);
    b[0xf000..0xf000 + s3_app.len()].copy_from_slice(s3_app);
    std::fs::write(d.join("mixed.bin"), &b).unwrap();
    let want = [diag(
        "app-chip-mismatch",
        "error",
        "the app in 'factory' is built for esp32s3 but the bootloader for esp32",
        Some("mpimg mixed.bin --write factory=APP.app-bin"),
    )];
    assert_diagnoses(d, "mixed.bin", &want, 1);
    let app = good_app(d, &fw);
    let after = fix_and_recheck(d, &want, "app-chip-mismatch", &[("APP.app-bin", &app)]);
    assert_files(&after, 0x200000 - 0x1000, 0x200000, &files);
}

#[test]
fn an_invalid_bootloader_is_written_again() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    let mut b = read(&d.join("baked.bin"));
    let (stored, computed) = break_checksum(&mut b, 0);
    std::fs::write(d.join("bad.bin"), &b).unwrap();
    let want = [diag(
        "bootloader-invalid",
        "error",
        &format!("the bootloader at 0x1000 does not load: its segment checksum fails (stored {stored:#04x}, computed {computed:#04x})"),
        Some("mpimg bad.bin --write bootloader=BOOTLOADER.bin"),
    )];
    assert_diagnoses(d, "bad.bin", &want, 1);
    ok(&mpimg(d, &[fw.to_str().unwrap(), "--read", "bootloader=good-boot.bin"]));
    let after = fix_and_recheck(d, &want, "bootloader-invalid", &[("BOOTLOADER.bin", "good-boot.bin")]);
    assert_files(&after, 0x200000 - 0x1000, 0x200000, &files);
}

#[test]
fn a_header_changed_without_its_digest_and_a_table_past_it_are_fitted() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The 8 MB image, files baked in, its header byte set to 4 MB by hand:
    // the digest fails, and vfs (to 0x800000) ends past the 4 MB the header
    // now says.
    let files = bake(d, &fw, "baked.bin");
    let mut b = read(&d.join("baked.bin"));
    b[3] = 0x20 | (b[3] & 0x0F);
    std::fs::write(d.join("s3 (4MB).bin"), &b).unwrap();
    let want = [
        diag(
            "bootloader-invalid",
            "error",
            "the bootloader at 0x0 does not load: its SHA-256 digest fails",
            Some("mpimg 's3 (4MB).bin' --fit"),
        ),
        diag(
            "table-past-flash",
            "error",
            "'vfs' (0x200000..0x800000) ends past the end of the 4MB flash (0x400000): MicroPython cannot use it",
            Some("mpimg 's3 (4MB).bin' --fit"),
        ),
    ];
    assert_diagnoses(d, "s3 (4MB).bin", &want, 1);
    // One command fixes both.
    let r = run_fix(d, &fix_of(&want, "table-past-flash"), &[]);
    assert!(
        r.err.starts_with(
            "Fitted to the 4MB flash: --resize vfs=0; renewed the bootloader's SHA-256\nResized 'vfs' to 0x200000 bytes\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x200000 bytes\n"
        ),
        "{}",
        r.err
    );
    let out = written(d, &r);
    assert_eq!(out, d.join("s3 (4MB)-fit.bin"));
    assert_eq!(diagnoses(d, out.to_str().unwrap()), (vec![], 0));
    let after = read(&out);
    assert_eq!(table_of(&after, 0).entries[3].end(), 0x400000);
    // Only the header's digest changed in the bootloader.
    let info = parse_image(&after).unwrap();
    assert_eq!(after[..info.hashed_len], b[..info.hashed_len]);
    assert_eq!(info.hash_ok(), Some(true));
    assert_files(&after, 0x200000, 0x200000, &files);
}

#[test]
fn a_littlefs_too_new_for_the_app_is_made_again_at_2_0() {
    let Some(fw) = firmware(V117) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // MicroPython v1.17's littlefs reads on-disk version 2.0 only; the vfs
    // holds a 2.1 one (as littlefs-python or a newer MicroPython makes it).
    let mut files = baked_files(&d.join("src"));
    files.sort();
    let Some(lfs) = lfs_make(&d.join("src"), 512, 0x20001) else { return };
    let mut b = read(&fw);
    b.resize(0x1ff000, 0xFF);
    b.extend_from_slice(&lfs);
    std::fs::write(d.join("old.bin"), &b).unwrap();
    let want = [diag(
        "littlefs-version",
        "error",
        "'vfs' holds littlefs 2.1, which MicroPython v1.17 cannot mount (its littlefs reads 2.0 only)",
        Some("mpimg old.bin --fit"),
    )];
    assert_diagnoses(d, "old.bin", &want, 1);
    let r = run_fix(d, &fix_of(&want, "littlefs-version"), &[]);
    // (The v1.17 table leaves 0x70000 bytes free before vfs: a warning, before and after.)
    let notes: Vec<&str> = r.err.lines().filter(|l| !l.starts_with("warning: 0x70000 bytes free")).collect();
    assert_eq!(
        notes[..2],
        [
            "Remade littlefs at on-disk version 2.0 (files kept)",
            "Kept 4 files (73 KiB) of 'vfs': made again as littlefs 2.0"
        ],
        "{}",
        r.err
    );
    let out = written(d, &r);
    assert_eq!(diagnoses(d, out.to_str().unwrap()), (vec![], 0));
    let after = read(&out);
    assert_eq!(lfs_view(&after, 0x1ff000, 0x200000).map(|v| v["disk_version"].clone()), Some(0x20000.into()));
    assert_files(&after, 0x1ff000, 0x200000, &files);
}

#[test]
fn a_fat_volume_larger_than_its_partition_gets_its_size_back() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&mpimg(
        d,
        &[
            fw.to_str().unwrap(),
            "--fs",
            "mkfs",
            "vfs",
            "fat",
            "--fs",
            "put",
            fw.to_str().unwrap(),
            "/",
            "-o",
            "fat.bin",
        ],
    ));
    let mut b = read(&d.join("fat.bin"));
    let mut t = table_of(&b, 0x1000).entries;
    t[3].size = 0x100000;
    set_table(&mut b, 0x1000, t);
    std::fs::write(d.join("fat-cut.bin"), &b).unwrap();
    let want = [diag(
        "fs-size-mismatch",
        "error",
        "the FAT volume in 'vfs' is 0x200000 bytes, larger than its partition (0x100000 bytes): its end is cut off",
        Some("mpimg fat-cut.bin --resize vfs=0x200000"),
    )];
    assert_diagnoses(d, "fat-cut.bin", &want, 1);
    // --fs gives the diagnosis's fix, never --fs mkfs (which would lose the files).
    let ls = mpimg(d, &["fat-cut.bin", "--fs", "ls"]);
    assert_eq!(ls.code, 1);
    assert!(
        ls.err.ends_with("error: the FAT volume on 'vfs' is 0x200000 bytes, larger than its partition (0x100000 bytes): the partition is too small for the filesystem, whose files are kept; give it back its size with --resize vfs=0x200000 (or --fit when the space after it is taken), as the fs-size-mismatch diagnosis of mpimg without options says\n"),
        "{}",
        ls.err
    );
    let r = run_fix(d, &fix_of(&want, "fs-size-mismatch"), &[]);
    let out = written(d, &r);
    assert_eq!(diagnoses(d, out.to_str().unwrap()), (vec![], 0));
    // The file put in is there, whole.
    let back = d.join("back.bin");
    let name = fw.file_name().unwrap().to_str().unwrap();
    ok(&mpimg(d, &[out.to_str().unwrap(), "--fs", "get", &format!("/{name}"), back.to_str().unwrap()]));
    assert_eq!(read(&back), read(&fw));
}

#[test]
fn fit_on_a_file_grows_it_to_the_size_given() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    let r = mpimg(d, &["baked.bin", "-f", "16M", "--fit"]);
    assert!(r.err.starts_with("Fitted to the 16MB flash: --resize vfs=0\n"), "{}", r.err);
    let out = written(d, &r);
    assert_eq!(out, d.join("baked-16MB-fit.bin"));
    assert_eq!(diagnoses(d, out.to_str().unwrap()), (vec![], 0));
    let after = read(&out);
    assert_eq!(after[3] >> 4, 4, "16 MB in the header");
    assert_eq!(table_of(&after, 0x1000).entries[3].end(), 0x1000000);
    assert_files(&after, 0x200000 - 0x1000, 0xe00000, &files);
}

#[test]
fn a_filesystem_larger_than_a_partition_that_cannot_grow_is_made_again_at_its_size() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    // vfs cut to 1 MB behind its 2 MB littlefs, and another partition right after it.
    let mut b = read(&d.join("baked.bin"));
    let mut t = table_of(&b, 0x1000).entries;
    t[3].size = 0x100000;
    t.push(Partition::new("data", 1, 0x80, 0x300000, 0x100000, 0));
    set_table(&mut b, 0x1000, t);
    std::fs::write(d.join("boxed.bin"), &b).unwrap();
    let want = [diag(
        "fs-size-mismatch",
        "error",
        "the littlefs in 'vfs' has 512 blocks (0x200000 bytes) but its partition 256 (0x100000 bytes): MicroPython will not mount it",
        Some("mpimg boxed.bin --fit"),
    )];
    assert_diagnoses(d, "boxed.bin", &want, 1);
    let r = run_fix(d, &fix_of(&want, "fs-size-mismatch"), &[]);
    assert!(
        r.err.starts_with("Remade 'vfs' at its partition's size (files kept)\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x100000 bytes\n"),
        "{}",
        r.err
    );
    let out = written(d, &r);
    assert_eq!(diagnoses(d, out.to_str().unwrap()), (vec![], 0));
    assert_files(&read(&out), 0x200000 - 0x1000, 0x100000, &files);
}

#[test]
fn fit_on_a_firmware_that_fits_changes_nothing_and_says_so() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(&fw, d.join("fw.bin")).unwrap();
    let r = mpimg(d, &["fw.bin", "--fit"]);
    ok(&r);
    assert_eq!(
        r.err,
        format!(
            "warning: --fit changed nothing: the firmware fits the 4MB flash as it is\nWrote fw-fit.bin ({} bytes)\n",
            read(&fw).len()
        )
    );
    assert_eq!(read(&d.join("fw-fit.bin")), read(&fw));
}

/// The baked v1.23 image (a file from 0x1000) with the two blocks of the
/// littlefs superblock's metadata pair zeroed past its magic: it does not mount.
fn corrupt_littlefs(b: &mut [u8]) {
    let at = 0x200000 - 0x1000;
    b[at + 0x18..at + 0x2000].fill(0);
}

#[test]
fn a_littlefs_that_does_not_mount_is_corrupt_and_made_again() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    bake(d, &fw, "baked.bin");
    let mut b = read(&d.join("baked.bin"));
    corrupt_littlefs(&mut b);
    std::fs::write(d.join("broken.bin"), &b).unwrap();
    let want = [diag(
        "fs-corrupt",
        "error",
        "the littlefs filesystem in 'vfs' is corrupt (mount: corrupted filesystem): it does not mount, no file in it can be read, and MicroPython's boot says \"The filesystem appears to be corrupted\" (or makes a new one)",
        Some("mpimg broken.bin --fs mkfs vfs"),
    )];
    assert_diagnoses(d, "broken.bin", &want, 1);
    let r = mpimg(d, &["broken.bin"]);
    assert!(
        r.err.contains("error[fs-corrupt]: the littlefs filesystem in 'vfs' is corrupt (mount: corrupted filesystem)")
            && r.err.contains("\n  fix: mpimg broken.bin --fs mkfs vfs\n"),
        "{}",
        r.err
    );
    let after = fix_and_recheck(d, &want, "fs-corrupt", &[]);
    assert_eq!(lfs_view(&after, 0x200000 - 0x1000, 0x200000).map(|v| v["block_count"].clone()), Some(512.into()));
}

#[test]
fn a_fat_whose_fat_points_past_the_volume_is_corrupt_and_made_again_as_fat() {
    let Some(fw) = firmware(ESP32) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = fw.to_str().unwrap();
    ok(&mpimg(d, &[f, "--fs", "mkfs", "vfs", "fat", "--fs", "put", f, "/", "-o", "fat.bin"]));
    let mut b = read(&d.join("fat.bin"));
    // FAT12 entry of cluster 2 (bytes 3 and the low half of 4 of the FAT,
    // which starts one 4 KB sector into the volume) set to 0xe00.
    let fat = 0x200000 - 0x1000 + 0x1000;
    b[fat + 3] = 0x00;
    b[fat + 4] = (b[fat + 4] & 0xF0) | 0x0E;
    std::fs::write(d.join("fat-bad.bin"), &b).unwrap();
    let want = [diag(
        "fs-corrupt",
        "error",
        "the FAT filesystem in 'vfs' is corrupt (the FAT entry of cluster 2 points at cluster 3584, past the last cluster (507)): it does not mount, no file in it can be read, and MicroPython's boot says \"The filesystem appears to be corrupted\" (or makes a new one)",
        Some("mpimg fat-bad.bin --fs mkfs vfs fat"),
    )];
    assert_diagnoses(d, "fat-bad.bin", &want, 1);
    let r = run_fix(d, &fix_of(&want, "fs-corrupt"), &[]);
    let out = written(d, &r);
    assert_eq!(diagnoses(d, out.to_str().unwrap()), (vec![], 0));
    let df = mpimg(d, &[out.to_str().unwrap(), "--fs", "df"]);
    ok(&df);
    assert!(df.out.contains("vfs          FAT"), "{}", df.out);
}

#[test]
fn fit_to_a_smaller_size_given_with_f_shrinks_the_last_filesystem_with_its_files() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    // As the README says: `-f SIZE --fit` fits to SIZE (the vfs ends at 8 MB).
    let r = mpimg(d, &["baked.bin", "-f", "4M", "--fit"]);
    assert!(
        r.err.starts_with("Fitted to the 4MB flash: -f 4M --resize vfs=0\nSetting flash size in the bootloader header to 4MB\nResized 'vfs' to 0x200000 bytes\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x200000 bytes\nWrote baked-4MB-fit.bin ("),
        "{}",
        r.err
    );
    let out = written(d, &r);
    assert_eq!(diagnoses(d, out.to_str().unwrap()), (vec![], 0));
    let after = read(&out);
    assert_eq!(after[3] >> 4, 2, "4 MB in the header");
    assert_eq!(parse_image(&after[..0x8000]).unwrap().hash_ok(), Some(true));
    assert_eq!(table_of(&after, 0).entries[3].end(), 0x400000);
    assert_files(&after, 0x200000, 0x200000, &files);
    // Files that need more than the space left: refused with the numbers, nothing written.
    std::fs::write(
        d.join("big.bin"),
        (0..2_600_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    ok(&mpimg(d, &[fw.to_str().unwrap(), "--fs", "mkfs", "--fs", "put", "big.bin", "/", "-o", "big-fs.bin"]));
    let r = mpimg(d, &["big-fs.bin", "-f", "4M", "--fit", "-o", "big-4m.bin"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.ends_with("error: the 2 files (2539 KiB) of 'vfs' do not fit its new size, 0x200000 bytes (512 blocks): littlefs 2.0 needs 639 blocks (2617344 bytes) for them, so 'vfs' must be at least 0x27f000 bytes; choose a layout that leaves it that much, or first remove files (--fs rm) in a run of their own\n"),
        "{}",
        r.err
    );
    assert!(!d.join("big-4m.bin").exists());
}

#[test]
fn fit_keeps_a_size_given_with_resize_and_refuses_one_past_the_flash() {
    let Some(fw) = firmware(S3_8MB) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = bake(d, &fw, "baked.bin");
    // The user's size wins: the fit does not grow vfs back to the end of the flash.
    let r = mpimg(d, &["baked.bin", "-f", "4M", "--fit", "--resize", "vfs=1M", "-o", "one.bin"]);
    ok(&r);
    // Exactly the user's edits: no fit line, no second resize, no "changed nothing".
    let after = read(&d.join("one.bin"));
    assert_eq!(
        r.err,
        format!("Setting flash size in the bootloader header to 4MB\nResized 'vfs' to 0x100000 bytes\nKept 5 files (73 KiB) of 'vfs': shrunk to 0x100000 bytes\nWrote one.bin ({} bytes)\n", after.len())
    );
    assert_eq!(after[3] >> 4, 2, "4 MB in the header");
    assert_eq!(table_of(&after, 0).entries[3].size, 0x100000);
    assert_files(&after, 0x200000, 0x100000, &files);
    // Without -f: the header's 8 MB, vfs as asked, nothing else.
    let r = mpimg(d, &["baked.bin", "--fit", "--resize", "vfs=1M", "-o", "two.bin"]);
    ok(&r);
    assert_eq!(r.err.matches("Resized").count(), 1, "{}", r.err);
    assert!(!r.err.contains("--fit changed nothing"), "{}", r.err);
    assert_eq!(table_of(&read(&d.join("two.bin")), 0).entries[3].size, 0x100000);
    // A size that ends past the flash conflicts with the fit: refused, nothing written.
    let r = mpimg(d, &["baked.bin", "-f", "4M", "--fit", "--resize", "vfs=3M", "-o", "three.bin"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.ends_with("error: --fit cannot shrink 'vfs', whose size --resize sets: it ends at 0x500000, past the end of the 4MB flash (0x400000); give it a size that ends by 0x400000, or leave --resize out and let --fit size it\n"),
        "{}",
        r.err
    );
    assert!(!d.join("three.bin").exists());
}
