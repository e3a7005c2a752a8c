//! How long the chip itself works on a command, where that is long enough
//! to matter next to the wire.
//!
//! SPI_FLASH_MD5: the flasher stub reads the region from SPI flash and hashes
//! it in software before it answers, so the reply to an MD5 of a megabyte
//! comes a good while after the request. esp-sim models 2 MB per second
//! (0.5 s per MB), for the stub and the ROM alike. Where the figure comes
//! from: esptool and espflash both allow 8 s per MB before they give up on
//! an MD5 (`MD5_TIMEOUT_PER_MB`), a bound with wide slack for the ROM
//! loader; one report timing esptool's stub on an ESP32-S3 puts the MD5s of
//! 2.4 MB at about 1 s (github.com/FastLED/fbuild issue 66), i.e. ~2.4 MB/s,
//! about the rate the ROM's SPI flash read reaches in the loader's
//! slow-read mode. 2 MB/s is a little slower than that report, so a client
//! that relies on MD5s is not flattered.
//!
//! Nothing else is modelled: reads stream faster from flash than the UART
//! carries them, and erase and program times (tens of milliseconds per
//! sector on real NOR flash) are not charged.

use std::time::Duration;

/// Bytes per second the chip reads and hashes for SPI_FLASH_MD5.
pub const MD5_BYTES_PER_SECOND: f64 = 2.0e6;

/// How long the chip takes to answer an MD5 of `len` bytes.
pub fn md5_time(len: u32) -> Duration {
    Duration::from_secs_f64(f64::from(len) / MD5_BYTES_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_megabyte_takes_half_a_second() {
        assert_eq!(md5_time(1_000_000), Duration::from_millis(500));
        assert_eq!(md5_time(0), Duration::ZERO);
    }
}
