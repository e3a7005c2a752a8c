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
    for (name, chip, bl, settings) in [(E32, "esp32", 0x1000, ("dio", "40m", "4MB")), (S3, "esp32s3", 0, ("dio", "80m", "8MB"))] {
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
    let e = fails(p, &["--assemble", "0x1000=build/bootloader/bootloader.bin,0x8000=build/nope.bin", "-o", "o.bin"], &[]);
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
