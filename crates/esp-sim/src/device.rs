//! The device: which loader is running (ROM, flasher stub, or neither once
//! user code was started), its registers and flash, how it builds replies,
//! and the commands both loaders answer alike. The loaders' own handlers
//! (`rom`, `stub`) build on this; `dispatch` routes each frame to them.
//! Transport-free: requests in, frames (and baud changes) out.

use std::cell::Cell;

use crate::chip::Chip;
use crate::command::{self, op, rom_err, stub_err, Loader, Outcome, Request};
use crate::flash_write::WriteSession;
use crate::nor::{NorError, NorFlash};
use crate::read_stream::ReadStream;
use crate::regs::Registers;

/// What the link must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Send one SLIP frame with this payload.
    Frame(Vec<u8>),
    /// Switch the device UART to this baud rate (after the frames before it).
    SetBaud(u32),
    /// The chip works this many seconds before what follows (see [`crate::timing`]).
    Busy(std::time::Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Rom,
    Stub,
    /// The loader jumped to user code; nothing answers until a reset.
    UserCode,
}

/// The baud rate the ROM loader starts at.
pub const ROM_BAUD: u32 = 115_200;

#[derive(Debug)]
pub struct Device {
    pub chip: Chip,
    pub mode: Mode,
    pub regs: Registers,
    pub flash: NorFlash,
    pub baud: u32,
    pub write: Option<WriteSession>,
    /// A RAM download in progress: bytes still expected.
    pub mem_remaining: Option<u32>,
    pub read: Option<ReadStream>,
    /// Set when a reply carried a failure status (for statistics).
    failed: Cell<bool>,
}

impl Device {
    pub fn new(chip: Chip, mac: [u8; 6], flash: NorFlash) -> Self {
        let size = flash.size();
        let mut dev = Device {
            chip,
            mode: Mode::Rom,
            regs: Registers::new(chip, mac, size),
            flash,
            baud: ROM_BAUD,
            write: None,
            mem_remaining: None,
            read: None,
            failed: Cell::new(false),
        };
        dev.sync_flash_power();
        dev
    }

    /// Power the flash as the registers say (the ESP32-P4 starts with it off).
    fn sync_flash_power(&mut self) {
        let on = self.regs.flash_powered();
        self.flash.set_powered(on);
    }

    /// A chip reset (the port was closed): back to the ROM loader at 115200.
    pub fn reset(&mut self) {
        self.mode = Mode::Rom;
        self.baud = ROM_BAUD;
        self.regs.reset();
        self.sync_flash_power();
        self.write = None;
        self.mem_remaining = None;
        self.read = None;
    }

    pub fn loader(&self) -> Loader {
        match self.mode {
            Mode::Stub => Loader::Stub,
            _ => Loader::Rom,
        }
    }

    /// Forget the failure flag before handling a new request.
    pub fn clear_failure(&self) {
        self.failed.set(false);
    }

    /// Whether a reply since [`Device::clear_failure`] carried a failure status.
    pub fn replied_failure(&self) -> bool {
        self.failed.get()
    }

    /// Build a response frame for the running loader.
    pub fn reply(&self, op: u8, value: u32, outcome: &Outcome) -> Out {
        if outcome.is_err() {
            self.failed.set(true);
        }
        Out::Frame(command::response(self.loader(), op, value, outcome))
    }

    /// Commands both loaders answer the same way apart from status bytes.
    pub fn common(&mut self, req: &Request) -> Option<Vec<Out>> {
        let loader = self.loader();
        let bad_len = match loader {
            Loader::Rom => u16::from(rom_err::INVALID_MESSAGE),
            Loader::Stub => stub_err::BAD_DATA_LEN,
        };
        let out = match req.op {
            op::SYNC => {
                let ok = req.data.len() == 36
                    && req.data[..4] == [0x07, 0x07, 0x12, 0x20]
                    && req.data[4..].iter().all(|&b| b == 0x55);
                if !ok {
                    return Some(vec![self.reply(op::SYNC, 0, &Err(bad_len))]);
                }
                // The ROM echoes the sync word in the value field; a running
                // stub answers 0, which is how clients tell them apart.
                let value = if loader == Loader::Rom { 0x2012_0707 } else { 0 };
                (0..8).map(|_| self.reply(op::SYNC, value, &Ok(vec![]))).collect()
            }
            op::READ_REG => match (req.data.len(), req.word(0)) {
                (4, Some(addr)) => vec![self.reply(op::READ_REG, self.regs.read(addr, self.baud), &Ok(vec![]))],
                _ => vec![self.reply(op::READ_REG, 0, &Err(bad_len))],
            },
            op::WRITE_REG => {
                if req.data.is_empty() || !req.data.len().is_multiple_of(16) {
                    return Some(vec![self.reply(op::WRITE_REG, 0, &Err(bad_len))]);
                }
                for entry in req.data.chunks_exact(16) {
                    let w = |i: usize| u32::from_le_bytes([entry[i], entry[i + 1], entry[i + 2], entry[i + 3]]);
                    self.regs.write(w(0), w(4), w(8));
                }
                self.sync_flash_power();
                vec![self.reply(op::WRITE_REG, 0, &Ok(vec![]))]
            }
            op::SPI_SET_PARAMS => {
                let outcome = if req.data.len() == 24 { Ok(vec![]) } else { Err(bad_len) };
                vec![self.reply(op::SPI_SET_PARAMS, 0, &outcome)]
            }
            op::SPI_ATTACH => {
                // The ROM takes a second word (legacy flag); the stub one word.
                let expect = if loader == Loader::Rom { 8 } else { 4 };
                let outcome = if req.data.len() == expect { Ok(vec![]) } else { Err(bad_len) };
                vec![self.reply(op::SPI_ATTACH, 0, &outcome)]
            }
            op::CHANGE_BAUDRATE => match (req.data.len(), req.word(0)) {
                (8, Some(new)) if new > 0 => {
                    // The stub knows the crystal; the ROM computes the divider
                    // from the crystal it assumes (wrong on a 26 MHz ESP32-C2).
                    let actual = if loader == Loader::Rom { self.chip.rom_baud(new) } else { new };
                    self.baud = actual;
                    vec![self.reply(op::CHANGE_BAUDRATE, 0, &Ok(vec![])), Out::SetBaud(actual)]
                }
                _ => vec![self.reply(op::CHANGE_BAUDRATE, 0, &Err(bad_len))],
            },
            op::MEM_BEGIN => {
                if req.data.len() != 16 {
                    return Some(vec![self.reply(op::MEM_BEGIN, 0, &Err(bad_len))]);
                }
                self.mem_remaining = req.word(0);
                vec![self.reply(op::MEM_BEGIN, 0, &Ok(vec![]))]
            }
            op::MEM_DATA => vec![self.mem_data(req)],
            op::GET_SECURITY_INFO => {
                let outcome = match (self.chip.has_security_info(), loader) {
                    (true, _) => Ok(self.chip.security_info()),
                    (false, Loader::Rom) => Err(u16::from(rom_err::INVALID_MESSAGE)),
                    (false, Loader::Stub) => Err(stub_err::NOT_IMPLEMENTED),
                };
                vec![self.reply(op::GET_SECURITY_INFO, 0, &outcome)]
            }
            op::SPI_FLASH_MD5 => {
                // The reply comes once the chip has read and hashed the region.
                let busy = req.word(1).map_or(std::time::Duration::ZERO, crate::timing::md5_time);
                vec![Out::Busy(busy), self.md5(req)]
            }
            _ => return None,
        };
        Some(out)
    }

    fn mem_data(&mut self, req: &Request) -> Out {
        let loader = self.loader();
        let e = |rom: u8, stub: u16| match loader {
            Loader::Rom => Err(u16::from(rom)),
            Loader::Stub => Err(stub),
        };
        let outcome = match (self.mem_remaining, req.word(0)) {
            (None, _) => e(rom_err::RESULT_WRONG, stub_err::NOT_IN_FLASH_MODE),
            (_, None) => e(rom_err::INVALID_MESSAGE, stub_err::NOT_ENOUGH_DATA),
            (Some(left), Some(len)) => {
                let payload = &req.data[16.min(req.data.len())..];
                if payload.len() as u32 != len || len > left {
                    e(rom_err::INVALID_MESSAGE, stub_err::TOO_MUCH_DATA)
                } else if u32::from(command::checksum(payload)) != req.checksum & 0xFF {
                    e(rom_err::CHECKSUM, stub_err::BAD_DATA_CHECKSUM)
                } else {
                    self.mem_remaining = Some(left - len);
                    Ok(vec![])
                }
            }
        };
        self.reply(op::MEM_DATA, 0, &outcome)
    }

    fn md5(&self, req: &Request) -> Out {
        let loader = self.loader();
        let (Some(addr), Some(size), 16) = (req.word(0), req.word(1), req.data.len()) else {
            let code = match loader {
                Loader::Rom => u16::from(rom_err::INVALID_MESSAGE),
                Loader::Stub => stub_err::BAD_DATA_LEN,
            };
            return self.reply(op::SPI_FLASH_MD5, 0, &Err(code));
        };
        let outcome = match self.flash.read(addr, size) {
            Ok(bytes) => {
                use md5::{Digest, Md5};
                let digest = Md5::digest(bytes);
                match loader {
                    // The ROM answers in hex text, the stub in raw bytes.
                    Loader::Rom => Ok(digest.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes()),
                    Loader::Stub => Ok(digest.to_vec()),
                }
            }
            Err(NorError::Unpowered) => match loader {
                Loader::Rom => Err(u16::from(rom_err::FLASH_READ)),
                Loader::Stub => Err(stub_err::FAILED_SPI_OP),
            },
            Err(_) => match loader {
                Loader::Rom => Err(u16::from(rom_err::INVALID_PARAM)),
                Loader::Stub => Err(stub_err::FAILED_SPI_OP),
            },
        };
        self.reply(op::SPI_FLASH_MD5, 0, &outcome)
    }
}
