//! DeviceFlash against esp-sim: connect, identify, cached reads, unaligned
//! read-modify-write, erase, and every change checked in the flash file.

use crate::util::sim;
use mpimg::flash::device::DeviceError;
use mpimg::flash::{DeviceFlash, DeviceOptions, Flash, FlashError};

fn opts() -> DeviceOptions {
    DeviceOptions::default()
}

fn round_trip(chip: &str, fw_name: &str, flash_size: u32) {
    let Some(fw) = crate::util::firmware(fw_name) else { return };
    let file = std::fs::read(&fw).unwrap();
    let bl = sim::bootloader_offset(chip);
    let d = sim::start(chip, flash_size, Some(&fw), vec![]);
    let mut f = DeviceFlash::open(&d.port(), opts()).unwrap();
    assert_eq!((f.stored_end(), f.detected_size(), f.reads_are_slow()), (None, Some(flash_size), true));
    assert_eq!(f.chip().name, chip);
    assert_eq!((f.facts().flash_size, f.data_end(), f.capacity(), f.start()), (flash_size, flash_size, flash_size, 0));
    // esp-sim's JEDEC id: capacity byte = log2(size).
    assert_eq!(f.facts().flash_id >> 16, flash_size.trailing_zeros());
    assert_eq!(f.facts().baud, 921_600);

    // Reads: exact bytes, and a second read of the same sectors is served from the cache.
    let head = f.read_vec(bl, 0x20).unwrap();
    assert_eq!(head, &file[..0x20]);
    let table = f.read_vec(0x8000, 0xC00).unwrap();
    assert_eq!(table, &file[(0x8000 - bl) as usize..(0x8C00 - bl) as usize]);
    // 128-byte chunks: one for the header, 24 for the table.
    assert_eq!(f.counts.bytes_read, 0x80 + 0xC00);
    assert_eq!(f.read_vec(0x8010, 0x10).unwrap(), &file[(0x8010 - bl) as usize..(0x8020 - bl) as usize]);
    assert_eq!(f.counts.bytes_read, 0xC80);
    let app = f.read_vec(0x10000, 0x30000).unwrap();
    assert_eq!(app, &file[(0x10000 - bl) as usize..(0x40000 - bl) as usize]);
    assert_eq!(f.counts.bytes_read, 0xC80 + 0x30000);

    // Unaligned write: neighbours in the same sectors survive.
    let mut want = sim::flash_image(&file, bl, flash_size);
    let patch: Vec<u8> = (0..0x1800u32).map(|i| (i * 7 + 3) as u8).collect();
    f.write(0x3F_0800, &patch).unwrap();
    want[0x3F_0800..0x3F_2000].copy_from_slice(&patch);
    f.write(0x10005, b"xyz").unwrap();
    want[0x10005..0x10008].copy_from_slice(b"xyz");
    // Erase a run and rewrite a sector with the bytes it has: nothing is sent for it.
    f.erase(0x20000, 0x3000).unwrap();
    want[0x20000..0x23000].fill(0xFF);
    let written = f.counts.written;
    f.write(0x10000, &want[0x10000..0x11000]).unwrap();
    assert_eq!(f.counts.written, written);
    assert_eq!(f.read_vec(0x3F_0000, 0x3000).unwrap(), &want[0x3F_0000..0x3F_3000]);
    assert!(matches!(f.erase(0x20800, 0x1000), Err(FlashError::Unaligned { .. })));
    assert!(matches!(f.write(flash_size - 2, &[0; 4]), Err(FlashError::PastEnd { .. })));
    assert_eq!(f.done(), &[(0x3F_0000, 0x3F_2000), (0x10000, 0x11000), (0x20000, 0x23000)]);
    f.close();
    sim::assert_same_flash(&d.bytes(), &want);
}

#[test]
fn esp32_read_write_erase() {
    round_trip("esp32", "ESP32_GENERIC-20240602-v1.23.0.bin", 4 << 20);
}

#[test]
fn esp32s3_read_write_erase() {
    round_trip("esp32s3", "ESP32_GENERIC_S3-20241129-v1.24.1.bin", 8 << 20);
}

#[test]
fn missing_port_and_silent_port() {
    let e = DeviceFlash::open("/dev/ttyUSB97", opts()).err().unwrap();
    assert!(matches!(e, DeviceError::NoSuchPort { .. }));
    assert_eq!(
        e.to_string(),
        "no such port '/dev/ttyUSB97': check the device name (ls /dev/ttyUSB* /dev/ttyACM*) and that the board is plugged in"
    );
    // A pty with nobody serving it: nothing answers the SYNC.
    let pty = openpty();
    let e = DeviceFlash::open(&pty.1, opts()).err().unwrap();
    assert_eq!(
        e.to_string(),
        format!("no ESP32 bootloader answered on {}: hold BOOT and press RESET, or check the cable", pty.1)
    );
}

/// A pty pair whose other end nobody reads: (master fd, slave path).
fn openpty() -> (std::os::fd::OwnedFd, String) {
    use std::os::fd::FromRawFd;
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(m >= 0);
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let name = std::ffi::CStr::from_ptr(libc::ptsname(m)).to_string_lossy().into_owned();
        (std::os::fd::OwnedFd::from_raw_fd(m), name)
    }
}
