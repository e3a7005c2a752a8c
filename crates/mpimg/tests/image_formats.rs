//! Intel HEX and UF2 firmware files: what regions they carry, round trips
//! that give back every byte, and independent readers and writers agreeing
//! (PyPI intelhex reads our HEX; esptool's merge-bin writes the same HEX and
//! UF2 text for the same regions).

use std::path::Path;
use std::process::Command;

use crate::util::fs::*;
use crate::util::{firmware_bytes as firmware, venv_python};
use mpimg::flash::FileFlash;
use mpimg::format::chip::Chip;
use mpimg::format::partition::{Partition, PartitionTable, SUBTYPE_FAT, TYPE_DATA};
use mpimg::format::regions::Region;
use mpimg::fs::time::{with_time_source, Clock, TimeSource};
use mpimg::fs::FsPartition;
use mpimg::ops::file_format::{decode, encode, meaningful_regions, FileFormat};

/// A firmware file's image, with its chip and partitions (plus the implicit
/// vfs of v1.27 images).
struct Image {
    name: String,
    chip: &'static Chip,
    bytes: Vec<u8>,
    parts: Vec<Partition>,
}

impl Image {
    fn start(&self) -> u32 {
        self.chip.bootloader_offset
    }
}

fn image(name: &str, bytes: Vec<u8>) -> Image {
    let chip = Chip::by_image_id(u16::from_le_bytes([bytes[12], bytes[13]])).unwrap();
    let t = (0x8000 - chip.bootloader_offset) as usize;
    let mut parts = PartitionTable::parse(&bytes[t..t + 0x1000]).unwrap().entries;
    if name.contains("v1.27") {
        parts.push(Partition::new("vfs", TYPE_DATA, SUBTYPE_FAT, 0x200000, 0x200000, 0));
    }
    Image { name: name.to_owned(), chip, bytes, parts }
}

fn release(name: &str) -> Option<Image> {
    firmware(name).map(|b| image(name, b))
}

/// A release image with a littlefs of a few files baked into its vfs.
fn baked(name: &str, vfs: u32) -> Option<Image> {
    let img = release(name)?;
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("main.py"), b"print('hi')\n".repeat(200)).unwrap();
    std::fs::write(src.path().join("data.bin"), vec![0xFFu8; 9000]).unwrap();
    let mut flash = FileFlash::new(img.bytes.clone(), img.start(), 4 * MB);
    let parts = vec![FsPartition { name: "vfs".into(), offset: vfs, size: 0x400000 - vfs, implicit: false }];
    let put = vec![
        "put".into(),
        src.path().join("main.py").display().to_string(),
        src.path().join("data.bin").display().to_string(),
        "/".into(),
    ];
    let source = TimeSource { epoch: Some(1_700_000_000), clock: Clock::System };
    with_time_source(source, || run_words(&mut flash, &parts, &[cmd("mkfs"), cmd("mkdir /lib"), put]).ok());
    Some(image(&format!("{name} baked"), flash.into_bytes()))
}

fn all_images() -> Option<Vec<Image>> {
    let mut v = Vec::new();
    for name in [
        "ESP32_GENERIC-20240602-v1.23.0.bin",
        "ESP32_GENERIC-OTA-20250415-v1.25.0.bin",
        "ESP32_GENERIC_C3-20251209-v1.27.0.bin",
        "ESP32_GENERIC_S3-20241129-v1.24.1.bin",
        "ESP32_GENERIC_S2-20240602-v1.23.0.bin",
    ] {
        v.push(release(name)?);
    }
    v.push(baked("ESP32_GENERIC-20240602-v1.23.0.bin", 0x200000)?);
    v.push(baked("ESP32_GENERIC_C3-20251209-v1.27.0.bin", 0x200000)?);
    Some(v)
}

fn spans(regions: &[Region]) -> Vec<(u32, u64)> {
    regions.iter().map(|r| (r.addr, r.end())).collect()
}

#[test]
fn hex_and_uf2_carry_the_meaningful_regions_only() {
    let Some(plain) = release("ESP32_GENERIC-20240602-v1.23.0.bin") else { return };
    let Some(ota) = release("ESP32_GENERIC-OTA-20250415-v1.25.0.bin") else { return };
    let Some(c3) = baked("ESP32_GENERIC_C3-20251209-v1.27.0.bin", 0x200000) else { return };
    // Bootloader; table sector, nvs, phy_init (erased, kept) and the app up to its end.
    assert_eq!(
        spans(&meaningful_regions(0x1000, &plain.bytes, &plain.parts)),
        vec![(0x1000, 0x6a20), (0x8000, 0x1a8660)]
    );
    // otadata is erased in the file and kept: a board's stale otadata must not survive.
    assert_eq!(spans(&meaningful_regions(0x1000, &ota.bytes, &ota.parts)), vec![(0x1000, 0x6ae0), (0x8000, 0x16d0f0)]);
    // The app partition's tail up to the vfs is left out; the vfs is kept whole
    // as far as the file goes: 9 blocks, the erased ones too (block 4, the other
    // half of /lib's metadata pair, and block 6, the first block of data.bin,
    // which is all 0xFF: only its later blocks hold skip-list pointers).
    assert_eq!(
        spans(&meaningful_regions(0, &c3.bytes, &c3.parts)),
        vec![(0, 0x44a0), (0x8000, 0x1a5130), (0x200000, 0x209000)]
    );
    let vfs = &c3.bytes[0x200000..];
    let blank: Vec<bool> = vfs.chunks(4096).map(|b| b.iter().all(|&x| x == 0xFF)).collect();
    assert_eq!(blank, [false, false, false, false, true, false, true, false, false]);
}

#[test]
fn hex_and_uf2_round_trips_give_back_every_byte() {
    let Some(images) = all_images() else { return };
    for img in &images {
        for format in [FileFormat::Hex, FileFormat::Uf2] {
            let file = encode(format, img.chip, img.start(), &img.bytes, &img.parts);
            assert_eq!(FileFormat::sniff(&file), format);
            let back = decode(&file).unwrap().unwrap();
            assert_eq!((back.format, back.chip.name), (format, img.chip.name), "{}", img.name);
            assert!(back.bytes == img.bytes, "{} through {format:?} differs", img.name);
        }
        assert_eq!(decode(&img.bytes).unwrap(), None, "a raw image needs no decoding");
    }
}

/// Run a Python module or script from the checker venv; its stdout.
fn python(py: &Path, args: &[String]) -> String {
    let o = Command::new(py).args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}:\n{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn intelhex_reads_our_hex_as_the_image() {
    let Some(images) = all_images() else { return };
    let Some(py) = venv_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/hex_check.py");
    // Bootloader at 0x1000 and at 0x0, OTA data, baked filesystems (intelhex is slow: not all seven).
    for img in images.iter().filter(|i| i.name.contains("baked") || i.name.contains("OTA") || i.name.contains("S3")) {
        let hex = dir.path().join("fw.hex");
        let bin = dir.path().join("fw.bin");
        std::fs::write(&hex, encode(FileFormat::Hex, img.chip, img.start(), &img.bytes, &img.parts)).unwrap();
        let out = python(&py, &[script.display().to_string(), hex.display().to_string(), bin.display().to_string()]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["minaddr"], img.start(), "{}", img.name);
        let segments: Vec<(u32, u64)> = v["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s[0].as_u64().unwrap() as u32, s[1].as_u64().unwrap()))
            .collect();
        assert_eq!(segments, spans(&meaningful_regions(img.start(), &img.bytes, &img.parts)), "{}", img.name);
        assert!(std::fs::read(&bin).unwrap() == img.bytes, "{}: intelhex reads other bytes", img.name);
    }
}

#[test]
fn esptool_merge_bin_writes_the_same_hex_and_uf2_for_the_same_regions() {
    let Some(images) = all_images() else { return };
    let Some(py) = venv_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for img in images.iter().filter(|i| i.name.contains("C3-20251209") || i.name.contains("OTA")) {
        let regions = meaningful_regions(img.start(), &img.bytes, &img.parts);
        let mut pieces = Vec::new();
        for (i, r) in regions.iter().enumerate() {
            let p = dir.path().join(format!("r{i}.bin"));
            std::fs::write(&p, &r.data).unwrap();
            pieces.push(format!("{:#x}", r.addr));
            pieces.push(p.display().to_string());
        }
        for format in [FileFormat::Hex, FileFormat::Uf2] {
            let out = dir.path().join(format!("esptool.{}", format.extension()));
            let mut args: Vec<String> =
                ["-m", "esptool", "--chip", img.chip.name, "merge-bin", "--format", format.extension(), "-o"]
                    .map(String::from)
                    .to_vec();
            args.push(out.display().to_string());
            args.extend(pieces.iter().cloned());
            python(&py, &args);
            let ours = encode(format, img.chip, img.start(), &img.bytes, &img.parts);
            assert!(std::fs::read(&out).unwrap() == ours, "{} {format:?}: esptool wrote other bytes", img.name);
        }
    }
}

#[test]
fn decoding_refuses_what_is_not_a_firmware_from_its_bootloader_offset() {
    let Some(img) = release("ESP32_GENERIC-20240602-v1.23.0.bin") else { return };
    let Some(c3) = release("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return };
    // The esp32 image placed at 0x0 instead of 0x1000.
    let hex = encode(FileFormat::Hex, img.chip, 0, &img.bytes, &[]);
    assert_eq!(
        decode(&hex).unwrap_err().to_string(),
        "Intel HEX: the data starts at 0x0, but an esp32 firmware starts at its bootloader offset 0x1000"
    );
    // Only the app.
    let app = Region { addr: 0x10000, data: img.bytes[0xF000..].to_vec() };
    let uf2 = mpimg::format::uf2::write(&[app], 0x1C5F_21B0);
    assert_eq!(
        decode(&uf2).unwrap_err().to_string(),
        "UF2: the data starts at 0x10000, but an esp32 firmware starts at its bootloader offset 0x1000"
    );
    // The C3 image in blocks for the S3 family.
    let s3 = mpimg::format::uf2::write(&[Region { addr: 0, data: c3.bytes.clone() }], 0xC47E_5767);
    assert_eq!(
        decode(&s3).unwrap_err().to_string(),
        "UF2: the blocks are for family 0xc47e5767 (esp32s3), but the image is for esp32c3"
    );
    let table = Region { addr: 0x0, data: vec![0xAA, 0x50, 1, 2] };
    assert_eq!(
        decode(mpimg::format::ihex::write(&[table]).as_bytes()).unwrap_err().to_string(),
        "Intel HEX: the data starts at 0x0 with aa 50 01 02, not an ESP image header (0xE9): a firmware file starts with the bootloader"
    );
    assert_eq!(
        decode(b":0100000055AA\n:0100000055AA\n:00000001FF\n").unwrap_err().to_string(),
        "Intel HEX line 2: data at 0x0 overlaps data of line 1"
    );
}
