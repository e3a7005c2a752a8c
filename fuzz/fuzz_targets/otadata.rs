//! otadata: the raw partition bytes, then its two records (the first 64
//! bytes of the input) placed where they live, through every decision
//! mpimg takes from them, for every OTA app count and target.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::format::otadata::{OtaData, OTADATA_LEN, OTADATA_SECTOR_LEN, OTA_RECORD_LEN};

fuzz_target!(|data: &[u8]| {
    let _ = OtaData::parse(data);
    let mut sectors = vec![0xFFu8; OTADATA_LEN];
    for (i, rec) in data.chunks(OTA_RECORD_LEN).take(2).enumerate() {
        let at = i * OTADATA_SECTOR_LEN;
        sectors[at..at + rec.len()].copy_from_slice(rec);
    }
    let ota = OtaData::parse(&sectors).expect("two whole sectors parse");
    assert_eq!(OtaData::parse(&ota.to_bytes()).as_ref(), Ok(&ota));
    let _ = ota.active_record();
    for count in 0..=17 {
        let _ = ota.active(count);
        for flags in 0..4 {
            let _ = ota.boot_target(count, flags & 1 != 0, flags & 2 != 0);
        }
        for target in 0..=count {
            for rollback in [false, true] {
                let _ = ota.plan_update(count, target, rollback);
                if let Ok((slot, rec)) = ota.try_plan_update(count, target, rollback) {
                    // The planned record is what the bootloader then picks.
                    let next = ota.with_record(slot, rec);
                    assert_eq!(next.active(count).map(|a| a.1), Some(target));
                }
            }
        }
    }
});
