//! SLIP framing as the ESP serial loaders use it: each frame starts and ends
//! with 0xC0; 0xC0 and 0xDB inside a frame become 0xDB 0xDC and 0xDB 0xDD.

pub const END: u8 = 0xC0;
pub const ESC: u8 = 0xDB;
pub const ESC_END: u8 = 0xDC;
pub const ESC_ESC: u8 = 0xDD;

/// Encode one frame (delimiters included).
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload.len() / 64 + 2);
    out.push(END);
    for &b in payload {
        match b {
            END => out.extend_from_slice(&[ESC, ESC_END]),
            ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
            _ => out.push(b),
        }
    }
    out.push(END);
    out
}

/// Streaming decoder: feed bytes as they arrive, collect complete frames.
///
/// Bytes outside a frame are ignored, as the ROM ignores line noise. An
/// invalid escape sequence spoils the frame it is in; the frame is still
/// delivered (with the raw byte kept) so the loader answers it the way a
/// real one answers a garbled packet: with an error, or not at all.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    in_frame: bool,
    escaped: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget any partial frame (the line was reset).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.in_frame = false;
        self.escaped = false;
    }

    /// Feed one byte; returns a frame when this byte completes one.
    pub fn push(&mut self, b: u8) -> Option<Vec<u8>> {
        if !self.in_frame {
            if b == END {
                self.in_frame = true;
                self.buf.clear();
            }
            return None;
        }
        if self.escaped {
            self.escaped = false;
            self.buf.push(match b {
                ESC_END => END,
                ESC_ESC => ESC,
                other => other,
            });
            return None;
        }
        match b {
            // Back-to-back delimiters (end of one frame, start of the next,
            // or an empty frame) carry no frame.
            END if self.buf.is_empty() => None,
            END => {
                self.in_frame = true;
                Some(std::mem::take(&mut self.buf))
            }
            ESC => {
                self.escaped = true;
                None
            }
            _ => {
                self.buf.push(b);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_both_special_bytes() {
        assert_eq!(encode(&[1, 0xC0, 2, 0xDB]), vec![0xC0, 1, 0xDB, 0xDC, 2, 0xDB, 0xDD, 0xC0]);
    }

    #[test]
    fn decodes_what_it_encodes_and_skips_noise() {
        let payload = vec![0xC0, 0xDB, 0x00, 0x55, 0xC0];
        let mut wire = b"noise".to_vec();
        wire.extend(encode(&payload));
        wire.extend(encode(b"OHAI"));
        let mut d = Decoder::new();
        let frames: Vec<Vec<u8>> = wire.iter().filter_map(|&b| d.push(b)).collect();
        assert_eq!(frames, vec![payload, b"OHAI".to_vec()]);
    }
}
