//! The whole inspect path on an arbitrary file, as `mpimg FILE --json
//! --check-app` runs it through the library: open (firmware or app image),
//! summarize with digests, the JSON document, otadata and the image checks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::flash::FileFlash;
use mpimg::ops::check::{check_all, check_image};
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
        }
    }
});
