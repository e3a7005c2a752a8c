//! Round trips through the espflash crate used as a library, the way mpimg
//! drives a device: open the pty with serialport, connect without reset,
//! load the stub, compressed write with verify, erase a region, MD5, read.

mod common;

use std::path::Path;

use esp_sim::{Chip, SimConfig, Simulator};
use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::Flasher;
use espflash::target::{Chip as EfChip, DefaultProgressCallback};
use md5::{Digest, Md5};
use serialport::UsbPortInfo;

fn connect(pty: &Path, use_stub: bool, baud: Option<u32>) -> Flasher {
    // NoResetNoStub keeps the stub running after each write: with NoReset
    // espflash ends every write_bin_to_flash with FLASH_BEGIN(0) + FLASH_END
    // (reboot), which takes a stub back to the ROM loader.
    let after = if use_stub { ResetAfterOperation::NoResetNoStub } else { ResetAfterOperation::NoReset };
    let port = serialport::new(pty.to_string_lossy(), 115_200).open_native().unwrap();
    // A pty has no USB identity; espflash only uses it to pick reset
    // strategies, which NoReset skips.
    let info = UsbPortInfo { vid: 0, pid: 0, serial_number: None, manufacturer: None, product: None };
    let conn = Connection::new(port, info, after, ResetBeforeOperation::NoReset, 115_200);
    Flasher::connect(conn, use_stub, true, false, None, baud).unwrap()
}

fn md5_u128(data: &[u8]) -> u128 {
    u128::from_be_bytes(Md5::digest(data).into())
}

fn round_trip(chip: Chip, expect: EfChip, flash_size: u32, use_stub: bool) {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let sim = Simulator::start(SimConfig::new(chip, flash_size, &flash)).unwrap();

    let mut f = connect(sim.pty_path(), use_stub, Some(921_600));
    assert_eq!(f.chip(), expect);
    // The UART ends up at the rate asked for (espflash asks a ROM on a 26 MHz
    // ESP32-C2 for 921600 * 40 / 26, which its ROM turns into 921600).
    assert_eq!(sim.stats().baud_changes, [921_600]);
    let info = f.device_info().unwrap();
    assert_eq!(info.flash_size.size(), flash_size);
    assert_eq!(info.revision, Some(chip.revision()));
    assert_eq!(info.mac_address.as_deref(), Some(esp_sim::size::format_mac(chip.default_mac()).as_str()));

    // Compressed write (espflash always deflates), verified by espflash
    // with the flash MD5.
    let data = common::text(150_000, 3);
    f.write_bin_to_flash(0x20000, &data, &mut DefaultProgressCallback).unwrap();
    let bytes = common::read_file(&flash);
    assert_eq!(&bytes[0x20000..0x20000 + data.len()], &data[..]);
    if !use_stub {
        // espflash ends a ROM download with FLASH_END, and the ROM leaves
        // the loader for the firmware; closing and reopening the port is
        // the reset that brings the loader back.
        drop(f);
        f = connect(sim.pty_path(), false, None);
    }
    assert_eq!(f.checksum_md5(0x20000, data.len() as u32).unwrap(), md5_u128(&data));

    if use_stub {
        f.erase_region(0x21000, 0x2000).unwrap();
        let bytes = common::read_file(&flash);
        assert!(bytes[0x21000..0x23000].iter().all(|&b| b == 0xFF));
        assert_eq!(&bytes[0x20000..0x21000], &data[..0x1000]);
        assert_eq!(&bytes[0x23000..0x20000 + data.len()], &data[0x3000..]);
        let mut expected = data.clone();
        expected[0x1000..0x3000].fill(0xFF);
        assert_eq!(f.checksum_md5(0x20000, data.len() as u32).unwrap(), md5_u128(&expected));

        let out = dir.path().join("read.bin");
        f.read_flash(0x20000, 0x8000, 0x1000, 64, out.clone()).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), &expected[..0x8000]);
    } else {
        let out = dir.path().join("read.bin");
        // espflash 4.7's read_flash_rom advances its offset by the running
        // total (offset, +64, +192, ...), so only its first two 64-byte
        // READ_FLASH_SLOW blocks land where they should; esptool's
        // --no-stub read-flash covers longer ROM reads.
        f.read_flash_rom(0x20000, 128, 64, 1, out.clone()).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), &data[..128]);
    }
    drop(f);
    let (stats, _) = sim.stop().unwrap();
    assert_eq!(stats.stub_starts, u64::from(use_stub));
    // The ESP32 ROM has no GET_SECURITY_INFO: espflash's probe fails there, as on a board.
    assert_eq!(stats.command_errors.keys().filter(|k| *k != "GET_SECURITY_INFO").count(), 0, "{stats:?}");
    assert_eq!(stats.connections, if use_stub { 1 } else { 2 });
}

#[test]
fn esp32_stub_round_trip() {
    round_trip(Chip::Esp32, EfChip::Esp32, 4 << 20, true);
}

#[test]
fn esp32s3_stub_round_trip() {
    round_trip(Chip::Esp32s3, EfChip::Esp32s3, 8 << 20, true);
}

#[test]
fn esp32c3_stub_round_trip() {
    round_trip(Chip::Esp32c3, EfChip::Esp32c3, 4 << 20, true);
}

#[test]
fn esp32_rom_round_trip() {
    round_trip(Chip::Esp32, EfChip::Esp32, 4 << 20, false);
}

#[test]
fn esp32s3_rom_round_trip() {
    round_trip(Chip::Esp32s3, EfChip::Esp32s3, 16 << 20, false);
}

#[test]
fn esp32c2_stub_round_trip() {
    round_trip(Chip::Esp32c2, EfChip::Esp32c2, 4 << 20, true);
}

#[test]
fn esp32c2_rom_round_trip() {
    round_trip(Chip::Esp32c2, EfChip::Esp32c2, 2 << 20, false);
}

#[test]
fn esp32c5_stub_round_trip() {
    round_trip(Chip::Esp32c5, EfChip::Esp32c5, 8 << 20, true);
}

#[test]
fn esp32c61_stub_round_trip() {
    round_trip(Chip::Esp32c61, EfChip::Esp32c61, 4 << 20, true);
}

#[test]
fn esp32h2_stub_round_trip() {
    round_trip(Chip::Esp32h2, EfChip::Esp32h2, 4 << 20, true);
}

#[test]
fn esp32p4_stub_round_trip() {
    round_trip(Chip::Esp32p4, EfChip::Esp32p4, 16 << 20, true);
}

#[test]
fn esp32p4_rom_round_trip() {
    round_trip(Chip::Esp32p4, EfChip::Esp32p4, 8 << 20, false);
}

/// espflash picks the P4 stub by revision: the one for 3.x (text from
/// 0x4FF50000) on this v3.1, where the one for older revisions (0x4FF10000)
/// would not run; it powers the flash on before detecting its size.
#[test]
fn esp32p4_gets_the_rev3_stub_and_powered_flash() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::new(Chip::Esp32p4, 8 << 20, dir.path().join("flash.bin"))).unwrap();
    let mut f = connect(sim.pty_path(), true, None);
    assert_eq!(f.device_info().unwrap().flash_size.size(), 8 << 20);
    drop(f);
    let (stats, _) = sim.stop().unwrap();
    let entry = stats.stub_entry.unwrap();
    assert!((0x4FF5_0000..0x4FFA_0000).contains(&entry), "{entry:#x}");
    assert_eq!(stats.command_errors.len(), 0, "{stats:?}");
}
