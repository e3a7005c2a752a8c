//! The carrying table edit of `ops::carry::job` with a backup store in
//! memory, over a flash that stops working after a given number of 4 KB
//! sectors written or erased (the last write cut inside, keeping the
//! sectors before the cut): for every such cut, from none written to all,
//! running the same edit again on what the flash holds ends with the files
//! in place and the backup gone. No serial link, no disk: the operations
//! alone, as the device flow uses them.

use std::collections::BTreeMap;

use mpimg::flash::device::DeviceError;
use mpimg::flash::{FileFlash, Flash, FlashError, SECTOR_SIZE};
use mpimg::format::chip::Chip;
use mpimg::fs::tree::{read, Tree};
use mpimg::fs::{BlockCache, FsPartition};
use mpimg::ops::carry::backup::Board;
use mpimg::ops::carry::job::{finish, plan_change, prepare, BackupFate, Backups};
use mpimg::ops::carry::store::BackupStore;
use mpimg::ops::firmware::Firmware;
use mpimg::ops::layout::PartSpec;
use mpimg::ops::plan::TableEdits;
use mpimg::Error;

use crate::util::fs::{make_tree, run};
use crate::util::synth;

/// Backups in memory.
#[derive(Default)]
struct Memory(BTreeMap<String, Vec<u8>>);

impl BackupStore for Memory {
    fn save(&mut self, name: &str, bytes: &[u8]) -> Result<String, Error> {
        self.0.insert(name.to_owned(), bytes.to_vec());
        Ok(name.to_owned())
    }
    fn pending(&mut self) -> Result<Vec<String>, Error> {
        Ok(self.0.keys().cloned().collect())
    }
    fn load(&mut self, location: &str) -> Result<Vec<u8>, Error> {
        Ok(self.0[location].clone())
    }
    fn finish(&mut self, location: &str, _keep: bool) -> Result<Option<String>, Error> {
        self.0.remove(location);
        Ok(None)
    }
}

/// A flash whose link is cut after `budget` sectors written or erased.
struct Cut {
    inner: FileFlash,
    budget: u32,
    used: u32,
}

impl Cut {
    /// Spend sectors on the `len` bytes at `offset`; how many bytes may be done, and whether that is all.
    fn spend(&mut self, offset: u32, len: u32) -> (u32, bool) {
        let first = offset / SECTOR_SIZE;
        let last = (offset + len).div_ceil(SECTOR_SIZE);
        let sectors = last - first;
        let left = self.budget.saturating_sub(self.used);
        self.used += sectors.min(left);
        if sectors <= left {
            return (len, true);
        }
        (((first + left) * SECTOR_SIZE).saturating_sub(offset).min(len), false)
    }
}

fn cut() -> FlashError {
    FlashError::Device(DeviceError::Protocol { what: "the link was cut".into() })
}

impl Flash for Cut {
    fn start(&self) -> u32 {
        self.inner.start()
    }
    fn data_end(&self) -> u32 {
        self.inner.data_end()
    }
    fn capacity(&self) -> u32 {
        self.inner.capacity()
    }
    fn stored_end(&self) -> Option<u32> {
        self.inner.stored_end()
    }
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.inner.read(offset, buf)
    }
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        let (n, all) = self.spend(offset, data.len() as u32);
        self.inner.write(offset, &data[..n as usize])?;
        if all {
            Ok(())
        } else {
            Err(cut())
        }
    }
    fn erase(&mut self, offset: u32, len: u32) -> Result<(), FlashError> {
        let (n, all) = self.spend(offset, len);
        self.inner.erase(offset, n - n % SECTOR_SIZE)?;
        if all {
            Ok(())
        } else {
            Err(cut())
        }
    }
}

const VFS: u32 = 0x80000;
const MOVED: u32 = 0x90000;
const SIZE: u32 = 0x40000;

/// A 4 MB s3 firmware whose vfs (0x80000, 256 KB) holds littlefs with a few files.
fn firmware_with_files() -> (Vec<u8>, Tree) {
    let table = synth::table(&[
        synth::entry("nvs", 1, 2, 0x9000, 0x6000, 0),
        synth::entry("phy_init", 1, 1, 0xf000, 0x1000, 0),
        synth::entry("factory", 0, 0, 0x10000, 0x70000, 0),
        synth::entry("vfs", 1, 0x81, VFS, SIZE, 0),
    ]);
    let fw = synth::firmware(9, 0, &table, &synth::app_image(9, "MicroPython v1.24.1 on 2024-11-29"));
    let mut flash = FileFlash::new(fw, 0, 4 << 20);
    let host = tempfile::tempdir().unwrap();
    make_tree(host.path());
    let parts = [FsPartition { name: "vfs".into(), offset: VFS, size: SIZE, implicit: false }];
    let lib = host.path().join("lib");
    let main = host.path().join("main.py");
    run(&mut flash, &parts, &["mkfs", &format!("put {} {} /", lib.display(), main.display())]).ok();
    let tree = tree_at(&mut flash, VFS);
    (flash.into_bytes(), tree)
}

fn tree_at(flash: &mut dyn Flash, offset: u32) -> Tree {
    read(&mut BlockCache::new(flash), &FsPartition { name: "vfs".into(), offset, size: SIZE, implicit: false }).unwrap()
}

/// The edit: 8 MB in the header, factory 64 KB larger (vfs moves onto most of its old place).
fn edits() -> TableEdits {
    TableEdits { flash_size: Some(8 << 20), resize: vec![PartSpec::sized("factory", 0x80000)], ..TableEdits::default() }
}

/// The whole edit on `flash`: (the flash afterwards, the run's result).
fn edit(flash: Cut, store: &mut Memory) -> (Cut, Result<BackupFate, Error>) {
    let chip = Chip::by_image_id(9).unwrap();
    let mut fw = match Firmware::open(flash, chip) {
        Ok(fw) => fw,
        Err(e) => panic!("the firmware does not open: {e}"),
    };
    let mut backups = Backups {
        store,
        board: Board { port: "/dev/ttyUSB0".into(), mac: Some("24:0a:c4:00:00:01".into()) },
        now: 1_764_411_300,
        keep: false,
    };
    let r = (|| {
        let change = plan_change(&mut fw, &edits(), 0, Some(&mut backups))?;
        let prepared = prepare(&mut fw, change, false, Some(&mut backups))?;
        Ok(finish(&mut fw, &prepared, Some(&mut backups))?.backup)
    })();
    (fw.flash, r)
}

#[test]
fn a_cut_after_any_sector_is_finished_by_the_same_edit() {
    let (bytes, tree) = firmware_with_files();
    let whole = |budget| Cut { inner: FileFlash::new(bytes.clone(), 0, 8 << 20), budget, used: 0 };
    let mut store = Memory::default();
    let (mut done, r) = edit(whole(u32::MAX), &mut store);
    assert!(matches!(r, Ok(BackupFate::Removed(_))), "{r:?}");
    assert_eq!(tree_at(&mut done, MOVED).difference(&tree), None);
    let total = done.used;
    let want = done.inner.into_bytes();
    assert!(total > 64, "the edit writes the filesystem ({total} sectors)");
    for budget in 0..total {
        let mut store = Memory::default();
        let (cut, r) = edit(whole(budget), &mut store);
        assert!(r.is_err(), "cut after {budget} of {total} sectors");
        assert_eq!(store.0.len(), 1, "cut after {budget}: the backup waits");
        let again = Cut { inner: cut.inner, budget: u32::MAX, used: 0 };
        let (mut again, r) = edit(again, &mut store);
        assert!(matches!(r, Ok(BackupFate::Removed(_))), "re-run after a cut after {budget}: {r:?}");
        assert!(store.0.is_empty(), "cut after {budget}: the backup is gone");
        assert_eq!(tree_at(&mut again, MOVED).difference(&tree), None, "cut after {budget}: the files");
        let got = again.inner.into_bytes();
        assert!(got[..0x9000] == want[..0x9000], "cut after {budget}: the bootloader header and table");
    }
}
