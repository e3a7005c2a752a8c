//! The block cache under real commands: which blocks are read, that none is
//! read twice, and how writes reach the flash.

use std::collections::BTreeSet;

use crate::util::fs::*;
use mpimg::fs::CacheStats;

#[test]
fn ls_of_a_small_littlefs_reads_only_its_superblock_pair() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    run(&mut flash, &parts, &["mkfs"]).ok();
    let mut rec = Recording::new(&mut flash);
    let (report, out, _) = run(&mut rec, &parts, &["ls"]).ok();
    assert_eq!(out, "boot.py\n");
    // Detection reads block 0, littlefs then needs block 1; boot.py's data block is not touched.
    assert_eq!(rec.reads, vec![(0x200000, 4096), (0x201000, 4096)]);
    assert_eq!(report.stats, CacheStats { blocks_read: 2, read_ops: 2, ..Default::default() });
}

#[test]
fn no_block_is_read_twice_in_a_run() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let host = tempfile::tempdir().unwrap();
    make_tree(host.path());
    let lib = host.path().join("lib");
    run(&mut flash, &parts, &["mkfs", &format!("put {} /", lib.display())]).ok();
    let dest = tempfile::tempdir().unwrap();
    let mut rec = Recording::new(&mut flash);
    let (report, _, _) = run(
        &mut rec,
        &parts,
        &[
            "ls -l",
            "cat lib/util.py",
            "cat lib/pkg/data.bin",
            &format!("get / {}", dest.path().display()),
            "df vfs",
            "info vfs",
            "ls",
        ],
    )
    .ok();
    let blocks = rec.blocks_read();
    let distinct: BTreeSet<u32> = blocks.iter().copied().collect();
    assert_eq!(blocks.len(), distinct.len(), "a block was read twice: {blocks:?}");
    assert_eq!(report.stats.blocks_read as usize, blocks.len());
    assert_eq!(report.stats.read_ops as usize, rec.reads.len());
    // Everything read lies in vfs.
    assert!(blocks.iter().all(|&b| (0x200..0x400).contains(&b)), "{blocks:?}");
}

#[test]
fn mkfs_and_put_in_one_run_read_nothing_and_write_in_runs() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let host = tempfile::tempdir().unwrap();
    make_tree(host.path());
    let lib = host.path().join("lib");
    let mut rec = Recording::new(&mut flash);
    let (report, _, _) = run(&mut rec, &parts, &["mkfs", &format!("put {} /", lib.display())]).ok();
    // mkfs erased the whole partition in the cache, so nothing had to be read.
    assert_eq!(rec.reads, vec![]);
    assert_eq!(rec.erases, vec![(0x200000, 0x200000)]);
    assert!(rec.writes.iter().all(|&(o, l)| o >= 0x200000 && o + l <= 0x400000 && o % 4096 == 0 && l % 4096 == 0));
    let written: u32 = rec.writes.iter().map(|w| w.1 / 4096).sum();
    assert_eq!(
        report.stats,
        CacheStats { blocks_read: 0, read_ops: 0, blocks_written: written, blocks_erased: 512, write_runs: 1 }
    );
}

/// A put into a filesystem already on the flash keeps littlefs's order: the
/// new blocks first (each run erased, then written), and last, alone and in
/// place (never erased first), the superblock block that makes them part of
/// the filesystem. Cut off anywhere, the flash holds the old filesystem or
/// the new one.
#[test]
fn a_later_put_writes_new_blocks_first_and_the_commit_last_in_place() {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x200000)]);
    run(&mut flash, &parts, &["mkfs"]).ok();
    let host = tempfile::tempdir().unwrap();
    let f = host.path().join("f.bin");
    std::fs::write(&f, vec![0x33u8; 30_000]).unwrap();
    let mut rec = Recording::new(&mut flash);
    let (report, _, _) = run(&mut rec, &parts, &[&format!("put {} /", f.display())]).ok();
    let s = report.stats;
    assert_eq!(s.write_runs as usize, rec.erases.len());
    assert_eq!(s.blocks_erased, rec.erases.iter().map(|e| e.1 / 4096).sum::<u32>());
    assert_eq!(s.blocks_written, rec.writes.iter().map(|w| w.1 / 4096).sum::<u32>());
    // Data: 8 blocks from 0x203000, erased then written; the commit: block 1 of the pair.
    assert_eq!(rec.changes, [("erase", 0x203000, 0x8000), ("write", 0x203000, 0x8000), ("write", 0x201000, 0x1000)]);
    drop(rec);
    let (_, out, _) = run(&mut flash, &parts, &["ls -l f.bin"]).ok();
    assert!(out.starts_with("    30000  "), "{out}");
}
