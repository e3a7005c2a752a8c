//! esptool (from PyPI, in the project venv) drives esp-sim unchanged, with
//! the stub and with --no-stub, for esp32, esp32s3 and the newer chips
//! (esp32c2, esp32c5, esp32c61, esp32h2, esp32p4), and at a raised baud rate
//! through the ROM's quirks. Every result is checked against the bytes of
//! the flash file.

mod common;

use std::path::PathBuf;
use std::process::Command;

use esp_sim::{Chip, SimConfig, Simulator};

struct Esptool {
    exe: PathBuf,
    port: PathBuf,
    /// esptool 5 spells options with dashes, 4.x with underscores.
    v4: bool,
}

impl Esptool {
    fn run(&self, stub: bool, args: &[&str]) -> (bool, String) {
        let (before, after) = if self.v4 { ("no_reset", "no_reset") } else { ("no-reset", "no-reset") };
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--port").arg(&self.port).args(["--before", before, "--after", after]);
        if !stub {
            cmd.arg("--no-stub");
        }
        let out = cmd.args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    fn ok(&self, stub: bool, args: &[&str]) -> String {
        let (ok, text) = self.run(stub, args);
        assert!(ok, "esptool {args:?} (stub: {stub}) failed:\n{text}");
        text
    }
}

fn hex(v: u32) -> String {
    format!("{v:#x}")
}

fn check_matrix(chip: Chip, flash_size: u32, chip_name: &str, size_name: &str, capacity_id: &str) {
    let Some(venv) = common::venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let flash: PathBuf = dir.path().join("flash.bin");
    let sim = Simulator::start(SimConfig::new(chip, flash_size, &flash)).unwrap();
    let tool = Esptool { exe: venv.join("bin/esptool"), port: sim.pty_path().to_path_buf(), v4: false };
    let mac = chip.default_mac();
    let base_mac = esp_sim::size::format_mac(mac);
    let (major, minor) = chip.revision();
    let xtal = chip.xtal_hz() / 1_000_000;

    for (i, stub) in [true, false].into_iter().enumerate() {
        let base = 0x40000 * (i as u32 + 1);

        let out = tool.ok(stub, &["chip-id"]);
        assert!(out.contains(&format!("Detecting chip type... {chip_name}\n")), "{out}");
        assert!(out.contains(&format!(" (revision v{major}.{minor})\n")), "{out}");
        assert!(out.contains(&format!("Crystal frequency:  {xtal}MHz\n")), "{out}");
        if matches!(chip, Chip::Esp32c5 | Chip::Esp32c6 | Chip::Esp32h2) {
            // 802.15.4 chips: the EUI-64 with MAC_EXT FF:FE in the middle.
            let eui = format!(
                "{:02x}:{:02x}:{:02x}:ff:fe:{:02x}:{:02x}:{:02x}",
                mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
            );
            assert!(out.contains(&format!("MAC:                {eui}\nBASE MAC:           {base_mac}\n")), "{out}");
        } else {
            assert!(out.contains(&format!("MAC:                {base_mac}\n")), "{out}");
        }
        assert_eq!(out.contains("Stub flasher running."), stub, "{out}");

        let out = tool.ok(stub, &["flash-id"]);
        assert!(out.contains("Manufacturer: ef\n"), "{out}");
        assert!(out.contains(&format!("Device: 40{capacity_id}\n")), "{out}");
        assert!(out.contains(&format!("Detected flash size: {size_name}\n")), "{out}");

        // Compressed write (compressible data, so esptool deflates it).
        let compressible = common::text(70_000, i as u64);
        let zfile = dir.path().join("z.bin");
        std::fs::write(&zfile, &compressible).unwrap();
        let defl_before = sim.stats().commands.get("FLASH_DEFL_DATA").copied().unwrap_or(0);
        tool.ok(stub, &["write-flash", "--compress", &hex(base), zfile.to_str().unwrap()]);
        assert!(sim.stats().commands.get("FLASH_DEFL_DATA").copied().unwrap_or(0) > defl_before);
        let bytes = common::read_file(&flash);
        assert_eq!(&bytes[base as usize..base as usize + compressible.len()], &compressible[..]);

        // Uncompressed write at an unaligned end, next to the first.
        let plain = common::noise(9_001, 10 + i as u64);
        let pfile = dir.path().join("p.bin");
        std::fs::write(&pfile, &plain).unwrap();
        let at = base + 0x20000;
        let data_before = sim.stats().commands.get("FLASH_DATA").copied().unwrap_or(0);
        tool.ok(stub, &["write-flash", "--no-compress", &hex(at), pfile.to_str().unwrap()]);
        assert!(sim.stats().commands.get("FLASH_DATA").copied().unwrap_or(0) > data_before);
        let bytes = common::read_file(&flash);
        assert_eq!(&bytes[at as usize..at as usize + plain.len()], &plain[..]);
        assert_eq!(&bytes[base as usize..base as usize + compressible.len()], &compressible[..]);

        // Read back (stub: READ_FLASH stream; ROM: READ_FLASH_SLOW blocks).
        let rfile = dir.path().join("r.bin");
        let len = if stub { 0x12000 } else { 0x1000 };
        tool.ok(stub, &["read-flash", &hex(base + 0x100), &hex(len), rfile.to_str().unwrap()]);
        let bytes = common::read_file(&flash);
        assert_eq!(std::fs::read(&rfile).unwrap(), &bytes[base as usize + 0x100..(base + 0x100 + len) as usize]);

        let out = tool.ok(stub, &["verify-flash", &hex(base), zfile.to_str().unwrap()]);
        assert!(out.contains("Verification successful (digest matched)."), "{out}");
        let (ok, out) = tool.run(stub, &["verify-flash", &hex(at), zfile.to_str().unwrap()]);
        assert!(!ok && out.contains("Verification failed"), "{out}");

        if stub {
            tool.ok(stub, &["erase-region", &hex(base + 0x1000), "0x2000"]);
            let bytes = common::read_file(&flash);
            let b = base as usize;
            assert!(bytes[b + 0x1000..b + 0x3000].iter().all(|&x| x == 0xFF));
            assert_eq!(&bytes[b..b + 0x1000], &compressible[..0x1000]);
            assert_eq!(&bytes[b + 0x3000..b + compressible.len()], &compressible[0x3000..]);
        }
    }
    let (stats, _) = sim.stop().unwrap();
    assert_eq!(stats.command_errors.keys().filter(|k| *k != "GET_SECURITY_INFO").count(), 0, "{stats:?}");
}

#[test]
fn esptool_esp32_stub_and_rom() {
    check_matrix(Chip::Esp32, 4 << 20, "ESP32", "4MB", "16");
}

#[test]
fn esptool_esp32s3_stub_and_rom() {
    check_matrix(Chip::Esp32s3, 8 << 20, "ESP32-S3", "8MB", "17");
}

#[test]
fn esptool_esp32c2_stub_and_rom() {
    check_matrix(Chip::Esp32c2, 4 << 20, "ESP32-C2", "4MB", "16");
}

#[test]
fn esptool_esp32c5_stub_and_rom() {
    check_matrix(Chip::Esp32c5, 8 << 20, "ESP32-C5", "8MB", "17");
}

#[test]
fn esptool_esp32c61_stub_and_rom() {
    check_matrix(Chip::Esp32c61, 4 << 20, "ESP32-C61", "4MB", "16");
}

#[test]
fn esptool_esp32h2_stub_and_rom() {
    check_matrix(Chip::Esp32h2, 4 << 20, "ESP32-H2", "4MB", "16");
}

#[test]
fn esptool_esp32p4_stub_and_rom() {
    check_matrix(Chip::Esp32p4, 16 << 20, "ESP32-P4", "16MB", "18");
}

/// At 921600 from the ROM loader: esptool asks the 26 MHz ESP32-C2's ROM
/// for 921600 * 40 / 26 so that its UART lands on 921600; the ESP32-C5's
/// ROM is asked for the rate itself once PCR_SYSCLK_CONF and the UART
/// divider agree on 48 MHz; the ESP32-P4 gets its flash powered and the
/// stub built for revision 3.x (text from 0x4FF50000; the older one's
/// from 0x4FF10000).
#[test]
fn esptool_rom_quirks_at_921600() {
    let Some(venv) = common::venv() else { return };
    for (chip, size) in [(Chip::Esp32c2, 4 << 20), (Chip::Esp32c5, 8 << 20), (Chip::Esp32p4, 8 << 20)] {
        let dir = tempfile::tempdir().unwrap();
        let flash = dir.path().join("flash.bin");
        let sim = Simulator::start(SimConfig::new(chip, size, &flash)).unwrap();
        let tool = Esptool { exe: venv.join("bin/esptool"), port: sim.pty_path().to_path_buf(), v4: false };
        let data = common::noise(20_000, 5);
        let file = dir.path().join("d.bin");
        std::fs::write(&file, &data).unwrap();
        tool.ok(false, &["--baud", "921600", "write-flash", "0x10000", file.to_str().unwrap()]);
        assert_eq!(sim.stats().baud_changes, [921_600], "{chip}");
        assert_eq!(&common::read_file(&flash)[0x10000..0x10000 + data.len()], &data[..], "{chip}");
        let out = tool.ok(
            true,
            &[
                "--baud",
                "921600",
                "read-flash",
                "0x10000",
                &hex(data.len() as u32),
                dir.path().join("r.bin").to_str().unwrap(),
            ],
        );
        assert!(out.contains("Stub flasher running."), "{out}");
        assert_eq!(std::fs::read(dir.path().join("r.bin")).unwrap(), data, "{chip}");
        let (stats, _) = sim.stop().unwrap();
        // ROM, stub, then the stub's reboot into the ROM loader at 115200
        // that esptool's --after no-reset ends a stub run with.
        assert_eq!(stats.baud_changes, [921_600, 921_600, 115_200], "{chip}");
        assert_eq!(stats.commands.get("CHANGE_BAUDRATE"), Some(&2), "{chip}");
        assert_eq!(stats.command_errors.len(), 0, "{chip}: {stats:?}");
        if chip == Chip::Esp32p4 {
            let entry = stats.stub_entry.unwrap();
            assert!(
                (0x4FF5_0000..0x4FFA_0000).contains(&entry),
                "P4 v3.1 got the stub for older revisions: {entry:#x}"
            );
        }
    }
}

fn mpt_venv() -> Option<PathBuf> {
    let dir = common::workspace_root().join(".venv-mpt");
    if dir.join("bin/esptool.py").exists() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("no esptool.py in {}: run .ci/setup", dir.display());
    }
    eprintln!("SKIP: no esptool 4.8.1 in {} (run .ci/setup)", dir.display());
    None
}

/// esptool 4.8.1 (the one mp-image-tool-esp32 uses) at 921600 baud.
#[test]
fn esptool_481_write_read_at_921600() {
    let Some(venv) = mpt_venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let sim = Simulator::start(SimConfig::new(Chip::Esp32, 4 << 20, &flash)).unwrap();
    let tool = Esptool { exe: venv.join("bin/esptool.py"), port: sim.pty_path().to_path_buf(), v4: true };
    let data = common::text(120_000, 9);
    let file = dir.path().join("d.bin");
    std::fs::write(&file, &data).unwrap();
    let out = tool.ok(true, &["--baud", "921600", "write_flash", "0x10000", file.to_str().unwrap()]);
    assert!(out.contains("Hash of data verified."), "{out}");
    assert_eq!(&common::read_file(&flash)[0x10000..0x10000 + data.len()], &data[..]);
    let back = dir.path().join("back.bin");
    tool.ok(true, &["--baud", "921600", "read_flash", "0x10000", &hex(data.len() as u32), back.to_str().unwrap()]);
    assert_eq!(std::fs::read(&back).unwrap(), data);
    let out = tool.ok(true, &["flash_id"]);
    assert!(out.contains("Detected flash size: 4MB"), "{out}");
    let (stats, _) = sim.stop().unwrap();
    assert_eq!(stats.commands.get("CHANGE_BAUDRATE"), Some(&2));
}
