//! Whole filesystem trees: read from a partition, made again at another size
//! (littlefs and FAT), compared; every littlefs attribute type and FAT time
//! carried; too small a partition found and refused.

use crate::util::fs::*;
use mpimg::flash::{FileFlash, Flash};
use mpimg::fs::tree::build::{build, smallest_size};
use mpimg::fs::tree::{read, survey, FatStamp, Meta, NodeKind, Tree, TreeKind, TreeStats};
use mpimg::fs::{BlockCache, FsError, FsPartition};
use mpimg_littlefs::{Attribute, BlockDevice, Config, DeviceError, Filesystem, DISK_VERSION_2_1};

/// A littlefs image in memory, made with the wrapper directly (so any
/// attribute type can be set).
#[derive(Debug)]
struct Ram(Vec<u8>);

impl BlockDevice for Ram {
    fn read(&mut self, block: u32, off: u32, buf: &mut [u8]) -> Result<(), DeviceError> {
        let a = block as usize * 4096 + off as usize;
        buf.copy_from_slice(&self.0[a..a + buf.len()]);
        Ok(())
    }
    fn prog(&mut self, block: u32, off: u32, data: &[u8]) -> Result<(), DeviceError> {
        let a = block as usize * 4096 + off as usize;
        self.0[a..a + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn erase(&mut self, block: u32) -> Result<(), DeviceError> {
        let a = block as usize * 4096;
        self.0[a..a + 4096].fill(0xFF);
        Ok(())
    }
}

fn attr(kind: u8, v: &[u8]) -> Attribute {
    Attribute { kind, value: v.to_vec() }
}

/// 256 blocks of littlefs 2.1: nested directories, attributes of several
/// types on files, a directory and the root, a 100 KB file and an empty one.
fn lfs_image() -> Vec<u8> {
    let mut ram = Ram(vec![0xFF; 256 * 4096]);
    let cfg = Config::micropython(256).with_disk_version(DISK_VERSION_2_1);
    Filesystem::format(&mut ram, &cfg).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg).unwrap();
    fs.mkdir("lib").unwrap();
    fs.mkdir("lib/deep").unwrap();
    fs.setattr("lib", 9, b"dir").unwrap();
    fs.setattr("/", 200, b"root").unwrap();
    for i in 0..30u32 {
        let data: Vec<u8> = (0..i * 97).map(|j| (j * 7 + i) as u8).collect();
        let mtime = (1_700_000_000u64 + u64::from(i)) * 1_000_000_000;
        fs.write_file(format!("lib/deep/f{i:02}.py"), &data, &[attr(1, &mtime.to_le_bytes())]).unwrap();
    }
    fs.write_file("big.bin", &vec![0x5A; 100_000], &[attr(1, &[1; 8]), attr(77, b"other")]).unwrap();
    fs.write_file("empty", b"", &[attr(0, b"")]).unwrap();
    fs.write_file(b"na\xefve", b"bytes name", &[]).unwrap();
    fs.unmount().0.unwrap();
    ram.0
}

const VFS: u32 = 0x10000;

fn flash_with(image: &[u8], size: u32) -> (FileFlash, FsPartition) {
    let mut flash = FileFlash::new(Vec::new(), 0, 16 * MB);
    flash.write(VFS, image).unwrap();
    (flash, part("vfs", VFS, size))
}

fn tree_of(flash: &mut dyn Flash, p: &FsPartition) -> Tree {
    read(&mut BlockCache::new(flash), p).unwrap()
}

/// Build `tree` for `size` bytes, put it into a fresh flash and read it back.
fn rebuilt(tree: &Tree, size: u32) -> Tree {
    let b = build(tree, "vfs", size).unwrap();
    assert!(b.image.len() <= size as usize && b.image.len().is_multiple_of(4096));
    let (mut flash, p) = flash_with(&b.image, size);
    tree_of(&mut flash, &p)
}

#[test]
fn a_littlefs_tree_is_read_and_made_again_exactly_at_another_size() {
    let (mut flash, p) = flash_with(&lfs_image(), 256 * 4096);
    let tree = tree_of(&mut flash, &p);
    assert_eq!(tree.kind, TreeKind::Littlefs { disk_version: DISK_VERSION_2_1 });
    assert_eq!(
        tree.stats(),
        TreeStats { files: 33, dirs: 2, bytes: (0..30u64).map(|i| i * 97).sum::<u64>() + 100_010 }
    );
    assert_eq!(tree.root_attrs, vec![attr(200, b"root")]);
    let paths: Vec<String> = tree.nodes.iter().take(5).map(|n| String::from_utf8_lossy(&n.path).into_owned()).collect();
    assert_eq!(paths, ["big.bin", "empty", "lib", "lib/deep", "lib/deep/f00.py"]);
    let big = &tree.nodes[0];
    assert_eq!(big.meta, Meta::Littlefs(vec![attr(1, &[1; 8]), attr(77, b"other")]));
    assert_eq!(tree.nodes[2].meta, Meta::Littlefs(vec![attr(9, b"dir")]));
    assert_eq!(tree.nodes.last().unwrap().path, b"na\xefve");
    let s = survey(&mut BlockCache::new(&mut flash), &p).unwrap().unwrap();
    assert_eq!((s.describe.as_str(), s.fs_size, s.stats), ("littlefs 2.1", 256 * 4096, tree.stats()));

    for size in [64 * 4096, 1024 * 4096] {
        let copy = rebuilt(&tree, size);
        assert_eq!(tree.difference(&copy), None, "at {size:#x}");
        assert_eq!(copy, tree);
        let (mut f, p) = flash_with(&build(&tree, "vfs", size).unwrap().image, size);
        let s = survey(&mut BlockCache::new(&mut f), &p).unwrap().unwrap();
        assert_eq!(s.fs_size, size, "the block count is the partition's");
    }
}

#[test]
fn differences_are_named() {
    let (mut flash, p) = flash_with(&lfs_image(), 256 * 4096);
    let tree = tree_of(&mut flash, &p);
    let mut t = tree.clone();
    t.nodes[0].kind = NodeKind::File(vec![0x5A; 99_999]);
    assert_eq!(tree.difference(&t).as_deref(), Some("the contents of 'big.bin' differ"));
    let mut t = tree.clone();
    t.nodes[0].meta = Meta::Littlefs(vec![attr(1, &[1; 8])]);
    assert_eq!(tree.difference(&t).as_deref(), Some("the attributes or times of 'big.bin' differ"));
    let mut t = tree.clone();
    t.nodes.pop();
    assert_eq!(tree.difference(&t).as_deref(), Some("'na\u{fffd}ve' is missing"));
    let mut t = tree.clone();
    t.kind = TreeKind::Littlefs { disk_version: 0x0002_0000 };
    assert!(tree.difference(&t).is_some());
    let mut t = tree.clone();
    t.root_attrs.clear();
    assert_eq!(tree.difference(&t).as_deref(), Some("the root directory's attributes differ"));
}

#[test]
fn too_small_a_partition_is_found_and_the_smallest_one_that_fits() {
    let (mut flash, p) = flash_with(&lfs_image(), 256 * 4096);
    let tree = tree_of(&mut flash, &p);
    let err = build(&tree, "vfs", 16 * 4096).unwrap_err();
    assert!(matches!(err, FsError::NoSpace { .. }), "{err}");
    let (size, built) = smallest_size(&tree, "vfs", 256 * 4096).unwrap();
    assert_eq!(size % 4096, 0);
    assert!(build(&tree, "vfs", size - 4096).is_err());
    assert_eq!(build(&tree, "vfs", size).unwrap(), built);
    assert!(built.used_blocks <= size / 4096, "{} used of {}", built.used_blocks, size / 4096);
    // From a size too small to start with, it searches upwards.
    assert_eq!(smallest_size(&tree, "vfs", 8 * 4096).unwrap().0, size);
}

fn fat_stamp(dt: (u16, u16, u16, u16, u16, u16, u16)) -> FatStamp {
    FatStamp { year: dt.0, month: dt.1, day: dt.2, hour: dt.3, min: dt.4, sec: dt.5, millis: dt.6 }
}

#[test]
fn a_fat_tree_keeps_names_bytes_and_times() {
    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x200000)]);
    let host = tempfile::tempdir().unwrap();
    let files = make_tree(host.path());
    set_mtime(&host.path().join("main.py"), 1_234_567_890);
    let mut put = cmd("put");
    put.extend(std::fs::read_dir(host.path()).unwrap().map(|e| e.unwrap().path().display().to_string()));
    put.push("/".into());
    run_words(&mut flash, &parts, &[cmd("mkfs vfs fat"), put]).ok();
    let tree = tree_of(&mut flash, &parts[0]);
    assert!(matches!(tree.kind, TreeKind::Fat { label, .. } if &label == b"NO NAME    "));
    assert_eq!(tree.stats().files as usize, files.len());
    let main = tree.nodes.iter().find(|n| n.path == b"main.py").unwrap();
    let Meta::Fat(t) = main.meta else { panic!("FAT times") };
    assert_eq!(t.modified, fat_stamp((2009, 2, 13, 23, 31, 30, 0)));
    // Times set apart from each other survive too (copying sets all three).
    let mut tree = tree;
    let i = tree.nodes.iter().position(|n| n.path == b"main.py").unwrap();
    tree.nodes[i].meta = Meta::Fat(mpimg::fs::tree::FatTimes {
        created: fat_stamp((2001, 1, 2, 3, 4, 5, 670)),
        accessed: fat_stamp((2002, 3, 4, 0, 0, 0, 0)),
        modified: fat_stamp((2003, 5, 6, 7, 8, 10, 0)),
    });
    for size in [0x40000, 0x600000] {
        let copy = rebuilt(&tree, size);
        assert_eq!(tree.difference(&copy), None, "at {size:#x}");
        assert_eq!(copy.kind, tree.kind, "serial and label kept");
    }
    let (mut f, p) = flash_with(&build(&tree, "vfs", 0x600000).unwrap().image, 0x600000);
    let s = survey(&mut BlockCache::new(&mut f), &p).unwrap().unwrap();
    assert_eq!((s.describe.as_str(), s.fs_size), ("FAT12", 0x600000));
}
