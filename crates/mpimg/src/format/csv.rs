//! ESP-IDF partition table CSV: read (what `gen_esp32part.py` accepts, and what
//! mp-image-tool-esp32's `--from-csv` accepts) and write (what both read back).
//!
//! Rows are `Name, Type, SubType, Offset, Size, Flags`; `#` starts a comment
//! line; Offset may be empty (placed after the previous partition, aligned:
//! 64 KB for apps, 4 KB otherwise); Size and Offset take our size syntax
//! (`0x6000`, `24K`, `1M`, `7B`); Flags is empty, a number, or names joined by `:`.

use thiserror::Error;

use super::partition::{
    check_name, subtype_in_type, type_from_name, Partition, PartitionTable, APP_ALIGN, DATA_ALIGN, FIRST_PART_OFFSET,
    FLAG_ENCRYPTED, FLAG_READONLY, TYPE_APP, TYPE_DATA,
};
use super::size::{parse_int, parse_size};

#[derive(Debug, Error, PartialEq, Eq)]
#[error("CSV line {line}: {problem}")]
pub struct CsvError {
    pub line: usize,
    pub problem: String,
}

/// Parse an ESP-IDF partition CSV into entries (in file order, then sorted by offset).
pub fn parse_csv(text: &str) -> Result<PartitionTable, CsvError> {
    let mut entries: Vec<Partition> = Vec::new();
    let mut next_offset = FIRST_PART_OFFSET;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |problem: String| CsvError { line, problem };
        let row = raw.trim();
        if row.is_empty() || row.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
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
            "" if ptype == TYPE_APP => return Err(err("an app partition needs a subtype (factory, ota_0..ota_15, test)".into())),
            "" if ptype == TYPE_DATA => 0x06, // ESP-IDF: empty data subtype means "undefined"
            "" => 0,
            s => subtype_in_type(ptype, s)
                .ok_or_else(|| err(format!("unknown subtype '{s}' for type '{}'", fields[1])))?,
        };
        let align = if ptype == TYPE_APP { APP_ALIGN } else { DATA_ALIGN };
        let offset = match fields[3] {
            "" => crate::flash::align_up(next_offset, align),
            s => u32_size(s).map_err(|m| err(format!("offset: {m}")))?,
        };
        let size = u32_size(fields[4]).map_err(|m| err(format!("size: {m}")))?;
        let flags = match fields.get(5).copied().unwrap_or("") {
            "" => 0,
            s => parse_flags(s).map_err(err)?,
        };
        entries.push(Partition::new(name, ptype, subtype, offset, size, flags));
        next_offset = offset.saturating_add(size);
    }
    let mut table = PartitionTable { entries, had_md5: true };
    table.sort();
    Ok(table)
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
        flags |= match f {
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
}
