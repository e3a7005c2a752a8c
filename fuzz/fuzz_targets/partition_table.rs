//! The binary partition table: parse, check against every flash size, the
//! views and names shown, and the round trips through bytes and CSV.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::format::csv::{parse_csv, to_csv};
use mpimg::format::image::FLASH_SIZES;
use mpimg::format::partition::{PartitionTable, PartitionView};

fuzz_target!(|data: &[u8]| {
    let Ok(table) = PartitionTable::parse(data) else { return };
    for size in FLASH_SIZES {
        let _ = table.check(size);
    }
    let _: Vec<PartitionView> = table.entries.iter().map(PartitionView::from).collect();
    let _ = (table.first_app(), table.end());
    if let Some(p) = table.entries.first() {
        let _ = (table.find(&p.name()), p.ota_index(), p.is_filesystem());
    }
    if let Ok(bytes) = table.to_bytes() {
        let again = PartitionTable::parse(&bytes).expect("a table written by to_bytes parses");
        assert_eq!(again.entries, table.entries);
    }
    let _ = parse_csv(&to_csv(&table));
});
