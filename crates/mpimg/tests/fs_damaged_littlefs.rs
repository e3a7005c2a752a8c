//! littlefs images damaged on purpose: a directory that holds itself (what
//! the fuzzer found on FAT), a file that claims more bytes than the filesystem,
//! a file whose blocks lie past the partition.
//! Each is made by mpimg (mkfs, mkdir, put) and then one kind of tag is
//! rewritten, its commit's CRC renewed, so littlefs takes it as valid.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mpimg::flash::{FileFlash, Flash};
use mpimg::fs::{run_fs_commands, FsError, FsPartition};

/// The largest single allocation this thread made since the last reset.
struct Largest;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Largest = Largest;

fn run(flash: &mut FileFlash, cmds: &[&[&str]]) -> (Result<(), FsError>, String) {
    let parts = [FsPartition { name: "vfs".into(), offset: 0, size: 0x10000, implicit: false }];
    let cmds: Vec<Vec<String>> = cmds.iter().map(|c| c.iter().map(|w| w.to_string()).collect()).collect();
    let mut out = Vec::new();
    let r = run_fs_commands(flash, &parts, &cmds, &mut out, &mut std::io::sink());
    (r.map(|_| ()), String::from_utf8(out).unwrap())
}

/// Let `f` change the data of each tag (type, data) in a metadata block,
/// renewing the CRC of each commit changed; returns how many it changed.
/// The layout is littlefs's SPEC.md: a revision count, then commits of
/// big-endian tags, each XORed with the one before (the first with
/// 0xffffffff), a commit ending in a CRC tag whose CRC (no final inversion)
/// covers the commit from its start (the block's start for the first).
fn patch_tags(block: &mut [u8], f: &mut impl FnMut(u32, &mut [u8]) -> bool) -> usize {
    let (mut off, mut start, mut ptag, mut patched, mut dirty) = (4usize, 0usize, 0xFFFF_FFFFu32, 0, false);
    while off + 4 <= block.len() {
        let tag = u32::from_be_bytes(block[off..off + 4].try_into().unwrap()) ^ ptag;
        if tag & 0x8000_0000 != 0 {
            break; // not a valid tag: the end of the log
        }
        let (kind, len) = ((tag >> 20) & 0x7FF, (tag & 0x3FF) as usize);
        let data = off + 4;
        if kind & 0x700 == 0x500 {
            if dirty {
                let crc = !crc32fast::hash(&block[start..data]);
                block[data..data + 4].copy_from_slice(&crc.to_le_bytes());
                dirty = false;
            }
            start = data + len;
            ptag = tag ^ ((kind & 1) << 31);
        } else {
            if len != 0x3FF && f(kind, &mut block[data..data + len]) {
                (patched, dirty) = (patched + 1, true);
            }
            ptag = tag;
        }
        off = data + if len == 0x3FF { 0 } else { len };
    }
    patched
}

/// Patch the tags of both blocks of the root's metadata pair (blocks 0, 1).
fn patch_root(flash: &mut FileFlash, mut f: impl FnMut(u32, &mut [u8]) -> bool) -> usize {
    let mut root = flash.bytes()[..0x2000].to_vec();
    let n = root.chunks_mut(0x1000).map(|b| patch_tags(b, &mut f)).sum();
    flash.write(0, &root).unwrap();
    n
}

/// The littlefs counterpart of the looping FAT directory the `fat` fuzz
/// target found: `/a`'s entry points at the root's metadata pair, so `/a`
/// holds `a` again, forever. Before, `ls` went 255 levels deep (resolving
/// each path from the root) and then gave up; now it stops at the repeat.
#[test]
fn a_directory_inside_itself_is_a_corrupt_filesystem() {
    let mut flash = FileFlash::new(vec![0xFF; 0x10000], 0, 0x10000);
    run(&mut flash, &[&["mkfs"], &["mkdir", "/a"]]).0.unwrap();
    // Every directory entry (DIRSTRUCT, 0x200: a metadata pair) -> the root's pair.
    let patched = patch_root(&mut flash, |kind, data| {
        (kind == 0x200).then(|| data.copy_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0])).is_some()
    });
    assert!(patched >= 1);
    let (r, out) = run(&mut flash, &[&["ls"]]);
    assert_eq!(
        (r.unwrap_err().to_string(), out.as_str()),
        (
            "the littlefs filesystem on 'vfs' is corrupt ('/a' is the directory '/' again: the directory tree \
             loops)"
                .to_string(),
            "boot.py\na/\n"
        )
    );
}

/// A file entry can claim up to 2 GB; reading it allocated that much before
/// littlefs read a byte (seen in the wrapper while writing the fuzz targets,
/// whose 512 MB malloc limit it would trip; not yet hit by them). More than
/// the filesystem holds is corrupt, found before any buffer is made.
#[test]
fn a_file_larger_than_the_filesystem_is_refused_before_allocating() {
    let mut flash = FileFlash::new(vec![0xFF; 0x10000], 0, 0x10000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zeros.bin");
    std::fs::write(&file, vec![0u8; 5000]).unwrap();
    run(&mut flash, &[&["mkfs"], &["put", file.to_str().unwrap(), "/"]]).0.unwrap();
    // The file's CTZSTRUCT (0x202: head block, size) claims 2 GB - 64 KB.
    let patched = patch_root(&mut flash, |kind, data| {
        (kind == 0x202).then(|| data[4..8].copy_from_slice(&0x7FFF_0000u32.to_le_bytes())).is_some()
    });
    assert!(patched >= 1);
    let (r, out) = run(&mut flash, &[&["ls", "-l"]]);
    assert!(r.is_ok() && out.contains("2147418112  2"), "{r:?} {out}");
    LARGEST.with(|m| m.set(0));
    let (r, out) = run(&mut flash, &[&["cat", "/zeros.bin"]]);
    let largest = LARGEST.with(Cell::get);
    assert_eq!(
        (r.unwrap_err().to_string(), out.len()),
        ("the littlefs filesystem on 'vfs' is corrupt (read '/zeros.bin')".to_string(), 0)
    );
    assert!(largest < 1 << 20, "largest allocation {largest} bytes");
}

/// Found by the `littlefs` fuzz target while a command that changes the
/// filesystem first walked it to learn the blocks in use: a file's head
/// block far past the partition overflowed the block number (the
/// partition's first block plus it). Such blocks are left out; littlefs
/// itself then finds the filesystem corrupt.
#[test]
fn a_block_past_the_partition_is_left_out_of_the_walk() {
    let mut flash = FileFlash::new(vec![0xFF; 0x20000], 0, 0x20000);
    let parts = [FsPartition { name: "vfs".into(), offset: 0x10000, size: 0x10000, implicit: false }];
    let run = |flash: &mut FileFlash, cmds: &[&str]| {
        let cmds: Vec<Vec<String>> = cmds.iter().map(|c| c.split(' ').map(str::to_string).collect()).collect();
        run_fs_commands(flash, &parts, &cmds, &mut std::io::sink(), &mut std::io::sink()).map(|_| ())
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zeros.bin");
    std::fs::write(&file, vec![0u8; 5000]).unwrap();
    run(&mut flash, &["mkfs", &format!("put {} /", file.display())]).unwrap();
    // The file's CTZSTRUCT (0x202: head block, size): the head near 4 G blocks.
    let mut root = flash.bytes()[0x10000..0x12000].to_vec();
    let mut head = |kind: u32, data: &mut [u8]| {
        (kind == 0x202).then(|| data[..4].copy_from_slice(&0xFFFF_FFF8u32.to_le_bytes())).is_some()
    };
    let patched: usize = root.chunks_mut(0x1000).map(|b| patch_tags(b, &mut head)).sum();
    assert!(patched >= 1);
    flash.write(0x10000, &root).unwrap();
    assert_eq!(
        run(&mut flash, &["mkdir /x"]).unwrap_err().to_string(),
        "the littlefs filesystem on 'vfs' is corrupt (mkdir '/x')"
    );
}
