//! The size syntax of the command line (`8M`, `0x1f0000`, `1.5M`, `7B`),
//! integer literals, and the sizes mpimg prints.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::format::size::{flash_label, human, parse_int, parse_size};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(n) = parse_size(text) {
        let _ = human(n);
        // A flash size as mpimg prints it reads back as the same size. Only
        // whole KB: the hex fallback (`0x2b`) can end in a `b` that the
        // Python tool's syntax takes for blocks, and no flash is that size.
        if let Some(n32) = u32::try_from(n).ok().filter(|n| n.is_multiple_of(1024)) {
            assert_eq!(parse_size(&flash_label(n32)), Ok(n), "{text:?}");
        }
    }
    if let Some(n) = parse_int(text) {
        assert_eq!(parse_size(&n.to_string()), Ok(n));
    }
});
