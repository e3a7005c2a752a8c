//! The device's register space as READ_REG/WRITE_REG see it: fixed identity
//! values from the chip table, a live UART divider, the SPI controller's
//! user-command block, and plain storage for everything else (unknown
//! registers read 0 until written).

use std::collections::HashMap;

use crate::chip::{Chip, FlashPower, SpiRegs};
use crate::spi_flash::{self, UserCommand, SPI_CMD_USR};

#[derive(Debug)]
pub struct Registers {
    chip: Chip,
    spi: SpiRegs,
    fixed: HashMap<u32, u32>,
    written: HashMap<u32, u32>,
    flash_size: u32,
}

impl Registers {
    pub fn new(chip: Chip, mac: [u8; 6], flash_size: u32) -> Self {
        Registers {
            chip,
            spi: chip.spi(),
            fixed: chip.fixed_registers(mac).into_iter().collect(),
            written: HashMap::new(),
            flash_size,
        }
    }

    /// Forget written values (a reset).
    pub fn reset(&mut self) {
        self.written.clear();
    }

    fn stored(&self, addr: u32) -> u32 {
        self.written.get(&addr).or_else(|| self.fixed.get(&addr)).copied().unwrap_or(0)
    }

    /// Whether the flash is powered (on chips that start with it off, once
    /// the host set the power-on bits).
    pub fn flash_powered(&self) -> bool {
        match self.chip.flash_power() {
            FlashPower::AlwaysOn => true,
            FlashPower::ForcedOnBy { reg, mask } => self.stored(reg) & mask == mask,
        }
    }

    /// READ_REG at the current link baud rate.
    pub fn read(&self, addr: u32, baud: u32) -> u32 {
        if addr == self.chip.uart_clkdiv_reg() {
            // The UART runs from the crystal in the loader; clients divide
            // back to estimate the crystal frequency.
            return self.chip.xtal_hz() / baud.max(1);
        }
        self.stored(addr)
    }

    /// WRITE_REG with a mask; runs an SPI user command when one is started.
    pub fn write(&mut self, addr: u32, value: u32, mask: u32) {
        let new = (self.stored(addr) & !mask) | (value & mask);
        let cmd_reg = self.spi.base + SpiRegs::CMD;
        if addr == cmd_reg && new & SPI_CMD_USR != 0 {
            let b = self.spi.base;
            let c = UserCommand {
                usr: self.stored(b + self.spi.usr),
                usr1: self.stored(b + self.spi.usr1),
                usr2: self.stored(b + self.spi.usr2),
                miso_dlen: self.stored(b + self.spi.miso_dlen),
                addr: self.stored(b + SpiRegs::ADDR),
            };
            if let Some(v) = spi_flash::execute(&self.spi, &c, self.flash_size, self.flash_powered()) {
                self.written.insert(b + self.spi.w0, v);
            }
            // The command completes at once: the busy bit reads back clear.
            self.written.insert(addr, new & !SPI_CMD_USR);
            return;
        }
        self.written.insert(addr, new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdid_through_registers_esp32s3() {
        let mut r = Registers::new(Chip::Esp32s3, [0; 6], 8 << 20);
        let s = Chip::Esp32s3.spi();
        r.write(s.base + s.usr, (1 << 31) | (1 << 28), u32::MAX);
        r.write(s.base + s.usr2, (7 << 28) | 0x9F, u32::MAX);
        r.write(s.base + s.miso_dlen, 23, u32::MAX);
        r.write(s.base + s.w0, 0, u32::MAX);
        r.write(s.base, SPI_CMD_USR, u32::MAX);
        assert_eq!(r.read(s.base, 115200) & SPI_CMD_USR, 0);
        assert_eq!(r.read(s.base + s.w0, 115200), 0x17_40EF);
    }

    #[test]
    fn p4_flash_answers_once_powered() {
        let mut r = Registers::new(Chip::Esp32p4, [0; 6], 8 << 20);
        let s = Chip::Esp32p4.spi();
        let rdid = |r: &mut Registers| {
            r.write(s.base + s.usr, 1 << 28, u32::MAX);
            r.write(s.base + s.usr2, (7 << 28) | 0x9F, u32::MAX);
            r.write(s.base + s.miso_dlen, 23, u32::MAX);
            r.write(s.base, SPI_CMD_USR, u32::MAX);
            r.read(s.base + s.w0, 115200)
        };
        assert!(!r.flash_powered());
        assert_eq!(rdid(&mut r), 0xFF_FFFF);
        // PMU_DATE_REG |= 3, as esptool's and espflash's power_on_flash do.
        r.write(0x5011_53FC, 1, u32::MAX);
        assert!(!r.flash_powered());
        r.write(0x5011_53FC, 3, u32::MAX);
        assert!(r.flash_powered());
        assert_eq!(rdid(&mut r), 0x17_40EF);
        r.reset();
        assert!(!r.flash_powered());
    }

    #[test]
    fn uart_divider_tracks_baud() {
        let r = Registers::new(Chip::Esp32, [0; 6], 4 << 20);
        assert_eq!(r.read(0x3FF4_0014, 115200), 347);
        assert_eq!(r.read(0x1234_5678, 115200), 0);
    }
}
