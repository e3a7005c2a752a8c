//! FAT volumes damaged on purpose: a directory entry or a FAT entry that
//! names cluster 1 (reserved) or a cluster past the last one. `fatfs` 0.3.6
//! computes a sector from such a number with `cluster - 2` in `u32` (what
//! the `fat` fuzz target found: a panic in debug builds, a wild read in
//! release ones); mpimg refuses the volume, or the directory, first.
//! Each volume is made by mpimg (mkfs, mkdir, write) on a 256 KB partition
//! (FAT12, 4 KB sectors and clusters, clusters 2 to 59) and then patched.

use mpimg::flash::{FileFlash, Flash};
use mpimg::fs::detect::FatBootSector;
use mpimg::fs::{run_fs_commands, Filesystem, FsError, FsKind, FsPartition};

const SIZE: u32 = 0x40000;

fn part() -> FsPartition {
    FsPartition { name: "vfs".into(), offset: 0, size: SIZE, implicit: false }
}

fn run(flash: &mut FileFlash, cmds: &[&[&str]]) -> (Result<(), FsError>, String) {
    let cmds: Vec<Vec<String>> = cmds.iter().map(|c| c.iter().map(|w| w.to_string()).collect()).collect();
    let mut out = Vec::new();
    let r = run_fs_commands(flash, &[part()], &cmds, &mut out, &mut std::io::sink());
    (r.map(|_| ()), String::from_utf8(out).unwrap())
}

/// `/boot.py` (one cluster), `/lib/main.py` (two clusters: 5000 bytes).
fn volume() -> FileFlash {
    let mut flash = FileFlash::new(vec![0xFF; SIZE as usize], 0, SIZE);
    let mut fs = Filesystem::new(&mut flash, part());
    fs.format(FsKind::Fat).unwrap();
    fs.write("/boot.py", b"import main\n").unwrap();
    fs.mkdir("/lib").unwrap();
    fs.write("/lib/main.py", &[b'#'; 5000]).unwrap();
    fs.commit().unwrap();
    flash
}

struct Layout {
    fat: usize,
    root: usize,
    root_len: usize,
    data: usize,
    cluster: usize,
}

fn layout(bytes: &[u8]) -> Layout {
    let b = FatBootSector::parse(&bytes[..4096]).unwrap();
    let bps = usize::from(b.bytes_per_sector);
    let fat = usize::from(b.reserved_sectors) * bps;
    let root = fat + usize::from(b.fats) * b.sectors_per_fat as usize * bps;
    let root_len = b.root_dir_sectors() as usize * bps;
    Layout { fat, root, root_len, data: root + root_len, cluster: b.cluster_size() as usize }
}

/// Byte offset of the short entry named `name` (11 bytes, 8.3 padded)
/// in the directory of `len` bytes at `dir`.
fn find(bytes: &[u8], dir: usize, len: usize, name: &[u8; 11]) -> usize {
    (dir..dir + len).step_by(32).find(|&at| &bytes[at..at + 11] == name).unwrap()
}

fn cluster_of(bytes: &[u8], entry: usize) -> u16 {
    u16::from_le_bytes([bytes[entry + 26], bytes[entry + 27]])
}

fn set_cluster(flash: &mut FileFlash, entry: usize, cluster: u16) {
    flash.write(entry as u32 + 26, &cluster.to_le_bytes()).unwrap();
}

/// Set the FAT12 entry of cluster `n` to `v`.
fn set_fat12(flash: &mut FileFlash, fat: usize, n: usize, v: u16) {
    let at = fat + n + n / 2;
    let b = flash.bytes();
    let old = u16::from_le_bytes([b[at], b[at + 1]]);
    let new = if n.is_multiple_of(2) { (old & 0xF000) | v } else { (old & 0x000F) | (v << 4) };
    flash.write(at as u32, &new.to_le_bytes()).unwrap();
}

fn corrupt(detail: &str) -> String {
    format!("the FAT filesystem on 'vfs' is corrupt ({detail})")
}

/// The fuzzer's input, made small: a file's directory entry names cluster
/// one. Listing its directory, reading, replacing and removing it are
/// refused with the entry named; what lies outside that directory still
/// reads, and nothing is written.
#[test]
fn a_directory_entry_at_cluster_1_is_refused() {
    let mut flash = volume();
    let l = layout(flash.bytes());
    let lib = find(flash.bytes(), l.root, l.root_len, b"LIB        ");
    let lib_dir = l.data + (usize::from(cluster_of(flash.bytes(), lib)) - 2) * l.cluster;
    let main = find(flash.bytes(), lib_dir, l.cluster, b"MAIN    PY ");
    set_cluster(&mut flash, main, 1);
    let before = flash.bytes().to_vec();

    let reserved = corrupt("the directory entry '/lib/main.py' points at cluster 1, which is reserved");
    for cmd in [&["ls", "-l", "/lib"][..], &["cat", "/lib/main.py"], &["rm", "/lib/main.py"], &["ls", "-l"]] {
        let (r, _) = run(&mut flash, &[cmd]);
        assert_eq!(r.unwrap_err().to_string(), reserved, "{cmd:?}");
    }
    let (r, _) = run(&mut flash, &[&["mkdir", "/lib/sub"]]);
    assert_eq!(r.unwrap_err().to_string(), reserved);
    // The root holds nothing wrong: its files read, and a listing of it alone works.
    let (r, out) = run(&mut flash, &[&["cat", "/boot.py"], &["ls", "/boot.py"]]);
    assert_eq!((r.is_ok(), out.as_str()), (true, "import main\nboot.py\n"), "{r:?}");
    assert_eq!(flash.bytes(), &before[..]);

    // The same entry past the last cluster (59), then at cluster 0 (an
    // empty file, which is fine).
    set_cluster(&mut flash, main, 60);
    let (r, _) = run(&mut flash, &[&["cat", "/lib/main.py"]]);
    let past = corrupt("the directory entry '/lib/main.py' points at cluster 60, past the last cluster (59)");
    assert_eq!(r.unwrap_err().to_string(), past);
    set_cluster(&mut flash, main, 0xFFFF);
    let (r, _) = run(&mut flash, &[&["cat", "/lib/main.py"]]);
    let far = corrupt("the directory entry '/lib/main.py' points at cluster 65535, past the last cluster (59)");
    assert_eq!(r.unwrap_err().to_string(), far);
}

/// A directory's own entry at cluster 1: `fatfs` would read the directory
/// there. Refused when the root (where the entry is) is read.
#[test]
fn a_directory_at_cluster_1_is_refused() {
    let mut flash = volume();
    let l = layout(flash.bytes());
    let lib = find(flash.bytes(), l.root, l.root_len, b"LIB        ");
    set_cluster(&mut flash, lib, 1);
    let reserved = corrupt("the directory entry '/lib' points at cluster 1, which is reserved");
    for cmd in [&["ls"][..], &["ls", "/lib"], &["cat", "/lib/main.py"], &["cat", "/boot.py"], &["rm", "/boot.py"]] {
        let (r, _) = run(&mut flash, &[cmd]);
        assert_eq!(r.unwrap_err().to_string(), reserved, "{cmd:?}");
    }
    // df and info read no directory: they still work.
    let (r, out) = run(&mut flash, &[&["df"]]);
    assert!(r.is_ok() && out.contains("vfs"), "{r:?} {out}");
}

/// A FAT entry holding 1 in the chain of `/lib/main.py`: `fatfs` would
/// follow it to cluster 1. The volume is refused at mount, whatever the
/// command; so is an entry past the last cluster, and one of 0xFF0-0xFF6
/// (no end-of-chain mark to `fatfs`, which follows it too).
#[test]
fn a_fat_entry_of_1_is_refused_at_mount() {
    let mut flash = volume();
    let l = layout(flash.bytes());
    let lib = find(flash.bytes(), l.root, l.root_len, b"LIB        ");
    let lib_dir = l.data + (usize::from(cluster_of(flash.bytes(), lib)) - 2) * l.cluster;
    let main = find(flash.bytes(), lib_dir, l.cluster, b"MAIN    PY ");
    let first = usize::from(cluster_of(flash.bytes(), main));
    let (r, out) = run(&mut flash, &[&["cat", "/lib/main.py"]]);
    assert_eq!((r.is_ok(), out.len()), (true, 5000), "{r:?}");

    for (v, detail) in [
        (1, format!("the FAT entry of cluster {first} points at cluster 1, which is reserved")),
        (60, format!("the FAT entry of cluster {first} points at cluster 60, past the last cluster (59)")),
        (0xFF0, format!("the FAT entry of cluster {first} points at cluster 4080, past the last cluster (59)")),
    ] {
        set_fat12(&mut flash, l.fat, first, v);
        // (`df` without a partition would skip the volume with a warning.)
        for cmd in [&["cat", "/lib/main.py"][..], &["ls"], &["df", "vfs"], &["mkdir", "/x"]] {
            let (r, _) = run(&mut flash, &[cmd]);
            assert_eq!(r.map_err(|e| e.to_string()), Err(corrupt(&detail)), "{v:#x} {cmd:?}");
        }
    }
    // The entry of a cluster no file uses counts too.
    set_fat12(&mut flash, l.fat, first, 0xFFF);
    set_fat12(&mut flash, l.fat, 59, 1);
    let (r, _) = run(&mut flash, &[&["ls"]]);
    assert_eq!(
        r.unwrap_err().to_string(),
        corrupt("the FAT entry of cluster 59 points at cluster 1, which is reserved")
    );
    set_fat12(&mut flash, l.fat, 59, 0);
    let (r, out) = run(&mut flash, &[&["cat", "/lib/main.py"]]);
    assert_eq!((r.is_ok(), out.len()), (true, 4096), "{r:?}");
}

/// The fat fuzz target's seeds of these faults (fuzz/seeds/fat/damaged-*,
/// made by scripts/fuzz-seeds.py: 512-byte sectors, clusters 2 to 62), as
/// the target puts them in a partition: erased flash after the input.
#[test]
fn the_fuzz_seeds_of_these_faults_are_refused() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/fat");
    // Made by scripts/fuzz-seeds.py (.ci/run runs it first), not committed.
    if !seeds.join("damaged-fat-entry-1.bin").exists() {
        return crate::util::skip::<()>("fuzz/seeds (scripts/fuzz-seeds.py)").unwrap_or_default();
    }
    let cases = [
        ("damaged-entry-cluster-1.bin", "the directory entry '/A.TXT' points at cluster 1, which is reserved"),
        ("damaged-fat-entry-1.bin", "the FAT entry of cluster 2 points at cluster 1, which is reserved"),
        ("damaged-fat-entry-ff0.bin", "the FAT entry of cluster 2 points at cluster 4080, past the last cluster (62)"),
    ];
    for (name, detail) in cases {
        let mut bytes = std::fs::read(seeds.join(name)).unwrap();
        assert!(bytes.len() < 4096, "{name} is small");
        bytes.resize(SIZE as usize, 0xFF);
        let mut flash = FileFlash::new(bytes, 0, SIZE);
        for cmd in [&["ls"][..], &["cat", "/A.TXT"]] {
            let (r, _) = run(&mut flash, &[cmd]);
            assert_eq!(r.map_err(|e| e.to_string()), Err(corrupt(detail)), "{name} {cmd:?}");
        }
    }
    // The directory's own entry at cluster 1, once the root passes.
    let mut bytes = std::fs::read(seeds.join("damaged-entry-cluster-1.bin")).unwrap();
    bytes[1024 + 26] = 0; // /A.TXT: no cluster (an empty file)
    bytes.resize(SIZE as usize, 0xFF);
    let mut flash = FileFlash::new(bytes, 0, SIZE);
    let (r, out) = run(&mut flash, &[&["cat", "/A.TXT"], &["ls", "/D"]]);
    let reserved = corrupt("the directory entry '/D/B.TXT' points at cluster 1, which is reserved");
    assert_eq!((r.map_err(|e| e.to_string()), out.as_str()), (Err(reserved), ""));
}
