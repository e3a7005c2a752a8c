//! Link faults injected by esp-sim while mpimg writes or reads: a dropped or
//! corrupted frame is survived (retried), a port closed mid-write is reported
//! with the range left unwritten, and running the same command again completes it.

use std::path::Path;

use crate::util::matrix::mpimg_boots;
use crate::util::sim;
use crate::util::sim::{assert_same_flash, flash_image};
use crate::util::{firmware, mpimg, ok, synth, Run};
use esp_sim::fault::Dir;
use esp_sim::{Fault, Traced};

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

/// A code-like firmware for esp32s3 whose bootloader is `bootloader`, with
/// the generic table and a ~100 KB app.
fn code_firmware(bootloader: Vec<u8>) -> Vec<u8> {
    let mut f = bootloader;
    f.resize(0x8000, 0xFF);
    f.extend_from_slice(&synth::generic_table());
    f.resize(0x10000, 0xFF);
    f.extend(synth::code_app(9, "MicroPython v1.25.0 on 2025-04-15", 96 * 1024, 5));
    f
}

/// `--flash` of `fw` onto a blank esp32s3, cut off just after the traced
/// request `pick` chooses lands (`after`) or just before: the cut run's
/// last line, the board's flash then, and the port.
fn flash_cut(fw: &[u8], pick: impl Fn(&Traced) -> bool, after: bool) -> (String, Vec<u8>, tempfile::TempDir) {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("fw.bin"), fw).unwrap();
    let d = sim::start_with("esp32s3", SIZE, None, None, vec![], |c| c.trace = true);
    ok(&mpimg(host.path(), &["fw.bin", "--flash", &d.port()]));
    let t = d.sim.stats().trace.into_iter().find(|t| pick(t)).expect("the request to cut at");
    let at = if after { t.end } else { t.end - 1 };
    let d = sim::start("esp32s3", SIZE, None, vec![Fault::Close { dir: Dir::Rx, after_bytes: at }]);
    let r = mpimg(host.path(), &["fw.bin", "--flash", &d.port()]);
    assert_eq!(r.code, 1, "{}", r.err);
    let line = r.err.lines().last().unwrap().replace(&d.port(), "PORT");
    (line, d.bytes(), host)
}

/// The cause espflash gives, cut out of `line` between `serial link to PORT
/// failed: ` and `. Written`, so the rest can be compared exactly.
fn without_cause(line: &str) -> String {
    let (head, rest) = line.split_once("failed: ").unwrap();
    let (_, tail) = rest.split_once(". Written and verified").unwrap();
    format!("{head}failed: CAUSE. Written and verified{tail}")
}

/// Cut just before the bootloader's one transfer lands: everything else is
/// written, a blank board has no bootloader yet, and the message says it
/// may not start until the same command completes.
#[test]
fn flash_cut_before_the_bootloader_lands_says_the_board_may_not_start() {
    let fw = code_firmware(synth::code_bootloader(9, 2, 20_000, 1));
    let (line, now, _host) = flash_cut(&fw, |t| t.flash.is_some_and(|r| r.0 == 0), false);
    // The blank rest of the app partition held its bytes already: verified, not written, not listed.
    assert_eq!(
        without_cause(&line),
        "error: writing 0x0..0x8000 was interrupted: serial link to PORT failed: CAUSE. Written and verified \
         before that: 0x8000..0x29000; not written: 0x0..0x8000 and whatever this run had still \
         to do. Run the same command again to complete it. The board may not start until then: its bootloader may \
         still be the old one (a blank board has none)"
    );
    assert!(now[..0x8000].iter().all(|&b| b == 0xFF));
    assert_eq!(&now[0x8000..fw.len()], &fw[0x8000..]);
}

/// A bootloader too big for one frame (28 KB that do not compress) goes
/// out in two, its first sector last: cut between them, the header is not
/// there yet, and the message says the bootloader may be half written.
#[test]
fn flash_cut_inside_a_bootloader_of_two_transfers_says_it_may_be_half_written() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..28 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let bootloader = synth::image(9, 2, &[(0x4037_0000, noise)], true);
    let fw = code_firmware(bootloader);
    // The first data frame of the bootloader's body (its sectors after the first).
    let (line, now, _host) =
        flash_cut(&fw, |t| t.op == "FLASH_DEFL_DATA" && t.flash.is_some_and(|r| r.0 == 0x1000), true);
    assert_eq!(
        without_cause(&line),
        "error: writing 0x1000..0x8000 was interrupted: serial link to PORT failed: CAUSE. Written and verified \
         before that: 0x8000..0x29000; perhaps written in part: 0x1000..0x8000; not written: \
         whatever this run had still to do. Run the same command again to complete it. The board may not start \
         until then: its bootloader may be half written"
    );
    // Part of the body landed; the header sector did not.
    assert!(now[..0x1000].iter().all(|&b| b == 0xFF));
    assert_eq!(&now[0x1000..0x2000], &fw[0x1000..0x2000]);
}

/// `--ota-update` cut while the app goes to the next slot: otadata is as it
/// was, the board starts its old app, and the message says so.
#[test]
fn ota_update_cut_in_the_app_says_the_board_starts_its_old_app() {
    let host = tempfile::tempdir().unwrap();
    let h = host.path();
    let table = synth::table(&[
        synth::entry("nvs", 1, 2, 0x9000, 0x4000, 0),
        synth::entry("otadata", 1, 0, 0xd000, 0x2000, 0),
        synth::entry("ota_0", 0, 0x10, 0x10000, 0xf0000, 0),
        synth::entry("ota_1", 0, 0x11, 0x100000, 0xf0000, 0),
    ]);
    let mut fw = synth::code_bootloader(9, 2, 20_000, 1);
    fw.resize(0x8000, 0xFF);
    fw.extend_from_slice(&table);
    fw.resize(0x10000, 0xFF);
    fw.extend(synth::code_app(9, "MicroPython v1.24.1 on 2024-11-29", 96 * 1024, 2));
    let new_app = synth::code_app(9, "MicroPython v1.25.0 on 2025-04-15", 96 * 1024, 3);
    std::fs::write(h.join("new.app-bin"), &new_app).unwrap();
    let end = 0x100000 + new_app.len().div_ceil(0x1000) * 0x1000;
    let initial = flash_image(&fw, 0, SIZE);
    let d = sim::start_with("esp32s3", SIZE, Some(&initial), None, vec![], |c| c.trace = true);
    ok(&mpimg(h, &[&d.port(), "--ota-update", "new.app-bin"]));
    let trace = d.sim.stats().trace;
    let app = trace.iter().filter(|t| t.flash.is_some_and(|r| r.0 >= 0x100000)).nth(1).expect("a second app frame");
    let d = sim::start_over(
        "esp32s3",
        SIZE,
        Some(&initial),
        None,
        vec![Fault::Close { dir: Dir::Rx, after_bytes: app.end }],
    );
    let r = mpimg(h, &[&d.port(), "--ota-update", "new.app-bin"]);
    assert_eq!(r.code, 1, "{}", r.err);
    let line = r.err.lines().last().unwrap().replace(&d.port(), "PORT");
    assert_eq!(
        without_cause(&line),
        format!(
            "error: writing 0x100000..{end:#x} was interrupted: serial link to PORT failed: CAUSE. Written and \
             verified before that: nothing; perhaps written in part: 0x100000..{end:#x}; not written: whatever this \
             run had still to do. Run the same command again to complete it. Until then the board starts the app \
             it started before"
        )
    );
    assert_eq!(mpimg_boots(&d.bytes(), "esp32s3"), Ok("ota_0".to_string()));
    assert_eq!(&d.bytes()[0xd000..0xf000], &initial[0xd000..0xf000], "otadata as it was");
}
