//! The flasher stub's READ_FLASH stream: after the command's response the
//! stub sends the data in raw SLIP frames of the requested packet size, one
//! packet in flight (the host acknowledges each with the running byte count
//! as a 4-byte frame), then a final frame with the 16-byte MD5 of all data.

use md5::{Digest, Md5};

use crate::nor::NorFlash;

#[derive(Debug)]
pub struct ReadStream {
    next: u32,
    end: u32,
    packet: u32,
    total: u32,
    md5: Md5,
}

impl ReadStream {
    /// Start a stream over a range already checked against the flash size;
    /// returns the stream (None if it is already finished) and the frames to send now.
    pub fn start(offset: u32, size: u32, packet: u32, flash: &NorFlash) -> (Option<ReadStream>, Vec<Vec<u8>>) {
        let mut s =
            ReadStream { next: offset, end: offset + size, packet: packet.max(1), total: size, md5: Md5::new() };
        if size == 0 {
            return (None, vec![s.md5.finalize().to_vec()]);
        }
        let first = s.next_packet(flash);
        (Some(s), vec![first])
    }

    fn next_packet(&mut self, flash: &NorFlash) -> Vec<u8> {
        let n = self.packet.min(self.end - self.next);
        let data = flash.read(self.next, n).map(<[u8]>::to_vec).unwrap_or_else(|_| vec![0xFF; n as usize]);
        self.md5.update(&data);
        self.next += n;
        data
    }

    /// Handle a frame from the host while streaming. Returns frames to send
    /// and whether the stream is over.
    pub fn on_ack(&mut self, frame: &[u8], flash: &NorFlash) -> (Vec<Vec<u8>>, bool) {
        let acked = match <[u8; 4]>::try_from(frame) {
            Ok(b) => u32::from_le_bytes(b),
            // Not an acknowledgement: the stub gives up and sends the digest
            // of what it read so far.
            Err(_) => return (vec![self.md5.clone().finalize().to_vec()], true),
        };
        if self.next < self.end {
            return (vec![self.next_packet(flash)], false);
        }
        if acked >= self.total {
            return (vec![self.md5.clone().finalize().to_vec()], true);
        }
        (Vec::new(), false)
    }
}
