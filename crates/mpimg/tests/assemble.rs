//! Assembling a firmware image from a build directory's pieces
//! (`flasher_args.json`): real release images split into bootloader, table
//! and app come back byte for byte; flash settings rewrite the bootloader
//! header as esptool's merge-bin does; broken recipes give exact errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{firmware_bytes as firmware, venv_python};
use mpimg::format::flasher_args::FlasherArgs;
use mpimg::format::image::parse_image;
use mpimg::format::partition::{PartitionTable, TABLE_OFFSET};
use mpimg::ops::assemble::{assemble, AssembleError, Assembled, Piece, Recipe};

/// A release image cut into what a build directory holds: (flash offset,
/// file name as ESP-IDF names it, bytes). Every byte outside the pieces is
/// 0xFF, so the pieces are the whole image.
fn split(data: &[u8], bl: u32) -> Vec<(u32, &'static str, Vec<u8>)> {
    let at = |off: u32| (off - bl) as usize;
    let bl_len = parse_image(data).unwrap().total_len;
    let table = PartitionTable::parse(&data[at(TABLE_OFFSET)..at(TABLE_OFFSET) + 0x1000]).unwrap();
    let mut pieces = vec![
        (bl, "bootloader/bootloader.bin", data[..bl_len].to_vec()),
        (
            TABLE_OFFSET,
            "partition_table/partition-table.bin",
            data[at(TABLE_OFFSET)..at(TABLE_OFFSET) + 0xC00].to_vec(),
        ),
    ];
    if let Some(ota) = table.entries.iter().find(|p| p.name() == "otadata") {
        pieces.push((ota.offset, "ota_data_initial.bin", vec![0xFF; ota.size as usize]));
    }
    let app = table.first_app().unwrap();
    let app_len = parse_image(&data[at(app.offset)..]).unwrap().total_len;
    pieces.push((app.offset, "micropython.bin", data[at(app.offset)..at(app.offset) + app_len].to_vec()));
    let mut covered = vec![false; data.len()];
    for (off, _, bytes) in &pieces {
        covered[at(*off)..at(*off) + bytes.len()].fill(true);
    }
    assert!(data.iter().zip(&covered).all(|(&b, &c)| c || b == 0xFF), "the pieces miss data");
    assert_eq!(at(app.offset) + app_len, data.len());
    pieces
}

/// Write the pieces and a flasher_args.json as ESP-IDF lays them out; the json's path.
fn build_dir(dir: &Path, pieces: &[(u32, &str, Vec<u8>)], chip: &str, settings: (&str, &str, &str)) -> PathBuf {
    let mut files = Vec::new();
    let mut named = Vec::new();
    for (off, name, bytes) in pieces {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        files.push(format!("        \"{off:#x}\" : \"{name}\""));
        let role = match *name {
            "bootloader/bootloader.bin" => "bootloader",
            "micropython.bin" => "app",
            "ota_data_initial.bin" => "otadata",
            _ => "partition-table",
        };
        named.push(format!(
            "    \"{role}\" : {{ \"offset\" : \"{off:#x}\", \"file\" : \"{name}\", \"encrypted\" : \"false\" }},"
        ));
    }
    let (mode, freq, size) = settings;
    let json = format!(
        "{{\n    \"write_flash_args\" : [ \"--flash_mode\", \"{mode}\",\n                           \"--flash_size\", \"{size}\",\n                           \"--flash_freq\", \"{freq}\" ],\n    \
         \"flash_settings\" : {{\n        \"flash_mode\": \"{mode}\",\n        \"flash_size\": \"{size}\",\n        \"flash_freq\": \"{freq}\"\n    }},\n    \
         \"flash_files\" : {{\n{}\n    }},\n{}\n    \"extra_esptool_args\" : {{\n        \"after\"  : \"hard_reset\",\n        \"before\" : \"default_reset\",\n        \
         \"stub\"   : true,\n        \"chip\"   : \"{chip}\"\n    }}\n}}\n",
        files.join(",\n"),
        named.join("\n")
    );
    let path = dir.join("flasher_args.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn load(p: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(p)
}

fn from_json(json: &Path) -> Result<Assembled, AssembleError> {
    let args = FlasherArgs::parse(&std::fs::read_to_string(json).unwrap()).unwrap();
    assemble(&Recipe::from_flasher_args(&args, json.parent().unwrap())?, &mut load)
}

/// Flash mode, frequency and size as flasher_args.json names them.
type Settings = (&'static str, &'static str, &'static str);

/// Release image, chip, bootloader offset, the settings its header holds.
const CASES: &[(&str, &str, u32, Settings)] = &[
    ("ESP32_GENERIC-20240602-v1.23.0.bin", "esp32", 0x1000, ("dio", "40m", "4MB")),
    ("ESP32_GENERIC-OTA-20250415-v1.25.0.bin", "esp32", 0x1000, ("dio", "40m", "4MB")),
    ("ESP32_GENERIC_S3-20241129-v1.24.1.bin", "esp32s3", 0x0, ("dio", "80m", "8MB")),
];

#[test]
fn split_release_images_assemble_byte_for_byte() {
    for &(name, chip, bl, settings) in CASES {
        let Some(data) = firmware(name) else { return };
        let dir = tempfile::tempdir().unwrap();
        let json = build_dir(dir.path(), &split(&data, bl), chip, settings);
        let a = from_json(&json).unwrap();
        assert_eq!((a.chip.name, a.header_changed), (chip, false), "{name}");
        assert!(a.bytes == data, "{name}: the assembled image differs");
        let offsets: Vec<u32> = a.placed.iter().map(|p| p.offset).collect();
        let want: Vec<u32> =
            if name.contains("OTA") { vec![bl, 0x8000, 0xd000, 0x10000] } else { vec![bl, 0x8000, 0x10000] };
        assert_eq!(offsets, want, "{name}");
        assert_eq!(a.placed[0].path, dir.path().join("bootloader/bootloader.bin"));
    }
}

#[test]
fn flash_settings_rewrite_the_bootloader_header_as_esptool_merge_bin_does() {
    let Some(data) = firmware("ESP32_GENERIC-20240602-v1.23.0.bin") else { return };
    let Some(py) = venv_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pieces = split(&data, 0x1000);
    let json = build_dir(dir.path(), &pieces, "esp32", ("qio", "80m", "8MB"));
    let a = from_json(&json).unwrap();
    assert!(a.header_changed);
    assert_eq!(&a.bytes[2..4], &[0x00, 0x3F], "qio; 8MB and 80m");
    let bl = parse_image(&a.bytes).unwrap();
    assert!(bl.is_valid(), "the bootloader's digest was renewed");
    assert!(a.bytes[bl.total_len..] == data[bl.total_len..], "only the bootloader changed");

    let out = dir.path().join("merged.bin");
    let mut args: Vec<String> = ["-m", "esptool", "--chip", "esp32", "merge-bin", "-o"].map(String::from).to_vec();
    args.push(out.display().to_string());
    args.extend(
        ["--flash-mode", "qio", "--flash-freq", "80m", "--flash-size", "8MB", "--target-offset", "0x1000"]
            .map(String::from),
    );
    for (off, name, _) in &pieces {
        args.push(format!("{off:#x}"));
        args.push(dir.path().join(name).display().to_string());
    }
    let o = Command::new(py).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&out).unwrap() == a.bytes, "esptool merge-bin wrote other bytes");
}

/// A recipe of (offset, file name in `dir`) pieces, no settings, chip from the images.
fn recipe(dir: &Path, pieces: &[(u32, &str)]) -> Recipe {
    Recipe {
        pieces: pieces.iter().map(|&(offset, f)| Piece { offset, path: dir.join(f) }).collect(),
        ..Recipe::default()
    }
}

#[test]
fn broken_recipes_name_the_file_and_offset() {
    let Some(data) = firmware("ESP32_GENERIC-20240602-v1.23.0.bin") else { return };
    let dir = tempfile::tempdir().unwrap();
    build_dir(dir.path(), &split(&data, 0x1000), "esp32", ("dio", "40m", "4MB"));
    let d = dir.path();
    let (bl, pt, app) = ("bootloader/bootloader.bin", "partition_table/partition-table.bin", "micropython.bin");
    let err = |pieces: &[(u32, &str)]| assemble(&recipe(d, pieces), &mut load).unwrap_err().to_string();
    let p = |f: &str| d.join(f).display().to_string();

    assert_eq!(
        err(&[(0x1000, bl), (0x8000, pt), (0x10000, "missing.bin")]),
        format!("cannot read '{}' (for 0x10000): no such file", p("missing.bin"))
    );
    assert_eq!(
        err(&[(0x1000, bl), (0x8000, pt), (0x8800, app)]),
        format!("'{}' at 0x8800 overlaps '{}' at 0x8000..0x8c00: check the offsets", p(app), p(pt))
    );
    assert_eq!(
        err(&[(0x0, bl), (0x8000, pt), (0x10000, app)]),
        format!(
            "'{}' at 0x0 lies below the bootloader offset of esp32 (0x1000), where a firmware image starts: \
             check the offset (or the chip)",
            p(bl)
        )
    );
    assert_eq!(
        err(&[(0x1000, pt), (0x8000, bl), (0x10000, app)]),
        format!("'{}' at 0x1000 is not a bootloader image: it starts with 0xaa, not the image magic 0xe9", p(pt))
    );
    assert_eq!(
        err(&[(0x1000, bl), (0x8000, app), (0x200000, pt)]),
        format!("'{}' at 0x8000 is not a partition table: it starts with e9 07, not the entry magic aa 50", p(app))
    );
    std::fs::write(d.join("blank.bin"), [0xFFu8; 0x2000]).unwrap();
    assert_eq!(
        err(&[(0x1000, bl), (0x8000, pt), (0x10000, "blank.bin")]),
        format!(
            "'{}' at 0x10000 is not an app image for partition 'factory': it starts with 0xff, not the image magic 0xe9",
            p("blank.bin")
        )
    );
    assert_eq!(
        err(&[(0x1000, bl), (0x10000, app)]),
        "no partition table at 0x8000 among the pieces: mpimg needs the table there"
    );
    assert_eq!(
        err(&[(0x8000, pt), (0x10000, app)]),
        "no piece at 0x1000, the bootloader offset of esp32: a firmware image starts with the bootloader"
    );
    let s3 = Recipe { chip: Some("esp32s3".into()), ..recipe(d, &[(0x0, bl), (0x8000, pt), (0x10000, app)]) };
    assert_eq!(
        assemble(&s3, &mut load).unwrap_err().to_string(),
        format!("'{}' at 0x0 is an image for esp32, but the build is for esp32s3", p(bl))
    );
    let freq = Recipe { flash_freq: "48m".into(), ..recipe(d, &[(0x1000, bl), (0x8000, pt), (0x10000, app)]) };
    assert_eq!(
        assemble(&freq, &mut load).unwrap_err().to_string(),
        "flasher_args.json: flash frequency '48m' is not one esp32 supports: use 80m, 40m, 26m, 20m (or keep)"
    );
}

#[test]
fn an_encrypted_build_is_refused() {
    let args = FlasherArgs::parse(
        r#"{ "flash_files": { "0x1000": "bootloader/bootloader.bin", "0x10000": "app.bin" },
             "app": { "offset": "0x10000", "file": "app.bin", "encrypted": "true" } }"#,
    )
    .unwrap();
    assert_eq!(
        Recipe::from_flasher_args(&args, Path::new("build")).unwrap_err().to_string(),
        "'build/app.bin' at 0x10000 is flashed encrypted (flasher_args.json says \"encrypted\": \"true\"): esptool \
         encrypts it while flashing, which an image file cannot carry; flash the build with esptool --encrypt"
    );
}
