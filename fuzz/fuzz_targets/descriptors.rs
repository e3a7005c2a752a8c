//! The app descriptor, the bootloader descriptor and the MicroPython banner
//! scan, on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::format::app_desc::AppDesc;
use mpimg::format::banner::find_banner;
use mpimg::format::bootloader_desc::BootloaderDesc;

fuzz_target!(|data: &[u8]| {
    if let Some(d) = AppDesc::parse(data) {
        let _ = d.mmu_page_bytes();
    }
    let _ = BootloaderDesc::parse(data);
    if let Some(b) = find_banner(data) {
        assert!(!b.version.is_empty() && b.date.len() == 10);
    }
});
