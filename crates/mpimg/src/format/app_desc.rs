//! The application descriptor (`esp_app_desc_t`, ESP-IDF
//! `components/esp_app_format/include/esp_app_desc.h`): 256 bytes at the start
//! of an app image's first segment, i.e. at image offset 0x20.
//!
//! ```text
//!   0  magic_word u32 (0xABCD5432)     112  idf_ver[32]
//!   4  secure_version u32              144  app_elf_sha256[32]
//!   8  reserv1[2] u32                  176  min_efuse_blk_rev_full u16
//!  16  version[32]                     178  max_efuse_blk_rev_full u16
//!  48  project_name[32]                180  mmu_page_size u8 (log2)
//!  80  time[16]                        181  reserved (IDF 6: spi_flash_mode)
//!  96  date[16]                        182  reserved up to 256
//! ```
//!
//! MicroPython leaves `version` and `project_name` empty; its version is in the
//! banner string (see [`crate::format::banner`]).

use serde::Serialize;

use crate::format::image::{HEADER_LEN, IMAGE_MAGIC, SEGMENT_HEADER_LEN};

/// `ESP_APP_DESC_MAGIC_WORD`.
pub const APP_DESC_MAGIC: u32 = 0xABCD5432;
/// Where the descriptor starts in an app image: header plus first segment header.
pub const APP_DESC_OFFSET: usize = HEADER_LEN + SEGMENT_HEADER_LEN;
/// Size of `esp_app_desc_t`.
pub const APP_DESC_LEN: usize = 256;

/// The parts of `esp_app_desc_t` that mean something in every IDF version.
///
/// Not parsed: the byte at 181, which IDF 6 calls `spi_flash_mode` but which is
/// reserved (zero) before; a zero there cannot be told from "QIO".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppDesc {
    /// Secure version (anti-rollback).
    pub secure_version: u32,
    /// The app's version (MicroPython leaves it empty).
    pub version: String,
    /// The project's name.
    pub project_name: String,
    /// Compile time, e.g. `13:25:25` (empty if the build left it out).
    pub time: String,
    /// Compile date, e.g. `Nov 29 2024`.
    pub date: String,
    /// ESP-IDF version, e.g. `v5.2.2`.
    pub idf_ver: String,
    /// SHA-256 of the ELF file the image was made from.
    pub app_elf_sha256: [u8; 32],
    /// Minimum eFuse block revision, major * 100 + minor (IDF >= 5.1; 0 before).
    pub min_efuse_blk_rev_full: u16,
    /// Maximum eFuse block revision, major * 100 + minor (IDF >= 5.1; 0 before).
    pub max_efuse_blk_rev_full: u16,
    /// log2 of the MMU page size the app was linked for (0 = not recorded).
    pub mmu_page_size: u8,
}

/// A NUL-terminated C string from a fixed-size field (the whole field if it has
/// no NUL), decoded lossily.
pub(crate) fn c_string(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

impl AppDesc {
    /// Read the descriptor of `image` (a whole app image, starting with its header).
    ///
    /// None unless the image magic and the descriptor magic are present and the
    /// first segment is long enough to hold a descriptor (ESP-IDF's
    /// `verify_segment_header` requires that of every app).
    pub fn parse(image: &[u8]) -> Option<AppDesc> {
        let d = image.get(APP_DESC_OFFSET..APP_DESC_OFFSET + APP_DESC_LEN)?;
        let seg0_len = u32::from_le_bytes(image[HEADER_LEN + 4..APP_DESC_OFFSET].try_into().ok()?);
        if image[0] != IMAGE_MAGIC || (seg0_len as usize) < APP_DESC_LEN {
            return None;
        }
        let u32_at = |at: usize| u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
        let u16_at = |at: usize| u16::from_le_bytes([d[at], d[at + 1]]);
        if u32_at(0) != APP_DESC_MAGIC {
            return None;
        }
        let mut app_elf_sha256 = [0u8; 32];
        app_elf_sha256.copy_from_slice(&d[144..176]);
        Some(AppDesc {
            secure_version: u32_at(4),
            version: c_string(&d[16..48]),
            project_name: c_string(&d[48..80]),
            time: c_string(&d[80..96]),
            date: c_string(&d[96..112]),
            idf_ver: c_string(&d[112..144]),
            app_elf_sha256,
            min_efuse_blk_rev_full: u16_at(176),
            max_efuse_blk_rev_full: u16_at(178),
            mmu_page_size: d[180],
        })
    }

    /// The MMU page size in bytes, if the descriptor records one.
    pub fn mmu_page_bytes(&self) -> Option<u32> {
        match self.mmu_page_size {
            0 => None,
            n => 1u32.checked_shl(n as u32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::image::parse_image;
    use crate::format::image::testimg::{build, header};

    /// A 256-byte descriptor with every field set to something recognisable.
    fn desc_bytes() -> Vec<u8> {
        let mut d = vec![0u8; APP_DESC_LEN];
        d[0..4].copy_from_slice(&APP_DESC_MAGIC.to_le_bytes());
        d[4..8].copy_from_slice(&7u32.to_le_bytes());
        d[8..16].copy_from_slice(&[0xAA; 8]);
        d[16..22].copy_from_slice(b"1.2.3\0");
        // project_name fills its 32 bytes completely: no terminating NUL.
        d[48..80].copy_from_slice(b"abcdefghijklmnopqrstuvwxyz012345");
        d[80..88].copy_from_slice(b"13:25:25");
        d[96..107].copy_from_slice(b"Nov 29 2024");
        d[112..118].copy_from_slice(b"v5.2.2");
        for (i, b) in d[144..176].iter_mut().enumerate() {
            *b = i as u8;
        }
        d[176..178].copy_from_slice(&1u16.to_le_bytes());
        d[178..180].copy_from_slice(&199u16.to_le_bytes());
        d[180] = 16;
        d
    }

    fn app_with(first_segment: Vec<u8>) -> Vec<u8> {
        build(&header(9, 2), &[(0x3C00_0020, first_segment), (0x4037_4000, vec![0x11; 8])])
    }

    #[test]
    fn parses_every_field() {
        let mut seg = desc_bytes();
        seg.extend_from_slice(&[0x5A; 64]);
        let img = app_with(seg);
        assert!(parse_image(&img).unwrap().is_valid());
        let mut sha = [0u8; 32];
        for (i, b) in sha.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(
            AppDesc::parse(&img),
            Some(AppDesc {
                secure_version: 7,
                version: "1.2.3".into(),
                project_name: "abcdefghijklmnopqrstuvwxyz012345".into(),
                time: "13:25:25".into(),
                date: "Nov 29 2024".into(),
                idf_ver: "v5.2.2".into(),
                app_elf_sha256: sha,
                min_efuse_blk_rev_full: 1,
                max_efuse_blk_rev_full: 199,
                mmu_page_size: 16,
            })
        );
        assert_eq!(AppDesc::parse(&img).unwrap().mmu_page_bytes(), Some(0x10000));
    }

    #[test]
    fn lossy_strings() {
        let mut d = desc_bytes();
        d[16..20].copy_from_slice(&[b'v', 0xFF, b'1', 0]);
        let img = app_with(d);
        assert_eq!(AppDesc::parse(&img).unwrap().version, "v\u{FFFD}1");
        assert_eq!(c_string(b""), "");
        assert_eq!(c_string(b"\0abc"), "");
    }

    #[test]
    fn absent_descriptor() {
        // Wrong magic word.
        let mut d = desc_bytes();
        d[0] = 0x33;
        assert_eq!(AppDesc::parse(&app_with(d)), None);
        // First segment too short to hold a descriptor (bootloader-like image).
        let img = app_with(desc_bytes()[..128].to_vec());
        assert_eq!(AppDesc::parse(&img), None);
        // Not an image at all, or too short.
        let mut img = app_with(desc_bytes());
        assert!(AppDesc::parse(&img).is_some());
        assert_eq!(AppDesc::parse(&img[..APP_DESC_OFFSET + APP_DESC_LEN - 1]), None);
        assert!(AppDesc::parse(&img[..APP_DESC_OFFSET + APP_DESC_LEN]).is_some());
        img[0] = 0xFF;
        assert_eq!(AppDesc::parse(&img), None);
        assert_eq!(AppDesc::parse(&[]), None);
        assert_eq!(AppDesc::parse(&[0xFF; 4096]), None);
    }

    #[test]
    fn unrecorded_mmu_page_size() {
        let mut d = desc_bytes();
        d[180] = 0;
        let img = app_with(d);
        assert_eq!(AppDesc::parse(&img).unwrap().mmu_page_bytes(), None);
    }
}
