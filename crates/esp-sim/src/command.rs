//! Command codes, request parsing and response building of the ESP serial
//! loader protocol (ROM loader and flasher stub share the framing; they
//! differ in status length and error codes).

/// Command opcodes (byte 1 of a request).
pub mod op {
    pub const FLASH_BEGIN: u8 = 0x02;
    pub const FLASH_DATA: u8 = 0x03;
    pub const FLASH_END: u8 = 0x04;
    pub const MEM_BEGIN: u8 = 0x05;
    pub const MEM_END: u8 = 0x06;
    pub const MEM_DATA: u8 = 0x07;
    pub const SYNC: u8 = 0x08;
    pub const WRITE_REG: u8 = 0x09;
    pub const READ_REG: u8 = 0x0A;
    pub const SPI_SET_PARAMS: u8 = 0x0B;
    pub const SPI_ATTACH: u8 = 0x0D;
    pub const READ_FLASH_SLOW: u8 = 0x0E;
    pub const CHANGE_BAUDRATE: u8 = 0x0F;
    pub const FLASH_DEFL_BEGIN: u8 = 0x10;
    pub const FLASH_DEFL_DATA: u8 = 0x11;
    pub const FLASH_DEFL_END: u8 = 0x12;
    pub const SPI_FLASH_MD5: u8 = 0x13;
    pub const GET_SECURITY_INFO: u8 = 0x14;
    pub const ERASE_FLASH: u8 = 0xD0;
    pub const ERASE_REGION: u8 = 0xD1;
    pub const READ_FLASH: u8 = 0xD2;
    pub const RUN_USER_CODE: u8 = 0xD3;
}

/// A name for statistics and messages.
pub fn name(code: u8) -> String {
    match code {
        op::FLASH_BEGIN => "FLASH_BEGIN",
        op::FLASH_DATA => "FLASH_DATA",
        op::FLASH_END => "FLASH_END",
        op::MEM_BEGIN => "MEM_BEGIN",
        op::MEM_END => "MEM_END",
        op::MEM_DATA => "MEM_DATA",
        op::SYNC => "SYNC",
        op::WRITE_REG => "WRITE_REG",
        op::READ_REG => "READ_REG",
        op::SPI_SET_PARAMS => "SPI_SET_PARAMS",
        op::SPI_ATTACH => "SPI_ATTACH",
        op::READ_FLASH_SLOW => "READ_FLASH_SLOW",
        op::CHANGE_BAUDRATE => "CHANGE_BAUDRATE",
        op::FLASH_DEFL_BEGIN => "FLASH_DEFL_BEGIN",
        op::FLASH_DEFL_DATA => "FLASH_DEFL_DATA",
        op::FLASH_DEFL_END => "FLASH_DEFL_END",
        op::SPI_FLASH_MD5 => "SPI_FLASH_MD5",
        op::GET_SECURITY_INFO => "GET_SECURITY_INFO",
        op::ERASE_FLASH => "ERASE_FLASH",
        op::ERASE_REGION => "ERASE_REGION",
        op::READ_FLASH => "READ_FLASH",
        op::RUN_USER_CODE => "RUN_USER_CODE",
        other => return format!("UNKNOWN_{other:#04x}"),
    }
    .to_string()
}

/// ROM loader error codes (second status byte, first is 1).
pub mod rom_err {
    pub const INVALID_PARAM: u8 = 0x01;
    pub const INVALID_MESSAGE: u8 = 0x05;
    pub const RESULT_WRONG: u8 = 0x06;
    pub const CHECKSUM: u8 = 0x07;
    pub const FLASH_WRITE: u8 = 0x08;
    pub const FLASH_READ: u8 = 0x09;
    pub const FLASH_READ_LEN: u8 = 0x0A;
    pub const DEFLATE: u8 = 0x0B;
}

/// Flasher stub response codes, sent big-endian in the two status bytes
/// (so the first status byte carries the 0xC? code).
pub mod stub_err {
    pub const BAD_DATA_LEN: u16 = 0xC000;
    pub const BAD_DATA_CHECKSUM: u16 = 0xC100;
    pub const BAD_BLOCKSIZE: u16 = 0xC200;
    pub const FAILED_SPI_OP: u16 = 0xC400;
    pub const NOT_IN_FLASH_MODE: u16 = 0xC600;
    pub const INFLATE_ERROR: u16 = 0xC700;
    pub const NOT_ENOUGH_DATA: u16 = 0xC800;
    pub const TOO_MUCH_DATA: u16 = 0xC900;
    pub const NOT_IMPLEMENTED: u16 = 0xFF00;
}

/// The XOR checksum of *_DATA payloads.
pub fn checksum(data: &[u8]) -> u8 {
    data.iter().fold(0xEF, |acc, b| acc ^ b)
}

/// A parsed request frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub op: u8,
    pub checksum: u32,
    pub data: Vec<u8>,
}

/// Why a frame is not a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than the 8-byte header, or direction byte is not 0.
    NotARequest,
    /// The size field disagrees with the payload length.
    SizeMismatch { op: u8 },
}

impl Request {
    pub fn parse(frame: &[u8]) -> Result<Self, ParseError> {
        if frame.len() < 8 || frame[0] != 0 {
            return Err(ParseError::NotARequest);
        }
        let op = frame[1];
        let size = u16::from_le_bytes([frame[2], frame[3]]) as usize;
        if size != frame.len() - 8 {
            return Err(ParseError::SizeMismatch { op });
        }
        Ok(Request {
            op,
            checksum: u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]),
            data: frame[8..].to_vec(),
        })
    }

    /// Little-endian word `i` of the payload, if present.
    pub fn word(&self, i: usize) -> Option<u32> {
        let b = self.data.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Build a request frame (used by the tests' client and documentation).
pub fn request(op: u8, data: &[u8], checksum: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + data.len());
    f.push(0);
    f.push(op);
    f.extend_from_slice(&(data.len() as u16).to_le_bytes());
    f.extend_from_slice(&checksum.to_le_bytes());
    f.extend_from_slice(data);
    f
}

/// Which loader is answering: it decides the status bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    Rom,
    Stub,
}

/// Outcome of a command: `Ok(payload)` or an error code in the loader's own
/// numbering (ROM: the error byte; stub: the 16-bit response code).
pub type Outcome = Result<Vec<u8>, u16>;

/// Build a response frame: header, payload, then the status bytes
/// (ROM: status, error, 0, 0; stub: the response code big-endian).
pub fn response(loader: Loader, op: u8, value: u32, outcome: &Outcome) -> Vec<u8> {
    let (payload, status): (&[u8], [u8; 2]) = match (outcome, loader) {
        (Ok(p), _) => (p.as_slice(), [0, 0]),
        (Err(code), Loader::Rom) => (&[], [1, *code as u8]),
        (Err(code), Loader::Stub) => (&[], code.to_be_bytes()),
    };
    let status_len = match loader {
        Loader::Rom => 4,
        Loader::Stub => 2,
    };
    let size = payload.len() + status_len;
    let mut f = Vec::with_capacity(8 + size);
    f.push(1);
    f.push(op);
    f.extend_from_slice(&(size as u16).to_le_bytes());
    f.extend_from_slice(&value.to_le_bytes());
    f.extend_from_slice(payload);
    f.extend_from_slice(&status);
    if loader == Loader::Rom {
        f.extend_from_slice(&[0, 0]);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rom_and_stub_status_lengths() {
        assert_eq!(
            response(Loader::Rom, op::READ_REG, 0x00F0_1D83, &Ok(vec![])),
            vec![1, 0x0A, 4, 0, 0x83, 0x1D, 0xF0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            response(Loader::Stub, op::ERASE_REGION, 0, &Err(stub_err::BAD_DATA_LEN)),
            vec![1, 0xD1, 2, 0, 0, 0, 0, 0, 0xC0, 0x00]
        );
        assert_eq!(
            response(Loader::Rom, op::GET_SECURITY_INFO, 0, &Err(rom_err::INVALID_MESSAGE as u16)),
            vec![1, 0x14, 4, 0, 0, 0, 0, 0, 1, 5, 0, 0]
        );
    }

    #[test]
    fn parse_checks_direction_and_size() {
        let f = request(op::READ_REG, &0x4000_1000u32.to_le_bytes(), 0);
        let r = Request::parse(&f).unwrap();
        assert_eq!((r.op, r.word(0)), (op::READ_REG, Some(0x4000_1000)));
        let mut bad = f.clone();
        bad[2] = 5;
        assert_eq!(Request::parse(&bad), Err(ParseError::SizeMismatch { op: op::READ_REG }));
        assert_eq!(Request::parse(&[1, 2, 3]), Err(ParseError::NotARequest));
    }

    #[test]
    fn checksum_seed() {
        assert_eq!(checksum(&[]), 0xEF);
        assert_eq!(checksum(&[0xEF, 0x01]), 0x01);
    }
}
