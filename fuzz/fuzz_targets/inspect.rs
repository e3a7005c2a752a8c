//! The whole inspect path on an arbitrary file, as `mpimg FILE --json
//! --check-app` runs it through the library: open (firmware or app image),
//! summarize with digests, the JSON document, otadata and the image checks,
//! the diagnoses (on their own and against a board), a fit to 4 MB; and the
//! bytes as a whole flash, searched for a misplaced bootloader and moved.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::flash::FileFlash;
use mpimg::format::chip::Chip;
use mpimg::ops::check::{check_all, check_image};
use mpimg::ops::diagnose::{diagnose, Board, Depth};
use mpimg::ops::fit::plan_fit;
use mpimg::ops::place::{find_misplaced, move_firmware};
use mpimg::ops::firmware::{open_bytes, Opened};
use mpimg::ops::inspect::{summarize, summarize_app};
use mpimg::ops::ota::ota_status;
use mpimg::ops::region::{Region, RegionKind};

fuzz_target!(|data: &[u8]| {
    match open_bytes(data.to_vec()) {
        Err(e) => {
            let _ = e.to_string();
        }
        Ok(Opened::App(bytes)) => {
            let app = bytes.as_slice();
            let summary = summarize_app(app, "fuzz.app-bin");
            serde_json::to_string(&summary).expect("summary serializes");
            let len = app.len() as u32;
            let r = Region { name: "app".into(), offset: 0, size: len, kind: RegionKind::App, entry: None };
            let _ = check_image(&mut FileFlash::new(app.to_vec(), 0, len), &r);
        }
        Ok(Opened::Firmware(mut fw)) => {
            let summary = summarize(&mut fw, "fuzz.bin", true);
            serde_json::to_string(&summary).expect("summary serializes");
            let boots = match ota_status(&mut fw.flash, &fw.table) {
                Ok(Some(st)) => Some(st.boots),
                _ => fw.table.first_app().map(|p| p.name()),
            };
            let bl = fw.bootloader_offset();
            let checks = check_all(&mut fw.flash, &fw.table, bl, boots.as_deref());
            serde_json::to_string(&checks).expect("checks serialize");
            let found = diagnose(&mut fw, None, Depth { verify: true });
            serde_json::to_string(&found).expect("diagnoses serialize");
            let board = Board { chip: fw.chip, revision: Some(0), flash_size: 4 << 20 };
            let _ = diagnose(&mut fw, Some(&board), Depth { verify: true });
            let _ = plan_fit(&fw.table, fw.flash_size(), 4 << 20, true);
        }
    }
    // The bytes as the flash of an esp32 board from offset 0 (at most 4 MB).
    if data.len() <= 4 << 20 {
        let esp32 = Chip::by_name("esp32").expect("esp32 is known");
        let mut flash = FileFlash::new(data.to_vec(), 0, 4 << 20);
        if let Ok(Some(m)) = find_misplaced(&mut flash, esp32) {
            let _ = move_firmware(&mut flash, esp32, m.offset);
        }
    }
});
