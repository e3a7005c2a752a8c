//! The bootloader descriptor (`esp_bootloader_desc_t`, ESP-IDF >= 5.2,
//! `components/esp_bootloader_format/include/esp_bootloader_desc.h`): 80 bytes
//! at the start of the bootloader image's first (DRAM) segment, i.e. at image
//! offset 0x20.
//!
//! ```text
//!  0  magic_byte u8 (0x50)     8  idf_ver[32]
//!  1  reserved[2]             40  date_time[24]
//!  3  secure_version u8       64  reserved2[16]
//!  4  version u32
//! ```
//!
//! Byte 3 was reserved (zero) until IDF added bootloader anti-rollback; older
//! bootloaders (IDF < 5.2) have no descriptor at all: their first segment starts
//! with ordinary data.

use serde::Serialize;

use crate::format::app_desc::c_string;
use crate::format::image::{HEADER_LEN, IMAGE_MAGIC, SEGMENT_HEADER_LEN};

/// `ESP_BOOTLOADER_DESC_MAGIC_BYTE`.
pub const BOOTLOADER_DESC_MAGIC: u8 = 0x50;
/// Where the descriptor starts in a bootloader image.
pub const BOOTLOADER_DESC_OFFSET: usize = HEADER_LEN + SEGMENT_HEADER_LEN;
/// Size of `esp_bootloader_desc_t`.
pub const BOOTLOADER_DESC_LEN: usize = 80;

/// A parsed `esp_bootloader_desc_t`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootloaderDesc {
    /// Always [`BOOTLOADER_DESC_MAGIC`].
    pub magic_byte: u8,
    /// Anti-rollback version of the bootloader (0 where the field is reserved).
    pub secure_version: u8,
    /// `CONFIG_BOOTLOADER_PROJECT_VER` (1 by default).
    pub version: u32,
    /// ESP-IDF version, e.g. `v5.2.2`.
    pub idf_ver: String,
    /// Compile date and time, e.g. `Nov 29 2024 13:24:37` (empty if left out).
    pub date_time: String,
}

impl BootloaderDesc {
    /// Read the descriptor of `image` (a bootloader image, starting with its header).
    ///
    /// A bootloader without descriptor starts its first segment with arbitrary
    /// data, so besides the magic byte this also requires the two reserved
    /// bytes IDF always zeroes and a first segment long enough to hold the
    /// descriptor; otherwise None.
    pub fn parse(image: &[u8]) -> Option<BootloaderDesc> {
        let d = image.get(BOOTLOADER_DESC_OFFSET..BOOTLOADER_DESC_OFFSET + BOOTLOADER_DESC_LEN)?;
        let seg0_len = u32::from_le_bytes(image[HEADER_LEN + 4..BOOTLOADER_DESC_OFFSET].try_into().ok()?);
        if image[0] != IMAGE_MAGIC
            || (seg0_len as usize) < BOOTLOADER_DESC_LEN
            || d[0] != BOOTLOADER_DESC_MAGIC
            || d[1..3] != [0, 0]
        {
            return None;
        }
        Some(BootloaderDesc {
            magic_byte: d[0],
            secure_version: d[3],
            version: u32::from_le_bytes([d[4], d[5], d[6], d[7]]),
            idf_ver: c_string(&d[8..40]),
            date_time: c_string(&d[40..64]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::image::parse_image;
    use crate::format::image::testimg::{build, header};

    fn desc_bytes() -> Vec<u8> {
        let mut d = vec![0u8; BOOTLOADER_DESC_LEN];
        d[0] = 0x50;
        d[3] = 2;
        d[4..8].copy_from_slice(&1u32.to_le_bytes());
        d[8..14].copy_from_slice(b"v5.5.1");
        d[40..60].copy_from_slice(b"Dec  9 2025 15:10:51");
        d
    }

    fn boot_with(first_segment: Vec<u8>) -> Vec<u8> {
        build(&header(5, 2), &[(0x3FCD_5820, first_segment), (0x403C_C710, vec![0x22; 0x40])])
    }

    #[test]
    fn parses_every_field() {
        let mut seg = desc_bytes();
        seg.extend_from_slice(&[0x77; 0x100]);
        let img = boot_with(seg);
        assert!(parse_image(&img).unwrap().is_valid());
        assert_eq!(
            BootloaderDesc::parse(&img),
            Some(BootloaderDesc {
                magic_byte: 0x50,
                secure_version: 2,
                version: 1,
                idf_ver: "v5.5.1".into(),
                date_time: "Dec  9 2025 15:10:51".into(),
            })
        );
    }

    #[test]
    fn absent_descriptor() {
        let img = boot_with(desc_bytes());
        assert!(BootloaderDesc::parse(&img).is_some());
        assert!(BootloaderDesc::parse(&img[..BOOTLOADER_DESC_OFFSET + BOOTLOADER_DESC_LEN]).is_some());
        assert_eq!(BootloaderDesc::parse(&img[..BOOTLOADER_DESC_OFFSET + BOOTLOADER_DESC_LEN - 1]), None);
        // Old bootloaders: the segment starts with other data.
        let mut d = desc_bytes();
        d[0] = 0xFF;
        assert_eq!(BootloaderDesc::parse(&boot_with(d)), None);
        // 0x50 by chance, followed by non-zero bytes.
        let mut d = desc_bytes();
        d[1] = 0x04;
        assert_eq!(BootloaderDesc::parse(&boot_with(d)), None);
        let mut d = desc_bytes();
        d[2] = 0x01;
        assert_eq!(BootloaderDesc::parse(&boot_with(d)), None);
        // First segment shorter than a descriptor.
        assert_eq!(BootloaderDesc::parse(&boot_with(desc_bytes()[..76].to_vec())), None);
        // Not an image.
        let mut img = img;
        img[0] = 0;
        assert_eq!(BootloaderDesc::parse(&img), None);
        assert_eq!(BootloaderDesc::parse(&[]), None);
    }
}
