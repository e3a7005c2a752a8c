//! Routing one frame from the host: to the READ_FLASH stream while one is
//! open, else parsed as a request and handed to the running loader's
//! handlers (`rom` or `stub`), counting commands and failures as it goes.
//!
//! It sits above `device`, `rom` and `stub` so that those depend only
//! downwards (the loaders on the device, never the device on the loaders).

use crate::command::{self, rom_err, stub_err, Loader, ParseError, Request};
use crate::device::{Device, Mode, Out};
use crate::stats::Stats;
use crate::{rom, stub};

/// Handle one frame from the host; returns what the link must send (and do).
pub fn handle(dev: &mut Device, frame: &[u8], stats: &mut Stats) -> Vec<Out> {
    if dev.mode == Mode::UserCode {
        return Vec::new();
    }
    if let Some(stream) = dev.read.as_mut() {
        stats.read_acks += 1;
        let (out, done) = stream.on_ack(frame, &dev.flash);
        if done {
            dev.read = None;
        }
        return out.into_iter().map(Out::Frame).collect();
    }
    let req = match Request::parse(frame) {
        Ok(r) => r,
        Err(ParseError::NotARequest) => return Vec::new(),
        Err(ParseError::SizeMismatch { op }) => {
            stats.count_command(&command::name(op));
            stats.count_error(&command::name(op));
            let code = match dev.loader() {
                Loader::Rom => u16::from(rom_err::INVALID_MESSAGE),
                Loader::Stub => stub_err::BAD_DATA_LEN,
            };
            return vec![dev.reply(op, 0, &Err(code))];
        }
    };
    let name = command::name(req.op);
    stats.count_command(&name);
    dev.clear_failure();
    let out = match dev.mode {
        Mode::Stub => stub::handle(dev, &req, stats),
        _ => rom::handle(dev, &req, stats),
    };
    if dev.replied_failure() {
        stats.count_error(&name);
    }
    stats.baud = dev.baud;
    stats.baud_changes.extend(out.iter().filter_map(|o| match o {
        Out::SetBaud(b) => Some(*b),
        Out::Frame(_) | Out::Busy(_) => None,
    }));
    stats.device_seconds += out.iter().map(|o| if let Out::Busy(t) = o { t.as_secs_f64() } else { 0.0 }).sum::<f64>();
    let c = dev.flash.counters;
    stats.sectors_erased = c.sectors_erased;
    stats.sectors_written = c.sectors_written;
    stats.bytes_written = c.bytes_written;
    out
}
