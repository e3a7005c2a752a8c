//! Chip identity tables: what each supported chip answers when a loader
//! client probes it (magic register, security info, eFuse words with the MAC
//! and revision, crystal, the SPI register block used for flash commands).
//!
//! Addresses and field positions follow what esptool and espflash read; the
//! values are chosen so that both decode a plausible chip.

use std::fmt;
use std::str::FromStr;

/// The register address every ESP ROM maps to a per-model constant.
pub const CHIP_DETECT_MAGIC_REG: u32 = 0x4000_1000;

/// Offsets of the SPI0/SPI1 "user command" registers from the block base.
#[derive(Debug, Clone, Copy)]
pub struct SpiRegs {
    pub base: u32,
    pub usr: u32,
    pub usr1: u32,
    pub usr2: u32,
    pub mosi_dlen: u32,
    pub miso_dlen: u32,
    pub w0: u32,
    /// ESP32 shifts the address into the top bits of SPI_ADDR.
    pub addr_msb: bool,
}

impl SpiRegs {
    pub const CMD: u32 = 0x00;
    pub const ADDR: u32 = 0x04;
}

/// Supported chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chip {
    Esp32,
    Esp32s2,
    Esp32s3,
    Esp32c3,
    Esp32c6,
}

/// Where the MAC lives and how the revision is encoded differ per family.
#[derive(Debug, Clone, Copy)]
enum MacLayout {
    /// ESP32: eFuse BLK0 words 1 and 2 (word 2 low 16 bits = first two bytes).
    Esp32Blk0 { efuse_base: u32 },
    /// Later chips: BLOCK1 words 0 and 1 at `reg` (word 1 low 16 bits = first two bytes).
    Block1 { reg: u32 },
}

impl Chip {
    pub const ALL: [Chip; 5] = [Chip::Esp32, Chip::Esp32s2, Chip::Esp32s3, Chip::Esp32c3, Chip::Esp32c6];

    /// Name as given on the command line (`esp32s3`).
    pub fn cli_name(self) -> &'static str {
        match self {
            Chip::Esp32 => "esp32",
            Chip::Esp32s2 => "esp32s2",
            Chip::Esp32s3 => "esp32s3",
            Chip::Esp32c3 => "esp32c3",
            Chip::Esp32c6 => "esp32c6",
        }
    }

    /// Value of the register at [`CHIP_DETECT_MAGIC_REG`].
    pub fn magic(self) -> u32 {
        match self {
            Chip::Esp32 => 0x00F0_1D83,
            Chip::Esp32s2 => 0x0000_07C6,
            Chip::Esp32s3 => 0x0000_0009,
            Chip::Esp32c3 => 0x1B31_506F,
            Chip::Esp32c6 => 0x2CE0_806F,
        }
    }

    /// The chip id in GET_SECURITY_INFO (and image headers), where the ROM reports one.
    pub fn security_chip_id(self) -> Option<u32> {
        match self {
            Chip::Esp32 | Chip::Esp32s2 => None,
            Chip::Esp32s3 => Some(9),
            Chip::Esp32c3 => Some(5),
            Chip::Esp32c6 => Some(13),
        }
    }

    /// Whether the ROM implements GET_SECURITY_INFO at all (the ESP32 ROM does not).
    pub fn has_security_info(self) -> bool {
        self != Chip::Esp32
    }

    /// GET_SECURITY_INFO payload: flags, flash_crypt_cnt, 7 key purposes,
    /// then chip id and API version on chips that report them.
    pub fn security_info(self) -> Vec<u8> {
        let mut v = Vec::with_capacity(20);
        v.extend_from_slice(&0u32.to_le_bytes());
        v.push(0);
        v.extend_from_slice(&[0; 7]);
        if let Some(id) = self.security_chip_id() {
            v.extend_from_slice(&id.to_le_bytes());
            v.extend_from_slice(&0u32.to_le_bytes());
        }
        v
    }

    pub fn spi(self) -> SpiRegs {
        match self {
            Chip::Esp32 => SpiRegs {
                base: 0x3FF4_2000,
                usr: 0x1C,
                usr1: 0x20,
                usr2: 0x24,
                mosi_dlen: 0x28,
                miso_dlen: 0x2C,
                w0: 0x80,
                addr_msb: true,
            },
            Chip::Esp32s2 | Chip::Esp32s3 | Chip::Esp32c3 | Chip::Esp32c6 => SpiRegs {
                base: match self {
                    Chip::Esp32s2 => 0x3F40_2000,
                    Chip::Esp32c6 => 0x6000_3000,
                    _ => 0x6000_2000,
                },
                usr: 0x18,
                usr1: 0x1C,
                usr2: 0x20,
                mosi_dlen: 0x24,
                miso_dlen: 0x28,
                w0: 0x58,
                addr_msb: false,
            },
        }
    }

    /// UART0 clock divider register; clients multiply it by their baud
    /// rate to estimate the crystal.
    pub fn uart_clkdiv_reg(self) -> u32 {
        match self {
            Chip::Esp32 => 0x3FF4_0014,
            Chip::Esp32s2 => 0x3F40_0014,
            _ => 0x6000_0014,
        }
    }

    pub fn xtal_hz(self) -> u32 {
        40_000_000
    }

    /// Flash offset of the second-stage bootloader.
    pub fn bootloader_offset(self) -> u32 {
        match self {
            Chip::Esp32 | Chip::Esp32s2 => 0x1000,
            _ => 0,
        }
    }

    fn mac_layout(self) -> MacLayout {
        match self {
            Chip::Esp32 => MacLayout::Esp32Blk0 { efuse_base: 0x3FF5_A000 },
            Chip::Esp32s2 => MacLayout::Block1 { reg: 0x3F41_A044 },
            Chip::Esp32s3 => MacLayout::Block1 { reg: 0x6000_7044 },
            Chip::Esp32c3 => MacLayout::Block1 { reg: 0x6000_8844 },
            Chip::Esp32c6 => MacLayout::Block1 { reg: 0x600B_0844 },
        }
    }

    /// A default MAC, distinct per chip (locally administered).
    pub fn default_mac(self) -> [u8; 6] {
        let idx = Chip::ALL.iter().position(|c| *c == self).unwrap_or(0) as u8;
        [0x02, 0xE5, 0x51, 0x00, 0x00, 0x10 + idx]
    }

    /// Registers with fixed non-zero values (every other register reads 0
    /// until written). The UART divider is computed live from the baud rate.
    pub fn fixed_registers(self, mac: [u8; 6]) -> Vec<(u32, u32)> {
        let mut regs = vec![(CHIP_DETECT_MAGIC_REG, self.magic())];
        let hi = u32::from(mac[0]) << 8 | u32::from(mac[1]);
        let lo = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]);
        match self.mac_layout() {
            MacLayout::Esp32Blk0 { efuse_base } => {
                regs.push((efuse_base + 4, lo));
                regs.push((efuse_base + 8, hi));
                // Revision v3.0: eFuse word 3 bit 15, word 5 bit 20 and the
                // APB_CTL_DATE top bit all set. Word 4's low byte is the 8 MHz
                // oscillator calibration, used with RTCCALICFG1 below by the
                // ESP32 baud-rate workaround to recompute the ROM's idea of
                // the crystal (here exactly 40 MHz).
                regs.push((efuse_base + 12, 1 << 15));
                regs.push((efuse_base + 16, 100));
                regs.push((efuse_base + 20, 1 << 20));
                regs.push((0x3FF6_607C, 1 << 31));
                regs.push((0x3FF5_F06C, 1024 << 7));
            }
            MacLayout::Block1 { reg } => {
                regs.push((reg, lo));
                regs.push((reg + 4, hi));
            }
        }
        regs
    }
}

impl fmt::Display for Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// An unknown chip name on the command line.
#[derive(Debug, thiserror::Error)]
#[error("unknown chip '{0}': use one of esp32, esp32s2, esp32s3, esp32c3, esp32c6")]
pub struct UnknownChip(pub String);

impl FromStr for Chip {
    type Err = UnknownChip;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.to_ascii_lowercase().replace(['-', '_'], "");
        Chip::ALL
            .into_iter()
            .find(|c| c.cli_name() == norm)
            .ok_or_else(|| UnknownChip(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("ESP32-S3".parse::<Chip>().unwrap(), Chip::Esp32s3);
        assert!("esp8266".parse::<Chip>().is_err());
    }

    #[test]
    fn security_info_lengths() {
        assert_eq!(Chip::Esp32s2.security_info().len(), 12);
        let s3 = Chip::Esp32s3.security_info();
        assert_eq!(s3.len(), 20);
        assert_eq!(&s3[12..16], &9u32.to_le_bytes());
    }

    #[test]
    fn esp32_mac_words() {
        let regs = Chip::Esp32.fixed_registers([0x24, 0x0A, 0xC4, 0x01, 0x02, 0x03]);
        assert!(regs.contains(&(0x3FF5_A004, 0xC401_0203)));
        assert!(regs.contains(&(0x3FF5_A008, 0x240A)));
    }
}
