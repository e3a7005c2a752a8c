//! Bad input, table-driven: each case gets one clear error line naming the
//! problem and what to do, a non-zero exit code, no panic, and no output file.

use crate::util::synth::*;
use crate::util::{files_in, run_mpimg, text};

/// Bytes of `fw.bin` for a case (None: no file at all).
type Make = fn() -> Option<Vec<u8>>;

fn fw() -> Option<Vec<u8>> {
    Some(s3_firmware())
}

fn with(edit: fn(&mut Vec<u8>)) -> Option<Vec<u8>> {
    let mut f = s3_firmware();
    edit(&mut f);
    Some(f)
}

const CASES: &[(&str, Make, &[&str], &str)] = &[
    ("missing file", || None, &["fw.bin"], "error: cannot read 'fw.bin': no such file"),
    ("empty file", || Some(Vec::new()), &["fw.bin"], "error: the file is empty: expected a MicroPython firmware (.bin) or app image (.app-bin)"),
    ("one byte", || Some(vec![0xE9]), &["fw.bin"], "error: the file is only 1 byte: too short for an ESP32 image header (24 bytes)"),
    ("shorter than a header", || Some(vec![0xE9; 10]), &["fw.bin"], "error: the file is only 10 bytes: too short for an ESP32 image header (24 bytes)"),
    ("random bytes", || Some((0..4096u32).map(|i| (i * 7919 % 256) as u8).collect()), &["fw.bin"], "error: not an ESP32 firmware: no image header (0xE9) at the start, found 00efdecd; give a MicroPython .bin or .app-bin file"),
    ("erased", || Some(vec![0xFF; 0x20000]), &["fw.bin"], "error: the file is all 0xFF (erased flash): it holds no firmware"),
    ("flash dump from offset 0", || { let mut d = vec![0xFF; 0x1000]; d.extend(s3_firmware()); Some(d) }, &["fw.bin"], "error: no image header at the start, but one at file offset 0x1000: this looks like a dump of flash from offset 0; cut the first 0x1000 bytes (e.g. dd bs=4096 skip=1) or dump from the bootloader offset"),
    ("unknown chip id", || with(|f| f[12] = 0x42), &["fw.bin"], "error: unknown chip id 66 in the image header: mpimg knows esp32, esp32c2, esp32c3, esp32c5, esp32c6, esp32c61, esp32e22, esp32h2, esp32h21, esp32h4, esp32p4, esp32s2, esp32s3, esp32s31"),
    ("truncated in the bootloader", || with(|f| f.truncate(0x3000)), &["fw.bin"], "error: the file ends at flash offset 0x3000, before the partition table at 0x8000 ends: it is truncated (or only a bootloader for esp32s3)"),
    ("truncated in the table", || with(|f| f.truncate(0x8040)), &["fw.bin"], "error: the file ends at flash offset 0x8040, before the partition table at 0x8000 ends: it is truncated (or only a bootloader for esp32s3)"),
    ("truncated in the app segments", || with(|f| f.truncate(0x10000 + 5000)), &["fw.bin", "-f", "8M"], "error: the firmware file is truncated: the app in 'factory' at 0x10000 is cut short (image truncated: the data of segment 1 at offset 0xce0 needs 20000 bytes but only 1704 are there)"),
    ("truncated in the app hash", || with(|f| { let n = f.len() - 10; f.truncate(n) }), &["fw.bin", "-f", "8M"], ""),
    ("no table", || with(|f| f[0x8000..0x9000].fill(0xFF)), &["fw.bin"], "error: no partition table at flash 0x8000: the sector holds no partition entry (is this a MicroPython firmware file or an app image?)"),
    ("table MD5 mismatch", || with(|f| f[0x8000 + 40] ^= 1), &["fw.bin"], ""),
    ("table without end", || with(|f| f[0x8000 + 5 * 32 + 3] = 0), &["fw.bin"], "error: the partition table does not end with an empty (0xFF) entry after entry 4; the table sector is corrupt"),
    ("app image where a firmware is expected", || Some(app_image(9, "MicroPython v1.26.1 on 2025-08-01")), &["fw.bin", "--table", "ota"], "error: this is an app image (.app-bin), not a full firmware: it has no partition table to edit or read; write it into a firmware with --write factory=FILE (or ota_0=FILE), or to a device with --ota-update"),
    ("bad size syntax", fw, &["fw.bin", "--resize", "vfs=lots"], "error: invalid size 'lots': use a decimal or hex number with an optional suffix K, KB, M, MB or B (4096-byte blocks), e.g. 8M, 0x1f0000, 1.5M, 7B"),
    ("bad flash size", fw, &["fw.bin", "-f", "3M"], "error: invalid flash size 0x300000 (3145728 bytes): use one of 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB or 128MB"),
    ("flash size over 128 MB", fw, &["fw.bin", "-f", "256M"], "error: invalid flash size 0x10000000 (268435456 bytes): use one of 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB or 128MB"),
    ("unknown partition", fw, &["fw.bin", "--resize", "data=1M"], "error: no partition 'data' in the table (it has: nvs, phy_init, factory, vfs)"),
    ("unknown subtype", fw, &["fw.bin", "--resize", "vfs=1M", "--add", "x:fancy:0:0"], "error: unknown subtype 'fancy' for partition 'x': give one, e.g. x:fat, x:littlefs, x:nvs or x:ota_0"),
    ("name over 15 bytes", fw, &["fw.bin", "--rename", "vfs=a_name_too_long_"], "error: invalid partition name 'a_name_too_long_': use 1 to 15 bytes, without ',', ':' or '='"),
    ("duplicate name", fw, &["fw.bin", "--rename", "vfs=nvs"], "error: partition 'nvs' already exists: pick another name or --delete it first"),
    ("overlapping partitions", fw, &["fw.bin", "--add", "x:fat:0x300000:0x10000"], "error: partition 'x' (0x300000..0x310000) overlaps 'vfs' which ends at 0x400000"),
    ("partition past the flash end", fw, &["fw.bin", "--resize", "vfs=0x100000", "--add", "x:fat:0x3f0000:0x20000"], "error: no room for partition 'x' at 0x3f0000 (size 0x20000): flash ends at 0x400000: make room: a larger flash (-f 8M), or shrink the partition that ends there first (--resize NAME=SIZE)"),
    ("csv partition past the flash end", || { Some(s3_firmware()) }, &["fw.bin", "--from-csv", "t.csv"], "error: partition 'vfs' ends at 0x500000, past the end of the 4 MB flash (0x400000): shrink it (--resize vfs=0 fills what is left) or set a larger flash size with -f"),
    ("app partition not 64 KB aligned", fw, &["fw.bin", "--resize", "vfs=0x100000", "--add", "app2:ota_0:0x301000:0x10000"], "error: partition 'app2': offset 0x301000 is not a multiple of 0x10000: app partitions start on 64 KB boundaries (next one: 0x310000)"),
    ("app partition smaller than the app", fw, &["fw.bin", "--resize", "factory=0x4000"], ""),
    ("flash size the table does not fit", fw, &["fw.bin", "-f", "2M"], "error: partition 'vfs' ends at 0x400000, past the end of the 2 MB flash (0x200000): shrink it (--resize vfs=0 fills what is left) or set a larger flash size with -f"),
    ("first app moved", fw, &["fw.bin", "--table", "nvs=0x17000,factory=0x1f0000,vfs=0"], "error: the first app partition moved from 0x10000 to 0x20000: the bootloader would not find the app; keep it at 0x10000"),
    ("device-only option on a file", fw, &["fw.bin", "--ota-update", "x.app-bin"], "error: --ota-update needs a serial-attached device (e.g. /dev/ttyUSB0 or u0), not a firmware file"),
    ("write a missing file", fw, &["fw.bin", "--write", "factory=nope.bin"], "error: cannot read 'nope.bin': no such file"),
    ("write too big", fw, &["fw.bin", "--write", "phy_init=big.bin"], "error: 5000 bytes do not fit partition 'phy_init' (0x1000 bytes)"),
    ("bad pair syntax", fw, &["fw.bin", "--read", "vfs"], "error: invalid --read item 'vfs': use NAME=VALUE[,NAME=VALUE...]"),
    ("read past the end of the file", fw, &["fw.bin", "--read", "vfs=v.bin"], "error: partition 'vfs' starts at 0x200000, past the end of the firmware file (0x15b30): the file holds none of it"),
];

#[test]
fn bad_input_gets_one_clear_line_and_no_output() {
    let mut failures = Vec::new();
    for (name, make, args, want) in CASES {
        let d = tempfile::tempdir().unwrap();
        if let Some(bytes) = make() {
            std::fs::write(d.path().join("fw.bin"), bytes).unwrap();
        }
        std::fs::write(d.path().join("big.bin"), [0u8; 5000]).unwrap();
        std::fs::write(d.path().join("t.csv"), "nvs, data, nvs, 0x9000, 0x6000\nfactory, app, factory, 0x10000, 0x1f0000\nvfs, data, fat, 0x200000, 0x300000\n").unwrap();
        let before = files_in(d.path());
        let o = run_mpimg(d.path(), args);
        let err = text(&o.stderr);
        let code = o.status.code();
        let after = files_in(d.path());
        if code.is_none_or(|c| c == 0 || c == 101) {
            failures.push(format!("{name}: exit code {code:?}, stderr {err:?}"));
        } else if err.lines().filter(|l| l.starts_with("error:")).count() != 1 {
            failures.push(format!("{name}: expected one error line, got {err:?}"));
        } else if !want.is_empty() && err.lines().last() != Some(want) {
            failures.push(format!("{name}:\n  want {want}\n  got  {}", err.trim_end()));
        } else if after != before {
            failures.push(format!("{name}: files left behind: {after:?} (before {before:?})"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases wrong:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

/// Cases whose message carries computed values: checked on their own.
#[test]
fn computed_messages() {
    let d = tempfile::tempdir().unwrap();
    let mut f = s3_firmware();
    f[0x8000 + 40] ^= 1;
    std::fs::write(d.path().join("md5.bin"), &f).unwrap();
    let err = text(&run_mpimg(d.path(), &["md5.bin"]).stderr);
    assert!(err.starts_with("error: partition table MD5 mismatch: stored "), "{err}");
    assert!(err.trim_end().ends_with("the table is corrupt (rewrite it with --table or --from-csv)"), "{err}");

    std::fs::write(d.path().join("fw.bin"), s3_firmware()).unwrap();
    let app = app_image(9, "MicroPython v1.26.1 on 2025-08-01").len();
    let err = text(&run_mpimg(d.path(), &["fw.bin", "--resize", "factory=0x4000"]).stderr);
    assert_eq!(err, format!("error: the app ({app} bytes) does not fit 'factory' (0x4000 bytes); it needs at least 0x10000 bytes: give it that much, e.g. --resize factory=0x10000 (with --table: -a 0x10000)\n"));
    // The size named works.
    let r = run_mpimg(d.path(), &["fw.bin", "-q", "--resize", "factory=0x10000", "-o", "fits.bin"]);
    assert!(r.status.success(), "{}", text(&r.stderr));

    // A plain directory: neither a firmware nor a build.
    std::fs::create_dir(d.path().join("adir")).unwrap();
    let err = text(&run_mpimg(d.path(), &["adir"]).stderr);
    assert_eq!(err, "error: 'adir' is a directory, neither a firmware file nor a build directory (it has no flasher_args.json): give a firmware (.bin, .hex, .uf2), an app image (.app-bin), or the build directory of an ESP-IDF or MicroPython build\n");

    let mut t = s3_firmware();
    let n = t.len() - 10;
    t.truncate(n);
    std::fs::write(d.path().join("short.bin"), &t).unwrap();
    let err = text(&run_mpimg(d.path(), &["short.bin", "-f", "8M"]).stderr);
    assert_eq!(
        err,
        format!("error: the firmware file is truncated: the app in 'factory' at 0x10000 is cut short (image truncated: the appended SHA-256 digest at offset {:#x} needs 32 bytes but only 22 are there)\n", app - 32)
    );
}

/// An input that never ends (`/dev/zero`) or is larger than any firmware is
/// refused once 384 MB are read (a regular file by its length, before any
/// read), not read until memory runs out; so is a file to write.
#[test]
fn endless_or_huge_inputs_are_refused() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fw.bin"), s3_firmware()).unwrap();
    let huge = std::fs::File::create(d.path().join("huge.bin")).unwrap();
    huge.set_len((384 << 20) + 1).unwrap(); // sparse: no disk space used
    drop(huge);
    let why = "it holds more than 384 MB, more than any firmware (flash is at most 128 MB; 384 MB as Intel HEX or UF2)";
    for (args, named) in [
        (&["/dev/zero"][..], "/dev/zero"),
        (&["huge.bin"], "huge.bin"),
        (&["fw.bin", "--write", "factory=huge.bin", "-o", "w.bin"], "huge.bin"),
    ] {
        let o = run_mpimg(d.path(), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&o.stderr), format!("error: cannot read '{named}': {why}\n"), "{args:?}");
        if args[0] != "fw.bin" {
            assert_eq!(o.stdout, b"", "{args:?}: nothing to report");
        }
    }
    assert_eq!(files_in(d.path()), ["fw.bin", "huge.bin"]);
}
