//! The ESP32-family chip table: names, image chip ids, bootloader offsets and
//! UF2 family ids.
//!
//! Every value comes from esptool 5 (`esptool/targets/<chip>.py`, the ROM
//! classes' `IMAGE_CHIP_ID`, `BOOTLOADER_FLASH_OFFSET` and `UF2_FAMILY_ID`,
//! taking inherited values where a class sets none), checked against esptool
//! 5.6.0 and the espressif/esptool master branch.

use serde::Serialize;

/// One chip of the ESP32 family as far as images and flash layout are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Chip {
    /// esptool's name for the chip, e.g. `esp32s3`.
    pub name: &'static str,
    /// The chip id in image header bytes 12..14 (little-endian u16); ROMs that
    /// answer GET_SECURITY_INFO report the same number.
    pub image_id: u16,
    /// Flash offset (bytes) of the second-stage bootloader, which is where a
    /// MicroPython firmware file starts: file offset = flash offset − this.
    pub bootloader_offset: u32,
    /// The family id that marks this chip's blocks in a UF2 file, or `None`
    /// where esptool has none of the chip's own (esp32e22's class only
    /// inherits ESP32's, which would mislabel the file).
    pub uf2_family_id: Option<u32>,
}

const fn chip(name: &'static str, image_id: u16, bootloader_offset: u32, uf2: u32) -> Chip {
    Chip { name, image_id, bootloader_offset, uf2_family_id: Some(uf2) }
}

/// Every chip mpimg knows, in order of image chip id (esptool's order).
pub const CHIPS: &[Chip] = &[
    chip("esp32", 0, 0x1000, 0x1C5F_21B0),
    chip("esp32s2", 2, 0x1000, 0xBFDD_4EEE),
    chip("esp32c3", 5, 0x0, 0xD42B_A06C),
    chip("esp32s3", 9, 0x0, 0xC47E_5767),
    chip("esp32c2", 12, 0x0, 0x2B88_D29C),
    chip("esp32c6", 13, 0x0, 0x540D_DF62),
    chip("esp32h2", 16, 0x0, 0x3327_26F6),
    chip("esp32p4", 18, 0x2000, 0x3D30_8E94),
    chip("esp32c61", 20, 0x0, 0x77D8_50C4),
    chip("esp32c5", 23, 0x2000, 0xF71C_0343),
    chip("esp32h21", 25, 0x0, 0xB6DD_00AF),
    chip("esp32h4", 28, 0x2000, 0x9E0B_AA8A),
    Chip { name: "esp32e22", image_id: 31, bootloader_offset: 0x0, uf2_family_id: None },
    chip("esp32s31", 32, 0x2000, 0x3101_F7C1),
];

impl Chip {
    /// Look a chip up by its image header chip id; `None` for an id mpimg does not know.
    pub fn by_image_id(id: u16) -> Option<&'static Chip> {
        CHIPS.iter().find(|c| c.image_id == id)
    }

    /// Look a chip up by name (`esp32s3`, also `ESP32-S3` or `esp32_s3`).
    pub fn by_name(name: &str) -> Option<&'static Chip> {
        let norm: String = name.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_lowercase();
        CHIPS.iter().find(|c| c.name == norm)
    }

    /// Every chip name, sorted, comma-separated: for messages that list what
    /// mpimg knows (generated, so they cannot drift from the table).
    pub fn names() -> String {
        let mut names: Vec<&str> = CHIPS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Name, image chip id, bootloader offset and UF2 family id of every chip,
    /// as esptool 5.6.0's targets give them (`IMAGE_CHIP_ID`,
    /// `BOOTLOADER_FLASH_OFFSET`, `UF2_FAMILY_ID`).
    const ESPTOOL: [(&str, u16, u32, Option<u32>); 14] = [
        ("esp32", 0, 0x1000, Some(0x1C5F21B0)),
        ("esp32s2", 2, 0x1000, Some(0xBFDD4EEE)),
        ("esp32c3", 5, 0x0, Some(0xD42BA06C)),
        ("esp32s3", 9, 0x0, Some(0xC47E5767)),
        ("esp32c2", 12, 0x0, Some(0x2B88D29C)),
        ("esp32c6", 13, 0x0, Some(0x540DDF62)),
        ("esp32h2", 16, 0x0, Some(0x332726F6)),
        ("esp32p4", 18, 0x2000, Some(0x3D308E94)),
        ("esp32c61", 20, 0x0, Some(0x77D850C4)),
        ("esp32c5", 23, 0x2000, Some(0xF71C0343)),
        ("esp32h21", 25, 0x0, Some(0xB6DD00AF)),
        ("esp32h4", 28, 0x2000, Some(0x9E0BAA8A)),
        ("esp32e22", 31, 0x0, None),
        ("esp32s31", 32, 0x2000, Some(0x3101F7C1)),
    ];

    #[test]
    fn every_chip_id_offset_and_uf2_family() {
        assert_eq!(CHIPS.len(), ESPTOOL.len());
        for (name, id, off, uf2) in ESPTOOL {
            let c = Chip::by_image_id(id).unwrap_or_else(|| panic!("no chip with id {id}"));
            assert_eq!((c.name, c.bootloader_offset, c.uf2_family_id), (name, off, uf2), "chip id {id}");
            assert_eq!(Chip::by_name(name), Some(c));
        }
    }

    #[test]
    fn bootloader_at_0x2000_only_on_c5_p4_h4_s31() {
        let mut at_2000: Vec<&str> = CHIPS.iter().filter(|c| c.bootloader_offset == 0x2000).map(|c| c.name).collect();
        at_2000.sort_unstable();
        assert_eq!(at_2000, ["esp32c5", "esp32h4", "esp32p4", "esp32s31"]);
        let at_1000: Vec<&str> = CHIPS.iter().filter(|c| c.bootloader_offset == 0x1000).map(|c| c.name).collect();
        assert_eq!(at_1000, ["esp32", "esp32s2"]);
    }

    #[test]
    fn ids_names_and_families_are_unique() {
        for (i, a) in CHIPS.iter().enumerate() {
            for b in &CHIPS[i + 1..] {
                assert_ne!(a.image_id, b.image_id);
                assert_ne!(a.name, b.name);
                if a.uf2_family_id.is_some() {
                    assert_ne!(a.uf2_family_id, b.uf2_family_id, "{} and {}", a.name, b.name);
                }
            }
        }
    }

    #[test]
    fn lookups_by_other_spellings_and_unknown_ids() {
        assert_eq!(Chip::by_name("ESP32-S3").map(|c| c.image_id), Some(9));
        assert_eq!(Chip::by_name("esp32_h21").map(|c| c.image_id), Some(25));
        assert_eq!(Chip::by_name("ESP32-E22").map(|c| c.bootloader_offset), Some(0));
        assert_eq!(Chip::by_name("esp8266"), None);
        for unknown in [1, 3, 4, 6, 33, 0xFFFF] {
            assert_eq!(Chip::by_image_id(unknown), None, "id {unknown}");
        }
    }

    #[test]
    fn names_are_sorted_and_complete() {
        assert_eq!(
            Chip::names(),
            "esp32, esp32c2, esp32c3, esp32c5, esp32c6, esp32c61, esp32e22, esp32h2, esp32h21, esp32h4, esp32p4, esp32s2, esp32s3, esp32s31"
        );
    }
}
