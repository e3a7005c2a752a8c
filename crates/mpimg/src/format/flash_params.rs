//! The flash settings a bootloader's image header carries (byte 2: SPI mode;
//! byte 3: size code in the high nibble, frequency code in the low one), by
//! the names esptool and ESP-IDF's `flasher_args.json` give them: `dio`,
//! `80m`, `4MB`. The codes are esptool's (`FLASH_MODES`, each target's
//! `FLASH_FREQUENCY` and `FLASH_SIZES`); frequency codes differ by chip.

use thiserror::Error;

use super::image::{flash_size_code, ImageHeader};
use super::size::parse_size;

/// A flash setting esptool would refuse for the chip.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FlashParamError {
    /// Not one of esptool's four SPI modes.
    #[error("unknown flash mode '{value}': use qio, qout, dio or dout (or keep)")]
    Mode {
        /// The mode as given.
        value: String,
    },
    /// A frequency the chip's header cannot encode.
    #[error("flash frequency '{value}' is not one {chip} supports: use {known} (or keep)")]
    Freq {
        /// The frequency as given.
        value: String,
        /// The chip (esptool's name).
        chip: String,
        /// The names the chip takes, comma-separated.
        known: String,
    },
    /// A chip without a known frequency table.
    #[error("unknown flash frequency table for chip '{chip}'")]
    Chip {
        /// The chip as given.
        chip: String,
    },
    /// Not a flash size a header can encode.
    #[error("invalid flash size '{value}': use 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB or 128MB (or keep, detect)")]
    Size {
        /// The size as given.
        value: String,
    },
}

const MODES: &[(&str, u8)] = &[("qio", 0), ("qout", 1), ("dio", 2), ("dout", 3)];

const FREQ_ESP32: &[(&str, u8)] = &[("80m", 0xF), ("40m", 0x0), ("26m", 0x1), ("20m", 0x2)];
const FREQ_C2: &[(&str, u8)] = &[("60m", 0xF), ("30m", 0x0), ("20m", 0x1), ("15m", 0x2)];
const FREQ_C5: &[(&str, u8)] = &[("80m", 0xF), ("40m", 0x0), ("20m", 0x2)];
// esptool maps 80m to 0 on the C6 too (a workaround for the ROM's divider).
const FREQ_C6: &[(&str, u8)] = &[("80m", 0x0), ("40m", 0x0), ("20m", 0x2)];
const FREQ_H2: &[(&str, u8)] = &[("48m", 0xF), ("24m", 0x0), ("16m", 0x1), ("12m", 0x2)];
const FREQ_H21: &[(&str, u8)] = &[("48m", 0xF), ("24m", 0x0)];

/// Frequency names and codes by chip, as esptool's targets define (or inherit) them.
fn freq_table(chip: &str) -> Option<&'static [(&'static str, u8)]> {
    Some(match chip {
        "esp32" | "esp32s2" | "esp32s3" | "esp32c3" | "esp32p4" | "esp32e22" => FREQ_ESP32,
        "esp32c2" => FREQ_C2,
        "esp32c5" | "esp32c61" | "esp32s31" => FREQ_C5,
        "esp32c6" => FREQ_C6,
        "esp32h2" => FREQ_H2,
        "esp32h21" | "esp32h4" => FREQ_H21,
        _ => return None,
    })
}

/// `keep` (and, for the size, `detect`) leave a setting as the image has it.
fn kept(value: &str) -> bool {
    value.is_empty() || value.eq_ignore_ascii_case("keep")
}

/// The settings to write into a bootloader header; `None` keeps the image's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlashParams {
    /// SPI mode code (header byte 2): 0 QIO, 1 QOUT, 2 DIO, 3 DOUT.
    pub mode: Option<u8>,
    /// Frequency code (low nibble of header byte 3), chip specific.
    pub freq: Option<u8>,
    /// Size code (high nibble of header byte 3): 0 = 1 MB ... 7 = 128 MB.
    pub size: Option<u8>,
}

impl FlashParams {
    /// The settings named `mode`, `freq` and `size` for `chip` (esptool's name).
    ///
    /// # Errors
    /// [`FlashParamError`] for a name esptool would not take for this chip.
    pub fn parse(chip: &str, mode: &str, freq: &str, size: &str) -> Result<Self, FlashParamError> {
        let mode = if kept(mode) {
            None
        } else {
            let m = MODES.iter().find(|(n, _)| n.eq_ignore_ascii_case(mode));
            Some(m.ok_or_else(|| FlashParamError::Mode { value: mode.to_owned() })?.1)
        };
        let freq = if kept(freq) {
            None
        } else {
            let table = freq_table(chip).ok_or_else(|| FlashParamError::Chip { chip: chip.to_owned() })?;
            let f = table.iter().find(|(n, _)| n.eq_ignore_ascii_case(freq)).ok_or_else(|| FlashParamError::Freq {
                value: freq.to_owned(),
                chip: chip.to_owned(),
                known: table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            })?;
            Some(f.1)
        };
        let size = if kept(size) || size.eq_ignore_ascii_case("detect") {
            None
        } else {
            let bad = || FlashParamError::Size { value: size.to_owned() };
            let bytes = parse_size(size).map_err(|_| bad())?;
            Some(flash_size_code(u32::try_from(bytes).map_err(|_| bad())?).map_err(|_| bad())?)
        };
        Ok(FlashParams { mode, freq, size })
    }

    /// Write the settings into `header`; returns whether any byte changed.
    pub fn apply(&self, header: &mut ImageHeader) -> bool {
        let before = header.to_bytes();
        if let Some(m) = self.mode {
            header.spi_mode = m;
        }
        if let Some(f) = self.freq {
            header.flash_freq_code = f;
        }
        if let Some(s) = self.size {
            header.flash_size_code = s;
        }
        header.to_bytes() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_esptools_codes_per_chip() {
        let p = FlashParams::parse("esp32", "dio", "40m", "4MB").unwrap();
        assert_eq!(p, FlashParams { mode: Some(2), freq: Some(0), size: Some(2) });
        assert_eq!(
            FlashParams::parse("esp32s3", "QIO", "80m", "16MB").unwrap(),
            FlashParams { mode: Some(0), freq: Some(0xF), size: Some(4) }
        );
        assert_eq!(FlashParams::parse("esp32c2", "dout", "60m", "2MB").unwrap().freq, Some(0xF));
        assert_eq!(
            FlashParams::parse("esp32c6", "keep", "80m", "detect").unwrap(),
            FlashParams { mode: None, freq: Some(0), size: None }
        );
        assert_eq!(FlashParams::parse("esp32h2", "", "keep", "keep").unwrap(), FlashParams::default());
    }

    #[test]
    fn names_a_chip_does_not_take_are_refused() {
        assert_eq!(
            FlashParams::parse("esp32c3", "dio", "48m", "4MB").unwrap_err().to_string(),
            "flash frequency '48m' is not one esp32c3 supports: use 80m, 40m, 26m, 20m (or keep)"
        );
        assert_eq!(
            FlashParams::parse("esp32", "opi", "keep", "keep").unwrap_err().to_string(),
            "unknown flash mode 'opi': use qio, qout, dio or dout (or keep)"
        );
        assert_eq!(
            FlashParams::parse("esp32", "dio", "40m", "3MB").unwrap_err().to_string(),
            "invalid flash size '3MB': use 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB or 128MB (or keep, detect)"
        );
    }

    #[test]
    fn apply_changes_only_what_is_set() {
        let mut h = crate::format::image::testimg::header(0, 1);
        assert!(!FlashParams::default().apply(&mut h));
        let before = h.clone();
        assert!(FlashParams { mode: Some(3), freq: None, size: Some(3) }.apply(&mut h));
        assert_eq!((h.spi_mode, h.flash_freq_code, h.flash_size_code), (3, before.flash_freq_code, 3));
        assert!(!FlashParams { mode: Some(3), freq: None, size: None }.apply(&mut h));
    }
}
