//! The loader protocol byte by byte through the pty: SYNC replies, status
//! bytes, the real error codes, NOR semantics, and a closed port resetting
//! the device to the ROM loader.

mod common;

use std::time::Duration;

use common::{status, words, RawClient};
use esp_sim::command::{checksum, op};
use esp_sim::{Chip, SimConfig, Simulator};

fn start(chip: Chip) -> (tempfile::TempDir, std::path::PathBuf, Simulator) {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let sim = Simulator::start(SimConfig::new(chip, 4 << 20, &flash)).unwrap();
    (dir, flash, sim)
}

fn data_block(seq: u32, payload: &[u8]) -> (Vec<u8>, u32) {
    let mut d = words(&[payload.len() as u32, seq, 0, 0]);
    d.extend_from_slice(payload);
    (d, u32::from(checksum(payload)))
}

#[test]
fn rom_sync_and_stub_sync_differ_in_value_and_status_length() {
    let (_d, _f, sim) = start(Chip::Esp32);
    let mut c = RawClient::open(sim.pty_path());
    assert_eq!(c.sync(), 0x2012_0707);
    let f = c.command(op::READ_REG, &words(&[0x4000_1000]), 0);
    assert_eq!(f, vec![1, op::READ_REG, 4, 0, 0x83, 0x1D, 0xF0, 0x00, 0, 0, 0, 0]);
    c.start_stub();
    assert_eq!(c.sync(), 0);
    let f = c.command(op::READ_REG, &words(&[0x4000_1000]), 0);
    assert_eq!(f, vec![1, op::READ_REG, 2, 0, 0x83, 0x1D, 0xF0, 0x00, 0, 0]);
}

#[test]
fn error_codes() {
    let (_d, _f, sim) = start(Chip::Esp32);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    // ESP32 ROM has no GET_SECURITY_INFO and no stub-only commands.
    assert_eq!(status(&c.command(op::GET_SECURITY_INFO, &[], 0), true), [1, 0x05]);
    assert_eq!(status(&c.command(op::ERASE_REGION, &words(&[0, 0x1000]), 0), true), [1, 0x05]);
    // READ_FLASH_SLOW answers at most 64 bytes.
    assert_eq!(status(&c.command(op::READ_FLASH_SLOW, &words(&[0, 65]), 0), true), [1, 0x0A]);
    // A data block with a bad checksum.
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[0x1000, 1, 0x400, 0x1000]), 0), true), [0, 0]);
    let (d, ck) = data_block(0, &[1, 2, 3, 4]);
    assert_eq!(status(&c.command(op::FLASH_DATA, &d, ck ^ 1), true), [1, 0x07]);

    c.start_stub();
    // The stub's codes travel big-endian: 0xC000 "bad data length" for an
    // unaligned ERASE_REGION, 0xC100 for a bad checksum, 0xFF00 unimplemented.
    let f = c.command(op::ERASE_REGION, &words(&[0x1001, 0x1000]), 0);
    assert_eq!(f, vec![1, op::ERASE_REGION, 2, 0, 0, 0, 0, 0, 0xC0, 0x00]);
    assert_eq!(status(&c.command(op::ERASE_REGION, &words(&[0x1000, 0x800]), 0), false), [0xC0, 0]);
    assert_eq!(status(&c.command(op::FLASH_DATA, &data_block(0, &[1]).0, 0), false), [0xC6, 0]);
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[4, 1, 0x4000, 0x2000]), 0), false), [0, 0]);
    let (d, ck) = data_block(0, &[1, 2, 3, 4]);
    assert_eq!(status(&c.command(op::FLASH_DATA, &d, ck ^ 0x10), false), [0xC1, 0]);
    assert_eq!(status(&c.command(op::GET_SECURITY_INFO, &[], 0), false), [0xFF, 0]);
    assert_eq!(status(&c.command(op::ERASE_REGION, &words(&[0x3F_F000, 0x2000]), 0), false), [0xC4, 0]);
    let (stats, _) = sim.stop().unwrap();
    assert_eq!(stats.command_errors.get("ERASE_REGION"), Some(&4));
}

#[test]
fn security_info_by_chip() {
    for (chip, len, id) in
        [(Chip::Esp32s2, 12usize, None), (Chip::Esp32s3, 20, Some(9u32)), (Chip::Esp32c6, 20, Some(13))]
    {
        let (_d, _f, sim) = start(chip);
        let mut c = RawClient::open(sim.pty_path());
        c.sync();
        let f = c.command(op::GET_SECURITY_INFO, &[], 0);
        assert_eq!(u16::from_le_bytes([f[2], f[3]]) as usize, len + 4, "{chip}");
        assert_eq!(status(&f, true), [0, 0]);
        let got = (len == 20).then(|| u32::from_le_bytes(f[8 + 12..8 + 16].try_into().unwrap()));
        assert_eq!(got, id, "{chip}");
    }
}

#[test]
fn nor_programming_ands_into_unerased_flash() {
    let (_d, flash, sim) = start(Chip::Esp32s3);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    // ROM FLASH_BEGIN erases what it covers: sector 0x3000 is erased, then
    // programmed with 0xF0.
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[0x1000, 4, 0x400, 0x3000, 0]), 0), true), [0, 0]);
    let (d, ck) = data_block(0, &[0xF0; 0x400]);
    assert_eq!(status(&c.command(op::FLASH_DATA, &d, ck), true), [0, 0]);
    // A BEGIN that erases nothing (size 0), then 0x3C written over it:
    // NOR can only clear bits, so the result is 0xF0 & 0x3C = 0x30.
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[0, 1, 0x400, 0x3000, 0]), 0), true), [0, 0]);
    let (d, ck) = data_block(0, &[0x3C; 0x400]);
    assert_eq!(status(&c.command(op::FLASH_DATA, &d, ck), true), [0, 0]);
    let bytes = common::read_file(&flash);
    assert!(bytes[0x3000..0x3400].iter().all(|&b| b == 0x30));
    assert!(bytes[0x3400..0x4000].iter().all(|&b| b == 0xFF));
    // The stub erases each sector just before it first programs into it.
    c.start_stub();
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[0x10, 1, 0x4000, 0x3008, 0]), 0), false), [0, 0]);
    let (d, ck) = data_block(0, &[0xA5; 0x10]);
    assert_eq!(status(&c.command(op::FLASH_DATA, &d, ck), false), [0, 0]);
    let bytes = common::read_file(&flash);
    assert_eq!(&bytes[0x3000..0x3008], &[0xFF; 8]);
    assert_eq!(&bytes[0x3008..0x3018], &[0xA5; 0x10]);
    assert!(bytes[0x3018..0x4000].iter().all(|&b| b == 0xFF));
    let s = sim.stats();
    assert_eq!((s.sectors_erased, s.sectors_written), (2, 2));
}

#[test]
fn md5_is_hex_text_from_rom_and_raw_from_stub() {
    let (_d, flash, sim) = start(Chip::Esp32);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    let bytes = common::read_file(&flash);
    let want = {
        use md5::{Digest, Md5};
        Md5::digest(&bytes[0x100..0x1100]).to_vec()
    };
    let f = c.command(op::SPI_FLASH_MD5, &words(&[0x100, 0x1000, 0, 0]), 0);
    let hex: String = want.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(&f[8..40], hex.as_bytes());
    assert_eq!(status(&f, true), [0, 0]);
    c.start_stub();
    let f = c.command(op::SPI_FLASH_MD5, &words(&[0x100, 0x1000, 0, 0]), 0);
    assert_eq!(&f[8..24], &want[..]);
    assert_eq!(f.len(), 26);
}

#[test]
fn stub_read_flash_streams_packets_and_digest() {
    let (_d, flash, sim) = start(Chip::Esp32c3);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    c.start_stub();
    let bytes = common::read_file(&flash);
    assert_eq!(status(&c.command(op::READ_FLASH, &words(&[0x800, 0x2800, 0x1000, 64]), 0), false), [0, 0]);
    let mut got = Vec::new();
    while got.len() < 0x2800 {
        let p = c.recv(Duration::from_secs(2)).unwrap().expect("data packet");
        // One packet in flight: nothing more arrives before the ack.
        assert_eq!(c.recv(Duration::from_millis(50)).unwrap(), None);
        got.extend_from_slice(&p);
        c.send_frame(&(got.len() as u32).to_le_bytes());
    }
    assert_eq!(got, &bytes[0x800..0x3000]);
    let digest = c.recv(Duration::from_secs(2)).unwrap().expect("digest");
    use md5::{Digest, Md5};
    assert_eq!(digest, Md5::digest(&got).to_vec());
    assert_eq!(sim.stats().read_acks, 3);
}

#[test]
fn closing_the_port_resets_to_rom() {
    let (_d, _f, sim) = start(Chip::Esp32s3);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    c.start_stub();
    assert_eq!(c.sync(), 0);
    drop(c);
    // Reopen at once: the close is still seen (inotify), stub gone.
    let mut c = RawClient::open(sim.pty_path());
    assert_eq!(c.sync(), 0x2012_0707);
    drop(c);
    let mut c = RawClient::open(sim.pty_path());
    assert_eq!(c.sync(), 0x2012_0707);
    let s = sim.stats();
    assert_eq!((s.connections, s.stub_starts), (3, 1));
}

#[test]
fn spi_flash_id_and_sfdp_through_registers() {
    let (_d, _f, sim) = start(Chip::Esp32);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    let spi = Chip::Esp32.spi();
    let w = |c: &mut RawClient, addr: u32, v: u32| {
        assert_eq!(status(&c.command(op::WRITE_REG, &words(&[addr, v, 0xFFFF_FFFF, 0]), 0), true), [0, 0]);
    };
    let r = |c: &mut RawClient, addr: u32| {
        u32::from_le_bytes(c.command(op::READ_REG, &words(&[addr]), 0)[4..8].try_into().unwrap())
    };
    // RDSFDP at address 0 (ESP32 takes the address in the top bits).
    w(&mut c, spi.base + spi.usr, (1 << 31) | (1 << 30) | (1 << 29) | (1 << 28));
    w(&mut c, spi.base + spi.usr1, (23 << 26) | 7);
    w(&mut c, spi.base + spi.usr2, (7 << 28) | 0x5A);
    w(&mut c, spi.base + 4, 0);
    w(&mut c, spi.base + spi.miso_dlen, 31);
    w(&mut c, spi.base, 1 << 18);
    assert_eq!(r(&mut c, spi.base) & (1 << 18), 0);
    assert_eq!(r(&mut c, spi.base + spi.w0), u32::from_le_bytes(*b"SFDP"));
}

#[test]
fn new_chips_identify_by_security_info_and_magic() {
    // GET_SECURITY_INFO carries esptool's IMAGE_CHIP_ID; the magic register
    // holds a value espflash 4.7 knows for the revision emulated (the P4 has
    // none: both clients identify it by its chip id).
    for (chip, id, magic) in [
        (Chip::Esp32c2, 12u32, 0x7C41_A06Fu32),
        (Chip::Esp32c5, 23, 0x5FD1_406F),
        (Chip::Esp32c61, 20, 0x7211_606F),
        (Chip::Esp32h2, 16, 0xD7B7_3E80),
        (Chip::Esp32p4, 18, 0),
    ] {
        let (_d, _f, sim) = start(chip);
        let mut c = RawClient::open(sim.pty_path());
        c.sync();
        let f = c.command(op::GET_SECURITY_INFO, &[], 0);
        assert_eq!(u16::from_le_bytes([f[2], f[3]]), 24, "{chip}");
        assert_eq!(u32::from_le_bytes(f[8 + 12..8 + 16].try_into().unwrap()), id, "{chip}");
        let f = c.command(op::READ_REG, &words(&[0x4000_1000]), 0);
        assert_eq!(u32::from_le_bytes(f[4..8].try_into().unwrap()), magic, "{chip}");
    }
}

#[test]
fn c2_rom_sets_baud_rates_for_a_40_mhz_crystal() {
    let (_d, _f, sim) = start(Chip::Esp32c2);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    // The UART divider the ROM auto-bauded to: 26 MHz / 115200.
    let f = c.command(op::READ_REG, &words(&[0x6000_0014]), 0);
    assert_eq!(u32::from_le_bytes(f[4..8].try_into().unwrap()), 225);
    // Asked for 921600, the ROM's UART lands at 921600 * 26 / 40.
    assert_eq!(status(&c.command(op::CHANGE_BAUDRATE, &words(&[921_600, 0]), 0), true), [0, 0]);
    assert_eq!(sim.stats().baud, 599_040);
    assert_eq!(sim.stats().baud_changes, [599_040]);
    drop(c);
    // After a reset, what esptool and espflash send (921600 * 40 / 26) gives 921600.
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    assert_eq!(status(&c.command(op::CHANGE_BAUDRATE, &words(&[921_600 * 40 / 26, 0]), 0), true), [0, 0]);
    assert_eq!(sim.stats().baud, 921_600);
    // The stub knows its crystal: it takes the rate as asked.
    c.start_stub();
    assert_eq!(status(&c.command(op::CHANGE_BAUDRATE, &words(&[460_800, 921_600]), 0), false), [0, 0]);
    assert_eq!(sim.stats().baud, 460_800);
    assert_eq!(sim.stats().baud_changes, [599_040, 921_600, 460_800]);
}

#[test]
fn p4_flash_is_off_until_the_host_powers_it() {
    let (_d, flash, sim) = start(Chip::Esp32p4);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    let w = |c: &mut RawClient, addr: u32, v: u32| {
        status(&c.command(op::WRITE_REG, &words(&[addr, v, 0xFFFF_FFFF, 0]), 0), true)
    };
    // Flash commands fail: the ROM's "flash write error" / "flash read error".
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[0x1000, 1, 0x400, 0x1000, 0]), 0), true), [1, 0x08]);
    assert_eq!(status(&c.command(op::SPI_FLASH_MD5, &words(&[0, 0x1000, 0, 0]), 0), true), [1, 0x09]);
    assert_eq!(status(&c.command(op::READ_FLASH_SLOW, &words(&[0, 64]), 0), true), [1, 0x09]);
    // The power-on sequence's PMU_DATE_REG |= 3 turns it on.
    assert_eq!(w(&mut c, 0x5011_010C, 1), [0, 0]);
    assert_eq!(w(&mut c, 0x5011_53FC, 3), [0, 0]);
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[4, 1, 0x400, 0x1000, 0]), 0), true), [0, 0]);
    let (d, ck) = data_block(0, &[1, 2, 3, 4]);
    assert_eq!(status(&c.command(op::FLASH_DATA, &d, ck), true), [0, 0]);
    assert_eq!(&std::fs::read(&flash).unwrap()[0x1000..0x1004], &[1, 2, 3, 4]);
    drop(c);
    // A reset turns it off again.
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    assert_eq!(status(&c.command(op::READ_FLASH_SLOW, &words(&[0x1000, 64]), 0), true), [1, 0x09]);
    c.start_stub();
    assert_eq!(status(&c.command(op::ERASE_REGION, &words(&[0x1000, 0x1000]), 0), false), [0xC4, 0]);
    assert_eq!(&std::fs::read(&flash).unwrap()[0x1000..0x1004], &[1, 2, 3, 4]);
}

/// The chip hashes for SPI_FLASH_MD5 at 2 MB/s (see `timing`): with the baud
/// model, the reply to an MD5 of 1 MB comes half a second later, and the
/// time is counted as the device's, not the wire's.
#[test]
fn md5_takes_the_chips_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::new(Chip::Esp32, 4 << 20, dir.path().join("flash.bin"));
    cfg.baud_model = true;
    let sim = Simulator::start(cfg).unwrap();
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    c.start_stub();
    let t = std::time::Instant::now();
    let f = c.command(op::SPI_FLASH_MD5, &words(&[0, 1_000_000, 0, 0]), 0);
    let took = t.elapsed();
    assert_eq!(status(&f, false), [0, 0]);
    // 0.5 s of hashing; the 68 bytes of request and reply add ~6 ms at 115200.
    assert!(took >= Duration::from_millis(500) && took < Duration::from_millis(700), "{took:?}");
    let (stats, _) = sim.stop().unwrap();
    assert!((stats.device_seconds - 0.5).abs() < 1e-9, "{}", stats.device_seconds);
    assert!(stats.wire_seconds < 0.5, "{}", stats.wire_seconds);
}
