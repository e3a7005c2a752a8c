//! Bad input: what each failure says, and that a failed run leaves the flash
//! exactly as it was. These are the library's messages; the command line adds
//! the advice naming `--fs` commands and options (its `cli::error` tests check
//! those lines word for word).

use crate::util::fs::*;
use mpimg::flash::Flash;

fn two_partitions() -> (mpimg::flash::FileFlash, Vec<mpimg::fs::FsPartition>) {
    blank(4 * MB, &[("vfs", 0x200000, 0x100000), ("vfs2", 0x300000, 0x100000)])
}

#[test]
fn no_filesystem_unknown_partition_and_partition_past_flash() {
    let (mut flash, parts) = two_partitions();
    assert_eq!(run(&mut flash, &parts, &["ls"]).err(), "no littlefs or FAT filesystem on 'vfs'");
    assert_eq!(run(&mut flash, &parts, &["df vfs2"]).err(), "no littlefs or FAT filesystem on 'vfs2'");
    assert_eq!(run(&mut flash, &parts, &["ls vfs3:/"]).err(), "no partition 'vfs3' in the partition table");
    let far = vec![part("vfs", 0x3f0000, 0x20000)];
    assert_eq!(
        run(&mut flash, &far, &["mkfs"]).err(),
        "partition 'vfs' (0x3f0000+0x20000) lies past the end of the flash (0x400000); check the flash size"
    );
    // df and info without names skip partitions without a filesystem.
    let (_, out, log) = run(&mut flash, &parts, &["df", "info"]).ok();
    assert_eq!(
        (out.as_str(), log.as_str()),
        ("", "no littlefs or FAT filesystem found\nno littlefs or FAT filesystem found\n")
    );
    assert_eq!(flash.bytes().len(), 0);
}

#[test]
fn missing_paths_directories_and_names() {
    let (mut flash, parts) = two_partitions();
    run(&mut flash, &parts, &["mkfs", "mkdir lib", "mkfs vfs2 fat"]).ok();
    for p in ["vfs", "vfs2"] {
        let mut e = |c: &str| run(&mut flash, &parts, &[&c.replace("P", p)]).err();
        assert_eq!(e("cat P:/nope.py"), format!("'{p}:/nope.py': no such file or directory"));
        assert_eq!(e("ls P:/nope"), format!("'{p}:/nope': no such file or directory"));
        assert_eq!(e("rm P:/a/b"), format!("'{p}:/a/b': no such file or directory"));
        assert_eq!(e("rename P:/nope x"), format!("'{p}:/nope': no such file or directory"));
        assert_eq!(e("get P:/nope /tmp"), format!("'{p}:/nope': no such file or directory"));
        let long = "n".repeat(256);
        assert_eq!(
            e(&format!("mkdir P:/{long}")),
            format!("name '{long}' is 256 bytes long; littlefs and FAT allow at most 255")
        );
    }
    run(&mut flash, &parts, &["mkdir vfs2:/lib"]).ok();
    assert_eq!(run(&mut flash, &parts, &["cat lib"]).err(), "'vfs:/lib' is a directory");
    assert_eq!(run(&mut flash, &parts, &["cat vfs2:/lib"]).err(), "'vfs2:/lib' is a directory");
    // A 255-byte name is fine on both.
    let ok = "n".repeat(255);
    run(&mut flash, &parts, &[&format!("mkdir vfs:/{ok} vfs2:/{ok}")]).ok();
    let (_, out, _) = run(&mut flash, &parts, &["ls vfs:/lib", &format!("ls vfs2:/{ok}")]).ok();
    assert_eq!(out, "");
    // put into a file that would need a longer name
    let host = tempfile::tempdir().unwrap();
    let f = host.path().join("f");
    std::fs::write(&f, b"x").unwrap();
    let long = "m".repeat(300);
    assert_eq!(
        run(&mut flash, &parts, &[&format!("put {} vfs2:/{long}", f.display())]).err(),
        format!("name '{long}' is 300 bytes long; littlefs and FAT allow at most 255")
    );
}

#[test]
fn rename_across_partitions_is_refused() {
    let (mut flash, parts) = two_partitions();
    run(&mut flash, &parts, &["mkfs vfs vfs2"]).ok();
    assert_eq!(
        run(&mut flash, &parts, &["rename vfs:/boot.py vfs2:/boot.py"]).err(),
        "cannot rename across partitions ('vfs:/boot.py' to 'vfs2:/boot.py')"
    );
    // The partition carries over to the second path.
    run(&mut flash, &parts, &["rename vfs2:/boot.py /b.py"]).ok();
    let (_, out, _) = run(&mut flash, &parts, &["ls vfs2:/ vfs:/"]).ok();
    assert_eq!(out, "b.py\nboot.py\n");
}

#[test]
fn a_failed_run_changes_nothing_and_commands_are_checked_first() {
    let (mut flash, parts) = two_partitions();
    run(&mut flash, &parts, &["mkfs"]).ok();
    let before = flash.bytes().to_vec();
    assert_eq!(
        run(&mut flash, &parts, &["mkdir a", "rm boot.py", "cat nope"]).err(),
        "'vfs:/nope': no such file or directory"
    );
    assert_eq!(flash.bytes(), &before[..]);
    assert_eq!(run(&mut flash, &parts, &["mkfs vfs2", "frobnicate"]).err(), "unknown command 'frobnicate'");
    assert_eq!(flash.bytes(), &before[..]);
    let (_, out, _) = run(&mut flash, &parts, &["ls"]).ok();
    assert_eq!(out, "boot.py\n");
}

#[test]
fn a_full_filesystem_is_a_clean_error_and_earlier_files_survive() {
    for kind in ["", "fat"] {
        let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x20000)]);
        let host = tempfile::tempdir().unwrap();
        let small = host.path().join("small.txt");
        let big = host.path().join("big.bin");
        std::fs::write(&small, b"keep me").unwrap();
        std::fs::write(&big, vec![0xA5u8; 200_000]).unwrap();
        run(&mut flash, &parts, &[&format!("mkfs {kind}"), &format!("put {} /", small.display())]).ok();
        let before = flash.bytes().to_vec();
        let err = run(&mut flash, &parts, &[&format!("put {} /", big.display())]).err();
        assert_eq!(err, "no space left on 'vfs' while writing '/big.bin'; nothing was written to the image", "{kind}");
        assert_eq!(flash.bytes(), &before[..], "{kind}");
        let (_, out, _) = run(&mut flash, &parts, &["ls", "cat small.txt"]).ok();
        assert!(out.ends_with("small.txt\nkeep me"), "{kind}: {out}");
    }
}

#[test]
fn corrupt_filesystems_are_reported() {
    let (mut flash, parts) = two_partitions();
    run(&mut flash, &parts, &["mkfs vfs", "mkfs vfs2 fat"]).ok();
    // Keep the littlefs magic but wreck the rest of both superblock blocks.
    for b in [0x200000u32, 0x201000] {
        flash.write(b + 16, &[0u8; 4096 - 16]).unwrap();
    }
    assert_eq!(
        run(&mut flash, &parts, &["ls"]).err(),
        "the littlefs filesystem on 'vfs' is corrupt (mount: corrupted filesystem)"
    );
    // A FAT volume claiming more sectors than its partition.
    flash.write(0x300000 + 19, &1024u16.to_le_bytes()).unwrap();
    assert_eq!(
        run(&mut flash, &parts, &["ls vfs2:/"]).err(),
        "the FAT volume on 'vfs2' is 0x400000 bytes, larger than its partition (0x100000 bytes)"
    );
}

/// FAT12 entry `n` of the FAT at `fat`.
fn fat12(fat: &[u8], n: usize) -> u16 {
    let v = u16::from_le_bytes([fat[n + n / 2], fat[n + n / 2 + 1]]);
    if n % 2 == 1 {
        v >> 4
    } else {
        v & 0xFFF
    }
}

fn set_fat12(fat: &mut [u8], n: usize, val: u16) {
    let at = n + n / 2;
    let mut v = u16::from_le_bytes([fat[at], fat[at + 1]]);
    v = if n % 2 == 1 { (v & 0x000F) | (val << 4) } else { (v & 0xF000) | val };
    fat[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn a_fat_directory_whose_clusters_loop_is_corrupt_not_endless() {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x200000)]);
    let host = tempfile::tempdir().unwrap();
    let d = host.path().join("D");
    std::fs::create_dir(&d).unwrap();
    for i in 0..140 {
        std::fs::write(d.join(format!("F{i:03}.TXT")), b"").unwrap();
    }
    run(&mut flash, &parts, &["mkfs fat", &format!("put {} /", d.display())]).ok();
    let mut vfs = region(&mut flash, &parts[0]);
    // Root directory at sector 2 (reserved 1, FAT 1); find "D          ".
    let root = &vfs[2 * 4096..6 * 4096];
    let at = root.chunks(32).position(|e| &e[..11] == b"D          ").unwrap() * 32;
    let first = u16::from_le_bytes([root[at + 26], root[at + 27]]) as usize;
    let fat = &mut vfs[4096..2 * 4096];
    let second = fat12(fat, first) as usize;
    assert!((2..0xFF8).contains(&second), "the directory spans two clusters");
    set_fat12(fat, second, first as u16);
    flash.write(0x201000, &vfs[4096..2 * 4096]).unwrap();
    assert_eq!(
        run(&mut flash, &parts, &["ls"]).err(),
        "the FAT filesystem on 'vfs' is corrupt (the clusters of the directory '/D' loop)"
    );
}

#[test]
fn get_never_writes_outside_its_destination() {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x200000)]);
    let host = tempfile::tempdir().unwrap();
    let f = host.path().join("xxevilx");
    std::fs::write(&f, b"payload").unwrap();
    run(&mut flash, &parts, &["mkfs fat", &format!("put {} /", f.display())]).ok();
    // Craft the long name "xxevilx" into "../evlx": FAT long names carry no checksum of their own.
    let mut vfs = region(&mut flash, &parts[0]);
    let utf16 = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    let (from, to) = (utf16("xxevi"), utf16("../ev"));
    let at = vfs.windows(from.len()).position(|w| w == &from[..]).unwrap();
    vfs[at..at + to.len()].copy_from_slice(&to);
    flash.write(0x200000, &vfs).unwrap();
    let (_, out, _) = run(&mut flash, &parts, &["ls"]).ok();
    assert_eq!(out, "../evlx\n");

    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    let err = run(&mut flash, &parts, &[&format!("get / {}", dest.display())]).err();
    assert_eq!(
        err,
        "refusing to write '../evlx' found in 'vfs:/' on this computer: the name could escape the destination directory \
         (the image may be crafted or corrupt)"
    );
    assert!(!outer.path().join("evlx").exists());
    assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 0);
}

#[cfg(unix)]
#[test]
fn get_refuses_to_follow_symlinks_inside_the_destination() {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x200000)]);
    let host = tempfile::tempdir().unwrap();
    make_tree(host.path());
    run(&mut flash, &parts, &["mkfs", &format!("put {} /", host.path().join("lib").display())]).ok();
    let dest = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dest.path().join("lib")).unwrap();
    let err = run(&mut flash, &parts, &[&format!("get / {}", dest.path().display())]).err();
    assert_eq!(
        err,
        format!("refusing to write through the symbolic link '{}' on this computer", dest.path().join("lib").display())
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}
