//! Every option on every real image in ../shared/firmware, checked against the
//! facts MANIFEST.md lists and against the input's own bytes.

use std::path::Path;

use crate::util::*;

/// (file, chip, bootloader offset, header flash MB, MicroPython version, app IDF version,
///  partitions as name:type:subtype:offset:size) — from MANIFEST.md.
type Facts = (&'static str, &'static str, u64, u64, &'static str, &'static str, &'static [&'static str]);

const IMAGES: &[Facts] = &[
    ("ESP32_GENERIC-20240602-v1.23.0.bin", "esp32", 0x1000, 4, "v1.23.0", "v5.0.4", GENERIC),
    (
        "ESP32_GENERIC_S3-20241129-v1.24.1.bin",
        "esp32s3",
        0,
        8,
        "v1.24.1",
        "v5.2.2",
        &[
            "nvs:data:nvs:0x9000:0x6000",
            "phy_init:data:phy:0xf000:0x1000",
            "factory:app:factory:0x10000:0x1f0000",
            "vfs:data:fat:0x200000:0x600000",
        ],
    ),
    ("ESP32_GENERIC_S3-FLASH_4M-20240602-v1.23.0.bin", "esp32s3", 0, 4, "v1.23.0", "v5.0.4", GENERIC),
    (
        "ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.25.0.bin",
        "esp32s3",
        0,
        8,
        "v1.25.0",
        "v5.2.2",
        &[
            "nvs:data:nvs:0x9000:0x6000",
            "phy_init:data:phy:0xf000:0x1000",
            "factory:app:factory:0x10000:0x1f0000",
            "vfs:data:fat:0x200000:0x600000",
        ],
    ),
    ("ESP32_GENERIC_C3-20240602-v1.23.0.bin", "esp32c3", 0, 4, "v1.23.0", "v5.0.4", GENERIC),
    (
        "ESP32_GENERIC_C3-20251209-v1.27.0.bin",
        "esp32c3",
        0,
        4,
        "v1.27.0",
        "v5.5.1",
        &[
            "nvs:data:nvs:0x9000:0x6000",
            "phy_init:data:phy:0xf000:0x1000",
            "factory:app:factory:0x10000:0x1f0000",
            "vfs:data:fat:0x200000:0x200000:implicit",
        ],
    ),
    ("ESP32_GENERIC_S2-20240602-v1.23.0.bin", "esp32s2", 0x1000, 4, "v1.23.0", "v5.0.4", GENERIC),
    (
        "ESP32_GENERIC-OTA-20250415-v1.25.0.bin",
        "esp32",
        0x1000,
        4,
        "v1.25.0",
        "v5.2.2",
        &[
            "nvs:data:nvs:0x9000:0x4000",
            "otadata:data:ota:0xd000:0x2000",
            "phy_init:data:phy:0xf000:0x1000",
            "ota_0:app:ota_0:0x10000:0x180000",
            "ota_1:app:ota_1:0x190000:0x180000",
            "vfs:data:fat:0x310000:0xf0000",
        ],
    ),
    ("ESP32_GENERIC-20250415-v1.25.0.bin", "esp32", 0x1000, 4, "v1.25.0", "v5.2.2", GENERIC),
    (
        "esp32-20210902-v1.17.bin",
        "esp32",
        0x1000,
        4,
        "v1.17",
        "v4.2.2",
        &[
            "nvs:data:nvs:0x9000:0x6000",
            "phy_init:data:phy:0xf000:0x1000",
            "factory:app:factory:0x10000:0x180000",
            "vfs:data:fat:0x200000:0x200000",
        ],
    ),
];

const GENERIC: &[&str] = &[
    "nvs:data:nvs:0x9000:0x6000",
    "phy_init:data:phy:0xf000:0x1000",
    "factory:app:factory:0x10000:0x1f0000",
    "vfs:data:fat:0x200000:0x200000",
];

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let o = run_mpimg(dir, &[args, &["--json"]].concat());
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON: {e}"))
}

fn rows(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut s = format!(
                "{}:{}:{}:{:#x}:{:#x}",
                p["name"].as_str().unwrap(),
                p["type"].as_str().unwrap(),
                p["subtype"].as_str().unwrap(),
                p["offset"].as_u64().unwrap(),
                p["size"].as_u64().unwrap()
            );
            if p["implicit"] == true {
                s += ":implicit";
            }
            s
        })
        .collect()
}

#[test]
fn inspect_reports_the_manifest_facts() {
    let Some(dir) = firmware_dir() else { return };
    let d = tempfile::tempdir().unwrap();
    for (file, chip, bl, mb, version, idf, parts) in IMAGES {
        let fw = dir.join(file);
        let v = json(d.path(), &[fw.to_str().unwrap()]);
        assert_eq!(v["chip"], *chip, "{file}");
        assert_eq!(v["bootloader_offset"], *bl, "{file}");
        assert_eq!(v["flash_size"], mb << 20, "{file}");
        assert_eq!(v["app"]["micropython_version"], *version, "{file}");
        assert_eq!(v["app"]["image"]["idf_version"], *idf, "{file}");
        assert_eq!(v["app"]["image"]["checksum_ok"], true, "{file}");
        assert_eq!(v["app"]["image"]["sha256_ok"], true, "{file}");
        assert_eq!(v["bootloader"]["sha256_ok"], true, "{file}");
        assert_eq!(rows(&v["partitions"]), parts.to_vec(), "{file}");
        let len = std::fs::metadata(&fw).unwrap().len();
        assert_eq!(v["data_end"], bl + len, "{file}");
        // Every file ends where its app ends (MANIFEST), so the app size is the rest of the file.
        assert_eq!(v["app"]["image"]["size"], bl + len - 0x10000, "{file}");
        assert!(
            v["warnings"].as_array().unwrap().iter().all(|w| w.as_str().unwrap().contains("free before")),
            "{file}: {}",
            v["warnings"]
        );
    }
}

#[test]
fn app_image_on_its_own() {
    let Some(fw) = firmware("micropython.bin") else { return };
    let d = tempfile::tempdir().unwrap();
    let v = json(d.path(), &[fw.to_str().unwrap()]);
    assert_eq!(v["kind"], "app-image");
    assert_eq!(v["chip"], "esp32s3");
    assert_eq!(v["app"]["micropython_version"], "b4f53a0");
    assert_eq!(v["app"]["micropython_date"], "2025-01-22");
    assert_eq!(v["app"]["release"], false);
    assert_eq!(v["app"]["image"]["idf_version"], "v5.3.2");
    assert_eq!(v["app"]["image"]["segments"], 7);
    assert_eq!(v["app"]["image"]["size"], 1358384);
    assert_eq!(v["partitions"], serde_json::json!([]));
    let o = run_mpimg(d.path(), &[fw.to_str().unwrap(), "--check-app"]);
    assert!(o.status.success());
    assert_eq!(
        text(&o.stdout).lines().last(),
        Some("Check 'app' at 0x0: valid esp32s3 image, 1358384 bytes, checksum ok, SHA-256 ok")
    );
}

#[test]
fn human_display_of_a_release_image() {
    // Segment counts and compile times as `esptool image-info` reports them for this file.
    let Some(fw) = firmware("ESP32_GENERIC_S3-20241129-v1.24.1.bin") else { return };
    let d = tempfile::tempdir().unwrap();
    let o = run_mpimg(d.path(), &[fw.to_str().unwrap()]);
    let fw = fw.to_str().unwrap();
    assert_eq!(
        text(&o.stdout),
        format!(
            "Firmware file {fw}: esp32s3, bootloader at 0x0, flash size 8MB, file covers 0x0..0x1950b0\n\
             Bootloader: IDF v5.2.2 (Nov 29 2024 13:24:37), 4 segments, 19152 bytes, checksum ok, SHA-256 ok\n\
             Partition table (flash size: 8MB):\n\
             Name      Type  SubType    Offset      Size       End  Flags\n\
             nvs       data  nvs        0x9000    0x6000    0xf000         (24.0 KiB)\n\
             phy_init  data  phy        0xf000    0x1000   0x10000         (4.0 KiB)\n\
             factory   app   factory   0x10000  0x1f0000  0x200000         (1.9 MiB)\n\
             vfs       data  fat      0x200000  0x600000  0x800000         (6.0 MiB)\n\
             App: MicroPython v1.24.1 on 2024-11-29, IDF v5.2.2 for esp32s3\n  built Nov 29 2024 13:25:25\n\
             \x20 image: 6 segments, 1593520 bytes, checksum ok, SHA-256 ok\n\
             \x20 fills 78.4% of 'factory' (1593520 of 2031616 bytes, 427.8 KiB free)\n"
        )
    );
}

#[test]
fn every_option_on_every_image() {
    let Some(dir) = firmware_dir() else { return };
    for (file, _chip, bl, _mb, _v, _idf, parts) in IMAGES {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        let src = std::fs::read(dir.join(file)).unwrap();
        std::fs::write(p.join("fw.bin"), &src).unwrap();
        let app_at = (0x10000 - bl) as usize;
        let implicit = parts.iter().any(|r| r.ends_with(":implicit"));
        let first_app =
            if parts[3].starts_with("ota_0") || parts[2].starts_with("ota_0") { "ota_0" } else { "factory" };

        // -f: byte 3 and the bootloader hash change, the result checks valid.
        let v = json(p, &["fw.bin", "-f", "16M"]);
        let out = std::fs::read(p.join("fw-16MB.bin")).unwrap();
        assert_eq!(out[3] >> 4, 4, "{file}");
        assert_eq!(out.len(), src.len(), "{file}");
        assert_eq!(&out[app_at..], &src[app_at..], "{file}: the app is untouched");
        assert_eq!(v["result"]["update"]["bootloader_rewritten"], true, "{file}");
        let c = run_mpimg(p, &["fw-16MB.bin", "--check-app", "-q"]);
        assert!(c.status.success(), "{file}: {}", text(&c.stderr));

        // --table ota on 8 MB.
        let v = json(p, &["fw.bin", "-f", "8M", "--table", "ota", "-o", "ota.bin"]);
        assert_eq!(
            rows(&v["result"]["partitions"]),
            [
                "nvs:data:nvs:0x9000:0x5000",
                "otadata:data:ota:0xe000:0x2000",
                "ota_0:app:ota_0:0x10000:0x200000",
                "ota_1:app:ota_1:0x210000:0x200000",
                "vfs:data:fat:0x410000:0x3f0000"
            ],
            "{file}"
        );

        // --resize vfs=0: the implicit vfs of v1.27 must be pinned with --add first.
        if implicit {
            let o = run_mpimg(p, &["fw.bin", "-f", "8M", "--resize", "vfs=0"]);
            assert!(
                text(&o.stderr).contains("'vfs' is not in the partition table: MicroPython v1.27.0 creates it at boot"),
                "{file}"
            );
            let v = json(p, &["fw.bin", "-f", "8M", "--add", "vfs:fat:0:0", "-o", "r.bin"]);
            assert_eq!(rows(&v["result"]["partitions"]).last().unwrap(), "vfs:data:fat:0x200000:0x600000", "{file}");
        } else {
            let v = json(p, &["fw.bin", "-f", "8M", "--resize", "vfs=0", "-o", "r.bin"]);
            let last = rows(&v["result"]["partitions"]).last().unwrap().clone();
            assert!(
                last.starts_with("vfs:data:fat:")
                    && last.ends_with(&format!(
                        ":{:#x}",
                        0x800000
                            - u64::from_str_radix(last.split(':').nth(3).unwrap().trim_start_matches("0x"), 16)
                                .unwrap()
                    )),
                "{file}: {last}"
            );
        }

        // CSV round trip: the table written back is the table read.
        json(p, &["fw.bin", "--to-csv", "t.csv"]);
        json(p, &["fw.bin", "--from-csv", "t.csv", "-o", "csv.bin"]);
        assert_eq!(std::fs::read(p.join("csv.bin")).unwrap(), src, "{file}: from-csv of to-csv changes nothing");

        // -x, --read: the app bytes are the file from the app offset on.
        json(p, &["fw.bin", "-x"]);
        assert_eq!(std::fs::read(p.join("fw.app-bin")).unwrap(), &src[app_at..], "{file}");
        json(p, &["fw.bin", "--read", &format!("{first_app}=a.bin,partition_table=t.bin")]);
        assert_eq!(std::fs::read(p.join("a.bin")).unwrap(), &src[app_at..], "{file}");
        assert_eq!(
            std::fs::read(p.join("t.bin")).unwrap(),
            &src[0x8000 - *bl as usize..0x9000 - *bl as usize],
            "{file}"
        );

        // --write the app back: nothing changes.
        json(p, &["fw.bin", "--write", &format!("{first_app}=fw.app-bin"), "-o", "w.bin"]);
        assert_eq!(std::fs::read(p.join("w.bin")).unwrap(), src, "{file}");

        // --erase nvs: 0xFF there, the rest unchanged.
        json(p, &["fw.bin", "--erase", "nvs", "-o", "e.bin"]);
        let e = std::fs::read(p.join("e.bin")).unwrap();
        let nvs = (0x9000 - *bl as usize)..(0x9000 - *bl as usize + 0x4000);
        assert!(e[nvs.clone()].iter().all(|&b| b == 0xFF), "{file}");
        assert_eq!(e.len(), src.len(), "{file}");

        // --delete, --rename, --add, -a together.
        let v = json(
            p,
            &[
                "fw.bin",
                "--delete",
                "phy_init",
                "--rename",
                "nvs=store",
                "--add",
                "log:spiffs:0xf000:0x1000",
                "-o",
                "d.bin",
            ],
        );
        let r = rows(&v["result"]["partitions"]);
        assert!(
            r.contains(&"log:data:spiffs:0xf000:0x1000".to_string()) && r[0].starts_with("store:data:nvs:0x9000:"),
            "{file}: {r:?}"
        );

        // --check-app: the bootloader and every app in the file are valid.
        let o = run_mpimg(p, &["fw.bin", "--check-app"]);
        assert!(o.status.success(), "{file}");
        assert!(text(&o.stdout).contains(&format!("Check '{first_app}' at 0x10000: valid ")), "{file}");
    }
}
