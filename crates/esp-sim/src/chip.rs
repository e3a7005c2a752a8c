//! Chip identity tables: what each supported chip answers when a loader
//! client probes it (magic register, security info, eFuse words with the MAC
//! and revision, crystal, the SPI register block used for flash commands),
//! and the ROM quirks clients work around (the ESP32-C2 ROM's baud rate
//! arithmetic, the ESP32-P4's flash that is off until the host powers it).
//!
//! Addresses, bit positions and quirks follow what esptool 5.6
//! (`esptool/targets/*.py`) and espflash 4.7 (`src/target/`) read and do;
//! the values are chosen so that both decode a plausible chip of a revision
//! in production.

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

    /// The register layout of every chip after the ESP32, at `base`.
    const fn later(base: u32) -> SpiRegs {
        SpiRegs { base, usr: 0x18, usr1: 0x1C, usr2: 0x20, mosi_dlen: 0x24, miso_dlen: 0x28, w0: 0x58, addr_msb: false }
    }
}

/// Supported chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chip {
    Esp32,
    Esp32s2,
    Esp32s3,
    Esp32c3,
    Esp32c6,
    Esp32c2,
    Esp32c5,
    Esp32c61,
    Esp32h2,
    Esp32p4,
}

/// Where the MAC lives and how the revision is encoded differ per family.
#[derive(Debug, Clone, Copy)]
enum MacLayout {
    /// ESP32: eFuse BLK0 words 1 and 2 (word 2 low 16 bits = first two bytes).
    Esp32Blk0 { efuse_base: u32 },
    /// Later chips: words 0 and 1 of the eFuse block holding the MAC (BLOCK1,
    /// BLOCK2 on the ESP32-C2) at `reg` (word 1 low 16 bits = first two
    /// bytes). With `ext`, word 1's high half is MAC_EXT = FF:FE, which esptool
    /// inserts into the EUI-64 it prints for the 802.15.4 chips (C6, C5, H2).
    Block { reg: u32, ext: bool },
}

/// Whether the SPI flash answers from reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashPower {
    /// Powered whenever the chip is.
    AlwaysOn,
    /// Off after reset until the host sets `mask` in the PMU register `reg`
    /// (ESP32-P4 v3.1: esptool's and espflash's `power_on_flash` set
    /// PMU_DATE_REG bits 0..1, the flash "force on" bits, before attaching).
    ForcedOnBy { reg: u32, mask: u32 },
}

/// Everything that tells one chip from another, in one row per chip.
#[derive(Debug)]
struct Spec {
    name: &'static str,
    /// esptool's CHIP_NAME (what it prints after "Detecting chip type...").
    esptool_name: &'static str,
    magic: u32,
    /// Chip id in GET_SECURITY_INFO; None where the ROM reports none.
    security_chip_id: Option<u32>,
    spi: SpiRegs,
    uart_clkdiv_reg: u32,
    xtal_hz: u32,
    /// The crystal the ROM loader assumes when it sets a new baud rate.
    rom_baud_xtal_hz: u32,
    bootloader_offset: u32,
    mac: MacLayout,
    /// Chip revision (major, minor) and the eFuse words that encode it (ORed
    /// into the MAC words where they share one).
    revision: (u32, u32),
    revision_words: &'static [(u32, u32)],
    /// Other registers with fixed non-zero values.
    extra: &'static [(u32, u32)],
    flash_power: FlashPower,
}

const LATER_UART_CLKDIV: u32 = 0x6000_0014;

const SPECS: [Spec; 10] = [
    Spec {
        name: "esp32",
        esptool_name: "ESP32",
        magic: 0x00F0_1D83,
        security_chip_id: None,
        spi: SpiRegs {
            base: 0x3FF4_2000,
            usr: 0x1C,
            usr1: 0x20,
            usr2: 0x24,
            mosi_dlen: 0x28,
            miso_dlen: 0x2C,
            w0: 0x80,
            addr_msb: true,
        },
        uart_clkdiv_reg: 0x3FF4_0014,
        xtal_hz: 40_000_000,
        rom_baud_xtal_hz: 40_000_000,
        bootloader_offset: 0x1000,
        mac: MacLayout::Esp32Blk0 { efuse_base: 0x3FF5_A000 },
        // Revision v3.0: eFuse word 3 bit 15, word 5 bit 20 and the
        // APB_CTL_DATE top bit all set. Word 4's low byte is the 8 MHz
        // oscillator calibration, used with RTCCALICFG1 by esptool's ESP32
        // baud-rate workaround to recompute the ROM's idea of the crystal
        // (here exactly 40 MHz).
        revision: (3, 0),
        revision_words: &[(0x3FF5_A00C, 1 << 15), (0x3FF5_A014, 1 << 20), (0x3FF6_607C, 1 << 31)],
        extra: &[(0x3FF5_A010, 100), (0x3FF5_F06C, 1024 << 7)],
        flash_power: FlashPower::AlwaysOn,
    },
    Spec {
        name: "esp32s2",
        esptool_name: "ESP32-S2",
        magic: 0x0000_07C6,
        security_chip_id: None,
        spi: SpiRegs::later(0x3F40_2000),
        uart_clkdiv_reg: 0x3F40_0014,
        xtal_hz: 40_000_000,
        rom_baud_xtal_hz: 40_000_000,
        bootloader_offset: 0x1000,
        mac: MacLayout::Block { reg: 0x3F41_A044, ext: false },
        revision: (0, 0),
        revision_words: &[],
        extra: &[],
        flash_power: FlashPower::AlwaysOn,
    },
    Spec {
        name: "esp32s3",
        esptool_name: "ESP32-S3",
        magic: 0x0000_0009,
        security_chip_id: Some(9),
        spi: SpiRegs::later(0x6000_2000),
        uart_clkdiv_reg: LATER_UART_CLKDIV,
        xtal_hz: 40_000_000,
        rom_baud_xtal_hz: 40_000_000,
        bootloader_offset: 0,
        mac: MacLayout::Block { reg: 0x6000_7044, ext: false },
        revision: (0, 0),
        revision_words: &[],
        extra: &[],
        flash_power: FlashPower::AlwaysOn,
    },
    Spec {
        name: "esp32c3",
        esptool_name: "ESP32-C3",
        magic: 0x1B31_506F,
        security_chip_id: Some(5),
        spi: SpiRegs::later(0x6000_2000),
        uart_clkdiv_reg: LATER_UART_CLKDIV,
        xtal_hz: 40_000_000,
        rom_baud_xtal_hz: 40_000_000,
        bootloader_offset: 0,
        mac: MacLayout::Block { reg: 0x6000_8844, ext: false },
        revision: (0, 0),
        revision_words: &[],
        extra: &[],
        flash_power: FlashPower::AlwaysOn,
    },
    Spec {
        name: "esp32c6",
        esptool_name: "ESP32-C6",
        magic: 0x2CE0_806F,
        security_chip_id: Some(13),
        spi: SpiRegs::later(0x6000_3000),
        uart_clkdiv_reg: LATER_UART_CLKDIV,
        xtal_hz: 40_000_000,
        rom_baud_xtal_hz: 40_000_000,
        bootloader_offset: 0,
        mac: MacLayout::Block { reg: 0x600B_0844, ext: true },
        revision: (0, 0),
        revision_words: &[],
        extra: &[],
        flash_power: FlashPower::AlwaysOn,
    },
    // ESP32-C2 v1.0 (ECO1; esptool disables the stub on v0.0) with the 26 MHz
    // crystal of ESP8684 modules. Its ROM computes new baud rates as if the
    // crystal were 40 MHz, which esptool and espflash undo by asking for
    // baud * 40 / 26 while the ROM loader runs.
    Spec {
        name: "esp32c2",
        esptool_name: "ESP32-C2",
        magic: 0x7C41_A06F,
        security_chip_id: Some(12),
        spi: SpiRegs::later(0x6000_2000),
        uart_clkdiv_reg: LATER_UART_CLKDIV,
        xtal_hz: 26_000_000,
        rom_baud_xtal_hz: 40_000_000,
        bootloader_offset: 0,
        // The MAC is in BLOCK2 (EFUSE_BASE + 0x40), not BLOCK1.
        mac: MacLayout::Block { reg: 0x6000_8840, ext: false },
        // BLOCK2 word 1: WAFER_VERSION_MINOR bits 16..19, MAJOR bits 20..21.
        revision: (1, 0),
        revision_words: &[(0x6000_8844, 1 << 20)],
        extra: &[],
        flash_power: FlashPower::AlwaysOn,
    },
    // ESP32-C5 v1.0 with a 48 MHz crystal; its ROM finds the crystal in
    // PCR_SYSCLK_CONF bits 24..30, which esptool compares with its own
    // estimate before changing the baud rate (espflash reads it as well).
    Spec {
        name: "esp32c5",
        esptool_name: "ESP32-C5",
        magic: 0x5FD1_406F,
        security_chip_id: Some(23),
        spi: SpiRegs::later(0x6000_3000),
        uart_clkdiv_reg: LATER_UART_CLKDIV,
        xtal_hz: 48_000_000,
        rom_baud_xtal_hz: 48_000_000,
        bootloader_offset: 0x2000,
        mac: MacLayout::Block { reg: 0x600B_4844, ext: true },
        // BLOCK1 word 2: WAFER_VERSION_MINOR bits 0..3, MAJOR bits 4..5.
        revision: (1, 0),
        revision_words: &[(0x600B_484C, 1 << 4)],
        extra: &[(0x6009_6110, 48 << 24)],
        flash_power: FlashPower::AlwaysOn,
    },
    Spec {
        name: "esp32c61",
        esptool_name: "ESP32-C61",
        magic: 0x7211_606F,
        security_chip_id: Some(20),
        spi: SpiRegs::later(0x6000_3000),
        uart_clkdiv_reg: LATER_UART_CLKDIV,
        xtal_hz: 40_000_000,
        rom_baud_xtal_hz: 40_000_000,
        bootloader_offset: 0,
        mac: MacLayout::Block { reg: 0x600B_4844, ext: false },
        // BLOCK1 word 2: WAFER_VERSION_MINOR bits 0..3, MAJOR bits 4..5.
        revision: (1, 0),
        revision_words: &[(0x600B_484C, 1 << 4)],
        extra: &[],
        flash_power: FlashPower::AlwaysOn,
    },
    // ESP32-H2 v0.1 with its fixed 32 MHz crystal (neither client reads it).
    Spec {
        name: "esp32h2",
        esptool_name: "ESP32-H2",
        magic: 0xD7B7_3E80,
        security_chip_id: Some(16),
        spi: SpiRegs::later(0x6000_3000),
        uart_clkdiv_reg: LATER_UART_CLKDIV,
        xtal_hz: 32_000_000,
        rom_baud_xtal_hz: 32_000_000,
        bootloader_offset: 0,
        mac: MacLayout::Block { reg: 0x600B_0844, ext: true },
        // BLOCK1 word 3: WAFER_VERSION_MINOR bits 18..20, MAJOR bits 21..22.
        revision: (0, 1),
        revision_words: &[(0x600B_0850, 1 << 18)],
        extra: &[],
        flash_power: FlashPower::AlwaysOn,
    },
    // ESP32-P4 v3.1 (ECO6): the flash is unpowered in the download ROM until
    // the host runs the power-on sequence, and clients pick the stub built
    // for revisions >= 3.0. The ROM has no magic value clients know (esptool
    // 4 listed 0 for the P4); GET_SECURITY_INFO identifies it.
    Spec {
        name: "esp32p4",
        esptool_name: "ESP32-P4",
        magic: 0,
        security_chip_id: Some(18),
        spi: SpiRegs::later(0x5008_D000),
        uart_clkdiv_reg: 0x500C_A014,
        xtal_hz: 40_000_000,
        rom_baud_xtal_hz: 40_000_000,
        bootloader_offset: 0x2000,
        mac: MacLayout::Block { reg: 0x5012_D044, ext: false },
        // BLOCK1 word 2: WAFER_VERSION_MINOR bits 0..3, MAJOR_LO bits 4..5,
        // MAJOR_HI bit 23 (major = HI << 2 | LO).
        revision: (3, 1),
        revision_words: &[(0x5012_D04C, (3 << 4) | 1)],
        extra: &[],
        flash_power: FlashPower::ForcedOnBy { reg: 0x5011_53FC, mask: 0x3 },
    },
];

impl Chip {
    pub const ALL: [Chip; 10] = [
        Chip::Esp32,
        Chip::Esp32s2,
        Chip::Esp32s3,
        Chip::Esp32c3,
        Chip::Esp32c6,
        Chip::Esp32c2,
        Chip::Esp32c5,
        Chip::Esp32c61,
        Chip::Esp32h2,
        Chip::Esp32p4,
    ];

    fn spec(self) -> &'static Spec {
        &SPECS[self as usize]
    }

    /// Name as given on the command line (`esp32s3`).
    pub fn cli_name(self) -> &'static str {
        self.spec().name
    }

    /// esptool's name for the chip (`ESP32-S3`).
    pub fn esptool_name(self) -> &'static str {
        self.spec().esptool_name
    }

    /// Value of the register at [`CHIP_DETECT_MAGIC_REG`].
    pub fn magic(self) -> u32 {
        self.spec().magic
    }

    /// The chip id in GET_SECURITY_INFO (and image headers), where the ROM reports one.
    pub fn security_chip_id(self) -> Option<u32> {
        self.spec().security_chip_id
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
        self.spec().spi
    }

    /// UART0 clock divider register; clients multiply it by their baud
    /// rate to estimate the crystal.
    pub fn uart_clkdiv_reg(self) -> u32 {
        self.spec().uart_clkdiv_reg
    }

    /// The crystal frequency in Hz.
    pub fn xtal_hz(self) -> u32 {
        self.spec().xtal_hz
    }

    /// The baud rate the ROM loader's UART ends up at when CHANGE_BAUDRATE
    /// asks for `requested`: the ROM divides its idea of the crystal by the
    /// rate, the UART divides the real crystal by that divider.
    pub fn rom_baud(self, requested: u32) -> u32 {
        let s = self.spec();
        let scaled = u64::from(requested) * u64::from(s.xtal_hz);
        let half = u64::from(s.rom_baud_xtal_hz) / 2;
        ((scaled + half) / u64::from(s.rom_baud_xtal_hz)) as u32
    }

    /// Flash offset of the second-stage bootloader.
    pub fn bootloader_offset(self) -> u32 {
        self.spec().bootloader_offset
    }

    /// The chip revision (major, minor) its eFuses report.
    pub fn revision(self) -> (u32, u32) {
        self.spec().revision
    }

    /// Whether the flash answers from reset, or needs powering on first.
    pub fn flash_power(self) -> FlashPower {
        self.spec().flash_power
    }

    /// A default MAC, distinct per chip (locally administered).
    pub fn default_mac(self) -> [u8; 6] {
        [0x02, 0xE5, 0x51, 0x00, 0x00, 0x10 + self as u8]
    }

    /// Registers with fixed non-zero values (every other register reads 0
    /// until written). The UART divider is computed live from the baud rate.
    pub fn fixed_registers(self, mac: [u8; 6]) -> Vec<(u32, u32)> {
        let s = self.spec();
        let hi = u32::from(mac[0]) << 8 | u32::from(mac[1]);
        let lo = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]);
        let mut regs = vec![(CHIP_DETECT_MAGIC_REG, s.magic)];
        match s.mac {
            MacLayout::Esp32Blk0 { efuse_base } => regs.extend([(efuse_base + 4, lo), (efuse_base + 8, hi)]),
            MacLayout::Block { reg, ext } => {
                regs.extend([(reg, lo), (reg + 4, hi | if ext { 0xFFFE << 16 } else { 0 })])
            }
        }
        for &(addr, value) in s.revision_words.iter().chain(s.extra) {
            match regs.iter_mut().find(|(a, _)| *a == addr) {
                Some((_, v)) => *v |= value,
                None => regs.push((addr, value)),
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
#[error("unknown chip '{0}': use one of {names}", names = Chip::ALL.map(Chip::cli_name).join(", "))]
pub struct UnknownChip(pub String);

impl FromStr for Chip {
    type Err = UnknownChip;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.to_ascii_lowercase().replace(['-', '_'], "");
        Chip::ALL.into_iter().find(|c| c.cli_name() == norm).ok_or_else(|| UnknownChip(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(chip: Chip, addr: u32) -> u32 {
        chip.fixed_registers(chip.default_mac()).into_iter().find(|(a, _)| *a == addr).map_or(0, |(_, v)| v)
    }

    #[test]
    fn parses_names() {
        assert_eq!("ESP32-S3".parse::<Chip>().unwrap(), Chip::Esp32s3);
        assert_eq!("esp32-c61".parse::<Chip>().unwrap(), Chip::Esp32c61);
        let e = "esp8266".parse::<Chip>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown chip 'esp8266': use one of esp32, esp32s2, esp32s3, esp32c3, esp32c6, esp32c2, esp32c5, esp32c61, esp32h2, esp32p4"
        );
    }

    #[test]
    fn table_rows_match_the_enum() {
        for c in Chip::ALL {
            assert_eq!(format!("{c:?}").to_lowercase(), c.cli_name());
            assert_eq!(c.cli_name().parse::<Chip>().unwrap(), c);
            assert_eq!(c.to_string(), c.cli_name());
        }
    }

    #[test]
    fn security_info_lengths() {
        assert_eq!(Chip::Esp32s2.security_info().len(), 12);
        let s3 = Chip::Esp32s3.security_info();
        assert_eq!(s3.len(), 20);
        assert_eq!(&s3[12..16], &9u32.to_le_bytes());
    }

    #[test]
    fn new_chips_report_their_image_chip_ids() {
        // esptool's IMAGE_CHIP_ID, which GET_SECURITY_INFO carries.
        for (chip, id) in
            [(Chip::Esp32c2, 12), (Chip::Esp32c5, 23), (Chip::Esp32c61, 20), (Chip::Esp32h2, 16), (Chip::Esp32p4, 18)]
        {
            assert_eq!(&chip.security_info()[12..16], &u32::to_le_bytes(id), "{chip}");
        }
    }

    #[test]
    fn esp32_mac_words() {
        let regs = Chip::Esp32.fixed_registers([0x24, 0x0A, 0xC4, 0x01, 0x02, 0x03]);
        assert!(regs.contains(&(0x3FF5_A004, 0xC401_0203)));
        assert!(regs.contains(&(0x3FF5_A008, 0x240A)));
    }

    #[test]
    fn c2_mac_and_revision_share_block2_word1() {
        let regs = Chip::Esp32c2.fixed_registers([0x24, 0x0A, 0xC4, 0x01, 0x02, 0x03]);
        assert!(regs.contains(&(0x6000_8840, 0xC401_0203)));
        // MAC bytes 0..1 in bits 0..15, major revision 1 in bits 20..21.
        assert!(regs.contains(&(0x6000_8844, 0x0010_240A)));
    }

    #[test]
    fn mac_ext_on_the_802_15_4_chips() {
        let mac = [0x24, 0x0A, 0xC4, 0x01, 0x02, 0x03];
        assert!(Chip::Esp32h2.fixed_registers(mac).contains(&(0x600B_0848, 0xFFFE_240A)));
        assert!(Chip::Esp32c61.fixed_registers(mac).contains(&(0x600B_4848, 0x240A)));
    }

    #[test]
    fn revisions_decode_as_esptool_reads_them() {
        // esptool 5.6: C5/C61 BLOCK1 word 2 minor 0..3, major 4..5; H2 word 3
        // minor 18..20, major 21..22; P4 word 2 major = bit 23 << 2 | bits 4..5.
        let w = reg(Chip::Esp32c5, 0x600B_484C);
        assert_eq!(((w >> 4) & 3, w & 0xF), Chip::Esp32c5.revision());
        let w = reg(Chip::Esp32c61, 0x600B_484C);
        assert_eq!(((w >> 4) & 3, w & 0xF), Chip::Esp32c61.revision());
        let w = reg(Chip::Esp32h2, 0x600B_0850);
        assert_eq!(((w >> 21) & 3, (w >> 18) & 7), Chip::Esp32h2.revision());
        let w = reg(Chip::Esp32p4, 0x5012_D04C);
        assert_eq!(((((w >> 23) & 1) << 2) | ((w >> 4) & 3), w & 0xF), (3, 1));
        let w = reg(Chip::Esp32c2, 0x6000_8844);
        assert_eq!(((w >> 20) & 3, (w >> 16) & 0xF), (1, 0));
    }

    #[test]
    fn crystal_and_rom_baud() {
        assert_eq!(reg(Chip::Esp32c5, 0x6009_6110) >> 24, 48);
        // The C2 ROM believes in 40 MHz: asked for 921600 its UART runs at
        // 599040; asked for 921600 * 40 / 26 (what clients send) at 921600.
        assert_eq!(Chip::Esp32c2.rom_baud(921_600), 599_040);
        assert_eq!(Chip::Esp32c2.rom_baud(921_600 * 40 / 26), 921_600);
        for c in [Chip::Esp32, Chip::Esp32c5, Chip::Esp32h2, Chip::Esp32p4] {
            assert_eq!(c.rom_baud(921_600), 921_600, "{c}");
        }
    }

    #[test]
    fn bootloader_offsets() {
        let at: Vec<(Chip, u32)> =
            Chip::ALL.iter().map(|c| (*c, c.bootloader_offset())).filter(|(_, o)| *o != 0).collect();
        assert_eq!(
            at,
            [(Chip::Esp32, 0x1000), (Chip::Esp32s2, 0x1000), (Chip::Esp32c5, 0x2000), (Chip::Esp32p4, 0x2000)]
        );
    }

    #[test]
    fn default_macs_unchanged_for_the_first_five() {
        assert_eq!(Chip::Esp32.default_mac(), [0x02, 0xE5, 0x51, 0, 0, 0x10]);
        assert_eq!(Chip::Esp32c6.default_mac(), [0x02, 0xE5, 0x51, 0, 0, 0x14]);
        assert_eq!(Chip::Esp32p4.default_mac(), [0x02, 0xE5, 0x51, 0, 0, 0x19]);
    }
}
