//! Synthetic firmware built byte by byte in the tests, independent of the code
//! under test, so the formats are tested on a fresh clone without ../shared.

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// An ESP image: header (flash size code in byte 3's high nibble), segments,
/// checksum, padding, and the SHA-256 when `hash`.
pub fn image(chip_id: u16, flash_code: u8, segments: &[(u32, Vec<u8>)], hash: bool) -> Vec<u8> {
    let mut v = vec![0xE9, segments.len() as u8, 0x02, (flash_code << 4) | 0x0f];
    v.extend_from_slice(&0x4008_0000u32.to_le_bytes()); // entry point
    v.extend_from_slice(&[0xEE, 0, 0, 0]); // wp pin, drive settings
    v.extend_from_slice(&chip_id.to_le_bytes());
    v.push(0);
    // deprecated min rev, then min rev full: v0.3 as ESP-IDF's esp32 builds ask; other chips v0.0, so
    // esp-sim's boards of revision v0.0 start them.
    v.extend_from_slice(&(if chip_id == 0 { 3u16 } else { 0 }).to_le_bytes());
    v.extend_from_slice(&399u16.to_le_bytes()); // max rev full: v3.99
    v.extend_from_slice(&[0; 4]);
    v.push(u8::from(hash));
    let mut sum = 0xEFu8;
    for (addr, data) in segments {
        v.extend_from_slice(&addr.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        sum = data.iter().fold(sum, |s, b| s ^ b);
    }
    while v.len() % 16 != 15 {
        v.push(0);
    }
    v.push(sum);
    if hash {
        let d = Sha256::digest(&v);
        v.extend_from_slice(&d);
    }
    v
}

fn cstr(s: &str, n: usize) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.resize(n, 0);
    b
}

/// An app image with an `esp_app_desc_t` and a MicroPython banner.
pub fn app_image(chip_id: u16, banner: &str) -> Vec<u8> {
    let code: Vec<u8> = (0..20000u32).map(|i| (i * 31 % 253) as u8).collect();
    image(chip_id, 2, &[(0x3f40_0020, app_rodata(banner)), (0x4008_0000, code)], true)
}

/// An app's first segment: the `esp_app_desc_t`, then data holding `banner`.
fn app_rodata(banner: &str) -> Vec<u8> {
    let mut desc = Vec::new();
    desc.extend_from_slice(&0xABCD_5432u32.to_le_bytes());
    desc.extend_from_slice(&0u32.to_le_bytes()); // secure version
    desc.extend_from_slice(&[0; 8]); // reserved
    desc.extend(cstr("", 32)); // version (MicroPython leaves it empty)
    desc.extend(cstr("", 32)); // project name
    desc.extend(cstr("12:00:00", 16));
    desc.extend(cstr("Aug  1 2025", 16));
    desc.extend(cstr("v5.4.1", 32));
    desc.extend([0x11; 32]); // app elf sha256
    desc.resize(256, 0);
    let mut rodata = vec![0x55u8; 1000];
    rodata.extend_from_slice(banner.as_bytes());
    rodata.push(0);
    rodata.resize(3000, 0x66);
    [desc, rodata].concat()
}

/// A bootloader image (no descriptor).
pub fn bootloader_image(chip_id: u16) -> Vec<u8> {
    let code: Vec<u8> = (0..9000u32).map(|i| (i * 17 % 251) as u8).collect();
    image(chip_id, 2, &[(0x3fff_0000, vec![0x10; 100]), (0x4007_8000, code)], true)
}

/// One 32-byte table entry.
pub fn entry(name: &str, ptype: u8, subtype: u8, offset: u32, size: u32, flags: u32) -> Vec<u8> {
    let mut e = vec![0xAA, 0x50, ptype, subtype];
    e.extend_from_slice(&offset.to_le_bytes());
    e.extend_from_slice(&size.to_le_bytes());
    e.extend(cstr(name, 16));
    e.extend_from_slice(&flags.to_le_bytes());
    e
}

/// A table sector with MD5 entry, as ESP-IDF writes it.
pub fn table(entries: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = entries.concat();
    let mut t = body.clone();
    t.extend_from_slice(&[0xEB, 0xEB]);
    t.extend_from_slice(&[0xFF; 14]);
    t.extend_from_slice(&Md5::digest(&body));
    t.resize(0x1000, 0xFF);
    t
}

/// MicroPython's generic 4 MB table.
pub fn generic_table() -> Vec<u8> {
    table(&[
        entry("nvs", 1, 2, 0x9000, 0x6000, 0),
        entry("phy_init", 1, 1, 0xf000, 0x1000, 0),
        entry("factory", 0, 0, 0x10000, 0x1f0000, 0),
        entry("vfs", 1, 0x81, 0x200000, 0x200000, 0),
    ])
}

/// A whole firmware file for `chip_id` whose bootloader sits at `bl_offset`:
/// bootloader, table at flash 0x8000, app at 0x10000; the file ends where the app ends.
pub fn firmware(chip_id: u16, bl_offset: u32, table_sector: &[u8], app: &[u8]) -> Vec<u8> {
    let mut f = bootloader_image(chip_id);
    f.resize((0x8000 - bl_offset) as usize, 0xFF);
    f.extend_from_slice(table_sector);
    f.resize((0x10000 - bl_offset) as usize, 0xFF);
    f.extend_from_slice(app);
    f
}

/// The default synthetic firmware: esp32s3 (bootloader at 0), generic table, v1.26.1 app.
pub fn s3_firmware() -> Vec<u8> {
    firmware(9, 0, &generic_table(), &app_image(9, "MicroPython v1.26.1 on 2025-08-01"))
}

pub fn sha256(b: &[u8]) -> Vec<u8> {
    Sha256::digest(b).to_vec()
}

/// `len` bytes that compress about as well as machine code (deflate keeps
/// 40-60 %): printable literals from a seeded xorshift, every few bytes a
/// short copy of what came a little earlier.
pub fn code(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out: Vec<u8> = Vec::with_capacity(len + 8);
    while out.len() < len {
        let v = next();
        if out.len() > 300 && v % 10 < 4 {
            let back = 16 + ((v >> 8) % 240) as usize;
            for _ in 0..3 + (v >> 20) % 6 {
                out.push(out[out.len() - back]);
            }
        } else {
            out.push(((v >> 32) % 80) as u8 + 0x20);
        }
    }
    out.truncate(len);
    out
}

/// A bootloader image of about `len` bytes of [`code`] from `seed` (hash appended).
pub fn code_bootloader(chip_id: u16, flash_code: u8, len: usize, seed: u64) -> Vec<u8> {
    image(
        chip_id,
        flash_code,
        &[(0x3fff_0000, code(len / 8, seed)), (0x4007_8000, code(len - len / 8, seed + 1))],
        true,
    )
}

/// An app image of about `len` bytes: descriptor, MicroPython's `banner`, then [`code`] from `seed`.
pub fn code_app(chip_id: u16, banner: &str, len: usize, seed: u64) -> Vec<u8> {
    image(chip_id, 2, &[(0x3f40_0020, app_rodata(banner)), (0x4008_0000, code(len, seed))], true)
}
