//! mpimg against mp-image-tool-esp32 0.1.1: the same command line on the same
//! firmware must write the same files, byte for byte. Each case runs both tools
//! in their own empty directory (both write outputs to the current directory)
//! and compares every file each one created.

use std::path::Path;
use std::process::Command;

use crate::util::*;

const E32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const E32_25: &str = "ESP32_GENERIC-20250415-v1.25.0.bin";
const E32_OTA: &str = "ESP32_GENERIC-OTA-20250415-v1.25.0.bin";
const E32_117: &str = "esp32-20210902-v1.17.bin";
const S3: &str = "ESP32_GENERIC_S3-20241129-v1.24.1.bin";
const S3_4M: &str = "ESP32_GENERIC_S3-FLASH_4M-20240602-v1.23.0.bin";
const C3: &str = "ESP32_GENERIC_C3-20240602-v1.23.0.bin";
const C3_27: &str = "ESP32_GENERIC_C3-20251209-v1.27.0.bin";
const S2: &str = "ESP32_GENERIC_S2-20240602-v1.23.0.bin";
/// E32 with nvs and phy_init filled with a pattern (made by [`filled_image`]),
/// so that erasing shows in the bytes.
const E32_FILLED: &str = "filled.bin";

/// (image, arguments). `{fw}` is replaced by the image's path; files the
/// arguments name as inputs (`app.bin`, `table.csv`, `bl.bin`) are prepared in
/// both directories by [`prepare`].
const CASES: &[(&str, &str)] = &[
    (E32, "-f 8M --resize vfs=0"),
    (E32, "-f 16M --resize vfs=0"),
    (E32, "-f 8M --table ota"),
    (E32, "--table default"),
    (E32, "--table original -f 8M"),
    (E32, "--table nvs=7B,factory=2M,vfs=0"),
    (E32, "--table nvs=nvs:0x9000:24K,phy_init=phy:0xf000:4K,factory=factory:0x10000:0x1f0000,vfs=fat:0x200000:1M,data=fat:0x300000:0"),
    (E32, "--resize factory=0x200000"),
    (E32, "--resize vfs=1M --add vfs2:fat:0x300000:1M"),
    (E32, "--resize vfs=0x100000 --add vfs2:fat:0:0"),
    (E32, "--delete phy_init --resize nvs=0"),
    (E32, "--rename vfs=data"),
    (E32, "--delete vfs --add data:fat:0x200000:0x100000"),
    (E32, "-x"),
    (E32, "--read nvs=nvs.out,phy_init=phy.out,partition_table=pt.out"),
    (E32, "--read bootloader=bl.out"),
    (E32, "--read factory=app.out --trim"),
    (E32, "--read factory=app.out --trimblocks"),
    (E32, "--erase nvs"),
    (E32, "--erase phy_init,nvs -f 8M"),
    (E32, "--write factory=app.bin"),
    (E32, "--write bootloader=bl.bin"),
    (E32, "--from-csv table.csv"),
    (E32, "-o custom.bin"),
    (E32_25, "-a 0x200000"),
    (E32_25, "-f 8M --table ota -a 0x1f0000"),
    (E32_OTA, "--table default"),
    (E32_OTA, "-f 8M --resize vfs=0"),
    (E32_OTA, "--resize ota_1=0x100000"),
    (E32_117, "--table original"),
    (E32_117, "-f 4M --resize factory=0x1f0000"),
    (E32_OTA, "--resize ota_0=1.5M,ota_1=1.5M"),
    (S3, "--table ota"),
    (S3, "-f 4M --resize vfs=0"),
    (S3, "-f 16M --resize vfs=0"),
    (S3, "--read bootloader=bl.out --trimblocks"),
    (S3_4M, "-f 8M --table ota"),
    (C3, "-f 8M --resize vfs=0"),
    (C3, "-f 8M --table ota -a 0x1f0000"),
    (C3, "-x --trim"),
    (C3_27, "-f 8M"),
    (C3_27, "--add vfs:fat:0:0"),
    (S2, "-x"),
    (S2, "-f 8M --delete vfs --add vfs:fat:0x200000:0"),
    (E32_FILLED, "-f 8M --table ota"),
    (E32_FILLED, "--delete phy_init --resize nvs=0"),
    (E32_FILLED, "--rename phy_init=phy"),
    (E32_FILLED, "--resize nvs=0x5000 --add nvs2:nvs:0xe000:0x1000"),
    (E32_FILLED, "--erase phy_init"),
    (E32_FILLED, "--write nvs=small.bin"),
    (E32_FILLED, "--erase nvs --read phy_init=phy.out,nvs=nvs.out"),
];

/// E32 with flash 0x9000..0x10000 (nvs, phy_init) filled with a byte pattern.
fn filled_image(fw_dir: &Path, dir: &Path) {
    let mut data = std::fs::read(fw_dir.join(E32)).unwrap();
    for (i, b) in data[0x8000..0xf000].iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(dir.join(E32_FILLED), data).unwrap();
}

/// Files some cases read: an app image from another firmware of the same chip,
/// a bootloader, and a CSV in the strict form the Python tool reads.
fn prepare(dir: &Path, fw_dir: &Path) {
    let app_src = std::fs::read(fw_dir.join(E32_25)).unwrap();
    // ESP32_GENERIC v1.25.0: bootloader at file 0, app at flash 0x10000 = file 0xf000, 1,640,xxx bytes.
    let app = &app_src[0xf000..];
    std::fs::write(dir.join("app.bin"), app).unwrap();
    std::fs::write(dir.join("bl.bin"), &app_src[..0x6000]).unwrap();
    std::fs::write(dir.join("small.bin"), [0x42u8; 5000]).unwrap();
    std::fs::write(
        dir.join("table.csv"),
        "# Name, Type, SubType, Offset, Size, Flags\n\
         nvs, data, nvs, 0x9000, 0x5000, 0x0\n\
         otadata, data, ota, 0xe000, 0x2000, 0x0\n\
         factory, app, factory, 0x10000, 0x1f0000, 0x0\n\
         vfs, data, fat, 0x200000, 0x180000, 0x0\n\
         vfs2, data, fat, 0x380000, 0x80000, 0x1\n",
    )
    .unwrap();
}

#[test]
fn outputs_match_mp_image_tool_esp32_byte_for_byte() {
    let (Some(fw_dir), Some(py)) = (firmware_dir(), python_tool()) else { return };
    assert!(CASES.len() >= 25);
    let mut failures = Vec::new();
    for (image, args) in CASES {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        prepare(a.path(), &fw_dir);
        prepare(b.path(), &fw_dir);
        // Synthetic inputs live in each tool's own directory, under the same relative name.
        let fw = if *image == E32_FILLED {
            filled_image(&fw_dir, a.path());
            filled_image(&fw_dir, b.path());
            image.to_string()
        } else {
            fw_dir.join(image).to_str().unwrap().to_string()
        };
        let argv: Vec<&str> = std::iter::once(fw.as_str()).chain(args.split_whitespace()).collect();
        let before = files_in(a.path());
        let py_out = Command::new(&py).args(&argv).current_dir(a.path()).env("COLUMNS", "200").output().unwrap();
        if !py_out.status.success() {
            let out = text(&py_out.stdout);
            let why = out.lines().find(|l| l.contains("Error")).unwrap_or("").trim();
            failures.push(format!("`{image} {args}`: the Python tool failed (fix the case): {why}"));
            continue;
        }
        let ours = run_mpimg(b.path(), &argv);
        if !ours.status.success() {
            failures.push(format!("`{image} {args}`: mpimg failed: {}", text(&ours.stderr)));
            continue;
        }
        let made_py: Vec<String> = files_in(a.path()).into_iter().filter(|f| !before.contains(f)).collect();
        let made_ours: Vec<String> = files_in(b.path()).into_iter().filter(|f| !before.contains(f)).collect();
        if made_py != made_ours {
            failures.push(format!("`{image} {args}`: files differ: python {made_py:?}, mpimg {made_ours:?}"));
            continue;
        }
        assert!(!made_py.is_empty(), "`{image} {args}` made no file: the case tests nothing");
        for f in &made_py {
            let x = std::fs::read(a.path().join(f)).unwrap();
            let y = std::fs::read(b.path().join(f)).unwrap();
            if x != y {
                let at = x.iter().zip(&y).position(|(p, q)| p != q).unwrap_or(x.len().min(y.len()));
                failures.push(format!(
                    "`{image} {args}`: {f} differs at byte {at:#x} (python {} bytes, mpimg {} bytes)",
                    x.len(),
                    y.len()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}
