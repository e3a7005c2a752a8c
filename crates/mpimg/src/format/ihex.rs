//! Intel HEX: flash contents as text records at real flash addresses.
//!
//! Each line is one record, `:LLAAAATT<data>CC` in hex: LL data bytes at the
//! 16-bit offset AAAA, record type TT, and a checksum CC that makes the sum of
//! all the record's bytes 0 (mod 256). Types: 00 data, 01 end of file, 02
//! extended segment address (base = value × 16), 03 start segment address,
//! 04 extended linear address (base = value × 65536), 05 start linear address.
//! (Intel's "Hexadecimal Object File Format Specification", rev. A, 1988.)
//!
//! [`write`] lays records out as the PyPI `intelhex` package does (which
//! esptool's `merge-bin --format hex` uses): 16 data bytes per record, a type
//! 04 record before the first one and wherever the upper 16 address bits
//! change (none when every address is below 64 KB), upper-case hex, `\n`
//! line ends, and the end-of-file record. So for the same regions both write
//! the same text. [`read`] takes any valid file.

use thiserror::Error;

use super::regions::Region;

const DATA: u8 = 0x00;
const EOF: u8 = 0x01;
const SEGMENT: u8 = 0x02;
const START_SEGMENT: u8 = 0x03;
const LINEAR: u8 = 0x04;
const START_LINEAR: u8 = 0x05;

/// Data bytes per record, as `intelhex` writes them.
const RECORD_LEN: usize = 16;

/// Why a HEX file could not be read; `line` counts from 1.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum HexError {
    /// A line that is not a record.
    #[error("Intel HEX line {line}: a record starts with ':', found '{found}'")]
    NoColon {
        /// Line number (from 1).
        line: usize,
        /// The line's first characters.
        found: String,
    },
    /// A record that is not pairs of hex digits (or shorter than 5 bytes).
    #[error("Intel HEX line {line}: not a record of hex digit pairs")]
    NotHex {
        /// Line number (from 1).
        line: usize,
    },
    /// A byte count that does not match the record.
    #[error("Intel HEX line {line}: the record says {declared} data bytes but holds {actual}")]
    BadLength {
        /// Line number (from 1).
        line: usize,
        /// The count the record gives.
        declared: usize,
        /// The data bytes it holds.
        actual: usize,
    },
    /// A record whose bytes do not add up to 0.
    #[error(
        "Intel HEX line {line}: checksum {found:#04x} is wrong, the record needs {want:#04x}: the file is damaged"
    )]
    Checksum {
        /// Line number (from 1).
        line: usize,
        /// The checksum in the record.
        found: u8,
        /// The checksum its bytes need.
        want: u8,
    },
    /// A record type other than 00 to 05.
    #[error("Intel HEX line {line}: unknown record type {kind:#04x} (known: 00 to 05)")]
    UnknownType {
        /// Line number (from 1).
        line: usize,
        /// The type.
        kind: u8,
    },
    /// An address or end-of-file record of the wrong length.
    #[error("Intel HEX line {line}: a type {kind:#04x} record must hold {want} bytes, not {len}")]
    BadRecord {
        /// Line number (from 1).
        line: usize,
        /// The type.
        kind: u8,
        /// The length the type has.
        want: usize,
        /// The length given.
        len: usize,
    },
    /// Data for an address that another record gave already.
    #[error("Intel HEX line {line}: data at {addr:#x} overlaps data of line {other}")]
    Overlap {
        /// Line number (from 1).
        line: usize,
        /// The record's address.
        addr: u64,
        /// The line of the record it overlaps.
        other: usize,
    },
    /// Data beyond 32-bit addresses.
    #[error("Intel HEX line {line}: data at {addr:#x} lies past 4 GB")]
    PastEnd {
        /// Line number (from 1).
        line: usize,
        /// The record's address.
        addr: u64,
    },
    /// Records after the end of file.
    #[error("Intel HEX line {line}: a record after the end-of-file record")]
    AfterEnd {
        /// Line number (from 1).
        line: usize,
    },
    /// No end-of-file record.
    #[error("Intel HEX: no end-of-file record (:00000001FF): the file is truncated")]
    NoEnd,
}

fn record(out: &mut String, kind: u8, offset: u16, data: &[u8]) {
    let mut bytes = Vec::with_capacity(5 + data.len());
    bytes.push(data.len() as u8);
    bytes.extend_from_slice(&offset.to_be_bytes());
    bytes.push(kind);
    bytes.extend_from_slice(data);
    let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    bytes.push(sum.wrapping_neg());
    out.push(':');
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
    out.push('\n');
}

const DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// The HEX text of `regions` (sorted, not overlapping, as
/// [`super::regions::merge`] leaves them), laid out as the module doc says.
pub fn write(regions: &[Region]) -> String {
    let top = regions.iter().map(|r| r.end()).max().unwrap_or(0);
    let linear = top > 0x1_0000;
    let mut out = String::with_capacity(regions.iter().map(|r| r.data.len()).sum::<usize>() * 45 / RECORD_LEN + 64);
    let mut upper: Option<u32> = None;
    for r in regions {
        let mut at = 0usize;
        while at < r.data.len() {
            let addr = r.addr + at as u32;
            if linear && upper != Some(addr >> 16) {
                record(&mut out, LINEAR, 0, &((addr >> 16) as u16).to_be_bytes());
                upper = Some(addr >> 16);
            }
            let to_boundary = 0x1_0000 - (addr & 0xFFFF) as usize;
            let n = RECORD_LEN.min(to_boundary).min(r.data.len() - at);
            record(&mut out, DATA, addr as u16, &r.data[at..at + n]);
            at += n;
        }
    }
    record(&mut out, EOF, 0, &[]);
    out
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let t = text.as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    t.chunks_exact(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// Data records of a file: (flash address, bytes, line).
type Records = Vec<(u64, Vec<u8>, usize)>;

fn records(text: &str) -> Result<Records, HexError> {
    let mut base = 0u64;
    let mut out = Vec::new();
    let mut ended = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        if ended {
            return Err(HexError::AfterEnd { line });
        }
        let Some(body) = t.strip_prefix(':') else {
            return Err(HexError::NoColon { line, found: t.chars().take(12).collect() });
        };
        let b = hex_bytes(body).filter(|b| b.len() >= 5).ok_or(HexError::NotHex { line })?;
        let declared = usize::from(b[0]);
        if b.len() != declared + 5 {
            return Err(HexError::BadLength { line, declared, actual: b.len().saturating_sub(5) });
        }
        let sum = b[..b.len() - 1].iter().fold(0u8, |s, &x| s.wrapping_add(x));
        if sum.wrapping_add(b[b.len() - 1]) != 0 {
            return Err(HexError::Checksum { line, found: b[b.len() - 1], want: sum.wrapping_neg() });
        }
        let (offset, kind, data) = (u16::from_be_bytes([b[1], b[2]]), b[3], &b[4..b.len() - 1]);
        let fixed = |want: usize| {
            if data.len() == want {
                Ok(())
            } else {
                Err(HexError::BadRecord { line, kind, want, len: data.len() })
            }
        };
        match kind {
            DATA => {
                let addr = base + u64::from(offset);
                if addr + data.len() as u64 > 1 << 32 {
                    return Err(HexError::PastEnd { line, addr });
                }
                if !data.is_empty() {
                    out.push((addr, data.to_vec(), line));
                }
            }
            EOF => {
                fixed(0)?;
                ended = true;
            }
            SEGMENT => {
                fixed(2)?;
                base = u64::from(u16::from_be_bytes([data[0], data[1]])) << 4;
            }
            LINEAR => {
                fixed(2)?;
                base = u64::from(u16::from_be_bytes([data[0], data[1]])) << 16;
            }
            START_SEGMENT | START_LINEAR => fixed(4)?,
            _ => return Err(HexError::UnknownType { line, kind }),
        }
    }
    if !ended {
        return Err(HexError::NoEnd);
    }
    Ok(out)
}

/// The regions an Intel HEX file holds, sorted and joined where they touch.
/// Start address records (03, 05) are accepted and ignored (ESP chips boot
/// from the image header, not from them).
///
/// # Errors
/// [`HexError`] with the line: a malformed record, a wrong checksum, an
/// unknown type, data given twice for an address, no end-of-file record.
pub fn read(text: &str) -> Result<Vec<Region>, HexError> {
    let mut recs = records(text)?;
    recs.sort_by_key(|r| r.0);
    let mut out: Vec<Region> = Vec::new();
    let mut prev: Option<(u64, usize)> = None; // end and line of the previous record
    for (addr, data, line) in recs {
        match prev {
            Some((end, other)) if addr < end => return Err(HexError::Overlap { line, addr, other }),
            Some((end, _)) if addr == end => {
                if let Some(last) = out.last_mut() {
                    last.data.extend_from_slice(&data);
                }
            }
            _ => out.push(Region { addr: addr as u32, data: data.clone() }),
        }
        prev = Some((addr + data.len() as u64, line));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(addr: u32, data: Vec<u8>) -> Region {
        Region { addr, data }
    }

    #[test]
    fn writes_records_as_intelhex_lays_them_out() {
        // Expected text as intelhex 2.3's write_hex_file gives it for the same data.
        let data: Vec<u8> = (0..20).collect();
        assert_eq!(
            write(&[r(0xFFF8, data), r(0x2_0000, vec![0xAA])]),
            ":020000040000FA\n\
             :08FFF8000001020304050607E5\n\
             :020000040001F9\n\
             :0C00000008090A0B0C0D0E0F1011121352\n\
             :020000040002F8\n\
             :01000000AA55\n\
             :00000001FF\n"
        );
        // Below 64 KB no address records at all.
        assert_eq!(write(&[r(0x10, vec![1, 2])]), ":020010000102EB\n:00000001FF\n");
        assert_eq!(write(&[]), ":00000001FF\n");
    }

    #[test]
    fn reads_back_what_it_writes() {
        let a: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let regions = vec![r(0x1000, a.clone()), r(0x8000, vec![0xAA, 0x50]), r(0x1_FFF0, a)];
        assert_eq!(read(&write(&regions)).unwrap(), regions);
    }

    #[test]
    fn reads_any_valid_layout() {
        // Segment addressing, records out of order and touching, start
        // records, lower-case digits, CRLF, and a blank last line.
        let text = ":020000021000EC\r\n:020002000304f5\r\n:020000000102FB\r\n:0400000300001000E9\n\
                    :0400000500001000E7\n:020000040000FA\n:010000009966\n:00000001FF\n\n";
        assert_eq!(read(text).unwrap(), vec![r(0, vec![0x99]), r(0x1_0000, vec![1, 2, 3, 4])]);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("0100000000FF\n", "Intel HEX line 1: a record starts with ':', found '0100000000FF'"),
            (":00000001FF\n:01000000", "Intel HEX line 2: a record after the end-of-file record"),
            (":0100000G00FF\n", "Intel HEX line 1: not a record of hex digit pairs"),
            (":02000000FE\n", "Intel HEX line 1: the record says 2 data bytes but holds 0"),
            (":0100000055AB\n", "Intel HEX line 1: checksum 0xab is wrong, the record needs 0xaa: the file is damaged"),
            (":00000006FA\n", "Intel HEX line 1: unknown record type 0x06 (known: 00 to 05)"),
            (":0100000400FB\n", "Intel HEX line 1: a type 0x04 record must hold 2 bytes, not 1"),
            (":0100000055AA\n:020000000155A8\n:00000001FF\n", "Intel HEX line 2: data at 0x0 overlaps data of line 1"),
            (":02000004FFFFFC\n:02FFFF000102FD\n:00000001FF\n", "Intel HEX line 2: data at 0xffffffff lies past 4 GB"),
            (":0100000055AA\n", "Intel HEX: no end-of-file record (:00000001FF): the file is truncated"),
        ];
        for (text, want) in cases {
            assert_eq!(read(text).unwrap_err().to_string(), want, "{text:?}");
        }
    }
}
