//! Helpers shared by the fuzz targets: an in-memory flash holding the fuzz
//! input as one filesystem partition, and a walk that reads everything a
//! mounted volume has. Each target in `fuzz_targets/` is a few lines over the
//! library's public API, so a rename in mpimg is a one-line fix here.

use mpimg::flash::FileFlash;
use mpimg::fs::detect::{detect, Detected};
use mpimg::fs::path::FsPath;
use mpimg::fs::volume::Volume;
use mpimg::fs::{BlockCache, FsPartition};

/// Flash offset of the partition the filesystem targets put their input in
/// (where MicroPython's 4 MB ESP32 layout keeps `vfs`).
pub const PART_OFFSET: u32 = 0x200000;
/// Block size of every mpimg filesystem (one flash sector).
pub const BLOCK: u32 = 0x1000;
/// Directory depth the walk goes to (the `ls` of [`run_read_commands`]
/// goes as deep as mpimg does): each level resolves its path from the root,
/// so depth costs quadratically.
const MAX_DEPTH: usize = 16;
/// Entries the walk visits at most, and files it reads at most: reading a
/// file resolves its path, which on FAT scans the directory, so reading all
/// of a directory's n files costs n² entries (a cost of the path-based
/// volume API on a huge, usually damaged, directory, not of one parser);
/// these bounds keep one input well under a second.
const MAX_ENTRIES: usize = 512;
const MAX_FILES: usize = 64;

/// Smallest partition the filesystem targets mount: room for the seeds'
/// filesystems (16-block littlefs, 32-sector FAT) with the input cut short.
pub const MIN_PART: u32 = 0x40000;

/// A flash whose partition at [`PART_OFFSET`] holds `data`, and that
/// partition: `data` rounded up to whole blocks, at least [`MIN_PART`]. What
/// lies past the input reads as erased flash, as on a board, so seeds can
/// leave out their erased tails.
pub fn partition_flash(data: &[u8]) -> (FileFlash, FsPartition) {
    let size = (data.len() as u32).div_ceil(BLOCK).saturating_mul(BLOCK).max(MIN_PART);
    // The file starts at the partition: nothing before it is ever read.
    let flash = FileFlash::new(data.to_vec(), PART_OFFSET, PART_OFFSET + size);
    let part = FsPartition { name: "vfs".into(), offset: PART_OFFSET, size, implicit: false };
    (flash, part)
}

/// What the first two blocks of the partition hold, as `open` decides.
pub fn detected(data: &[u8]) -> Detected {
    let block = |i: usize| {
        let mut b = vec![0xFFu8; BLOCK as usize];
        let from = data.get(i * BLOCK as usize..).unwrap_or_default();
        let n = from.len().min(b.len());
        b[..n].copy_from_slice(&from[..n]);
        b
    };
    detect(&block(0), &block(1))
}

/// Detect and mount the filesystem of `part`, then list its directories
/// (down to [`MAX_DEPTH`], [`MAX_ENTRIES`] entries), read its files (up to
/// [`MAX_FILES`], with their mtime where the filesystem keeps one), stat one
/// entry and read one file per directory without mtime, and ask for usage
/// and info: every read-only thing `--fs` does with a volume.
pub fn mount_and_walk(flash: &mut FileFlash, part: &FsPartition) {
    let mut cache = BlockCache::new(flash);
    let Ok(mut vol) = mpimg::fs::open_volume(&mut cache, part) else { return };
    let _ = vol.describe();
    let _ = vol.usage();
    let _ = vol.info();
    let mut budget = Budget { entries: MAX_ENTRIES, files: MAX_FILES };
    walk(&mut *vol, &FsPath::root(&part.name), 0, &mut budget);
    let _ = vol.finish();
}

struct Budget {
    entries: usize,
    files: usize,
}

fn walk(vol: &mut dyn Volume, dir: &FsPath, depth: usize, budget: &mut Budget) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = vol.list(dir, true) else { return };
    if let Some(e) = entries.first() {
        let _ = vol.stat(&dir.join(&e.name));
    }
    if let Some(e) = entries.iter().find(|e| !e.is_dir) {
        let _ = vol.read_file(&dir.join(&e.name));
    }
    for e in entries {
        if budget.entries == 0 {
            return;
        }
        budget.entries -= 1;
        let path = dir.join(&e.name);
        if e.is_dir {
            walk(vol, &path, depth + 1, budget);
        } else if budget.files > 0 {
            budget.files -= 1;
            let _ = vol.read_file_with_mtime(&path);
        }
    }
}

/// Run read-only `--fs` commands through the public entry point, as the
/// command line does: listings, usage, info.
pub fn run_read_commands(flash: &mut FileFlash, part: &FsPartition) {
    let commands: Vec<Vec<String>> =
        [&["ls", "-l"][..], &["df"], &["info"]].iter().map(|c| c.iter().map(|s| s.to_string()).collect()).collect();
    let _ = mpimg::fs::run_fs_commands(flash, std::slice::from_ref(part), &commands, &mut std::io::sink(), &mut std::io::sink());
}
