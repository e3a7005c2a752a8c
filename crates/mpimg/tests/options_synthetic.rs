//! Every option on synthetic firmware built by the tests themselves (so a fresh
//! clone without ../shared still tests the formats), with exact expected bytes.

use std::path::Path;

use crate::util::synth::*;
use crate::util::{run_mpimg, text};

fn setup(fw: &[u8]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fw.bin"), fw).unwrap();
    d
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run_mpimg(dir, args);
    assert!(o.status.success(), "mpimg {args:?} failed: {}", text(&o.stderr));
    text(&o.stdout)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn flash_size_rewrites_byte_3_and_the_bootloader_hash_only() {
    let fw = s3_firmware();
    let d = setup(&fw);
    ok(d.path(), &["fw.bin", "-f", "8M"]);
    let out = read(d.path(), "fw-8MB.bin");
    let bl = bootloader_image(9);
    let mut want = fw.clone();
    want[3] = 0x3f;
    // The hash covers everything before it: recompute it over the new header.
    let hashed = bl.len() - 32;
    let digest = sha256(&want[..hashed]);
    want[hashed..bl.len()].copy_from_slice(&digest);
    assert_eq!(out, want);
    assert_eq!(read(d.path(), "fw.bin"), fw, "the input is never modified");
    for bad in ["6M", "256M", "0"] {
        let o = run_mpimg(d.path(), &["fw.bin", "-f", bad]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(text(&o.stderr).starts_with("error: "), "{bad}: {}", text(&o.stderr));
    }
}

#[test]
fn table_presets_write_exact_tables() {
    let fw = s3_firmware();
    let d = setup(&fw);
    ok(d.path(), &["fw.bin", "-f", "8M", "--table", "ota"]);
    let out = read(d.path(), "fw-8MB-OTA.bin");
    let want = table(&[
        entry("nvs", 1, 2, 0x9000, 0x5000, 0),
        entry("otadata", 1, 0, 0xe000, 0x2000, 0),
        entry("ota_0", 0, 0x10, 0x10000, 0x200000, 0),
        entry("ota_1", 0, 0x11, 0x210000, 0x200000, 0),
        entry("vfs", 1, 0x81, 0x410000, 0x3f0000, 0),
    ]);
    assert_eq!(&out[0x8000..0x9000], &want[..]);
    assert_eq!(&out[0x10000..], &fw[0x10000..], "the app is untouched");
    ok(d.path(), &["fw.bin", "--table", "default"]);
    let def = read(d.path(), "fw-DEFAULT.bin");
    let want = table(&[
        entry("nvs", 1, 2, 0x9000, 0x7000, 0),
        entry("factory", 0, 0, 0x10000, 0x1f0000, 0),
        entry("vfs", 1, 0x81, 0x200000, 0x200000, 0),
    ]);
    assert_eq!(&def[0x8000..0x9000], &want[..]);
}

#[test]
fn resize_add_delete_rename_app_size() {
    let d = setup(&s3_firmware());
    ok(d.path(), &["fw.bin", "--resize", "factory=0x200000", "--rename", "vfs=data"]);
    // vfs shifts to 0x210000 and is cut at the flash end.
    let want = table(&[
        entry("nvs", 1, 2, 0x9000, 0x6000, 0),
        entry("phy_init", 1, 1, 0xf000, 0x1000, 0),
        entry("factory", 0, 0, 0x10000, 0x200000, 0),
        entry("data", 1, 0x81, 0x210000, 0x1f0000, 0),
    ]);
    assert_eq!(&read(d.path(), "fw-resize=factory=2097152-rename=vfs=data.bin")[0x8000..0x9000], &want[..]);
    // The flash is then full: no room to add.
    let o = run_mpimg(d.path(), &["fw.bin", "--resize", "factory=0x200000", "--add", "x:littlefs:0:0"]);
    assert_eq!(text(&o.stderr), "error: no room for partition 'x' at 0x400000 (size 0x0): flash ends at 0x400000: make room: a larger flash (-f 8M), or shrink the partition that ends there first (--resize NAME=SIZE)\n");
    ok(
        d.path(),
        &["fw.bin", "--delete", "phy_init", "--resize", "nvs=0,vfs=1M", "--add", "lfs:littlefs:0:0", "-o", "a.bin"],
    );
    let want = table(&[
        entry("nvs", 1, 2, 0x9000, 0x7000, 0),
        entry("factory", 0, 0, 0x10000, 0x1f0000, 0),
        entry("vfs", 1, 0x81, 0x200000, 0x100000, 0),
        entry("lfs", 1, 0x83, 0x300000, 0x100000, 0),
    ]);
    assert_eq!(&read(d.path(), "a.bin")[0x8000..0x9000], &want[..]);
    ok(d.path(), &["fw.bin", "-a", "0x200000", "-o", "b.bin"]);
    let want = table(&[
        entry("nvs", 1, 2, 0x9000, 0x6000, 0),
        entry("phy_init", 1, 1, 0xf000, 0x1000, 0),
        entry("factory", 0, 0, 0x10000, 0x200000, 0),
        entry("vfs", 1, 0x81, 0x210000, 0x1f0000, 0),
    ]);
    assert_eq!(&read(d.path(), "b.bin")[0x8000..0x9000], &want[..]);
}

#[test]
fn csv_round_trip_and_from_csv() {
    let d = setup(&s3_firmware());
    ok(d.path(), &["fw.bin", "--to-csv", "t.csv"]);
    assert_eq!(
        text(&read(d.path(), "t.csv")),
        "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n\
         nvs, data, nvs, 0x9000, 0x6000, \nphy_init, data, phy, 0xf000, 0x1000, \n\
         factory, app, factory, 0x10000, 0x1f0000, \nvfs, data, fat, 0x200000, 0x200000, \n"
    );
    std::fs::write(
        d.path().join("new.csv"),
        "nvs, data, nvs, , 24K\nfactory, app, factory, , 0x1f0000\nvfs, data, fat, , 1M, readonly\n",
    )
    .unwrap();
    ok(d.path(), &["fw.bin", "--from-csv", "new.csv"]);
    let want = table(&[
        entry("nvs", 1, 2, 0x9000, 0x6000, 0),
        entry("factory", 0, 0, 0x10000, 0x1f0000, 0),
        entry("vfs", 1, 0x81, 0x200000, 0x100000, 2),
    ]);
    assert_eq!(&read(d.path(), "fw-CSV.bin")[0x8000..0x9000], &want[..]);
}

#[test]
fn extract_read_write_erase() {
    let app = app_image(9, "MicroPython v1.26.1 on 2025-08-01");
    let fw = s3_firmware();
    let d = setup(&fw);
    ok(d.path(), &["fw.bin", "-x"]);
    assert_eq!(read(d.path(), "fw.app-bin"), app);
    ok(d.path(), &["fw.bin", "--read", "factory=f.bin,bootloader=b.bin,partition_table=t.bin,nvs=n.bin"]);
    assert_eq!(read(d.path(), "f.bin"), app, "a read stops where the file ends");
    assert_eq!(read(d.path(), "b.bin"), fw[..0x8000].to_vec());
    assert_eq!(read(d.path(), "t.bin"), generic_table());
    assert_eq!(read(d.path(), "n.bin"), vec![0xFF; 0x6000]);
    ok(d.path(), &["fw.bin", "--read", "bootloader=b2.bin", "--trimblocks"]);
    assert_eq!(read(d.path(), "b2.bin").len(), 0x3000);
    // Write a second app: the file ends where the new app ends.
    let app2 = app_image(9, "MicroPython v1.27.0 on 2025-12-09");
    std::fs::write(d.path().join("app2.bin"), &app2).unwrap();
    ok(d.path(), &["fw.bin", "--write", "factory=app2.bin"]);
    let out = read(d.path(), "fw-write=factory=app2.bin.bin");
    assert_eq!(&out[..0x10000], &fw[..0x10000]);
    assert_eq!(&out[0x10000..], &app2[..]);
    // Writing nvs inside the file pads the block with 0xFF and erases the rest.
    std::fs::write(d.path().join("n.bin"), [1u8, 2, 3]).unwrap();
    ok(d.path(), &["fw.bin", "--write", "nvs=n.bin", "-o", "w.bin"]);
    let w = read(d.path(), "w.bin");
    assert_eq!(&w[0x9000..0x9003], &[1, 2, 3]);
    assert!(w[0x9003..0xf000].iter().all(|&b| b == 0xFF));
    assert_eq!(w.len(), fw.len());
    // Erasing the app cuts the file at the partition start.
    ok(d.path(), &["fw.bin", "--erase", "factory"]);
    assert_eq!(read(d.path(), "fw-erase=factory.bin"), fw[..0x10000].to_vec());
    // An app for another chip is refused.
    std::fs::write(d.path().join("c3.bin"), app_image(5, "MicroPython v1.27.0 on 2025-12-09")).unwrap();
    let o = run_mpimg(d.path(), &["fw.bin", "--write", "factory=c3.bin"]);
    assert_eq!(
        text(&o.stderr),
        "error: 'c3.bin' is not a valid esp32s3 app image for 'factory': it is built for esp32c3\n"
    );
    assert!(!d.path().join("fw-write=factory=c3.bin.bin").exists(), "no output on error");
}

#[test]
fn check_app_reports_and_fails_on_corruption() {
    let fw = s3_firmware();
    let d = setup(&fw);
    let quiet = ok(d.path(), &["fw.bin", "--check-app", "-q"]);
    let o = run_mpimg(d.path(), &["fw.bin", "--check-app"]);
    let s = text(&o.stdout);
    // -q leaves out stderr only: the report and its verdicts are the product.
    assert_eq!(quiet, s);
    let app_len = app_image(9, "MicroPython v1.26.1 on 2025-08-01").len();
    let bl_len = bootloader_image(9).len();
    assert!(
        s.contains(&format!(
            "Check 'bootloader' at 0x0: valid esp32s3 image, {bl_len} bytes, checksum ok, SHA-256 ok\n"
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "Check 'factory' at 0x10000: valid esp32s3 image, {app_len} bytes, checksum ok, SHA-256 ok\n"
        )),
        "{s}"
    );
    let mut bad = fw.clone();
    bad[0x10000 + 0x400] ^= 0xFF; // a byte of segment data
    std::fs::write(d.path().join("bad.bin"), &bad).unwrap();
    let o = run_mpimg(d.path(), &["bad.bin", "--check-app"]);
    assert_eq!(o.status.code(), Some(1));
    let s = text(&o.stdout);
    assert!(s.contains("Check 'factory' at 0x10000: INVALID: segment checksum mismatch"), "{s}");
    // The app that boots must be there: erased, or past the end of the file, fails.
    let mut erased = fw.clone();
    erased[0x10000..].fill(0xFF);
    std::fs::write(d.path().join("erased.bin"), &erased).unwrap();
    let o = run_mpimg(d.path(), &["erased.bin", "--check-app"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("Check 'factory' at 0x10000: INVALID: no image (erased): nothing to boot\n"),
        "{}",
        text(&o.stdout)
    );
    std::fs::write(d.path().join("noapp.bin"), &fw[..0x10000]).unwrap();
    let o = run_mpimg(d.path(), &["noapp.bin", "--check-app"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout)
            .contains("Check 'factory' at 0x10000: INVALID: not in the file (it ends at 0x10000): nothing to boot\n"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn json_reports_the_facts() {
    let d = setup(&s3_firmware());
    let o = run_mpimg(d.path(), &["fw.bin", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    assert_eq!(v["kind"], "firmware");
    assert_eq!(v["chip"], "esp32s3");
    assert_eq!(v["bootloader_offset"], 0);
    assert_eq!(v["flash_size"], 0x400000);
    assert_eq!(v["app"]["micropython_version"], "v1.26.1");
    assert_eq!(v["app"]["micropython_date"], "2025-08-01");
    assert_eq!(v["app"]["release"], true);
    assert_eq!(v["app"]["image"]["idf_version"], "v5.4.1");
    assert_eq!(v["app"]["image"]["checksum_ok"], true);
    assert_eq!(v["app"]["image"]["sha256_ok"], true);
    assert_eq!(v["bootloader"]["sha256_ok"], true);
    let parts = v["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    assert_eq!(parts[3]["name"], "vfs");
    assert_eq!(parts[3]["offset"], 0x200000);
    assert_eq!(parts[3]["implicit"], false);
    assert_eq!(v["result"]["output"], serde_json::Value::Null);
}

#[test]
fn implicit_vfs_of_v126_images() {
    let t = table(&[
        entry("nvs", 1, 2, 0x9000, 0x6000, 0),
        entry("phy_init", 1, 1, 0xf000, 0x1000, 0),
        entry("factory", 0, 0, 0x10000, 0x1f0000, 0),
    ]);
    let fw = firmware(9, 0, &t, &app_image(9, "MicroPython v1.26.1 on 2025-08-01"));
    let d = setup(&fw);
    let s = ok(d.path(), &["fw.bin"]);
    assert!(s.contains("vfs       data  fat      0x200000  0x200000  0x400000  implicit  (2.0 MiB)\n"), "{s}");
    let o = run_mpimg(d.path(), &["fw.bin", "--resize", "vfs=1M"]);
    assert_eq!(
        text(&o.stderr),
        "error: 'vfs' is not in the partition table: MicroPython v1.26.1 creates it at boot from the end of the table (0x200000) to the end of flash; to pin it, add it first: --add vfs:fat:0x200000:SIZE (0 = to the end of flash)\n"
    );
    // v1.25 does not create it.
    let old = firmware(9, 0, &t, &app_image(9, "MicroPython v1.25.0 on 2025-04-15"));
    std::fs::write(d.path().join("old.bin"), old).unwrap();
    assert!(!ok(d.path(), &["old.bin"]).contains("implicit"));
}

#[test]
fn every_chip_opens_at_its_bootloader_offset() {
    for (id, off, name) in [
        (0u16, 0x1000u32, "esp32"),
        (2, 0x1000, "esp32s2"),
        (5, 0, "esp32c3"),
        (12, 0, "esp32c2"),
        (13, 0, "esp32c6"),
        (16, 0, "esp32h2"),
        (18, 0x2000, "esp32p4"),
        (20, 0, "esp32c61"),
        (23, 0x2000, "esp32c5"),
    ] {
        let fw = firmware(id, off, &generic_table(), &app_image(id, "MicroPython v1.27.0 on 2025-12-09"));
        let d = setup(&fw);
        let o = run_mpimg(d.path(), &["fw.bin", "--json"]);
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((v["chip"].as_str().unwrap(), v["bootloader_offset"].as_u64().unwrap()), (name, u64::from(off)));
        assert_eq!(v["partitions"][2]["name"], "factory", "{name}");
        assert_eq!(v["app"]["image"]["sha256_ok"], true, "{name}");
    }
}

/// A table edit that drops nvs is warned about; one that keeps it is not
/// (trial 1, finding 23).
#[test]
fn a_table_without_nvs_is_warned_about() {
    let d = setup(&s3_firmware());
    let o = run_mpimg(d.path(), &["fw.bin", "--table", "factory=0", "-o", "nf.bin"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let warnings = |o: &std::process::Output| {
        text(&o.stderr).lines().filter(|l| l.starts_with("warning:")).map(|l| format!("{l}\n")).collect::<String>()
    };
    assert_eq!(
        warnings(&o),
        "warning: 0x7000 bytes free before 'factory' (0x9000..0x10000)\n\
         warning: the new table has no nvs partition: ESP-IDF's nvs_flash_init at boot finds none, and MicroPython's \
         esp32.NVS and WiFi use it\n"
    );
    let o = run_mpimg(d.path(), &["fw.bin", "--table", "nvs=7B,factory=0", "-o", "n.bin"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(warnings(&o), "");
}

/// `-q` leaves out stderr's notes, warnings and diagnoses only: stdout
/// carries the same product as without it (the report, `--fs` output, CSV),
/// and a report that is not the product (it went to stderr) is left out.
#[test]
fn quiet_keeps_the_product_and_drops_stderr() {
    let fw = s3_firmware();
    let d = setup(&fw);
    for args in [
        &[][..],
        &["--check-app"],
        &["-f", "8M", "-o", "out.bin"],
        &["--to-csv", "-"],
        &["--fs", "mkfs", "--fs", "ls", "-o", "fs.bin"],
    ] {
        let loud = run_mpimg(d.path(), &[&["fw.bin"][..], args].concat());
        let quiet = run_mpimg(d.path(), &[&["fw.bin", "-q"][..], args].concat());
        assert_eq!(quiet.status.code(), Some(0), "{args:?}: {}", text(&quiet.stderr));
        assert_eq!(text(&quiet.stdout), text(&loud.stdout), "{args:?}");
        assert!(!loud.stderr.is_empty() || args.is_empty() || args == ["--check-app"], "{args:?}");
        assert_eq!(text(&quiet.stderr), "", "{args:?}");
    }
    let csv = text(&run_mpimg(d.path(), &["fw.bin", "-q", "--to-csv", "-"]).stdout);
    assert!(csv.starts_with("# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n"), "{csv}");
}

/// `-x` ends the run as in the Python tool, and says which options it left
/// undone (stderr; in the document with --json).
#[test]
fn x_names_the_options_it_leaves_undone() {
    let fw = s3_firmware();
    let d = setup(&fw);
    let warning = "warning: -x writes the app image and ends the run (as mp-image-tool-esp32 does): -f, --check-app, \
                   --fs, --to-csv not done; run them without -x\n";
    let o = run_mpimg(d.path(), &["fw.bin", "-x", "-f", "8M", "--check-app", "--fs", "ls", "--to-csv", "t.csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains(warning), "{err}");
    assert!(err.ends_with(" to fw.app-bin\n"), "{err}");
    assert_eq!(crate::util::files_in(d.path()), ["fw.app-bin", "fw.bin"]);
    let o = run_mpimg(d.path(), &["fw.bin", "-x", "--fs", "ls", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["result"]["warnings"],
        serde_json::json!(["-x writes the app image and ends the run (as mp-image-tool-esp32 does): --fs not done; run them without -x"])
    );
    // Nothing to warn about.
    let o = run_mpimg(d.path(), &["fw.bin", "-x", "-o", "a.app-bin"]);
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
}
