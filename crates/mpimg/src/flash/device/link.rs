//! The serial link to an ESP loader, built on espflash's public API: connect
//! (reset into the bootloader where the port has modem lines, else none, as
//! on a pty), load the stub, switch baud rate, identify chip and flash, and
//! the four flash commands mpimg needs: streamed READ_FLASH with acks and MD5,
//! compressed writes (FLASH_DEFL_*), ERASE_REGION and SPI_FLASH_MD5.
//!
//! espflash's own `read_flash` only writes to a file and its writes always
//! pick their own erase and verify strategy, so those are done here with
//! `Connection::command`.

use std::path::Path;
use std::time::Duration;

use espflash::command::{Command, CommandType};
use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::Flasher;
use libdeflater::{CompressionLvl, Compressor};
use md5::{Digest, Md5};
use serde::Serialize;
use serialport::{SerialPort as _, UsbPortInfo};

use crate::format::chip::Chip;

use super::error::DeviceError;
use super::progress::Progress;

/// Baud rate every ESP ROM loader starts at.
pub const ROM_BAUD: u32 = 115_200;
/// Packet size of READ_FLASH streams (one sector, as esptool asks).
const READ_PACKET: u32 = 0x1000;
/// SPI flash command: read JEDEC id.
const SPIFLASH_RDID: u32 = 0x9F;

/// What the device said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceFacts {
    /// The port.
    pub port: String,
    /// The chip (`esp32s3`).
    pub chip: String,
    /// The chip revision (`v0.2`), if known.
    pub revision: Option<String>,
    /// The crystal frequency (`40 MHz`).
    pub crystal: String,
    /// The chip's features (`WiFi`, `BLE`, ...).
    pub features: Vec<String>,
    /// The MAC address, if read.
    pub mac: Option<String>,
    /// JEDEC id: manufacturer, memory type, capacity (as esptool prints it).
    pub flash_id: u32,
    /// Flash size detected from the JEDEC capacity byte.
    pub flash_size: u32,
    /// Baud rate in use after the switch.
    pub baud: u32,
}

/// Bytes and commands this run put on the link (mpimg's own commands; the
/// connect sequence espflash runs is not counted: its port type is concrete
/// and cannot be wrapped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WireStats {
    /// Commands sent.
    pub commands: u64,
    /// SLIP bytes mpimg sent (commands, data, acks).
    pub bytes_sent: u64,
    /// SLIP bytes of flash data and digests received (plus ~12 per response).
    pub bytes_received: u64,
    /// Commands and transfers retried after a failure.
    pub retries: u64,
}

/// How far the last compressed write got: its data frames, those sent
/// (the last one perhaps only in part) and those the device acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamProgress {
    /// Data frames of the stream.
    pub frames: u32,
    /// Frames whose sending began.
    pub sent: u32,
    /// Frames the device acknowledged (written).
    pub acked: u32,
}

impl StreamProgress {
    /// Whether the range may hold part of the new bytes and part of the
    /// old: some frame may have landed, not all did, and there were several.
    /// (A stream of one frame lands whole or not at all: the loader only
    /// acts on a frame it received whole.)
    pub fn torn(&self) -> bool {
        self.frames > 1 && self.sent > 0 && self.acked < self.frames
    }
}

/// An open connection to a running flasher stub.
pub struct Link {
    flasher: Flasher,
    pub chip: &'static Chip,
    pub facts: DeviceFacts,
    pub stats: WireStats,
    /// The last compressed write's progress.
    pub stream: StreamProgress,
}

fn slip_len(frame: &[u8]) -> u64 {
    2 + frame.len() as u64 + frame.iter().filter(|&&b| b == 0xC0 || b == 0xDB).count() as u64
}

fn command_len(cmd: &Command<'_>) -> u64 {
    let mut buf = Vec::new();
    match cmd.write(&mut buf) {
        Ok(()) => slip_len(&buf),
        Err(_) => 0,
    }
}

fn ef(port: &str, e: espflash::Error) -> DeviceError {
    DeviceError::Link { port: port.to_string(), source: Box::new(e) }
}

/// Whether `port` names a port that cannot exist here (a missing device file).
fn missing(port: &str) -> bool {
    !port.starts_with("COM") && !Path::new(port).exists()
}

/// The USB identity espflash uses to pick reset strategies (none for a pty).
fn usb_info(port: &str) -> UsbPortInfo {
    let none = UsbPortInfo { vid: 0, pid: 0, serial_number: None, manufacturer: None, product: None };
    let Ok(ports) = serialport::available_ports() else { return none };
    ports
        .into_iter()
        .find(|p| p.port_name == port)
        .and_then(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(info) => Some(info),
            _ => None,
        })
        .unwrap_or(none)
}

/// The serial ports of this computer by name (`/dev/ttyUSB0`, `COM3`),
/// sorted: where a run on every board looks for them. Empty when the system
/// cannot list them.
pub fn serial_ports() -> Vec<String> {
    let mut v: Vec<String> =
        serialport::available_ports().map(|ps| ps.into_iter().map(|p| p.port_name).collect()).unwrap_or_default();
    v.sort();
    v.dedup();
    v
}

impl Link {
    /// Connect to the loader on `port`, start the stub and switch to `baud`
    /// (or the fastest lower standard rate that works).
    pub fn connect(port: &str, baud: u32) -> Result<Link, DeviceError> {
        if missing(port) {
            return Err(DeviceError::NoSuchPort { port: port.to_string() });
        }
        let mut serial = serialport::new(port, ROM_BAUD)
            .timeout(Duration::from_secs(3))
            .open_native()
            .map_err(|source| DeviceError::Open { port: port.to_string(), source })?;
        // A pty (and some adapters) has no modem lines: setting them fails,
        // and then the chip must already be in its loader, as with esptool.
        let lines = serial.write_data_terminal_ready(false).is_ok() && serial.write_request_to_send(false).is_ok();
        let before = if lines { ResetBeforeOperation::DefaultReset } else { ResetBeforeOperation::NoReset };
        let mut conn = Connection::new(serial, usb_info(port), ResetAfterOperation::NoResetNoStub, before, ROM_BAUD);
        // Sync once on our own so that "nothing answers" is told apart from
        // later failures.
        if conn.begin().is_err() {
            return Err(DeviceError::NoLoader { port: port.to_string() });
        }
        // Switch the ROM loader to the fast rate before the stub goes up: the
        // stub keeps the UART as the ROM left it, and its upload is the
        // largest transfer of a short run. If the ROM refuses, the rate is
        // changed through the stub instead.
        let early = baud > ROM_BAUD && rom_switch_baud(&mut conn, baud);
        let mut flasher = Flasher::try_connect(conn, true, true, false, None, None).map_err(|b| ef(port, b.0))?;
        let ef_chip = flasher.chip();
        let chip = Chip::by_image_id(ef_chip.id())
            .ok_or_else(|| DeviceError::UnknownChip { port: port.to_string(), name: ef_chip.to_string() })?;
        let baud = if early { baud } else { switch_baud(&mut flasher, baud).map_err(|e| ef(port, e))? };
        let info = flasher.device_info().map_err(|e| ef(port, e))?;
        let flash_id = read_flash_id(&mut flasher).map_err(|e| ef(port, e))?;
        let facts = DeviceFacts {
            port: port.to_string(),
            chip: chip.name.to_string(),
            revision: info.revision.map(|(a, b)| format!("v{a}.{b}")),
            crystal: info.crystal_frequency.to_string(),
            features: info.features,
            mac: info.mac_address,
            flash_id,
            flash_size: info.flash_size.size(),
            baud,
        };
        Ok(Link { flasher, chip, facts, stats: WireStats::default(), stream: StreamProgress::default() })
    }

    fn conn(&mut self) -> &mut Connection {
        self.flasher.connection()
    }

    fn err(&self, e: espflash::Error) -> DeviceError {
        ef(&self.facts.port, e)
    }

    /// Run one command with `timeout`, counting its bytes.
    fn command(
        &mut self,
        cmd: Command<'_>,
        timeout: Duration,
    ) -> Result<espflash::command::CommandResponseValue, DeviceError> {
        self.stats.commands += 1;
        self.stats.bytes_sent += command_len(&cmd);
        self.stats.bytes_received += 14;
        let r = self.conn().with_timeout(timeout, |c| c.command(cmd));
        r.map_err(|e| self.err(e))
    }

    /// Read `len` bytes at `offset` with one READ_FLASH stream, checked
    /// against the stub's MD5 of what it sent.
    pub fn read(&mut self, offset: u32, len: u32, progress: &mut Progress) -> Result<Vec<u8>, DeviceError> {
        self.command(
            Command::ReadFlash { offset, size: len, block_size: READ_PACKET, max_in_flight: 1 },
            CommandType::ReadFlash.timeout(),
        )?;
        let mut data: Vec<u8> = Vec::with_capacity(len as usize);
        while data.len() < len as usize {
            let chunk = self.stream_frame()?;
            if chunk.is_empty() || data.len() + chunk.len() > len as usize {
                return Err(DeviceError::Protocol {
                    what: format!("READ_FLASH sent a {}-byte packet at {:#x}", chunk.len(), offset + data.len() as u32),
                });
            }
            data.extend_from_slice(&chunk);
            progress.set(data.len() as u64);
            let ack = (data.len() as u32).to_le_bytes();
            self.stats.bytes_sent += slip_len(&ack);
            let r = self.conn().write_raw(data.len() as u32);
            r.map_err(|e| self.err(e))?;
        }
        let digest = self.stream_frame()?;
        let md5 = Md5::digest(&data);
        if digest.as_slice() != md5.as_slice() {
            return Err(DeviceError::Protocol {
                what: format!("READ_FLASH of {offset:#x}+{len:#x}: data does not match the device's MD5"),
            });
        }
        Ok(data)
    }

    fn stream_frame(&mut self) -> Result<Vec<u8>, DeviceError> {
        let r = self.conn().read_flash_response();
        let frame: Vec<u8> = match r.map_err(|e| self.err(e))? {
            Some(resp) => resp.value.try_into().map_err(|e| self.err(e))?,
            None => return Err(DeviceError::Protocol { what: "READ_FLASH stream ended early".into() }),
        };
        self.stats.bytes_received += slip_len(&frame);
        Ok(frame)
    }

    /// Write whole sectors at `offset` compressed, without verifying.
    pub fn write_deflated(&mut self, offset: u32, data: &[u8], progress: &mut Progress) -> Result<(), DeviceError> {
        let packed = deflate(data)?;
        let block = self.flasher.chip().stub_flash_write_size();
        let blocks = packed.len().div_ceil(block) as u32;
        let len = data.len() as u32;
        self.stream = StreamProgress { frames: blocks, sent: 0, acked: 0 };
        self.command(
            Command::FlashDeflBegin { size: len, blocks, block_size: block as u32, offset, supports_encryption: false },
            CommandType::FlashDeflBegin.timeout_for_size(len),
        )?;
        let per_block = (u64::from(len) / u64::from(blocks.max(1))) as u32 + 1;
        for (i, chunk) in packed.chunks(block).enumerate() {
            self.stream.sent += 1;
            self.command(
                Command::FlashDeflData { data: chunk, pad_to: 0, pad_byte: 0xFF, sequence: i as u32 },
                CommandType::FlashDeflData.timeout_for_size(per_block),
            )?;
            self.stream.acked += 1;
            progress.set((u64::from(len) * (i as u64 + 1) / u64::from(blocks)).min(u64::from(len)));
        }
        Ok(())
    }

    /// How many data frames [`Link::write_deflated`] sends for `data`.
    pub fn frames_for(&self, data: &[u8]) -> Result<u32, DeviceError> {
        Ok(deflate(data)?.len().div_ceil(self.flasher.chip().stub_flash_write_size()) as u32)
    }

    /// ERASE_REGION (sector aligned): one frame, so it happens whole or not at all.
    pub fn erase(&mut self, offset: u32, len: u32) -> Result<(), DeviceError> {
        self.stream = StreamProgress::default();
        self.command(Command::EraseRegion { offset, size: len }, CommandType::EraseRegion.timeout_for_size(len))?;
        Ok(())
    }

    /// The flash MD5 of a region, as 16 bytes.
    pub fn md5(&mut self, offset: u32, len: u32) -> Result<[u8; 16], DeviceError> {
        let v = self.command(Command::FlashMd5 { offset, size: len }, CommandType::FlashMd5.timeout_for_size(len))?;
        let v: u128 = v.try_into().map_err(|e| self.err(e))?;
        Ok(v.to_be_bytes())
    }

    /// After a failed exchange the stub may still be streaming or waiting
    /// for data: drop what is in flight and sync on a harmless register read.
    pub fn recover(&mut self) -> bool {
        self.stats.retries += 1;
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(50));
            let _ = self.conn().flush();
            if self.conn().read_reg(CHIP_DETECT_MAGIC_REG).is_ok() {
                return true;
            }
        }
        false
    }

    /// Hard reset through the RTS line (nothing happens on a pty).
    pub fn hard_reset(&mut self) {
        let _ = self.conn().reset();
    }
}

/// `data` as the zlib stream FLASH_DEFL_* carry: libdeflate's strongest
/// level, ~2% fewer bytes than zlib -9 (what esptool sends) for MicroPython
/// images, at a fraction of a second.
fn deflate(data: &[u8]) -> Result<Vec<u8>, DeviceError> {
    let mut z = Compressor::new(CompressionLvl::best());
    let mut packed = vec![0u8; z.zlib_compress_bound(data.len())];
    let n = z
        .zlib_compress(data, &mut packed)
        .map_err(|e| DeviceError::Protocol { what: format!("compression failed: {e:?}") })?;
    packed.truncate(n);
    Ok(packed)
}

/// Register every ESP ROM answers (chip magic value).
const CHIP_DETECT_MAGIC_REG: u32 = 0x4000_1000;

/// CHANGE_BAUDRATE in the ROM loader (old rate given as 0, as the ROM
/// expects), checked with a SYNC at the new rate; on failure the port goes
/// back to the ROM rate.
fn rom_switch_baud(conn: &mut Connection, want: u32) -> bool {
    let changed = conn
        .with_timeout(CommandType::ChangeBaudrate.timeout(), |c| {
            c.command(Command::ChangeBaudrate { new_baud: want, prior_baud: 0 })
        })
        .is_ok();
    if changed && conn.set_baud(want).is_ok() {
        std::thread::sleep(Duration::from_millis(20));
        if conn.flush().is_ok() && conn.read_reg(CHIP_DETECT_MAGIC_REG).is_ok() {
            return true;
        }
    }
    let _ = conn.set_baud(ROM_BAUD);
    false
}

/// CHANGE_BAUDRATE to `want`, else to the next lower standard rate; checks
/// each with a register read. Returns the rate in use.
fn switch_baud(flasher: &mut Flasher, want: u32) -> Result<u32, espflash::Error> {
    if want <= ROM_BAUD {
        return Ok(ROM_BAUD);
    }
    for rate in [want, 921_600, 460_800, 230_400].into_iter().filter(|&r| r <= want) {
        if flasher.change_baud(rate).is_err() {
            // Refused (or lost): the loader still runs at the old rate.
            flasher.connection().set_baud(ROM_BAUD)?;
            continue;
        }
        if flasher.connection().read_reg(CHIP_DETECT_MAGIC_REG).is_ok() {
            return Ok(rate);
        }
        return Err(espflash::Error::InvalidResponse(format!(
            "the device switched to {rate} baud but does not answer at that rate: try a lower --baud"
        )));
    }
    Ok(ROM_BAUD)
}

/// JEDEC id through the chip's SPI register block (RDID), restoring the
/// user registers afterwards, as esptool's `flash_id` does.
fn read_flash_id(flasher: &mut Flasher) -> Result<u32, espflash::Error> {
    let regs = flasher.chip().spi_registers();
    let c = flasher.connection();
    let old_usr = c.read_reg(regs.usr())?;
    let old_usr2 = c.read_reg(regs.usr2())?;
    const USR_COMMAND: u32 = 1 << 31;
    const USR_MISO: u32 = 1 << 28;
    const CMD_USR: u32 = 1 << 18;
    let read_bits = 24;
    c.write_reg(regs.usr(), USR_COMMAND | USR_MISO, None)?;
    c.write_reg(regs.usr2(), (7 << 28) | SPIFLASH_RDID, None)?;
    match regs.miso_length() {
        Some(miso) => c.write_reg(miso, read_bits - 1, None)?,
        None => c.write_reg(regs.usr1(), (read_bits - 1) << 8, None)?,
    }
    c.write_reg(regs.w0(), 0, None)?;
    c.write_reg(regs.cmd(), CMD_USR, None)?;
    for _ in 0..10 {
        if c.read_reg(regs.cmd())? & CMD_USR == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let id = c.read_reg(regs.w0())? & 0xFF_FFFF;
    c.write_reg(regs.usr(), old_usr, None)?;
    c.write_reg(regs.usr2(), old_usr2, None)?;
    Ok(id)
}
