//! Every --fs command on FAT, on real firmware images and synthetic flash.

use crate::util::firmware_bytes;
use crate::util::fs::*;
use mpimg::flash::Flash;
use mpimg::fs::detect::{FatBootSector, FatType};
use mpimg::fs::time::Civil;

#[test]
fn mkfs_fat_lays_out_the_volume_like_micropython_and_removes_littlefs_magic() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    run(&mut flash, &parts, &["mkfs"]).ok();
    let (report, _, log) = run(&mut flash, &parts, &["mkfs vfs fat"]).ok();
    assert!(report.changed);
    assert_eq!(log, "mkfs 'vfs': FAT, 512 sectors of 4096 bytes, 1 FAT, 512 root entries\n");
    let vfs = region(&mut flash, &parts[3]);
    // No littlefs superblock left in block 0 or 1.
    assert_ne!(&vfs[8..16], b"littlefs");
    assert_ne!(&vfs[4096 + 8..4096 + 16], b"littlefs");
    let bs = FatBootSector::parse(&vfs[..4096]).unwrap();
    assert_eq!(
        bs,
        FatBootSector {
            bytes_per_sector: 4096,
            sectors_per_cluster: 1,
            reserved_sectors: 1,
            fats: 1,
            root_entries: 512,
            total_sectors: 512,
            sectors_per_fat: 1,
            media: 0xF8,
        }
    );
    assert_eq!((bs.fat_type(), bs.clusters()), (FatType::Fat12, 506));
    // The FAT starts with the media byte and two reserved entries; the rest is free.
    assert_eq!(&vfs[4096..4096 + 4], &[0xF8, 0xFF, 0xFF, 0x00]);
    let (_, out, _) = run(&mut flash, &parts, &["ls", "df", "info"]).ok();
    assert_eq!(
        out,
        "Partition    Filesystem    Total KiB  Used KiB  Free KiB  Used\n\
         vfs          FAT12              2024         0      2024    0%\n\
         Filesystem 'vfs': FAT12\n\
         \x20 Partition:      0x200000 +0x200000\n\
         \x20 FAT Type:       FAT12\n\
         \x20 Sector Size:    4096\n\
         \x20 Cluster Size:   4096\n\
         \x20 FATs:           1\n\
         \x20 Root Entries:   512\n\
         \x20 Image Size:     2097152  /  0x200000\n\
         \x20 Clusters Total: 506\n\
         \x20 Clusters Used:  0\n\
         \x20 Clusters Free:  506\n"
    );
}

#[test]
fn put_get_ls_cat_on_fat() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let src = tempfile::tempdir().unwrap();
    let files = make_tree(src.path());
    for (i, (rel, _)) in files.iter().enumerate() {
        set_mtime(&src.path().join(rel), 1_700_000_000 + 3600 * i as u64);
    }
    let s = |rel: &str| src.path().join(rel).to_string_lossy().into_owned();
    let put: Vec<String> = ["put", &s("main.py"), &s("lib"), &s("Long File Name With Spaces.txt"), "/"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    run_words(&mut flash, &parts, &[cmd("mkfs fat"), put]).ok();
    let (_, out, _) = run(&mut flash, &parts, &["ls", "cat lib/util.py"]).ok();
    assert_eq!(
        out,
        "Long File Name With Spaces.txt\nmain.py\nlib/\nlib/util.py\nlib/pkg/\nlib/pkg/data.bin\nlib/pkg/empty.txt\ndef f():\n    return 42\n"
    );
    let (_, out, _) = run(&mut flash, &parts, &["ls -l lib/pkg"]).ok();
    let t = |i: i64| Civil::from_unix(1_700_000_000 + 3600 * i).to_string();
    assert_eq!(out, format!("    10000  {}  data.bin\n        0  {}  empty.txt\n", t(2), t(3)));

    let dest = tempfile::tempdir().unwrap();
    run_words(&mut flash, &parts, &[vec!["get".into(), "vfs:/".into(), dest.path().to_string_lossy().into_owned()]])
        .ok();
    assert_eq!(summary(&read_tree(dest.path())), summary(&files));
    let m = std::fs::metadata(dest.path().join("lib/pkg/data.bin")).unwrap().modified().unwrap();
    assert_eq!(m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), 1_700_000_000 + 7200);
}

#[test]
fn mkdir_rm_rename_on_fat() {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x200000)]);
    let host = tempfile::tempdir().unwrap();
    let a = host.path().join("a.txt");
    std::fs::write(&a, b"alpha").unwrap();
    let a = a.to_string_lossy().into_owned();
    run(&mut flash, &parts, &["mkfs fat", "mkdir x/y/z", &format!("put {a} /x/y"), &format!("put {a} /top.txt")]).ok();
    let (_, out, _) = run(&mut flash, &parts, &["ls"]).ok();
    assert_eq!(out, "top.txt\nx/\nx/y/\nx/y/a.txt\nx/y/z/\n");
    // Moving a directory to another parent keeps its contents (and a valid '..').
    let (_, out, _) =
        run(&mut flash, &parts, &["rename x/y /moved", "rename top.txt moved/a.txt", "ls", "cat moved/a.txt"]).ok();
    assert_eq!(out, "moved/\nx/\nmoved/a.txt\nmoved/z/\nalpha");
    let (_, out, _) = run(&mut flash, &parts, &["rm moved", "mkdir x", "ls", "df vfs"]).ok();
    assert_eq!(out, "x/\nPartition    Filesystem    Total KiB  Used KiB  Free KiB  Used\nvfs          FAT12              2024         4      2020    0%\n");
    assert_eq!(run(&mut flash, &parts, &["grow"]).err(), "grow vfs: only littlefs can grow in place");
}

#[test]
fn fat_on_a_partition_past_the_end_of_the_file_extends_it() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let len = flash.bytes().len();
    run(&mut flash, &parts, &["mkfs fat"]).ok();
    // Boot sector, FAT and root directory are written; the file now reaches into vfs.
    assert!(flash.bytes().len() > 0x200000 - 0x1000 && flash.bytes().len() > len);
    assert!(flash.data_end() <= 0x200000 + 6 * 4096);
}

#[test]
fn fat_on_the_implicit_vfs_of_a_v1_27_image() {
    let Some(data) = firmware_bytes("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return };
    let original = data.clone();
    let mut flash = mpimg::flash::FileFlash::new(data, 0, 4 * MB);
    let parts = vec![
        part("nvs", 0x9000, 0x6000),
        part("factory", 0x10000, 0x1f0000),
        mpimg::fs::FsPartition { name: "vfs".into(), offset: 0x200000, size: 0x200000, implicit: true },
    ];
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("main.py"), b"import time\n").unwrap();
    let m = host.path().join("main.py").to_string_lossy().into_owned();
    run(&mut flash, &parts, &["mkfs vfs fat", &format!("put {m} /"), "mkdir lib"]).ok();
    let (_, out, _) = run(&mut flash, &parts, &["ls", "cat main.py", "df"]).ok();
    assert_eq!(
        out,
        "main.py\nlib/\nimport time\n\
         Partition    Filesystem    Total KiB  Used KiB  Free KiB  Used\n\
         vfs          FAT12              2024         8      2016    0%\n"
    );
    assert_eq!(&flash.bytes()[..original.len()], &original[..]);
}
