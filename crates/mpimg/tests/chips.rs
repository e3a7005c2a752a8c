//! Every chip: mpimg recognises each chip's firmware by its image chip id and
//! bootloader offset (the table of facts below is esptool 5.6.0's targets),
//! and works on esp-sim devices of the newer chips (esp32c2, esp32c5,
//! esp32c61, esp32h2, esp32p4): `--flash`, inspect, a table edit (`-f` with
//! `--resize`) and `--fs put`, each checked byte for byte against the same
//! operation on the firmware file, the filesystem read back by
//! littlefs-python.
//!
//! There are no real firmware images for these chips in ../shared/firmware:
//! each test builds one from the real ESP32-C3 v1.27.0 image by changing the
//! chip id in the bootloader's and the app's header, renewing their SHA-256
//! (the checksum covers segment data only) and moving the firmware to the
//! chip's bootloader offset. At 0x2000 (esp32c5, esp32p4) the bootloader
//! region before the table at 0x8000 shrinks to 0x6000 bytes; the C3
//! bootloader ends at 0x44a0, so it fits (checked below: the bytes cut off
//! are all erased).

use std::path::{Path, PathBuf};

use crate::util::sim::{assert_same_flash, flash_image, Dev};
use crate::util::synth::{app_image, firmware as synth_firmware, generic_table};
use crate::util::{firmware, mpimg, ok, run_mpimg, run_mpimg_env, text, venv_python};
use esp_sim::{SimConfig, Simulator};
use mpimg::flash::FileFlash;
use mpimg::format::image::rehash;
use mpimg::fs::time::with_now;
use mpimg::fs::{run_fs_commands, FsPartition};

/// The fixed "now" of the mkfs runs, seconds since 1970.
const NOW_SECS: u64 = 1_700_000_000;
use sha2::{Digest, Sha256};

/// esptool 5.6.0: (name, IMAGE_CHIP_ID, BOOTLOADER_FLASH_OFFSET) of every chip
/// mpimg knows.
const ESPTOOL_CHIPS: [(&str, u16, u32); 14] = [
    ("esp32", 0, 0x1000),
    ("esp32s2", 2, 0x1000),
    ("esp32c3", 5, 0x0),
    ("esp32s3", 9, 0x0),
    ("esp32c2", 12, 0x0),
    ("esp32c6", 13, 0x0),
    ("esp32h2", 16, 0x0),
    ("esp32p4", 18, 0x2000),
    ("esp32c61", 20, 0x0),
    ("esp32c5", 23, 0x2000),
    ("esp32h21", 25, 0x0),
    ("esp32h4", 28, 0x2000),
    ("esp32e22", 31, 0x0),
    ("esp32s31", 32, 0x2000),
];

#[test]
fn every_chip_is_recognised_by_image_id_at_its_bootloader_offset() {
    let dir = tempfile::tempdir().unwrap();
    for (name, id, off) in ESPTOOL_CHIPS {
        let fw = synth_firmware(id, off, &generic_table(), &app_image(id, "MicroPython v1.27.0 on 2025-12-09"));
        std::fs::write(dir.path().join("fw.bin"), &fw).unwrap();
        let o = run_mpimg(dir.path(), &["fw.bin", "--json"]);
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((v["chip"].as_str(), v["bootloader_offset"].as_u64()), (Some(name), Some(u64::from(off))), "{name}");
        assert_eq!(v["bootloader"]["chip"], name);
        assert_eq!(v["partitions"][2]["name"], "factory", "{name}");
        assert_eq!(v["app"]["image"]["sha256_ok"], true, "{name}");
        // The same file claimed for any other bootloader offset is refused:
        // there is no image header where that chip's bootloader would start.
        if off > 0 {
            let mut shifted = vec![0xFF; off as usize];
            shifted.extend_from_slice(&fw);
            std::fs::write(dir.path().join("dump.bin"), &shifted).unwrap();
            let r = mpimg(dir.path(), &["dump.bin"]);
            assert_eq!(r.code, 1, "{name}");
            assert!(
                r.err.starts_with(&format!("error: no image header at the start, but one at file offset {off:#x}")),
                "{name}: {}",
                r.err
            );
        }
    }
}

/// One of the newer chips as esp-sim emulates it.
struct NewChip {
    name: &'static str,
    sim: esp_sim::Chip,
    image_id: u16,
    bootloader_offset: u32,
    /// Header chip revision range (min, max) as major * 100 + minor; the
    /// C3 image's v0.3..v1.99 unless the chip needs another.
    revs: Option<(u16, u16)>,
}

const C3_V127: &str = "ESP32_GENERIC_C3-20251209-v1.27.0.bin";
const FLASH: u32 = 8 << 20;

/// Change the chip id (and revision range) in an image header at the start
/// of `image`, then renew its SHA-256.
fn retag(image: &mut [u8], n: &NewChip) {
    image[12..14].copy_from_slice(&n.image_id.to_le_bytes());
    if let Some((min, max)) = n.revs {
        image[14] = (min / 100) as u8;
        image[15..17].copy_from_slice(&min.to_le_bytes());
        image[17..19].copy_from_slice(&max.to_le_bytes());
    }
    rehash(image).unwrap();
}

/// The C3 v1.27 firmware made into one for `n`: bootloader and app retagged,
/// the whole moved to the chip's bootloader offset (table stays at 0x8000,
/// app at 0x10000).
fn firmware_for(c3: &[u8], n: &NewChip) -> Vec<u8> {
    let bl = n.bootloader_offset as usize;
    assert!(
        c3[0x8000 - bl..0x8000].iter().all(|&b| b == 0xFF),
        "the C3 bootloader does not fit below the table at offset {bl:#x}"
    );
    let mut boot = c3[..0x8000 - bl].to_vec();
    retag(&mut boot, n);
    let mut app = c3[0x10000..].to_vec();
    retag(&mut app, n);
    [boot, c3[0x8000..0x10000].to_vec(), app].concat()
}

/// esptool's own reading of an image: chip, checksum and digest valid.
fn esptool_accepts(py: &Path, image: &[u8], dir: &Path, esptool_name: &str) {
    let f = dir.join("part.bin");
    std::fs::write(&f, image).unwrap();
    let o = std::process::Command::new(py).args(["-m", "esptool", "image-info"]).arg(&f).output().unwrap();
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.contains(&format!("Detected image type: {esptool_name}\n")), "{out}");
    let valid = |label: &str| out.lines().any(|l| l.starts_with(label) && l.ends_with(" (valid)"));
    assert!(valid("Checksum: ") && valid("Validation hash: "), "{out}");
}

fn start(n: &NewChip, image: Option<&Path>) -> Dev {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let mut cfg = SimConfig::new(n.sim, FLASH, &flash);
    if let Some(img) = image {
        cfg.image = Some(img.to_path_buf());
        cfg.image_offset = n.bootloader_offset;
    }
    let sim = Simulator::start(cfg).unwrap();
    Dev { sim, dir, flash, flash_size: FLASH }
}

/// littlefs-python's view of a filesystem image (see tests/scripts/lfs_check.py).
fn lfs_dump(py: &Path, image: &[u8], dir: &Path) -> serde_json::Value {
    let img = dir.join("vfs.img");
    std::fs::write(&img, image).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/lfs_check.py");
    let o = std::process::Command::new(py)
        .arg(script)
        .arg("dump")
        .arg(&img)
        .arg((image.len() / 4096).to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn device_chip(n: NewChip) {
    let (Some(c3_path), Some(py)) = (firmware(C3_V127), venv_python()) else { return };
    let name = n.name;
    let bl = n.bootloader_offset;
    let c3 = std::fs::read(&c3_path).unwrap();
    let fw = firmware_for(&c3, &n);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let fw_path: PathBuf = w.join(format!("{name}.bin"));
    std::fs::write(&fw_path, &fw).unwrap();
    let fw_arg = fw_path.to_str().unwrap();
    let esptool_name = n.sim.esptool_name();
    esptool_accepts(&py, &fw[..0x8000 - bl as usize], w, esptool_name);
    esptool_accepts(&py, &fw[0x10000 - bl as usize..], w, esptool_name);

    // --flash onto a blank board: exactly the file at the chip's offset.
    let d = start(&n, None);
    let port = d.port();
    let r = mpimg(w, &[fw_arg, "--flash", &port]);
    ok(&r);
    assert!(
        r.err.ends_with(&format!(
            "warning[flash-size-mismatch]: the bootloader header says the flash is 4MB but the board has 8MB: MicroPython uses only the first 4MB of it\n  fix: mpimg {port} --fit\n"
        )),
        "{}",
        r.err
    );
    assert_same_flash(&d.bytes(), &flash_image(&fw, bl, FLASH));
    // A firmware for another chip is refused, and nothing is written.
    let other = NewChip {
        name: "esp32p4",
        sim: esp_sim::Chip::Esp32p4,
        image_id: 18,
        bootloader_offset: 0x2000,
        revs: Some((301, 399)),
    };
    let other = if name == "esp32p4" {
        NewChip { name: "esp32c5", sim: esp_sim::Chip::Esp32c5, image_id: 23, revs: None, ..other }
    } else {
        other
    };
    std::fs::write(w.join("other.bin"), firmware_for(&c3, &other)).unwrap();
    let r = mpimg(w, &["other.bin", "--flash", &port]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.err,
        format!(
            "error: the firmware is for {} but the device on {port} is an {name}: use a firmware for {name}\n",
            other.name
        )
    );
    assert_same_flash(&d.bytes(), &flash_image(&fw, bl, FLASH));

    // Inspect: the device reads as the chip, its bootloader where the chip has it.
    let r = mpimg(w, &[&port, "--json"]);
    ok(&r);
    assert_eq!(r.err, "");
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(
        v["diagnoses"],
        serde_json::json!([{
            "code": "flash-size-mismatch",
            "severity": "warning",
            "message": "the bootloader header says the flash is 4MB but the board has 8MB: MicroPython uses only the first 4MB of it",
            "fix": format!("mpimg {port} --fit"),
        }])
    );
    assert_eq!(
        (v["kind"].as_str(), v["chip"].as_str(), v["bootloader_offset"].as_u64()),
        (Some("device"), Some(name), Some(u64::from(bl)))
    );
    assert_eq!(v["flash_size"], 4 << 20);
    assert_eq!(
        (v["bootloader"]["chip"].as_str(), v["bootloader"]["offset"].as_u64()),
        (Some(name), Some(u64::from(bl)))
    );
    assert_eq!(
        (v["app"]["image"]["offset"].as_u64(), v["app"]["image"]["size"].as_u64()),
        (Some(0x10000), Some(1_659_184))
    );
    let (major, minor) = n.sim.revision();
    assert_eq!(v["result"]["device"]["revision"], format!("v{major}.{minor}"));
    let table: Vec<(String, u64, u64)> = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["implicit"] == false)
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["offset"].as_u64().unwrap(), p["size"].as_u64().unwrap()))
        .collect();
    let want = [("nvs", 0x9000, 0x6000), ("phy_init", 0xf000, 0x1000), ("factory", 0x10000, 0x1f0000)];
    assert_eq!(table, want.map(|(n, o, s)| (n.to_string(), o, s)));
    let r = mpimg(w, &[&port]);
    ok(&r);
    assert!(r.out.contains(&format!("Device {port}: {name}, bootloader at {bl:#x}, flash size 4MB\n")), "{}", r.out);

    // A table edit on the device: the same bytes as the edit on the file.
    let r = mpimg(w, &[fw_arg, "-f", "8M", "--resize", "factory=0x2f0000", "-o", "edited.bin"]);
    ok(&r);
    let edited = std::fs::read(w.join("edited.bin")).unwrap();
    let r = mpimg(w, &[&port, "-f", "8M", "--resize", "factory=0x2f0000"]);
    ok(&r);
    let now = d.bytes();
    assert_same_flash(&now, &flash_image(&edited, bl, FLASH));
    // Independently: header byte 3 says 8 MB (high nibble 3), the bootloader's
    // digest covers it, and the table's factory entry has the new size.
    let b = bl as usize;
    assert_eq!(now[b + 3] >> 4, 3);
    let boot_len = 0x44a0 - 32;
    assert_eq!(&now[b + boot_len..b + boot_len + 32], Sha256::digest(&now[b..b + boot_len]).as_slice());
    assert_eq!(&now[0x8040..0x8044], b"\xAA\x50\x00\x00");
    assert_eq!(&now[0x8048..0x804C], &0x2f_0000u32.to_le_bytes());

    // --fs: make the filesystem in the implicit vfs (now 0x300000 to the end
    // of the 8 MB flash) and put a file; the same commands on the edited file.
    let main_py = w.join("main.py");
    std::fs::write(&main_py, b"print('hello from the device')\n").unwrap();
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    std::fs::File::options().write(true).open(&main_py).unwrap().set_modified(t).unwrap();
    let main_arg = main_py.to_str().unwrap();
    let commands: Vec<Vec<String>> = [vec!["mkfs", "vfs"], vec!["put", main_arg, "/"]]
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    let vfs = FsPartition { name: "vfs".into(), offset: 0x30_0000, size: FLASH - 0x30_0000, implicit: true };
    let mut file = FileFlash::new(flash_image(&edited, bl, FLASH), 0, FLASH);
    let (mut out, mut log) = (Vec::new(), Vec::new());
    // mkfs stamps "now": the same fixed time for the file and the device run.
    with_now(NOW_SECS * 1_000_000_000, || run_fs_commands(&mut file, &[vfs], &commands, &mut out, &mut log)).unwrap();
    let epoch = NOW_SECS.to_string();
    let o = run_mpimg_env(
        w,
        &[&port, "-q", "--fs", "mkfs", "vfs", "--fs", "put", main_arg, "/"],
        &[("SOURCE_DATE_EPOCH", &epoch)],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let now = d.bytes();
    assert_same_flash(&now, file.bytes());
    let v = lfs_dump(&py, &now[0x30_0000..], w);
    assert_eq!(v["block_count"], (FLASH - 0x30_0000) / 4096);
    assert_eq!(v["dirs"], serde_json::json!([]));
    let files = v["files"].as_object().unwrap();
    // mkfs writes MicroPython's boot.py, as the board's first boot would.
    assert_eq!(files.keys().collect::<Vec<_>>(), ["boot.py", "main.py"]);
    assert_eq!(files["main.py"]["size"], 31);
    assert_eq!(files["main.py"]["sha256"], format!("{:x}", Sha256::digest(b"print('hello from the device')\n")));
    // Reading it back through mpimg gives the same bytes.
    let o = run_mpimg(w, &[&port, "-q", "--fs", "get", "/main.py", "back.py"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(w.join("back.py")).unwrap(), b"print('hello from the device')\n");
}

#[test]
fn device_esp32c2() {
    device_chip(NewChip {
        name: "esp32c2",
        sim: esp_sim::Chip::Esp32c2,
        image_id: 12,
        bootloader_offset: 0,
        revs: None,
    });
}

#[test]
fn device_esp32c5() {
    device_chip(NewChip {
        name: "esp32c5",
        sim: esp_sim::Chip::Esp32c5,
        image_id: 23,
        bootloader_offset: 0x2000,
        revs: None,
    });
}

#[test]
fn device_esp32c61() {
    device_chip(NewChip {
        name: "esp32c61",
        sim: esp_sim::Chip::Esp32c61,
        image_id: 20,
        bootloader_offset: 0,
        revs: None,
    });
}

#[test]
fn device_esp32h2() {
    // The C3 image's minimum revision (v0.3) is the C3's own: an H2 build
    // takes IDF's H2 range, v0.0..v0.99 (the emulated chip is v0.1).
    device_chip(NewChip {
        name: "esp32h2",
        sim: esp_sim::Chip::Esp32h2,
        image_id: 16,
        bootloader_offset: 0,
        revs: Some((0, 99)),
    });
}

#[test]
fn device_esp32p4() {
    // MicroPython's P4 images since IDF 5.5.4 need chip revision v3.1..v3.99
    // (the emulated chip is v3.1).
    device_chip(NewChip {
        name: "esp32p4",
        sim: esp_sim::Chip::Esp32p4,
        image_id: 18,
        bootloader_offset: 0x2000,
        revs: Some((301, 399)),
    });
}
