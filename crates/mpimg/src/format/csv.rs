//! ESP-IDF partition table CSV: read (what `gen_esp32part.py` accepts, and what
//! mp-image-tool-esp32's `--from-csv` accepts) and write (what both read back).
//!
//! Rows are `Name, Type, SubType, Offset, Size, Flags`; `#` starts a comment
//! (a whole line or the rest of one); Offset may be empty (placed after the
//! previous partition, aligned: 64 KB for apps, 4 KB otherwise); Size and
//! Offset take the size syntax (`0x6000`, `0X6000`, `24K`, `24k`, `1M`, `7B`);
//! Flags is empty, a number, or names joined by `:`.
//!
//! Input is taken as real files have it: a UTF-8 byte-order mark (Windows
//! editors write one; arduino-esp32 #8698), UTF-16 with a byte-order mark,
//! CRLF line ends, tabs and spaces around fields, upper- or lower-case names,
//! hex digits and suffixes, and empty fields after the sixth. Anything else is
//! refused with its line number and the reason.

use thiserror::Error;

use super::partition::{
    check_name, subtype_in_type, type_from_name, Partition, PartitionTable, APP_ALIGN, DATA_ALIGN, FIRST_PART_OFFSET,
    FLAG_ENCRYPTED, FLAG_READONLY, TYPE_APP, TYPE_DATA,
};
use super::size::{parse_int, parse_size};

/// Why a CSV file was refused, and where.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("CSV line {line}: {problem}")]
pub struct CsvError {
    /// 1-based line number, as an editor shows it.
    pub line: usize,
    /// What is wrong with that line (or the file's encoding).
    pub problem: String,
}

/// Parse an ESP-IDF partition CSV file's bytes: UTF-8 (with or without a
/// byte-order mark) or UTF-16 with a byte-order mark. Errors name the line.
pub fn parse_csv_bytes(bytes: &[u8]) -> Result<PartitionTable, CsvError> {
    parse_csv(&decode(bytes)?)
}

/// The text of a CSV file. A UTF-8 byte-order mark is dropped (else it would
/// become part of the first partition's name, and `nvs_flash_init` would find
/// no `nvs`); UTF-16 (what Windows editors call "Unicode") is decoded.
fn decode(bytes: &[u8]) -> Result<String, CsvError> {
    let utf16 = |be: bool| -> Result<String, CsvError> {
        let body = &bytes[2..];
        if !body.len().is_multiple_of(2) {
            return Err(CsvError {
                line: 1,
                problem: "UTF-16 text with an odd number of bytes: the file is cut short".into(),
            });
        }
        let units = body.chunks_exact(2).map(|c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| CsvError { line: 1, problem: "invalid UTF-16 text: save the file as UTF-8".into() })
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(rest),
        [0xFF, 0xFE, ..] => utf16(false),
        [0xFE, 0xFF, ..] => utf16(true),
        _ => utf8(bytes),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, CsvError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        CsvError { line, problem: "not UTF-8 text: save the file as UTF-8".into() }
    })
}

/// Parse an ESP-IDF partition CSV into entries (in file order, then sorted by offset).
pub fn parse_csv(text: &str) -> Result<PartitionTable, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries: Vec<Partition> = Vec::new();
    // Name and line of each entry, for errors that point at both rows.
    let mut rows: Vec<(String, usize)> = Vec::new();
    let mut next_offset = FIRST_PART_OFFSET;
    for (i, raw) in lines(text).enumerate() {
        let line = i + 1;
        let err = |problem: String| CsvError { line, problem };
        let row = raw.split('#').next().unwrap_or("").trim();
        if row.is_empty() {
            continue;
        }
        let mut fields: Vec<&str> = row.split(',').map(str::trim).collect();
        // Spreadsheets pad rows with empty fields ("nvs,data,nvs,,0x6000,,,").
        while fields.len() > 6 && fields.last() == Some(&"") {
            fields.pop();
        }
        if let Some(q) = fields.iter().find(|f| f.starts_with('"') || f.starts_with('\'')) {
            return Err(err(format!("quoted field {q}: write fields without quotes")));
        }
        if fields.len() < 5 || fields.len() > 6 {
            return Err(err(format!(
                "expected 'Name, Type, SubType, Offset, Size[, Flags]', found {} fields",
                fields.len()
            )));
        }
        let name = fields[0];
        check_name(name).map_err(|e| err(e.to_string()))?;
        let ptype = type_from_name(fields[1])
            .ok_or_else(|| err(format!("unknown partition type '{}': use app, data or a number", fields[1])))?;
        let subtype = match fields[2] {
            "" if ptype == TYPE_APP => {
                return Err(err("an app partition needs a subtype (factory, ota_0..ota_15, test)".into()))
            }
            "" if ptype == TYPE_DATA => 0x06, // ESP-IDF: empty data subtype means "undefined"
            "" => 0,
            s => subtype_in_type(ptype, s)
                .ok_or_else(|| err(format!("unknown subtype '{s}' for type '{}'", fields[1])))?,
        };
        let align = if ptype == TYPE_APP { APP_ALIGN } else { DATA_ALIGN };
        let offset = match fields[3] {
            "" => next_offset.checked_next_multiple_of(align).ok_or_else(|| {
                err(format!(
                    "no offset for '{name}' after the previous partition, which ends at {next_offset:#x}: give one"
                ))
            })?,
            s => u32_size(s).map_err(|m| err(format!("offset: {m}")))?,
        };
        let size = u32_size(fields[4]).map_err(|m| err(format!("size: {m}")))?;
        let flags = match fields.get(5).copied().unwrap_or("") {
            "" => 0,
            s => parse_flags(s).map_err(err)?,
        };
        if let Some(&(_, at)) = rows.iter().find(|(n, _)| n == name) {
            return Err(err(format!("partition '{name}' is already defined on line {at}")));
        }
        let new = Partition::new(name, ptype, subtype, offset, size, flags);
        if let Some((other, at)) = entries.iter().zip(&rows).find(|(p, _)| p.offset < new.end() && new.offset < p.end())
        {
            return Err(err(format!(
                "'{name}' ({offset:#x}..{:#x}) overlaps '{}' ({:#x}..{:#x}) from line {}",
                new.end(),
                other.name(),
                other.offset,
                other.end(),
                at.1
            )));
        }
        rows.push((name.to_string(), line));
        entries.push(new);
        next_offset = offset.saturating_add(size);
    }
    let mut table = PartitionTable { entries, had_md5: true };
    table.sort();
    Ok(table)
}

/// The lines of `text`, ended by LF, CRLF or a lone CR (classic Mac
/// editors), so line numbers in errors are the ones an editor shows.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match t.find(['\n', '\r']) {
            Some(i) => {
                let skip = if t[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&t[i + skip..]);
                Some(&t[..i])
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

fn u32_size(s: &str) -> Result<u32, String> {
    let v = parse_size(s).map_err(|e| e.to_string())?;
    u32::try_from(v).map_err(|_| format!("{s} is larger than 4 GB"))
}

fn parse_flags(s: &str) -> Result<u32, String> {
    if let Some(v) = parse_int(s) {
        return u32::try_from(v).map_err(|_| format!("flags value {s} is too large"));
    }
    let mut flags = 0;
    for f in s.split(':').map(str::trim) {
        flags |= match f.to_ascii_lowercase().as_str() {
            "encrypted" => FLAG_ENCRYPTED,
            "readonly" => FLAG_READONLY,
            other => return Err(format!("unknown flag '{other}': use encrypted, readonly or a number")),
        };
    }
    Ok(flags)
}

/// Write the table as ESP-IDF CSV (offsets and sizes in hex, flags by name).
pub fn to_csv(table: &PartitionTable) -> String {
    let mut out = String::from("# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n");
    for p in &table.entries {
        let flags = if p.flags & !(FLAG_ENCRYPTED | FLAG_READONLY) != 0 {
            format!("{:#x}", p.flags)
        } else {
            p.flag_names().join(":")
        };
        out.push_str(&format!(
            "{}, {}, {}, {:#x}, {:#x}, {}\n",
            p.name(),
            p.type_name(),
            p.subtype_name(),
            p.offset,
            p.size,
            flags
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_idf_syntax_with_empty_offsets_and_suffixes() {
        let csv = "# Name, Type, SubType, Offset, Size, Flags\n\
                   nvs,      data, nvs,     ,        0x6000,\n\
                   phy_init, data, phy,     ,        4K,\n\
                   factory,  app,  factory, ,        0x1F0000,\n\
                   vfs,      data, fat,     0x200000, 2M, readonly\n\
                   secret,   data, 0x40,    ,        1B, encrypted:readonly\n";
        let t = parse_csv(csv).unwrap();
        let got: Vec<(String, u8, u8, u32, u32, u32)> =
            t.entries.iter().map(|p| (p.name(), p.ptype, p.subtype, p.offset, p.size, p.flags)).collect();
        assert_eq!(
            got,
            vec![
                ("nvs".into(), 1, 2, 0x9000, 0x6000, 0),
                ("phy_init".into(), 1, 1, 0xf000, 0x1000, 0),
                ("factory".into(), 0, 0, 0x10000, 0x1f0000, 0),
                ("vfs".into(), 1, 0x81, 0x200000, 0x200000, 2),
                ("secret".into(), 1, 0x40, 0x400000, 0x1000, 3),
            ]
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let t = parse_csv("nvs, data, nvs, 0x9000, 0x6000,\nfactory, app, factory, 0x10000, 0x1f0000,\nx, data, 0x99, 0x200000, 0x1000, 0x10\n").unwrap();
        let text = to_csv(&t);
        assert_eq!(
            text,
            "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n\
             nvs, data, nvs, 0x9000, 0x6000, \nfactory, app, factory, 0x10000, 0x1f0000, \nx, data, 0x99, 0x200000, 0x1000, 0x10\n"
        );
        assert_eq!(parse_csv(&text).unwrap(), t);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("nvs, data, nvs\n", "CSV line 1: expected 'Name, Type, SubType, Offset, Size[, Flags]', found 3 fields"),
            ("\nnvs, disk, nvs, 0x9000, 0x6000\n", "CSV line 2: unknown partition type 'disk': use app, data or a number"),
            ("nvs, data, nvsx, 0x9000, 0x6000\n", "CSV line 1: unknown subtype 'nvsx' for type 'data'"),
            ("f, app, , 0x10000, 1M\n", "CSV line 1: an app partition needs a subtype (factory, ota_0..ota_15, test)"),
            ("nvs, data, nvs, 0x9000, lots\n", "CSV line 1: size: invalid size 'lots': use a decimal or hex number with an optional suffix K, KB, M, MB or B (4096-byte blocks), e.g. 8M, 0x1f0000, 1.5M, 7B"),
            ("nvs, data, nvs, 0x9000, 1K, shiny\n", "CSV line 1: unknown flag 'shiny': use encrypted, readonly or a number"),
            ("a_very_long_name_x, data, nvs, 0x9000, 1K\n", "CSV line 1: invalid partition name 'a_very_long_name_x': use 1 to 15 bytes, without ',', ':' or '='"),
        ];
        for (csv, want) in cases {
            assert_eq!(parse_csv(csv).unwrap_err().to_string(), want);
        }
    }

    /// The entries of a table as (name, type, subtype, offset, size, flags).
    fn rows(t: &PartitionTable) -> Vec<(String, u8, u8, u32, u32, u32)> {
        t.entries.iter().map(|p| (p.name(), p.ptype, p.subtype, p.offset, p.size, p.flags)).collect()
    }

    /// What real CSV files contain, one case per row: each loads exactly the
    /// table of the clean file, or is refused with its exact error.
    #[test]
    fn accepts_what_real_files_contain() {
        let clean = "nvs, data, nvs, 0x9000, 0x6000,\nfactory, app, factory, 0x10000, 0x1F0000,\nvfs, data, fat, 0x200000, 0x200000, readonly\n";
        let want = rows(&parse_csv(clean).unwrap());
        assert_eq!(
            want,
            vec![
                ("nvs".into(), 1, 2, 0x9000, 0x6000, 0),
                ("factory".into(), 0, 0, 0x10000, 0x1f0000, 0),
                ("vfs".into(), 1, 0x81, 0x200000, 0x200000, 2),
            ]
        );
        let utf16 = |be: bool| -> Vec<u8> {
            let mut v = if be { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
            for u in clean.encode_utf16() {
                v.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
            }
            v
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("UTF-8 byte-order mark", [b"\xEF\xBB\xBF".as_slice(), clean.as_bytes()].concat()),
            ("UTF-16 LE with BOM", utf16(false)),
            ("UTF-16 BE with BOM", utf16(true)),
            ("CRLF line ends", clean.replace('\n', "\r\n").into_bytes()),
            ("CR line ends", clean.replace('\n', "\r").into_bytes()),
            ("tabs and spaces", b"nvs,\tdata ,\t nvs,0x9000\t,  0x6000\t,\t\nfactory,app,factory,0x10000,0x1F0000\n  vfs , data , fat , 0x200000 , 0x200000 , readonly  \n".to_vec()),
            ("comments at line ends", b"# Name, Type, SubType, Offset, Size, Flags\nnvs, data, nvs, 0x9000, 0x6000, # settings\nfactory, app, factory, 0x10000, 0x1F0000 #app\nvfs, data, fat, 0x200000, 0x200000, readonly # files\n".to_vec()),
            ("empty trailing fields", b"nvs, data, nvs, 0x9000, 0x6000,,,\nfactory, app, factory, 0x10000, 0x1F0000,, ,\nvfs, data, fat, 0x200000, 0x200000, readonly,\n".to_vec()),
            ("upper- and lower-case", b"nvs, DATA, NVS, 0X9000, 24k\nfactory, App, Factory, 0x10000, 0x1f0000\nvfs, Data, FAT, 0x200000, 2m, READONLY\n".to_vec()),
            ("no final line end, blank lines", b"\n\nnvs, data, nvs, 0x9000, 0x6000\n\n\nfactory, app, factory, 0x10000, 0x1F0000\nvfs, data, fat, 0x200000, 2M, readonly".to_vec()),
        ];
        for (what, bytes) in cases {
            match parse_csv_bytes(&bytes) {
                Ok(t) => assert_eq!(rows(&t), want, "{what}"),
                Err(e) => panic!("{what}: {e}"),
            }
        }
    }

    #[test]
    fn refuses_the_rest_with_line_and_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"nvs, data, nvs, 0x9000, 0x6000\n\"vfs\", data, fat, 0x200000, 2M\n", "CSV line 2: quoted field \"vfs\": write fields without quotes"),
            (b"nvs, data, nvs, 0x9000, 0x6000\nvfs, data, fat, 0x200000, 2M\nnvs, data, nvs, 0xf000, 0x1000\n", "CSV line 3: partition 'nvs' is already defined on line 1"),
            (b"nvs, data, nvs, 0x9000, 0x6000\n\nphy, data, phy, 0xe000, 0x1000\n", "CSV line 3: 'phy' (0xe000..0xf000) overlaps 'nvs' (0x9000..0xf000) from line 1"),
            (b"nvs, data, nvs, 0x9000, 0x6000, x, y\n", "CSV line 1: expected 'Name, Type, SubType, Offset, Size[, Flags]', found 7 fields"),
            (b"nvs; data; nvs; 0x9000; 0x6000\n", "CSV line 1: expected 'Name, Type, SubType, Offset, Size[, Flags]', found 1 fields"),
            (b"# caf\xe9\nnvs, data, nvs, 0x9000, 0x6000\n", "CSV line 1: not UTF-8 text: save the file as UTF-8"),
            (b"nvs, data, nvs, 0x9000, 0x6000\nvfs, data, fat, 0x200000, 2\xA0M\n", "CSV line 2: not UTF-8 text: save the file as UTF-8"),
            (b"\xFF\xFEn\x00v", "CSV line 1: UTF-16 text with an odd number of bytes: the file is cut short"),
            (b"\xFF\xFE\x00\xD8n\x00", "CSV line 1: invalid UTF-16 text: save the file as UTF-8"),
            (b"nvs, data, nvs, 0x9000, 0x6000 bytes\n", "CSV line 1: size: invalid size '0x6000 bytes': use a decimal or hex number with an optional suffix K, KB, M, MB or B (4096-byte blocks), e.g. 8M, 0x1f0000, 1.5M, 7B"),
            // Found while fuzzing: an empty offset after a partition that ends at
            // the top of the 4 GB range overflowed when aligned.
            (b"nvs, data, nvs, 0xFFFFF000, 0x1000\nfactory, app, factory, , 0x1000\n", "CSV line 2: no offset for 'factory' after the previous partition, which ends at 0xffffffff: give one"),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse_csv_bytes(bytes).unwrap_err().to_string(), *want, "{}", String::from_utf8_lossy(bytes));
        }
    }
}
