//! The flasher stub's command handlers: just-in-time erasing downloads,
//! ERASE_FLASH / ERASE_REGION, the streamed READ_FLASH, and the way back to
//! the ROM (FLASH_END asking for a reboot) or to user code.

use crate::command::{op, stub_err, Loader, Request};
use crate::device::{Device, Mode, Out};
use crate::flash_write::WriteSession;
use crate::nor::SECTOR;
use crate::read_stream::ReadStream;
use crate::stats::Stats;

/// The largest READ_FLASH packet the stub buffers.
const MAX_READ_PACKET: u32 = 4096;

pub fn handle(dev: &mut Device, req: &Request, _stats: &mut Stats) -> Vec<Out> {
    if let Some(out) = dev.common(req) {
        return out;
    }
    let bad_len = Err(stub_err::BAD_DATA_LEN);
    match req.op {
        op::FLASH_BEGIN | op::FLASH_DEFL_BEGIN => {
            let compressed = req.op == op::FLASH_DEFL_BEGIN;
            let outcome = WriteSession::begin(Loader::Stub, compressed, req, &mut dev.flash).map(|s| {
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
                _ => Err(stub_err::NOT_IN_FLASH_MODE),
            };
            vec![dev.reply(req.op, 0, &outcome)]
        }
        op::FLASH_END | op::FLASH_DEFL_END => {
            let Some(run_user_code) = req.word(0).filter(|_| req.data.len() == 4) else {
                return vec![dev.reply(req.op, 0, &bad_len)];
            };
            if dev.write.take().is_none() {
                return vec![dev.reply(req.op, 0, &Err(stub_err::NOT_IN_FLASH_MODE))];
            }
            let mut out = vec![dev.reply(req.op, 0, &Ok(vec![]))];
            if run_user_code == 0 {
                // A reboot from the stub comes back up in the ROM loader
                // (the boot strapping is still latched), at the ROM's baud.
                dev.reset();
                out.push(Out::SetBaud(crate::device::ROM_BAUD));
            }
            out
        }
        op::MEM_END => {
            if req.data.len() != 8 {
                return vec![dev.reply(req.op, 0, &bad_len)];
            }
            if dev.mem_remaining.take().is_none() {
                return vec![dev.reply(req.op, 0, &Err(stub_err::NOT_IN_FLASH_MODE))];
            }
            vec![dev.reply(req.op, 0, &Ok(vec![]))]
        }
        op::ERASE_FLASH => {
            let outcome = match dev.flash.erase_all() {
                Ok(()) => Ok(vec![]),
                Err(_) => Err(stub_err::FAILED_SPI_OP),
            };
            vec![dev.reply(req.op, 0, &outcome)]
        }
        op::ERASE_REGION => {
            let (Some(offset), Some(size), 8) = (req.word(0), req.word(1), req.data.len()) else {
                return vec![dev.reply(req.op, 0, &bad_len)];
            };
            let outcome = if offset % SECTOR != 0 || size % SECTOR != 0 {
                Err(stub_err::BAD_DATA_LEN)
            } else {
                dev.flash.erase(offset, size).map(|_| vec![]).map_err(|_| stub_err::FAILED_SPI_OP)
            };
            vec![dev.reply(req.op, 0, &outcome)]
        }
        op::READ_FLASH => {
            let (Some(offset), Some(size), Some(packet), 16) = (req.word(0), req.word(1), req.word(2), req.data.len())
            else {
                return vec![dev.reply(req.op, 0, &bad_len)];
            };
            if packet == 0 || packet > MAX_READ_PACKET {
                return vec![dev.reply(req.op, 0, &bad_len)];
            }
            if u64::from(offset) + u64::from(size) > u64::from(dev.flash.size()) || !dev.flash.is_powered() {
                return vec![dev.reply(req.op, 0, &Err(stub_err::FAILED_SPI_OP))];
            }
            let mut out = vec![dev.reply(req.op, 0, &Ok(vec![]))];
            let (stream, frames) = ReadStream::start(offset, size, packet, &dev.flash);
            dev.read = stream;
            out.extend(frames.into_iter().map(Out::Frame));
            out
        }
        op::RUN_USER_CODE => {
            // No response: the stub jumps straight into the firmware.
            dev.mode = Mode::UserCode;
            Vec::new()
        }
        _ => vec![dev.reply(req.op, 0, &Err(stub_err::NOT_IMPLEMENTED))],
    }
}
