//! The ROM loader's command handlers (what differs from the stub: flash
//! downloads erase up front, READ_FLASH_SLOW, MEM_END starts the stub, and
//! stub-only commands are rejected as invalid messages).

use crate::command::{op, rom_err, Request};
use crate::device::{Device, Mode, Out};
use crate::flash_write::WriteSession;
use crate::stats::Stats;

/// How many bytes one READ_FLASH_SLOW answers, whatever was asked.
const SLOW_READ_BLOCK: u32 = 64;

pub fn handle(dev: &mut Device, req: &Request, stats: &mut Stats) -> Vec<Out> {
    if let Some(out) = dev.common(req) {
        return out;
    }
    let invalid = Err(u16::from(rom_err::INVALID_MESSAGE));
    match req.op {
        op::FLASH_BEGIN | op::FLASH_DEFL_BEGIN => {
            let compressed = req.op == op::FLASH_DEFL_BEGIN;
            // The ESP32 ROM takes 4 words; later ROMs a 5th (encryption).
            let want = if dev.chip == crate::chip::Chip::Esp32 { 16 } else { 20 };
            if req.data.len() != want && req.data.len() != 16 {
                return vec![dev.reply(req.op, 0, &invalid)];
            }
            let outcome = WriteSession::begin(crate::command::Loader::Rom, compressed, req, &mut dev.flash).map(|s| {
                dev.write = Some(s);
                vec![]
            });
            vec![dev.reply(req.op, 0, &outcome)]
        }
        op::FLASH_DATA | op::FLASH_DEFL_DATA => {
            let outcome = match dev.write.as_mut() {
                Some(s) if s.is_compressed() == (req.op == op::FLASH_DEFL_DATA) => {
                    s.data(req, &mut dev.flash).map(|_| vec![])
                }
                _ => Err(u16::from(rom_err::RESULT_WRONG)),
            };
            vec![dev.reply(req.op, 0, &outcome)]
        }
        op::FLASH_END | op::FLASH_DEFL_END => {
            if req.data.len() != 4 {
                return vec![dev.reply(req.op, 0, &invalid)];
            }
            // Both "reboot" and "run user code" leave the ROM loader: the
            // chip runs the firmware and stops answering until it is reset.
            dev.write = None;
            let out = vec![dev.reply(req.op, 0, &Ok(vec![]))];
            dev.mode = Mode::UserCode;
            out
        }
        op::MEM_END => {
            let (Some(no_entry), Some(entry), 8) = (req.word(0), req.word(1), req.data.len()) else {
                return vec![dev.reply(req.op, 0, &invalid)];
            };
            if dev.mem_remaining.is_none() {
                return vec![dev.reply(req.op, 0, &Err(u16::from(rom_err::RESULT_WRONG)))];
            }
            dev.mem_remaining = None;
            let mut out = vec![dev.reply(req.op, 0, &Ok(vec![]))];
            if no_entry == 0 {
                // Whatever was uploaded, the code started is taken to be the
                // flasher stub: it greets the host and takes over the line.
                out.push(Out::Frame(b"OHAI".to_vec()));
                dev.mode = Mode::Stub;
                dev.write = None;
                stats.stub_starts += 1;
                stats.stub_entry = Some(entry);
            }
            out
        }
        op::READ_FLASH_SLOW => {
            // esptool sends offset and length; espflash adds two more words.
            let (Some(offset), Some(len), 8 | 16) = (req.word(0), req.word(1), req.data.len()) else {
                return vec![dev.reply(req.op, 0, &invalid)];
            };
            if len > SLOW_READ_BLOCK {
                return vec![dev.reply(req.op, 0, &Err(u16::from(rom_err::FLASH_READ_LEN)))];
            }
            let end = (u64::from(offset) + u64::from(SLOW_READ_BLOCK)).min(u64::from(dev.flash.size()));
            if u64::from(offset) + u64::from(len) > u64::from(dev.flash.size()) {
                return vec![dev.reply(req.op, 0, &Err(u16::from(rom_err::INVALID_PARAM)))];
            }
            if !dev.flash.is_powered() {
                return vec![dev.reply(req.op, 0, &Err(u16::from(rom_err::FLASH_READ)))];
            }
            let mut block =
                dev.flash.read(offset, (end - u64::from(offset)) as u32).map(<[u8]>::to_vec).unwrap_or_default();
            block.resize(SLOW_READ_BLOCK as usize, 0xFF);
            vec![dev.reply(req.op, 0, &Ok(block))]
        }
        _ => vec![dev.reply(req.op, 0, &invalid)],
    }
}
