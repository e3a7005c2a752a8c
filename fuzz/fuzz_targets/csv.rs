//! The partition table CSV reader (`--from-csv`), and what it builds written
//! back as CSV and as a table sector.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::format::csv::{parse_csv, parse_csv_bytes, to_csv};

fuzz_target!(|data: &[u8]| {
    let Ok(table) = parse_csv_bytes(data) else { return };
    let _ = table.check(16 << 20);
    let _ = table.to_bytes();
    let _ = parse_csv(&to_csv(&table));
});
