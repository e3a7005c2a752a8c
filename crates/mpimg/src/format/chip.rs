//! The ESP32-family chip table: names, image chip ids and bootloader offsets.

use serde::Serialize;

/// One chip of the ESP32 family as far as images and flash layout are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Chip {
    /// esptool's name for the chip, e.g. `esp32s3`.
    pub name: &'static str,
    /// The chip id in image header bytes 12..14.
    pub image_id: u16,
    /// Flash offset of the second-stage bootloader (where a firmware file starts).
    pub bootloader_offset: u32,
}

/// Every chip mpimg knows, in esptool's order of chip ids.
pub const CHIPS: &[Chip] = &[
    Chip { name: "esp32", image_id: 0, bootloader_offset: 0x1000 },
    Chip { name: "esp32s2", image_id: 2, bootloader_offset: 0x1000 },
    Chip { name: "esp32c3", image_id: 5, bootloader_offset: 0x0 },
    Chip { name: "esp32s3", image_id: 9, bootloader_offset: 0x0 },
    Chip { name: "esp32c2", image_id: 12, bootloader_offset: 0x0 },
    Chip { name: "esp32c6", image_id: 13, bootloader_offset: 0x0 },
    Chip { name: "esp32h2", image_id: 16, bootloader_offset: 0x0 },
    Chip { name: "esp32p4", image_id: 18, bootloader_offset: 0x2000 },
    Chip { name: "esp32c61", image_id: 20, bootloader_offset: 0x0 },
    Chip { name: "esp32c5", image_id: 23, bootloader_offset: 0x2000 },
];

impl Chip {
    /// Look a chip up by its image header chip id.
    pub fn by_image_id(id: u16) -> Option<&'static Chip> {
        CHIPS.iter().find(|c| c.image_id == id)
    }

    /// Look a chip up by name (`esp32s3`, also `ESP32-S3`).
    pub fn by_name(name: &str) -> Option<&'static Chip> {
        let norm: String = name.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_lowercase();
        CHIPS.iter().find(|c| c.name == norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_offsets() {
        let want = [
            ("esp32", 0, 0x1000),
            ("esp32s2", 2, 0x1000),
            ("esp32c3", 5, 0),
            ("esp32s3", 9, 0),
            ("esp32c2", 12, 0),
            ("esp32c6", 13, 0),
            ("esp32h2", 16, 0),
            ("esp32p4", 18, 0x2000),
            ("esp32c61", 20, 0),
            ("esp32c5", 23, 0x2000),
        ];
        assert_eq!(CHIPS.len(), want.len());
        for (name, id, off) in want {
            let c = Chip::by_image_id(id).unwrap();
            assert_eq!((c.name, c.bootloader_offset), (name, off));
            assert_eq!(Chip::by_name(name), Some(c));
        }
        assert_eq!(Chip::by_name("ESP32-S3").map(|c| c.image_id), Some(9));
        assert_eq!(Chip::by_image_id(1), None);
        assert_eq!(Chip::by_image_id(0xFFFF), None);
    }
}
