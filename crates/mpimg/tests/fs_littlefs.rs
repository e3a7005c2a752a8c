//! Every --fs command on littlefs, on real firmware images (../shared/firmware)
//! and synthetic flash.

use crate::util::firmware_bytes;
use crate::util::fs::*;
use mpimg::flash::Flash;
use mpimg::fs::lfs::BOOT_PY;
use mpimg::fs::time::Civil;
use mpimg_littlefs::{Config, Filesystem, DISK_VERSION_2_0};

/// Parse "YYYY-MM-DD HH:MM:SS" back to seconds since 1970.
fn parse_time(s: &str) -> i64 {
    let n: Vec<u32> = s.split(['-', ' ', ':']).map(|x| x.parse().unwrap()).collect();
    Civil { year: i64::from(n[0]), month: n[1], day: n[2], hour: n[3], min: n[4], sec: n[5] }.to_unix()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The on-disk version as littlefs reports it without being pinned.
fn disk_version(flash: &mut dyn Flash, offset: u32, size: u32) -> u32 {
    let mut dev = Mem(flash.read_vec(offset, size).unwrap());
    let mut fs = Filesystem::mount(&mut dev, &Config::micropython(0)).map_err(|e| e.0).unwrap();
    fs.fs_stat().unwrap().disk_version
}

/// A RAM block device over a copy of a partition (an independent mount).
struct Mem(Vec<u8>);
impl mpimg_littlefs::BlockDevice for Mem {
    fn read(&mut self, b: u32, o: u32, buf: &mut [u8]) -> Result<(), mpimg_littlefs::DeviceError> {
        let a = b as usize * 4096 + o as usize;
        buf.copy_from_slice(self.0.get(a..a + buf.len()).ok_or(mpimg_littlefs::DeviceError::Corrupt)?);
        Ok(())
    }
    fn prog(&mut self, b: u32, o: u32, d: &[u8]) -> Result<(), mpimg_littlefs::DeviceError> {
        let a = b as usize * 4096 + o as usize;
        self.0[a..a + d.len()].copy_from_slice(d);
        Ok(())
    }
    fn erase(&mut self, b: u32) -> Result<(), mpimg_littlefs::DeviceError> {
        let a = b as usize * 4096;
        self.0[a..a + 4096].fill(0xFF);
        Ok(())
    }
}

#[test]
fn mkfs_on_a_v1_23_image_then_every_reading_command() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let original = flash.bytes().to_vec();
    let t0 = now();
    let (report, out, log) = run(&mut flash, &parts, &["mkfs"]).ok();
    assert!(report.changed);
    assert_eq!(report.partitions_changed, vec!["vfs"]);
    assert_eq!(log, "mkfs 'vfs': littlefs 2.0, 512 blocks of 4096 bytes, with /boot.py\n");
    assert_eq!(out, "");
    // The firmware is untouched, the gap up to vfs is blank, vfs starts with a superblock.
    let b = flash.bytes();
    assert_eq!(&b[..original.len()], &original[..]);
    let vfs_at = 0x200000 - 0x1000;
    assert!(b[original.len()..vfs_at].iter().all(|&x| x == 0xFF));
    assert_eq!(&b[vfs_at + 8..vfs_at + 16], b"littlefs");
    assert_eq!(disk_version(&mut flash, 0x200000, 0x200000), DISK_VERSION_2_0);

    let (report, out, _) = run(&mut flash, &parts, &["ls"]).ok();
    assert_eq!(out, "boot.py\n");
    assert!(!report.changed);
    let (_, out, _) = run(&mut flash, &parts, &["cat boot.py"]).ok();
    assert_eq!(out, BOOT_PY);
    let (_, out, _) = run(&mut flash, &parts, &["ls -l /boot.py"]).ok();
    let (size, rest) = out.trim_start().split_once("  ").unwrap();
    assert_eq!(size, "139");
    let (time, name) = rest.split_at(19);
    assert_eq!(name, "  boot.py\n");
    assert!((t0..=now()).contains(&parse_time(time)), "{time}");

    let (_, out, _) = run(&mut flash, &parts, &["info vfs"]).ok();
    assert_eq!(
        out,
        "Filesystem 'vfs': littlefs 2.0\n\
         \x20 Partition:      0x200000 +0x200000\n\
         \x20 Disk Version:   2.0\n\
         \x20 Name Max:       255\n\
         \x20 Image Size:     2097152  /  0x200000\n\
         \x20 Block Size:     4096  /  0x1000\n\
         \x20 Blocks Total:   512\n\
         \x20 Blocks Used:    3\n\
         \x20 Blocks Free:    509\n"
    );
    // df without names finds vfs among all partitions.
    let (_, out, _) = run(&mut flash, &parts, &["df"]).ok();
    assert_eq!(
        out,
        "Partition    Filesystem    Total KiB  Used KiB  Free KiB  Used\n\
         vfs          littlefs 2.0       2048        12      2036    1%\n"
    );
}

#[test]
fn put_get_round_trip_keeps_bytes_tree_and_mtimes() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let src = tempfile::tempdir().unwrap();
    let files = make_tree(src.path());
    for (i, (rel, _)) in files.iter().enumerate() {
        set_mtime(&src.path().join(rel), 1_700_000_000 + 3600 * i as u64);
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink("../main.py", src.path().join("lib/link.py")).unwrap();
    let s = |rel: &str| src.path().join(rel).to_string_lossy().into_owned();
    let put: Vec<String> = ["put", &s("main.py"), &s("lib"), &s("Long File Name With Spaces.txt"), "/"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    let (report, _, log) = run_words(&mut flash, &parts, &[cmd("mkfs"), put]).ok();
    assert!(report.changed);
    #[cfg(unix)]
    assert!(log.contains(&format!("warning: skipping symbolic link '{}'\n", s("lib/link.py"))), "{log}");
    assert!(log.contains(&format!("{} -> vfs:/lib/pkg/data.bin\n", s("lib/pkg/data.bin"))), "{log}");

    let (_, out, _) = run(&mut flash, &parts, &["ls"]).ok();
    assert_eq!(
        out,
        "Long File Name With Spaces.txt\nboot.py\nmain.py\nlib/\nlib/util.py\nlib/pkg/\nlib/pkg/data.bin\nlib/pkg/empty.txt\n"
    );
    let (_, out, _) = run(&mut flash, &parts, &["ls -l lib"]).ok();
    let t = |i: i64| Civil::from_unix(1_700_000_000 + 3600 * i).to_string();
    assert_eq!(
        out,
        format!(
            "       23  {}  util.py\n        -  -                    pkg/\n    10000  {}  pkg/data.bin\n        0  {}  pkg/empty.txt\n",
            t(1),
            t(2),
            t(3)
        )
    );

    // get / copies the whole tree into DEST, with bytes and times.
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path().to_string_lossy().into_owned();
    let (report, _, _) = run_words(&mut flash, &parts, &[vec!["get".into(), "/".into(), d.clone()]]).ok();
    assert!(!report.changed);
    let mut want: Vec<(String, Vec<u8>)> = files.clone();
    want.push(("boot.py".into(), BOOT_PY.as_bytes().to_vec()));
    want.sort();
    assert_eq!(summary(&read_tree(dest.path())), summary(&want));
    for (i, (rel, _)) in files.iter().enumerate() {
        let m = std::fs::metadata(dest.path().join(rel)).unwrap().modified().unwrap();
        assert_eq!(
            m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            1_700_000_000 + 3600 * i as u64,
            "{rel}"
        );
    }

    // A single file to a new name, and into an existing directory.
    let one = dest.path().join("one.py");
    run_words(&mut flash, &parts, &[vec!["get".into(), "lib/util.py".into(), one.to_string_lossy().into_owned()]]).ok();
    assert_eq!(std::fs::read(&one).unwrap(), b"def f():\n    return 42\n");
    let sub = tempfile::tempdir().unwrap();
    run_words(
        &mut flash,
        &parts,
        &[vec!["get".into(), "vfs:/main.py".into(), sub.path().to_string_lossy().into_owned()]],
    )
    .ok();
    assert_eq!(std::fs::read(sub.path().join("main.py")).unwrap(), b"print('hello')\n");
}

#[test]
fn mkdir_rm_rename_and_replacing_a_file() {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x200000)]);
    let host = tempfile::tempdir().unwrap();
    let a = host.path().join("a.txt");
    std::fs::write(&a, b"first version, quite a bit longer than the second").unwrap();
    let a = a.to_string_lossy().into_owned();
    run(&mut flash, &parts, &["mkfs", "mkdir x/y/z", &format!("put {a} /x/y"), "mkdir x/y"]).ok();
    let (_, out, _) = run(&mut flash, &parts, &["ls"]).ok();
    assert_eq!(out, "boot.py\nx/\nx/y/\nx/y/a.txt\nx/y/z/\n");

    std::fs::write(&a, b"second").unwrap();
    let (_, out, _) = run(&mut flash, &parts, &[&format!("put {a} x/y/a.txt"), "cat x/y/a.txt"]).ok();
    assert_eq!(out, "second");

    let (_, out, log) = run(&mut flash, &parts, &["rename x/y/a.txt /b.txt", "rm x/y", "ls"]).ok();
    assert_eq!(out, "b.txt\nboot.py\nx/\n");
    assert_eq!(log, "rename 'vfs:/x/y/a.txt' -> 'vfs:/b.txt'\nrm 'vfs:/x/y'\nls 'vfs:/'\n");
    // rename replaces an existing file; a directory can be renamed.
    let (_, out, _) = run(&mut flash, &parts, &["rename b.txt boot.py", "rename x w", "ls", "cat boot.py"]).ok();
    assert_eq!(out, "boot.py\nw/\nsecond");
    // rm / is refused (mkfs makes a fresh filesystem); nothing is removed.
    let e = run(&mut flash, &parts, &["rm boot.py", "rm /"]).err();
    assert_eq!(e, "refusing to remove the root directory of 'vfs': that would empty the whole filesystem");
    let (_, out, _) = run(&mut flash, &parts, &["ls"]).ok();
    assert_eq!(out, "boot.py\nw/\n");
}

#[test]
fn grow_after_the_partition_was_enlarged() {
    let (mut flash, small) = blank(4 * MB, &[("vfs", 0x200000, 0x100000)]);
    run(&mut flash, &small, &["mkfs", "mkdir keep"]).ok();
    let big = vec![part("vfs", 0x200000, 0x200000)];
    let (_, out, _) = run(&mut flash, &big, &["info"]).ok();
    assert!(out.contains("  Blocks Total:   256\n"), "{out}");
    assert!(out.contains("  Partition Blocks:512 (the filesystem is smaller: run --fs grow vfs)\n"), "{out}");
    let (report, _, log) = run(&mut flash, &big, &["grow"]).ok();
    assert_eq!(log, "grow 'vfs' from 256 to 512 blocks\n");
    assert!(report.changed);
    let (_, out, _) = run(&mut flash, &big, &["info", "ls"]).ok();
    assert!(
        out.contains("  Blocks Total:   512\n")
            && out.contains("  Disk Version:   2.0\n")
            && out.ends_with("boot.py\nkeep/\n"),
        "{out}"
    );
    assert!(!out.contains("Partition Blocks"), "{out}");
    assert_eq!(disk_version(&mut flash, 0x200000, 0x200000), DISK_VERSION_2_0);

    let (report, _, log) = run(&mut flash, &big, &["grow vfs"]).ok();
    assert_eq!((log.as_str(), report.changed), ("grow 'vfs': already 512 blocks\n", false));
    assert_eq!(
        run(&mut flash, &big, &["grow vfs 1000"]).err(),
        "grow vfs: 1000 blocks do not fit in the partition (512 blocks)"
    );
    assert_eq!(
        run(&mut flash, &big, &["grow vfs 100"]).err(),
        "grow vfs: littlefs cannot shrink (512 blocks now, 100 asked)"
    );
    // A filesystem larger than its partition (partition shrunk) is refused.
    assert_eq!(
        run(&mut flash, &small, &["ls"]).err(),
        "the littlefs filesystem on 'vfs' has 512 blocks but the partition only 256"
    );
}

#[test]
fn a_2_0_filesystem_stays_2_0_after_every_changing_command() {
    let (mut flash, small) = blank(4 * MB, &[("vfs", 0x200000, 0x100000)]);
    run(&mut flash, &small, &["mkfs"]).ok();
    let parts = vec![part("vfs", 0x200000, 0x200000)];
    let host = tempfile::tempdir().unwrap();
    let f = host.path().join("f.bin");
    std::fs::write(&f, vec![0x5A; 50_000]).unwrap();
    let f = f.to_string_lossy().into_owned();
    let steps = [
        format!("put {f} /"),
        "mkdir d/e".to_owned(),
        "rename f.bin d/e/g.bin".to_owned(),
        "grow".to_owned(),
        "rm boot.py".to_owned(),
        "rm d".to_owned(),
    ];
    for (i, step) in steps.iter().enumerate() {
        run(&mut flash, &parts, &[step]).ok();
        // Until `grow` (step 3) the filesystem has the 1 MB of its mkfs.
        let fs_size = if i >= 3 { 0x200000 } else { 0x100000 };
        assert_eq!(disk_version(&mut flash, 0x200000, fs_size), DISK_VERSION_2_0, "after {step}");
        let (_, out, _) = run(&mut flash, &parts, &["info"]).ok();
        assert!(out.contains("  Disk Version:   2.0\n"), "after {step}: {out}");
    }
}

#[test]
fn the_implicit_vfs_of_a_v1_27_image() {
    let Some(data) = firmware_bytes("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return };
    let len = data.len();
    let mut flash = mpimg::flash::FileFlash::new(data, 0, 4 * MB);
    let parts = vec![
        part("nvs", 0x9000, 0x6000),
        part("phy_init", 0xf000, 0x1000),
        part("factory", 0x10000, 0x1f0000),
        mpimg::fs::FsPartition { name: "vfs".into(), offset: 0x200000, size: 0x200000, implicit: true },
    ];
    assert_eq!(run(&mut flash, &parts, &["ls"]).err(), "no littlefs or FAT filesystem on 'vfs'");
    assert_eq!(flash.bytes().len(), len);
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("main.py"), b"import machine\n").unwrap();
    let m = host.path().join("main.py").to_string_lossy().into_owned();
    run(&mut flash, &parts, &["mkfs", &format!("put {m} /")]).ok();
    let (_, out, _) = run(&mut flash, &parts, &["ls", "cat main.py", "info"]).ok();
    assert!(out.starts_with("boot.py\nmain.py\nimport machine\nFilesystem 'vfs': littlefs 2.0\n"), "{out}");
    assert!(out.contains(
        "  Partition:      0x200000 +0x200000 (implicit vfs of MicroPython >= 1.26: end of the table to the end of flash)\n"
    ));
    assert_eq!(&flash.bytes()[0x200008..0x200010], b"littlefs");
}

#[test]
fn reading_commands_never_write() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let host = tempfile::tempdir().unwrap();
    make_tree(host.path());
    let lib = host.path().join("lib").to_string_lossy().into_owned();
    run(&mut flash, &parts, &["mkfs", &format!("put {lib} /")]).ok();
    let before = flash.bytes().to_vec();
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path().to_string_lossy().into_owned();
    let mut rec = Recording::new(&mut flash);
    let (report, _, _) = run(
        &mut rec,
        &parts,
        &["ls", "ls -l", "cat lib/util.py", &format!("get / {d}"), "df", "info", "df vfs", "info vfs"],
    )
    .ok();
    assert!(!report.changed);
    assert_eq!((report.stats.blocks_written, report.stats.blocks_erased, report.stats.write_runs), (0, 0, 0));
    assert!(rec.writes.is_empty() && rec.erases.is_empty());
    drop(rec);
    assert_eq!(flash.bytes(), &before[..]);
}
