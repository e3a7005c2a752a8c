//! Filesystem helpers: firmware files and flash images with their
//! partitions, running `--fs` commands through the library, a recording
//! flash, and trees of host files.

use std::path::Path;

use mpimg::flash::{FileFlash, Flash, FlashError};
use mpimg::fs::{run_fs_commands, FsError, FsPartition, FsRunReport};

use super::firmware_bytes;

pub const MB: u32 = 0x10_0000;

pub fn part(name: &str, offset: u32, size: u32) -> FsPartition {
    FsPartition { name: name.into(), offset, size, implicit: false }
}

/// ESP32_GENERIC v1.23.0: file from 0x1000, vfs 0x200000+0x200000 beyond its end.
pub fn esp32_v123() -> Option<(FileFlash, Vec<FsPartition>)> {
    let data = firmware_bytes("ESP32_GENERIC-20240602-v1.23.0.bin")?;
    let parts = vec![
        part("nvs", 0x9000, 0x6000),
        part("phy_init", 0xf000, 0x1000),
        part("factory", 0x10000, 0x1f0000),
        part("vfs", 0x200000, 0x200000),
    ];
    Some((FileFlash::new(data, 0x1000, 4 * MB), parts))
}

/// A blank synthetic flash of `size` bytes starting at 0, with partitions.
pub fn blank(size: u32, parts: &[(&str, u32, u32)]) -> (FileFlash, Vec<FsPartition>) {
    (FileFlash::new(Vec::new(), 0, size), parts.iter().map(|&(n, o, s)| part(n, o, s)).collect())
}

/// Words of one command.
pub fn cmd(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

pub struct Outcome {
    pub result: Result<FsRunReport, FsError>,
    pub out: String,
    pub log: String,
}

impl Outcome {
    pub fn ok(self) -> (FsRunReport, String, String) {
        match self.result {
            Ok(r) => (r, self.out, self.log),
            Err(e) => panic!("fs commands failed: {e}\nlog:\n{}", self.log),
        }
    }
    pub fn err(self) -> String {
        match self.result {
            Ok(_) => panic!("fs commands succeeded, expected an error\nout:\n{}", self.out),
            Err(e) => e.to_string(),
        }
    }
}

/// Run commands given as words (each `Vec<String>`).
pub fn run_words(flash: &mut dyn Flash, parts: &[FsPartition], cmds: &[Vec<String>]) -> Outcome {
    let mut out = Vec::new();
    let mut log = Vec::new();
    let result = run_fs_commands(flash, parts, cmds, &mut out, &mut log);
    Outcome { result, out: String::from_utf8_lossy(&out).into_owned(), log: String::from_utf8_lossy(&log).into_owned() }
}

/// Run commands given as strings split on whitespace.
pub fn run(flash: &mut dyn Flash, parts: &[FsPartition], cmds: &[&str]) -> Outcome {
    run_words(flash, parts, &cmds.iter().map(|c| cmd(c)).collect::<Vec<_>>())
}

/// The bytes of a partition as the flash holds them (0xFF past a file's end).
pub fn region(flash: &mut dyn Flash, p: &FsPartition) -> Vec<u8> {
    flash.read_vec(p.offset, p.size).unwrap()
}

/// A [`Flash`] wrapper that records every read and write (for the cache tests).
pub struct Recording<'a> {
    pub inner: &'a mut dyn Flash,
    pub reads: Vec<(u32, u32)>,
    pub writes: Vec<(u32, u32)>,
    pub erases: Vec<(u32, u32)>,
    /// Writes and erases in the order they came: ("write" | "erase", offset, length).
    pub changes: Vec<(&'static str, u32, u32)>,
}

impl<'a> Recording<'a> {
    pub fn new(inner: &'a mut dyn Flash) -> Self {
        Recording { inner, reads: Vec::new(), writes: Vec::new(), erases: Vec::new(), changes: Vec::new() }
    }
    /// Every 4 KB block index touched by the recorded reads, in order.
    pub fn blocks_read(&self) -> Vec<u32> {
        self.reads.iter().flat_map(|&(o, l)| (o / 4096)..((o + l) / 4096)).collect()
    }
}

impl Flash for Recording<'_> {
    fn stored_end(&self) -> Option<u32> {
        self.inner.stored_end()
    }
    fn start(&self) -> u32 {
        self.inner.start()
    }
    fn data_end(&self) -> u32 {
        self.inner.data_end()
    }
    fn capacity(&self) -> u32 {
        self.inner.capacity()
    }
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.reads.push((offset, buf.len() as u32));
        self.inner.read(offset, buf)
    }
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        self.writes.push((offset, data.len() as u32));
        self.changes.push(("write", offset, data.len() as u32));
        self.inner.write(offset, data)
    }
    fn erase(&mut self, offset: u32, len: u32) -> Result<(), FlashError> {
        self.erases.push((offset, len));
        self.changes.push(("erase", offset, len));
        self.inner.erase(offset, len)
    }
}

/// Write a small tree of files under `root` and return (relative path, bytes).
pub fn make_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = vec![
        ("main.py".into(), b"print('hello')\n".to_vec()),
        ("lib/util.py".into(), b"def f():\n    return 42\n".to_vec()),
        ("lib/pkg/data.bin".into(), (0..10_000u32).map(|i| (i * 31 % 256) as u8).collect()),
        ("lib/pkg/empty.txt".into(), Vec::new()),
        ("Long File Name With Spaces.txt".into(), b"long name\n".to_vec()),
    ];
    for (rel, data) in &files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
    files
}

/// Set a file's modification time (seconds since 1970).
pub fn set_mtime(path: &Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)).unwrap();
}

/// (path, length, FNV-1a hash) of each file, sorted: compact to compare and print.
pub fn summary(files: &[(String, Vec<u8>)]) -> Vec<(String, usize, u64)> {
    let mut v: Vec<(String, usize, u64)> = files
        .iter()
        .map(|(p, d)| {
            (
                p.clone(),
                d.len(),
                d.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3)),
            )
        })
        .collect();
    v.sort();
    v
}

/// Every file under `root` as (relative path with `/`, bytes), sorted.
pub fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
