//! The carry operations on a synthetic flash, without the command line:
//! planning writes nothing; partitions are matched by name, else by place;
//! what cannot be kept is refused (re-typed, unreadable) or, when asked,
//! discarded; the written result reads back.

use crate::util::fs::*;
use mpimg::flash::{FileFlash, Flash};
use mpimg::format::partition::{Partition, PartitionTable, SUBTYPE_FAT, TYPE_APP, TYPE_DATA};
use mpimg::ops::carry::{plan, recreate, verify, Action, CarryError, Layout, Place};

fn table(parts: &[(&str, u8, u8, u32, u32)]) -> PartitionTable {
    PartitionTable {
        entries: parts.iter().map(|&(n, t, s, o, z)| Partition::new(n, t, s, o, z, 0)).collect(),
        had_md5: true,
    }
}

const FACTORY: (&str, u8, u8, u32, u32) = ("factory", TYPE_APP, 0, 0x10000, 0xf0000);

/// A 4 MB flash whose vfs (0x100000, 1 MB) holds littlefs with a few files.
fn flash_with_files() -> (FileFlash, Layout) {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x100000, 0x100000)]);
    let host = tempfile::tempdir().unwrap();
    make_tree(host.path());
    let src = host.path().join("lib");
    run(&mut flash, &parts, &["mkfs", &format!("put {} /", src.display())]).ok();
    let old = table(&[FACTORY, ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x100000, 0x100000)]);
    (flash, Layout::of(&old, None))
}

fn layout(parts: &[(&str, u8, u8, u32, u32)]) -> Layout {
    Layout::of(&table(parts), None)
}

#[test]
fn planning_reads_only_and_the_result_reads_back() {
    let (mut flash, old) = flash_with_files();
    let before = flash.bytes().to_vec();
    let new = layout(&[FACTORY, ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x200000, 0x80000)]);
    let p = plan(&mut flash, &old, &new, false).unwrap();
    assert!(flash.bytes() == &before[..], "planning wrote nothing");
    assert_eq!(p.keep, vec![0x200000]);
    let c = &p.parts[0].carried;
    assert_eq!((c.action, c.contents.map(|s| (s.files, s.dirs))), (Action::Recreated, Some((4, 2))));
    assert_eq!(c.to, Some(Place { offset: 0x200000, size: 0x80000, implicit: false }));
    assert_eq!((c.filesystem.as_str(), c.contents.map(|s| s.bytes)), ("littlefs 2.0", Some(10_162)));
    recreate(&mut flash, &p).unwrap();
    verify(&mut flash, &p).unwrap();
    let parts = [part("vfs", 0x200000, 0x80000)];
    let (_, out, _) = run(&mut flash, &parts, &["ls", "cat boot.py"]).ok();
    assert!(
        out.starts_with("boot.py\nlib/\nlib/util.py\nlib/pkg/\nlib/pkg/data.bin\nlib/pkg/empty.txt\n# This file"),
        "{out}"
    );
    // What was written, changed behind its back, no longer verifies.
    flash.write(0x200000 + 0x2000, &vec![0u8; 0x7e000]).unwrap();
    assert!(matches!(verify(&mut flash, &p), Err(CarryError::Verify { .. })));
}

#[test]
fn a_rename_is_found_by_place_and_left_alone() {
    let (mut flash, old) = flash_with_files();
    let new = layout(&[FACTORY, ("data", TYPE_DATA, 0x83, 0x100000, 0x100000)]);
    let p = plan(&mut flash, &old, &new, false).unwrap();
    assert_eq!(p.keep, vec![0x100000]);
    let c = &p.parts[0].carried;
    assert_eq!(
        (c.action, c.new_name.as_deref(), c.to.map(|t| t.offset)),
        (Action::Unchanged, Some("data"), Some(0x100000))
    );
    // Another partition with the name wins over one at the same place.
    let new = layout(&[
        FACTORY,
        ("data", TYPE_DATA, 0x83, 0x100000, 0x80000),
        ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x180000, 0x80000),
    ]);
    let p = plan(&mut flash, &old, &new, false).unwrap();
    assert_eq!(p.parts[0].carried.to.map(|t| t.offset), Some(0x180000));
}

#[test]
fn re_typed_and_unreadable_filesystems_are_refused_or_discarded() {
    let (mut flash, old) = flash_with_files();
    let as_app = layout(&[FACTORY, ("vfs", TYPE_APP, 0x10, 0x100000, 0x100000)]);
    assert_eq!(
        plan(&mut flash, &old, &as_app, false).unwrap_err().to_string(),
        "partition 'vfs' holds 4 files (10 KiB) in a littlefs 2.0 filesystem, and this edit re-types it as app: the \
         files would be lost"
    );
    let p = plan(&mut flash, &old, &as_app, true).unwrap();
    assert_eq!((p.parts[0].carried.action, p.keep.len()), (Action::Discarded, 0));
    assert_eq!(p.parts[0].carried.new_name.as_deref(), Some("vfs"), "re-typed, not deleted");

    // A littlefs superblock name over garbage: found, but not readable.
    let (mut flash, _) = blank(4 * MB, &[]);
    let mut junk = vec![0x5Au8; 0x2000];
    junk[8..16].copy_from_slice(b"littlefs");
    flash.write(0x100000, &junk).unwrap();
    let moved = layout(&[FACTORY, ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x180000, 0x80000)]);
    let e = plan(&mut flash, &old, &moved, false).unwrap_err();
    assert!(matches!(e, CarryError::Unreadable { .. }), "{e}");
    assert!(e.to_string().starts_with("partition 'vfs' holds a littlefs filesystem that cannot be read ("), "{e}");
    let p = plan(&mut flash, &old, &moved, true).unwrap();
    assert_eq!(p.parts[0].carried.action, Action::Discarded);
    // Blank, or not a filesystem: nothing to keep, nothing said.
    let (mut flash, _) = blank(4 * MB, &[]);
    assert!(plan(&mut flash, &old, &moved, false).unwrap().parts.is_empty());
}

#[test]
fn a_littlefs_larger_than_its_partition_is_planned_from_its_own_span() {
    // The 1 MB littlefs, its partition shrunk to 512 KB behind its back.
    let (mut flash, _) = flash_with_files();
    let old = layout(&[FACTORY, ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x100000, 0x80000)]);
    // The partition gets its size back: the filesystem is left as it is.
    let back = layout(&[FACTORY, ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x100000, 0x100000)]);
    let p = plan(&mut flash, &old, &back, false).unwrap();
    let c = &p.parts[0].carried;
    assert_eq!((c.action, p.keep.clone()), (Action::Unchanged, vec![0x100000]));
    assert_eq!(c.from, Place { offset: 0x100000, size: 0x80000, implicit: false }, "where the table had it");
    // Moved elsewhere: made again from the whole of it.
    let moved = layout(&[FACTORY, ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x200000, 0x80000)]);
    let p = plan(&mut flash, &old, &moved, false).unwrap();
    assert_eq!((p.parts[0].carried.action, p.parts[0].carried.contents.map(|s| s.files)), (Action::Recreated, Some(4)));
    recreate(&mut flash, &p).unwrap();
    verify(&mut flash, &p).unwrap();
}

#[test]
fn a_littlefs_past_the_end_of_the_flash_is_made_again_from_what_the_flash_holds() {
    // A table for 8 MB on a 4 MB flash: vfs (0x300000..0x700000) is cut by the
    // flash's end, its littlefs (4 MB, files at its start) counts blocks the
    // flash does not have.
    let mut flash = FileFlash::new(vec![0xFF; 8 * MB as usize], 0, 8 * MB);
    let parts = [part("vfs", 0x300000, 0x400000)];
    let host = tempfile::tempdir().unwrap();
    make_tree(host.path());
    let src = host.path().join("lib");
    run(&mut flash, &parts, &["mkfs", &format!("put {} /", src.display())]).ok();
    let mut small = FileFlash::new(flash.bytes()[..4 * MB as usize].to_vec(), 0, 4 * MB);
    let old = layout(&[FACTORY, ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x300000, 0x400000)]);
    let new = layout(&[FACTORY, ("vfs", TYPE_DATA, SUBTYPE_FAT, 0x300000, 0x100000)]);
    let p = plan(&mut small, &old, &new, false).unwrap();
    let c = &p.parts[0].carried;
    assert_eq!((c.action, c.contents.map(|s| s.files)), (Action::Recreated, Some(4)));
    assert_eq!(c.from, Place { offset: 0x300000, size: 0x400000, implicit: false });
    recreate(&mut small, &p).unwrap();
    verify(&mut small, &p).unwrap();
    let (_, out, _) = run(&mut small, &[part("vfs", 0x300000, 0x100000)], &["ls"]).ok();
    assert!(out.starts_with("boot.py\nlib/\nlib/util.py\n"), "{out}");
}
