//! Link faults injected by esp-sim while mpimg writes or reads: a dropped or
//! corrupted frame is survived (retried), a port closed mid-write is reported
//! with the range left unwritten, and running the same command again completes it.

use std::path::Path;

use crate::util::sim;
use crate::util::sim::{assert_same_flash, flash_image};
use crate::util::{firmware, mpimg, Run};
use esp_sim::fault::Dir;
use esp_sim::Fault;

const FW: &str = "ESP32_GENERIC_S3-20241129-v1.24.1.bin";
const SIZE: u32 = 8 << 20;

/// Frames and bytes the host sends for `--flash` of the firmware on a blank device.
fn baseline(path: &Path) -> (u64, u64) {
    let d = sim::start("esp32s3", SIZE, None, vec![]);
    let r = mpimg(d.dir.path(), &[path.to_str().unwrap(), "--flash", &d.port()]);
    assert_eq!(r.code, 0, "{}", r.err);
    let s = d.sim.stats();
    (s.frames_from_host, s.bytes_from_host)
}

fn flash_with(fault: Fault) -> Option<(sim::Dev, Run, Vec<u8>, std::path::PathBuf)> {
    let path = firmware(FW)?;
    let file = std::fs::read(&path).unwrap();
    let d = sim::start("esp32s3", SIZE, None, vec![fault]);
    let r = mpimg(d.dir.path(), &[path.to_str().unwrap(), "--flash", &d.port()]);
    Some((d, r, file, path))
}

#[test]
fn dropped_and_corrupted_frames_are_retried() {
    let Some(path) = firmware(FW) else { return };
    let (frames, _) = baseline(&path);
    // Half way through the run most frames are FLASH_DEFL_DATA.
    for fault in [
        Fault::Drop { dir: Dir::Rx, frame: frames / 2 },
        Fault::Corrupt { dir: Dir::Rx, frame: frames / 2 + 3 },
        // A lost or damaged answer from the device.
        Fault::Drop { dir: Dir::Tx, frame: frames / 2 + 5 },
        Fault::Corrupt { dir: Dir::Tx, frame: frames / 2 + 7 },
    ] {
        let (d, r, file, _) = flash_with(fault).unwrap();
        assert_eq!(r.code, 0, "{fault}: {}", r.err);
        assert_eq!(d.sim.stats().faults_fired.len(), 1, "{fault}");
        assert_same_flash(&d.bytes(), &flash_image(&file, 0, SIZE));
    }
}

#[test]
fn corrupted_read_data_is_read_again() {
    let Some(path) = firmware(FW) else { return };
    // Frames to the host: a corrupted READ_FLASH packet fails the stream's MD5.
    let d = sim::start("esp32s3", SIZE, Some(&path), vec![Fault::Corrupt { dir: Dir::Tx, frame: 140 }]);
    let r = mpimg(d.dir.path(), &[&d.port(), "--read", "factory=f.bin"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(d.sim.stats().faults_fired.len(), 1);
    let file = std::fs::read(&path).unwrap();
    let want = flash_image(&file, 0, SIZE);
    assert_eq!(std::fs::read(d.dir.path().join("f.bin")).unwrap(), &want[0x10000..0x200000]);
}

/// `--flash` onto a blank board cut off half way: the apps go first and the
/// bootloader last, so the board still has none; the message says what was
/// written, that the board may not start, and that the same command
/// completes it (and it does, without writing again what was verified).
#[test]
fn port_closed_mid_write_is_reported_and_a_rerun_completes_it() {
    let Some(path) = firmware(FW) else { return };
    let (_, bytes) = baseline(&path);
    let (d, r, file, path) = flash_with(Fault::Close { dir: Dir::Rx, after_bytes: bytes / 2 }).unwrap();
    assert_eq!(r.code, 1, "{}", r.out);
    let line = r.err.lines().last().unwrap();
    // error: writing 0xA..0xB was interrupted: serial link to PORT failed: CAUSE. Written and verified
    // before that: 0x9000..0xA; perhaps written in part: 0xA..0xT; not written: 0xT..0xB and ...
    let num = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let rest = line.strip_prefix("error: writing ").unwrap_or_else(|| panic!("{}", r.err));
    let (range, rest) = rest.split_once(" was interrupted: serial link to ").unwrap();
    let (a, b) = range.split_once("..").map(|(a, b)| (num(a), num(b))).unwrap();
    let (_, rest) = rest.split_once(" failed: ").unwrap();
    let (cause, rest) = rest.split_once(". Written and verified before that: ").unwrap();
    let t = num(rest
        .split_once("perhaps written in part: ")
        .unwrap()
        .1
        .split_once("..")
        .unwrap()
        .1
        .split(';')
        .next()
        .unwrap());
    assert_eq!(b as usize, file.len().div_ceil(0x1000) * 0x1000, "the firmware padded to its sector end ({line})");
    assert!(0x9000 < a && a < t && t < b && a % 0x1000 == 0 && t % 0x1000 == 0, "{line}");
    assert_eq!(
        rest,
        format!(
            "0x9000..{a:#x}; perhaps written in part: {a:#x}..{t:#x}; not written: {t:#x}..{b:#x} and whatever \
             this run had still to do. Run the same command again to complete it. The board may not start until \
             then: its app, partition table and bootloader are not all the new ones yet"
        ),
        "(cause: {cause})"
    );
    // What was reported as written is there; the rest is not the firmware
    // yet; and no bootloader: the board does not start a half-written app.
    let now = d.bytes();
    assert_eq!(&now[0x9000..a as usize], &file[0x9000..a as usize]);
    assert_ne!(&now[a as usize..file.len()], &file[a as usize..]);
    assert!(now[..0x9000].iter().all(|&x| x == 0xFF));
    // The board is still there (its flash kept): the same command finishes the job.
    let d = sim::restart(d, "esp32s3", vec![]);
    let r = mpimg(d.dir.path(), &[path.to_str().unwrap(), "--flash", &d.port(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    // Chunks verified before the fault are not written again.
    assert!(
        v["result"]["flashed"]["sectors"]["unchanged"].as_u64().unwrap() >= u64::from((a - 0x9000) / 0x1000),
        "{}",
        r.out
    );
    assert_same_flash(&d.bytes(), &flash_image(&file, 0, SIZE));
}

/// A table edit cut off anywhere in its run: the error (if the cut came
/// before the end) leaves a device on which the same command finishes the
/// edit, with the same bytes as the edit of the firmware file.
#[test]
fn table_edit_cut_anywhere_is_completed_by_a_rerun() {
    let Some(path) = firmware("ESP32_GENERIC-20240602-v1.23.0.bin") else { return };
    let size = 8 << 20;
    let args = ["-f", "8M", "--table", "ota", "-q"];
    // The same edit on the file.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.bin");
    let mut fa = vec![path.to_str().unwrap()];
    fa.extend_from_slice(&args);
    fa.extend_from_slice(&["-o", out.to_str().unwrap()]);
    assert_eq!(mpimg(tmp.path(), &fa).code, 0);
    let want = flash_image(&std::fs::read(&out).unwrap(), 0x1000, size);
    // Bytes the host sends in a whole run.
    let d = sim::start("esp32", size, Some(&path), vec![]);
    let port = d.port();
    let mut da = vec![port.as_str()];
    da.extend_from_slice(&args);
    assert_eq!(mpimg(d.dir.path(), &da).code, 0);
    let total = d.sim.stats().bytes_from_host;
    assert_same_flash(&d.bytes(), &want);
    // Cuts spread over the run, and two among its last writes (table, header).
    for cut in [total / 2, total * 7 / 10, total * 85 / 100, total * 95 / 100, total - 300, total - 100] {
        let d = sim::start("esp32", size, Some(&path), vec![Fault::Close { dir: Dir::Rx, after_bytes: cut }]);
        let port = d.port();
        let mut da = vec![port.as_str()];
        da.extend_from_slice(&args);
        let r = mpimg(d.dir.path(), &da);
        assert_eq!(r.code, 1, "cut after {cut} of {total} bytes: {}", r.out);
        let d = sim::restart(d, "esp32", vec![]);
        let port = d.port();
        let mut da = vec![port.as_str()];
        da.extend_from_slice(&args);
        let r = mpimg(d.dir.path(), &da);
        assert_eq!(r.code, 0, "re-run after a cut after {cut} of {total} bytes: {}", r.err);
        assert_same_flash(&d.bytes(), &want);
    }
}
