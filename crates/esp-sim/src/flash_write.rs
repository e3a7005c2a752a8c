//! A FLASH_BEGIN / FLASH_DEFL_BEGIN .. *_DATA .. *_END download, as the two
//! loaders run it:
//! - the ROM erases the whole announced range at BEGIN and places each plain
//!   block at `offset + seq * block_size`;
//! - the stub erases just in time, sector by sector, right before it
//!   programs into a sector, and writes the stream sequentially (so a
//!   transfer cut short leaves later sectors as they were).
//!
//! Compressed downloads carry one zlib stream split across the data blocks.

use flate2::{Decompress, FlushDecompress, Status};

use crate::command::{checksum, rom_err, stub_err, Loader, Request};
use crate::nor::{NorError, NorFlash, SECTOR};

#[derive(Debug)]
pub struct WriteSession {
    loader: Loader,
    offset: u32,
    block_size: u32,
    /// Stub: exact number of (uncompressed) bytes to write.
    total: u32,
    /// Bytes of the stream written so far.
    written: u32,
    /// Stub: everything below this address has been erased this session.
    erased_to: u32,
    inflate: Option<Decompress>,
}

fn err(loader: Loader, rom: u8, stub: u16) -> u16 {
    match loader {
        Loader::Rom => u16::from(rom),
        Loader::Stub => stub,
    }
}

/// The code for a failed erase or program: an unpowered flash is a flash
/// write error to the ROM, a range error an invalid parameter.
fn write_err(loader: Loader, e: &NorError) -> u16 {
    let rom = if matches!(e, NorError::Unpowered) { rom_err::FLASH_WRITE } else { rom_err::INVALID_PARAM };
    err(loader, rom, stub_err::FAILED_SPI_OP)
}

impl WriteSession {
    /// Handle *_BEGIN: words are size, block count, block size, offset
    /// (and an optional encryption flag the ROMs after ESP32 and the stub accept).
    pub fn begin(loader: Loader, compressed: bool, req: &Request, flash: &mut NorFlash) -> Result<Self, u16> {
        let len_ok = req.data.len() == 16 || req.data.len() == 20;
        let (Some(size), Some(_blocks), Some(block_size), Some(offset), true) =
            (req.word(0), req.word(1), req.word(2), req.word(3), len_ok)
        else {
            return Err(err(loader, rom_err::INVALID_MESSAGE, stub_err::BAD_DATA_LEN));
        };
        if loader == Loader::Stub && block_size > 0x4000 {
            return Err(stub_err::BAD_BLOCKSIZE);
        }
        if u64::from(offset) + u64::from(size) > u64::from(flash.size()) {
            return Err(err(loader, rom_err::INVALID_PARAM, stub_err::FAILED_SPI_OP));
        }
        if loader == Loader::Rom {
            flash.erase_covering(offset, size).map_err(|e| write_err(loader, &e))?;
        }
        Ok(WriteSession {
            loader,
            offset,
            block_size,
            total: size,
            written: 0,
            erased_to: offset / SECTOR * SECTOR,
            inflate: compressed.then(|| Decompress::new(true)),
        })
    }

    pub fn is_compressed(&self) -> bool {
        self.inflate.is_some()
    }

    /// Handle *_DATA: 16-byte header (length, sequence, 0, 0) then the data.
    pub fn data(&mut self, req: &Request, flash: &mut NorFlash) -> Result<(), u16> {
        let loader = self.loader;
        let (Some(len), Some(seq)) = (req.word(0), req.word(1)) else {
            return Err(err(loader, rom_err::INVALID_MESSAGE, stub_err::NOT_ENOUGH_DATA));
        };
        let payload = &req.data[16.min(req.data.len())..];
        if payload.len() as u32 != len {
            return Err(err(loader, rom_err::INVALID_MESSAGE, stub_err::TOO_MUCH_DATA));
        }
        if u32::from(checksum(payload)) != req.checksum & 0xFF {
            return Err(err(loader, rom_err::CHECKSUM, stub_err::BAD_DATA_CHECKSUM));
        }
        if self.inflate.is_some() {
            let out = self.inflate_block(payload)?;
            return self.program_stream(&out, flash);
        }
        match loader {
            Loader::Rom => {
                let at = u64::from(self.offset) + u64::from(seq) * u64::from(self.block_size);
                let at = u32::try_from(at).map_err(|_| u16::from(rom_err::INVALID_PARAM))?;
                flash.program(at, payload).map_err(|e| write_err(loader, &e))?;
                self.written = self.written.saturating_add(len);
                Ok(())
            }
            // The stub writes the announced byte count and ignores the 0xFF
            // padding of the last block.
            Loader::Stub => {
                let keep = (self.total - self.written).min(len) as usize;
                self.program_stream(&payload[..keep], flash)
            }
        }
    }

    fn inflate_block(&mut self, input: &[u8]) -> Result<Vec<u8>, u16> {
        let loader = self.loader;
        let Some(z) = self.inflate.as_mut() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(input.len() * 4);
        let mut consumed = 0usize;
        loop {
            if out.capacity() - out.len() < 0x4000 {
                out.reserve(0x10000);
            }
            let before_in = z.total_in();
            let before_out = z.total_out();
            let status = z
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::None)
                .map_err(|_| err(loader, rom_err::DEFLATE, stub_err::INFLATE_ERROR))?;
            consumed += (z.total_in() - before_in) as usize;
            let progressed = z.total_in() != before_in || z.total_out() != before_out;
            if status == Status::StreamEnd || (consumed == input.len() && out.len() < out.capacity()) || !progressed {
                break;
            }
        }
        Ok(out)
    }

    /// Write decompressed or stub data at the stream position.
    fn program_stream(&mut self, bytes: &[u8], flash: &mut NorFlash) -> Result<(), u16> {
        let loader = self.loader;
        if bytes.is_empty() {
            return Ok(());
        }
        let n = bytes.len() as u32;
        if loader == Loader::Stub && self.written + n > self.total {
            return Err(stub_err::TOO_MUCH_DATA);
        }
        let at = self.offset + self.written;
        if u64::from(at) + u64::from(n) > u64::from(flash.size()) {
            return Err(err(loader, rom_err::INVALID_PARAM, stub_err::FAILED_SPI_OP));
        }
        if loader == Loader::Stub {
            while self.erased_to < at + n {
                flash.erase(self.erased_to, SECTOR).map_err(|_| stub_err::FAILED_SPI_OP)?;
                self.erased_to += SECTOR;
            }
        }
        flash.program(at, bytes).map_err(|e| write_err(loader, &e))?;
        self.written += n;
        Ok(())
    }
}
