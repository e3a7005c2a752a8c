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

#[test]
fn port_closed_mid_write_is_reported_and_a_rerun_completes_it() {
    let Some(path) = firmware(FW) else { return };
    let (_, bytes) = baseline(&path);
    let (d, r, file, path) = flash_with(Fault::Close { dir: Dir::Rx, after_bytes: bytes / 2 }).unwrap();
    assert_eq!(r.code, 1, "{}", r.out);
    let line = r.err.lines().last().unwrap();
    // "error: writing 0xA..0xB was interrupted: ... Written and verified before that: 0x0..0xA; not written: 0xA..0xB and ..."
    let rest = line.strip_prefix("error: writing 0x").unwrap_or_else(|| panic!("{}", r.err));
    let (range, tail) = rest.split_once(" was interrupted: ").unwrap();
    let (a, b) = range.split_once("..0x").unwrap();
    let (a, b) = (u32::from_str_radix(a, 16).unwrap(), u32::from_str_radix(b, 16).unwrap());
    assert_eq!(b as usize, file.len().div_ceil(0x1000) * 0x1000, "the firmware padded to its sector end ({line})");
    assert!(a > 0 && a < b && a % 0x1000 == 0, "{line}");
    assert!(tail.contains(&format!("Written and verified before that: 0x0..{a:#x}; not written: {a:#x}..{b:#x} and whatever this run had still to do. Run the same command again to complete it")), "{line}");
    // What was reported as written is there; the rest is not the firmware yet.
    let now = d.bytes();
    assert_eq!(&now[..a as usize], &file[..a as usize]);
    assert_ne!(&now[a as usize..file.len()], &file[a as usize..]);
    // The board is still there (its flash kept): the same command finishes the job.
    let d = sim::restart(d, "esp32s3", vec![]);
    let r = mpimg(d.dir.path(), &[path.to_str().unwrap(), "--flash", &d.port(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    // Chunks verified before the fault are not written again.
    assert!(v["result"]["flashed"]["sectors"]["unchanged"].as_u64().unwrap() >= u64::from(a / 0x1000), "{}", r.out);
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
    // Bytes the host sends in a whole run, up to the end of its last write
    // (after it the run only reads: the board is diagnosed as the edit left it).
    let d = sim::start_with("esp32", size, None, Some(&path), vec![], |c| c.trace = true);
    let port = d.port();
    let mut da = vec![port.as_str()];
    da.extend_from_slice(&args);
    assert_eq!(mpimg(d.dir.path(), &da).code, 0);
    let trace = d.sim.stats().trace;
    let last_write = trace.iter().rposition(|t| t.op.starts_with("FLASH_DEFL") || t.op == "ERASE_REGION").unwrap();
    let total = trace[last_write].end;
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
