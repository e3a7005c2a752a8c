//! Images for pipelines through the command line: a build directory (or its
//! `flasher_args.json`, or `--assemble`) as FILENAME, reproducible and compact
//! bakes under SOURCE_DATE_EPOCH, and Intel HEX and UF2 in and out.

use std::path::Path;
use std::process::Output;

use crate::util::*;

const E32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const S3: &str = "ESP32_GENERIC_S3-20241129-v1.24.1.bin";
const C3_27: &str = "ESP32_GENERIC_C3-20251209-v1.27.0.bin";
const EPOCH: &str = "1700000000";

/// Run mpimg in `dir` with `env`; the run, asserted successful.
fn ok_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let o = run_mpimg_env(dir, args, env);
    assert!(o.status.success(), "mpimg {args:?}:\n{}", text(&o.stderr));
    o
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    ok_env(dir, args, &[])
}

/// The error line of a failing run.
fn fails(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let o = run_mpimg_env(dir, args, env);
    assert_eq!(o.status.code(), Some(1), "mpimg {args:?} should fail:\n{}", text(&o.stderr));
    text(&o.stderr)
}

/// Split `fw` into a build directory `dir/build` with `--read` (bootloader,
/// table and app, trimmed), and write its flasher_args.json as ESP-IDF does.
fn split_into_build(dir: &Path, fw: &Path, chip: &str, bl: u32, settings: (&str, &str, &str)) {
    std::fs::create_dir_all(dir.join("build/bootloader")).unwrap();
    std::fs::create_dir_all(dir.join("build/partition_table")).unwrap();
    let read = "bootloader=build/bootloader/bootloader.bin,partition_table=build/partition_table/partition-table.bin,\
                factory=build/micropython.bin";
    ok(dir, &[fw.to_str().unwrap(), "--read", read, "--trim", "-q"]);
    let (mode, freq, size) = settings;
    let json = format!(
        r#"{{
    "write_flash_args" : [ "--flash_mode", "{mode}",
                           "--flash_size", "{size}",
                           "--flash_freq", "{freq}" ],
    "flash_settings" : {{
        "flash_mode": "{mode}",
        "flash_size": "{size}",
        "flash_freq": "{freq}"
    }},
    "flash_files" : {{
        "{bl:#x}" : "bootloader/bootloader.bin",
        "0x10000" : "micropython.bin",
        "0x8000" : "partition_table/partition-table.bin"
    }},
    "bootloader" : {{ "offset" : "{bl:#x}", "file" : "bootloader/bootloader.bin", "encrypted" : "false" }},
    "app" : {{ "offset" : "0x10000", "file" : "micropython.bin", "encrypted" : "false" }},
    "partition-table" : {{ "offset" : "0x8000", "file" : "partition_table/partition-table.bin", "encrypted" : "false" }},
    "extra_esptool_args" : {{
        "after"  : "hard_reset",
        "before" : "default_reset",
        "stub"   : true,
        "chip"   : "{chip}"
    }}
}}
"#
    );
    std::fs::write(dir.join("build/flasher_args.json"), json).unwrap();
}

#[test]
fn a_build_split_with_read_assembles_byte_identical() {
    for (name, chip, bl, settings) in
        [(E32, "esp32", 0x1000, ("dio", "40m", "4MB")), (S3, "esp32s3", 0, ("dio", "80m", "8MB"))]
    {
        let Some(fw) = firmware(name) else { return };
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        split_into_build(p, &fw, chip, bl, settings);
        let original = std::fs::read(&fw).unwrap();
        let o = ok(p, &["build", "-o", "dir.bin"]);
        assert!(std::fs::read(p.join("dir.bin")).unwrap() == original, "{name}: build/ differs");
        let table_len = std::fs::metadata(p.join("build/partition_table/partition-table.bin")).unwrap().len();
        let bl_len = std::fs::metadata(p.join("build/bootloader/bootloader.bin")).unwrap().len();
        assert_eq!(
            text(&o.stderr),
            format!(
                "Assembled an {chip} firmware ({} bytes from {bl:#x}) from {bl:#x} build/bootloader/bootloader.bin, \
                 0x8000 build/partition_table/partition-table.bin, 0x10000 build/micropython.bin\nWrote dir.bin ({} bytes)\n",
                original.len(),
                original.len()
            )
        );
        ok(p, &["build/flasher_args.json", "-o", "json.bin", "-q"]);
        assert!(std::fs::read(p.join("json.bin")).unwrap() == original, "{name}: build/flasher_args.json differs");
        let list = format!(
            "{bl:#x}=build/bootloader/bootloader.bin,0x8000=build/partition_table/partition-table.bin,0x10000=build/micropython.bin"
        );
        ok(p, &["--assemble", &list, "-o", "list.bin", "-q"]);
        assert!(std::fs::read(p.join("list.bin")).unwrap() == original, "{name}: --assemble differs");
        // The pieces are what --read gave: the table stops after its entries.
        assert!(table_len < 0x1000 && bl_len < u64::from(0x8000 - bl), "{table_len:#x} {bl_len:#x}");
        // Every option works on it; without -o the output is named after the build directory.
        ok(p, &["build/", "-f", "16M", "-q"]);
        let edited = std::fs::read(p.join("build-16MB.bin")).unwrap();
        ok(p, &[fw.to_str().unwrap(), "-f", "16M", "-o", "direct.bin", "-q"]);
        assert!(edited == std::fs::read(p.join("direct.bin")).unwrap(), "{name}: -f 16M on the build differs");
        let json = text(&ok(p, &["build", "--json"]).stdout);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["result"]["assembled"]["chip"], chip);
        assert_eq!(v["result"]["assembled"]["placed"][2]["offset"], 0x10000);
        assert_eq!(v["result"]["assembled"]["header_changed"], false);
    }
}

#[test]
fn broken_builds_give_exact_errors() {
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    split_into_build(p, &fw, "esp32", 0x1000, ("dio", "40m", "4MB"));
    let json = std::fs::read_to_string(p.join("build/flasher_args.json")).unwrap();
    let with = |from: &str, to: &str| {
        assert!(json.contains(from));
        std::fs::write(p.join("build/flasher_args.json"), json.replace(from, to)).unwrap();
        let e = fails(p, &["build", "-o", "out.bin"], &[]);
        assert!(!p.join("out.bin").exists());
        e
    };
    assert_eq!(
        with("\"0x10000\" : \"micropython.bin\"", "\"0x10000\" : \"missing.bin\""),
        "error: cannot read 'build/missing.bin' (for 0x10000): no such file\n"
    );
    // The table as --read --trim leaves it is 0xa0 bytes: 0x8000..0x80a0.
    assert_eq!(
        with("\"0x10000\" : \"micropython.bin\"", "\"0x8010\" : \"micropython.bin\""),
        "error: 'build/micropython.bin' at 0x8010 overlaps 'build/partition_table/partition-table.bin' at \
         0x8000..0x80a0: check the offsets\n"
    );
    assert_eq!(
        with("\"0x1000\" : \"bootloader/bootloader.bin\"", "\"0x0\" : \"bootloader/bootloader.bin\""),
        "error: 'build/bootloader/bootloader.bin' at 0x0 lies below the bootloader offset of esp32 (0x1000), where a \
         firmware image starts: check the offset (or the chip)\n"
    );
    // The same through --assemble.
    let e =
        fails(p, &["--assemble", "0x1000=build/bootloader/bootloader.bin,0x8000=build/nope.bin", "-o", "o.bin"], &[]);
    assert_eq!(e, "error: cannot read 'build/nope.bin' (for 0x8000): no such file\n");
    let e = fails(p, &["--assemble", "0x1000=build/bootloader/bootloader.bin,table=x.bin"], &[]);
    assert_eq!(
        e,
        "error: invalid --assemble item 'table=x.bin': use OFFSET=FILE[,OFFSET=FILE...] with a hex or decimal flash offset\n"
    );
    assert_eq!(
        fails(p, &["build", "--in-place"], &[]),
        "error: --in-place changes a firmware file, and a build has none: write the assembled firmware with -o FILE\n"
    );
    std::fs::write(p.join("build/flasher_args.json"), "{ \"flash_files\": [] }").unwrap();
    assert_eq!(
        fails(p, &["build"], &[]),
        "error: build/flasher_args.json: no \"flash_files\" object naming the images to flash\n"
    );
}

/// 100 files in 10 directories under `root`, all touched at `mtime`.
fn hundred_files(root: &Path, mtime: u64) {
    for i in 0..100u32 {
        let p = root.join(format!("d{}/f{i:02}.py", i / 10));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, (0..(i * 937) % 9300).map(|j| (j * 7 + i) as u8).collect::<Vec<_>>()).unwrap();
        crate::util::fs::set_mtime(&p, mtime);
    }
}

#[test]
fn bakes_under_one_source_date_epoch_are_byte_identical() {
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // Two checkouts of the tree, touched at different times.
    hundred_files(&p.join("a/app"), 1_600_000_000);
    hundred_files(&p.join("b/app"), 1_650_000_123);
    let fw = fw.to_str().unwrap();
    let env = [("SOURCE_DATE_EPOCH", EPOCH)];
    ok_env(&p.join("a"), &[fw, "--fs", "mkfs", "--fs", "put", "app/", "/", "-o", "baked.bin", "-q"], &env);
    // A later wall clock (the second run starts more than a second after the first).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok_env(&p.join("b"), &[fw, "--fs", "mkfs", "--fs", "put", "app/", "/", "-o", "baked.bin", "-q"], &env);
    let one = std::fs::read(p.join("a/baked.bin")).unwrap();
    assert!(one == std::fs::read(p.join("b/baked.bin")).unwrap(), "two bakes differ");
    // Every time listed is the epoch: 2023-11-14 22:13:20 UTC.
    let ls = text(&ok(&p.join("a"), &["baked.bin", "--fs", "ls", "-l", "-q"]).stdout);
    let files: Vec<&str> = ls.lines().filter(|l| !l.trim_start().starts_with('-')).collect();
    assert_eq!(files.len(), 101, "{ls}");
    assert!(files.iter().all(|l| l.contains("  2023-11-14 22:13:20  ")), "{ls}");
    // Without the epoch, the source tree's times are kept (so the check above can fail).
    ok(&p.join("a"), &[fw, "--fs", "mkfs", "--fs", "put", "app/", "/", "-o", "clock.bin", "-q"]);
    let ls = text(&ok(&p.join("a"), &["clock.bin", "-q", "--fs", "ls", "-l", "app/d0/f01.py"]).stdout);
    assert_eq!(ls, "      937  2020-09-13 12:26:40  f01.py\n");
}

#[test]
fn an_invalid_source_date_epoch_is_an_error() {
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    for bad in ["1.5", "-1", "tomorrow", " 1700000000"] {
        assert_eq!(
            fails(d.path(), &[fw.to_str().unwrap()], &[("SOURCE_DATE_EPOCH", bad)]),
            format!(
                "error: SOURCE_DATE_EPOCH is '{bad}': it must be a whole number of seconds since 1970-01-01 00:00 UTC \
                 (as `date +%s` prints it, e.g. 1700000000); fix it or unset it\n"
            )
        );
    }
}

/// Bake `files` (name, size) with mkfs and put; where the output ends, past the vfs start.
fn bake_end(fw: &Path, bl: u64, files: &[(&str, usize)]) -> u64 {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir(p.join("src")).unwrap();
    let mut args =
        vec![fw.display().to_string(), "-q".into(), "--fs".into(), "mkfs".into(), "--fs".into(), "put".into()];
    for (name, size) in files {
        std::fs::write(p.join("src").join(name), (0..*size).map(|i| (i * 13 % 256) as u8).collect::<Vec<_>>()).unwrap();
        args.push(format!("src/{name}"));
    }
    args.extend(["/".into(), "-o".into(), "out.bin".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok_env(p, &args, &[("SOURCE_DATE_EPOCH", EPOCH)]);
    std::fs::metadata(p.join("out.bin")).unwrap().len() + bl - 0x200000
}

#[test]
fn bakes_end_right_after_their_blocks() {
    let ten: Vec<(String, usize)> = (0..10).map(|i| (format!("f{i}.py"), 1024)).collect();
    let ten: Vec<(&str, usize)> = ten.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let mb: Vec<(String, usize)> = (0..8).map(|i| (format!("d{i}.bin"), 128 * 1024)).collect();
    let mb: Vec<(&str, usize)> = mb.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    for (name, bl) in [(E32, 0x1000), (C3_27, 0)] {
        let Some(fw) = firmware(name) else { return };
        // One 10 KB file: superblock pair, boot.py, 3 blocks.
        let one = bake_end(&fw, bl, &[("main.bin", 10 * 1024)]);
        // Ten 1 KB files: a block each.
        let ten = bake_end(&fw, bl, &ten);
        // 1 MB in eight 128 KB files: 33 blocks each (skip-list pointers need room).
        let mb = bake_end(&fw, bl, &mb);
        assert_eq!((one, ten, mb), (6 * 4096, 13 * 4096, 267 * 4096), "{name}");
        assert!(one <= 64 * 1024 && ten <= 64 * 1024 && mb * 10 <= 11 * 1024 * 1024);
    }
}

#[test]
fn hex_and_uf2_round_trip_through_the_command_line() {
    let Some(fw) = firmware(C3_27) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::copy(&fw, p.join("fw.bin")).unwrap();
    std::fs::write(p.join("main.py"), "print('hi')\n").unwrap();
    let env = [("SOURCE_DATE_EPOCH", EPOCH)];
    ok_env(p, &["fw.bin", "--fs", "mkfs", "--fs", "put", "main.py", "/", "-o", "baked.bin", "-q"], &env);
    let baked = std::fs::read(p.join("baked.bin")).unwrap();
    for (out, args) in [
        ("x.hex", vec!["-o", "x.hex"]),
        ("x.uf2", vec!["-o", "x.uf2"]),
        ("hex.img", vec!["--format", "hex", "-o", "hex.img"]),
        ("baked.uf2", vec!["--format", "uf2"]),
    ] {
        let o = ok(p, &[&["baked.bin", "-q"], &args[..]].concat());
        // -q: the report (the product) and nothing on stderr.
        assert!(o.stdout.starts_with(b"Firmware file baked.bin: esp32c3"), "{}", text(&o.stdout));
        assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
        let back = format!("{out}.bin");
        ok(p, &[out, "-o", &back, "-q"]);
        assert!(std::fs::read(p.join(&back)).unwrap() == baked, "{out}: the round trip differs");
    }
    assert!(std::fs::read_to_string(p.join("hex.img")).unwrap().starts_with(":020000040000FA\n:10000000E9"));
    assert_eq!(&std::fs::read(p.join("baked.uf2")).unwrap()[..4], b"UF2\n");
    // Edits on a HEX file give a HEX file, the same image as on the .bin.
    ok_env(p, &["x.hex", "-f", "8M", "--fs", "put", "main.py", "/again.py", "-q"], &env);
    ok_env(p, &["baked.bin", "-f", "8M", "--fs", "put", "main.py", "/again.py", "-o", "direct.bin", "-q"], &env);
    ok(p, &["x-8MB-fs.hex", "-o", "edited.bin", "-q"]);
    assert!(std::fs::read(p.join("edited.bin")).unwrap() == std::fs::read(p.join("direct.bin")).unwrap());
    // --in-place on a UF2 file writes it anew as UF2.
    ok_env(p, &["x.uf2", "--in-place", "--fs", "rm", "main.py", "-q"], &env);
    let listing = text(&ok(p, &["x.uf2", "--fs", "ls", "-q"]).stdout);
    assert_eq!(listing, "boot.py\n");
    assert_eq!(&std::fs::read(p.join("x.uf2")).unwrap()[..4], b"UF2\n");
    // A damaged HEX file (its first address record moved to 64 KB, onto the app) is refused with the lines.
    let shifted = std::fs::read_to_string(p.join("x.hex")).unwrap().replacen(":020000040000FA", ":020000040001F9", 1);
    std::fs::write(p.join("shifted.hex"), shifted).unwrap();
    assert_eq!(
        fails(p, &["shifted.hex"], &[]),
        "error: 'shifted.hex': Intel HEX line 3149: data at 0x10000 overlaps data of line 2\n"
    );
}

#[test]
fn a_build_and_a_hex_file_flash_to_a_device() {
    let Some(fw) = firmware(S3) else { return };
    let d = crate::util::sim::start("esp32s3", 8 << 20, None, vec![]);
    let p = d.dir.path();
    split_into_build(p, &fw, "esp32s3", 0, ("dio", "80m", "8MB"));
    let want = crate::util::sim::flash_image(&std::fs::read(&fw).unwrap(), 0, 8 << 20);
    ok(p, &["build/", "--flash", &d.port(), "-q"]);
    crate::util::sim::assert_same_flash(&d.bytes(), &want);
    // The same image as Intel HEX: flashing it again finds every sector there.
    ok(p, &[fw.to_str().unwrap(), "-o", "fw.hex", "-q"]);
    let o = ok(p, &["fw.hex", "--flash", &d.port(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["result"]["flashed"]["sectors"]["written"], 0);
    crate::util::sim::assert_same_flash(&d.bytes(), &want);
}
