//! The SPI flash chip as seen through the SPI controller's "user command"
//! registers: clients write the command byte, bit lengths and W0.., set the
//! USR bit in SPI_CMD, poll it clear, and read the answer from W0. We answer
//! RDID (JEDEC id whose capacity byte matches the flash size), RDSFDP (a
//! minimal JEDEC SFDP table) and the status/enable commands.

use crate::chip::SpiRegs;

/// The bit in SPI_CMD that starts a user command (clears when done).
pub const SPI_CMD_USR: u32 = 1 << 18;
const USR_MISO: u32 = 1 << 28;
const USR_ADDR: u32 = 1 << 30;

/// Manufacturer and memory type reported by RDID (a Winbond-style quad NOR).
pub const JEDEC_MANUFACTURER: u8 = 0xEF;
pub const JEDEC_MEMORY_TYPE: u8 = 0x40;

/// JEDEC capacity byte: log2 of the size in bytes.
pub fn capacity_byte(flash_size: u32) -> u8 {
    flash_size.trailing_zeros() as u8
}

/// The 24-bit RDID answer as it lands in W0 (first byte lowest).
pub fn jedec_id(flash_size: u32) -> u32 {
    u32::from(JEDEC_MANUFACTURER) | u32::from(JEDEC_MEMORY_TYPE) << 8 | u32::from(capacity_byte(flash_size)) << 16
}

/// A minimal SFDP space: header with one parameter header pointing at a
/// basic flash parameter table whose second word is the density in bits - 1.
pub fn sfdp_table(flash_size: u32) -> Vec<u8> {
    let mut t = vec![0xFF; 0x70];
    t[0..4].copy_from_slice(b"SFDP");
    t[4] = 0x06; // minor revision
    t[5] = 0x01; // major revision
    t[6] = 0x00; // number of parameter headers - 1
    t[7] = 0xFF; // access protocol
                 // Parameter header 0: JEDEC basic table, 16 dwords at 0x30.
    t[8..16].copy_from_slice(&[0x00, 0x06, 0x01, 0x10, 0x30, 0x00, 0x00, 0xFF]);
    let mut bfpt = [0u8; 64];
    bfpt[0..4].copy_from_slice(&0xFFF1_20E5u32.to_le_bytes());
    let bits = u64::from(flash_size) * 8 - 1;
    bfpt[4..8].copy_from_slice(&(bits as u32).to_le_bytes());
    t[0x30..0x70].copy_from_slice(&bfpt);
    t
}

/// Register values the command reads, gathered by the register file.
pub struct UserCommand {
    pub usr: u32,
    pub usr1: u32,
    pub usr2: u32,
    pub miso_dlen: u32,
    pub addr: u32,
}

/// Run one user command; returns the value for W0 when the command reads.
/// An unpowered flash drives nothing: the data line reads all ones.
pub fn execute(spi: &SpiRegs, c: &UserCommand, flash_size: u32, powered: bool) -> Option<u32> {
    let command = (c.usr2 & 0xFFFF) as u8;
    if c.usr & USR_MISO == 0 {
        return None;
    }
    let read_bits = (c.miso_dlen & 0x3FF) + 1;
    let addr_len = if c.usr & USR_ADDR != 0 { ((c.usr1 >> 26) & 0x3F) + 1 } else { 0 };
    let addr = if spi.addr_msb && addr_len > 0 && addr_len < 32 { c.addr >> (32 - addr_len) } else { c.addr };
    let full = match command {
        _ if !powered => u32::MAX,
        0x9F => jedec_id(flash_size),
        0x5A => {
            let t = sfdp_table(flash_size);
            let mut b = [0xFFu8; 4];
            for (i, slot) in b.iter_mut().enumerate() {
                if let Some(v) = t.get(addr as usize + i) {
                    *slot = *v;
                }
            }
            u32::from_le_bytes(b)
        }
        // Status registers: not busy, no protection bits.
        0x05 | 0x35 | 0x15 => 0,
        _ => 0,
    };
    let mask = if read_bits >= 32 { u32::MAX } else { (1u32 << read_bits) - 1 };
    Some(full & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_matches_size() {
        assert_eq!(jedec_id(8 << 20), 0x17_40EF);
        assert_eq!(jedec_id(4 << 20), 0x16_40EF);
    }

    #[test]
    fn sfdp_density() {
        let t = sfdp_table(4 << 20);
        assert_eq!(&t[0..4], b"SFDP");
        assert_eq!(u32::from_le_bytes(t[0x34..0x38].try_into().unwrap()), (4 << 23) - 1);
    }
}
