//! The wrapper against an in-memory block device: every operation, the
//! on-disk version pin, errors, and panics raised inside the device.

use mpimg_littlefs::{
    Attribute, BlockDevice, Config, DeviceError, DirEntry, Error, FileType, Filesystem, OpenFlags, DISK_VERSION_2_0,
    DISK_VERSION_2_1,
};

const BS: usize = 4096;

struct Ram {
    data: Vec<u8>,
    blocks: u32,
    reads: usize,
    progs: usize,
    erases: usize,
    fail_after_progs: Option<usize>,
    panic_on_erase: bool,
}

impl Ram {
    fn new(blocks: u32) -> Self {
        Ram {
            data: vec![0xFF; blocks as usize * BS],
            blocks,
            reads: 0,
            progs: 0,
            erases: 0,
            fail_after_progs: None,
            panic_on_erase: false,
        }
    }
    fn at(&self, block: u32, off: u32, len: usize) -> Result<usize, DeviceError> {
        if block >= self.blocks || off as usize + len > BS {
            return Err(DeviceError::Corrupt);
        }
        Ok(block as usize * BS + off as usize)
    }
}

impl std::fmt::Debug for Ram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ram({} blocks)", self.blocks)
    }
}

impl BlockDevice for Ram {
    fn read(&mut self, block: u32, off: u32, buf: &mut [u8]) -> Result<(), DeviceError> {
        let a = self.at(block, off, buf.len())?;
        self.reads += 1;
        buf.copy_from_slice(&self.data[a..a + buf.len()]);
        Ok(())
    }
    fn prog(&mut self, block: u32, off: u32, data: &[u8]) -> Result<(), DeviceError> {
        let a = self.at(block, off, data.len())?;
        if let Some(n) = self.fail_after_progs {
            if self.progs >= n {
                return Err(DeviceError::Io);
            }
        }
        self.progs += 1;
        self.data[a..a + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn erase(&mut self, block: u32) -> Result<(), DeviceError> {
        if self.panic_on_erase {
            panic!("device exploded");
        }
        let a = self.at(block, 0, BS)?;
        self.erases += 1;
        self.data[a..a + BS].fill(0xFF);
        Ok(())
    }
}

fn cfg(blocks: u32) -> Config {
    Config::micropython(blocks)
}

/// The on-disk version as a fresh, unpinned mount reports it.
fn disk_version(ram: &mut Ram) -> u32 {
    Filesystem::mount(ram, &cfg(0)).unwrap().fs_stat().unwrap().disk_version
}

/// The disk version field of the first superblock entry of a freshly formatted
/// block 0 or 1 (the newer of the pair), read without littlefs.
fn superblock_version(ram: &Ram) -> u32 {
    let rev = |b: usize| u32::from_le_bytes(ram.data[b * BS..b * BS + 4].try_into().unwrap());
    let b = if rev(1) != 0xFFFF_FFFF && rev(1) > rev(0) { 1 } else { 0 };
    let blk = &ram.data[b * BS..(b + 1) * BS];
    assert_eq!(&blk[8..16], b"littlefs");
    // revision(4) name-tag(4) "littlefs"(8) struct-tag(4) then the version.
    u32::from_le_bytes(blk[20..24].try_into().unwrap())
}

#[test]
fn format_mount_and_fs_stat() {
    let mut ram = Ram::new(64);
    Filesystem::format(&mut ram, &cfg(64).with_disk_version(DISK_VERSION_2_0)).unwrap();
    assert_eq!(superblock_version(&ram), DISK_VERSION_2_0);
    let mut fs = Filesystem::mount(&mut ram, &cfg(0)).unwrap();
    let info = fs.fs_stat().unwrap();
    assert_eq!(
        (info.disk_version, info.block_size, info.block_count, info.name_max),
        (DISK_VERSION_2_0, 4096, 64, 255)
    );
    // A fresh filesystem is the superblock pair.
    assert_eq!(fs.used_blocks().unwrap(), 2);
    fs.unmount().0.unwrap();

    let mut ram = Ram::new(64);
    Filesystem::format(&mut ram, &cfg(64)).unwrap();
    assert_eq!(superblock_version(&ram), DISK_VERSION_2_1);
}

#[test]
fn mount_refuses_blank_and_mismatched_block_count() {
    let mut ram = Ram::new(16);
    assert_eq!(Filesystem::mount(&mut ram, &cfg(16)).err().map(|e| e.0), Some(Error::Corrupt));
    Filesystem::format(&mut ram, &cfg(16)).unwrap();
    assert_eq!(Filesystem::mount(&mut ram, &cfg(8)).err().map(|e| e.0), Some(Error::Invalid));
    assert!(Filesystem::mount(&mut ram, &cfg(16)).is_ok());
    assert_eq!(Filesystem::format(&mut ram, &cfg(0)).err(), Some(Error::Config("format needs a block count")));
}

#[test]
fn files_dirs_attributes_rename_remove() {
    let mut ram = Ram::new(64);
    Filesystem::format(&mut ram, &cfg(64)).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(64)).unwrap();
    let big: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mtime = 1_700_000_000_123_456_789u64.to_le_bytes().to_vec();
    fs.mkdir("lib").unwrap();
    assert_eq!(fs.mkdir("lib"), Err(Error::Exists));
    fs.write_file("lib/big.bin", &big, &[Attribute { kind: 1, value: mtime.clone() }]).unwrap();
    fs.write_file("small.txt", b"hello", &[]).unwrap();
    assert_eq!(fs.read_file("lib/big.bin").unwrap(), big);
    assert_eq!(fs.read_file("/small.txt").unwrap(), b"hello");

    let mut buf = [0u8; 8];
    assert_eq!(fs.getattr("lib/big.bin", 1, &mut buf).unwrap(), Some(8));
    assert_eq!(buf.to_vec(), mtime);
    assert_eq!(fs.getattr("small.txt", 1, &mut buf).unwrap(), None);
    // The same attribute read with the file, in one lookup.
    assert_eq!(fs.read_file_with_attr("lib/big.bin", 1, 8).unwrap(), (big.clone(), Some(mtime.clone())));
    assert_eq!(fs.read_file_with_attr("small.txt", 1, 8).unwrap(), (b"hello".to_vec(), None));
    assert_eq!(fs.read_file_with_attr("nope", 1, 8), Err(Error::NoEntry));
    fs.setattr("small.txt", 7, b"xyz").unwrap();
    // A shorter stored value comes back zero-padded, a longer one cut.
    assert_eq!(fs.read_file_with_attr("small.txt", 7, 5).unwrap().1, Some(b"xyz\0\0".to_vec()));
    assert_eq!(fs.read_file_with_attr("small.txt", 7, 2).unwrap().1, Some(b"xy".to_vec()));
    let mut b3 = [0u8; 3];
    assert_eq!(fs.getattr("small.txt", 7, &mut b3).unwrap(), Some(3));
    assert_eq!(&b3, b"xyz");
    fs.removeattr("small.txt", 7).unwrap();
    assert_eq!(fs.getattr("small.txt", 7, &mut b3).unwrap(), None);

    let root = fs.read_dir("/", 100).unwrap();
    assert_eq!(
        root,
        vec![
            DirEntry { name: b"lib".to_vec(), file_type: FileType::Dir, size: 0 },
            DirEntry { name: b"small.txt".to_vec(), file_type: FileType::File, size: 5 },
        ]
    );
    assert_eq!(fs.read_dir("/", 1), Err(Error::Corrupt));
    assert_eq!(fs.stat("lib/big.bin").unwrap().size, 20_000);
    assert_eq!(fs.stat("nope"), Err(Error::NoEntry));
    assert_eq!(fs.read_dir("small.txt", 10), Err(Error::NotDir));
    assert_eq!(fs.stat("a\0b"), Err(Error::PathHasNul));

    fs.rename("small.txt", "lib/moved.txt").unwrap();
    assert_eq!(fs.read_file("lib/moved.txt").unwrap(), b"hello");
    assert_eq!(fs.remove("lib"), Err(Error::NotEmpty));
    fs.remove("lib/moved.txt").unwrap();
    fs.remove("lib/big.bin").unwrap();
    fs.remove("lib").unwrap();
    assert_eq!(fs.read_dir("/", 10).unwrap(), vec![]);
    assert_eq!(fs.used_blocks().unwrap(), 2);

    // Names longer than 255 bytes are refused by littlefs.
    let long = "n".repeat(256);
    assert_eq!(fs.write_file(&long, b"", &[]).err(), Some(Error::NameTooLong));
    let ok = "n".repeat(255);
    fs.write_file(&ok, b"x", &[]).unwrap();
    assert_eq!(fs.read_dir("/", 10).unwrap()[0].name.len(), 255);
}

#[test]
fn file_handle_reads_in_pieces_and_drop_closes() {
    let mut ram = Ram::new(32);
    Filesystem::format(&mut ram, &cfg(32)).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(32)).unwrap();
    {
        let mut f = fs.open("f", OpenFlags::CreateTruncate, &[]).unwrap();
        f.write_all(b"abc").unwrap();
        f.write_all(b"def").unwrap();
        // dropped without close(): still committed
    }
    let mut f = fs.open("f", OpenFlags::Read, &[]).unwrap();
    assert_eq!(f.size().unwrap(), 6);
    let mut b = [0u8; 4];
    assert_eq!(f.read(&mut b).unwrap(), 4);
    assert_eq!(&b, b"abcd");
    assert_eq!(f.read(&mut b).unwrap(), 2);
    assert_eq!(f.read(&mut b).unwrap(), 0);
    f.close().unwrap();
    assert_eq!(
        fs.open("missing", OpenFlags::Read, &[]).err().map(|e| e.to_string()),
        Some("no such file or directory".into())
    );
}

#[test]
fn pinned_2_0_stays_2_0_but_unpinned_write_upgrades() {
    let mut ram = Ram::new(32);
    Filesystem::format(&mut ram, &cfg(32).with_disk_version(DISK_VERSION_2_0)).unwrap();
    {
        let mut fs = Filesystem::mount(&mut ram, &cfg(0).with_disk_version(DISK_VERSION_2_0)).unwrap();
        fs.write_file("a", b"1", &[]).unwrap();
        fs.mkdir("d").unwrap();
        fs.rename("a", "d/a").unwrap();
        fs.remove("d/a").unwrap();
        assert_eq!(fs.fs_stat().unwrap().disk_version, DISK_VERSION_2_0);
    }
    assert_eq!(disk_version(&mut ram), DISK_VERSION_2_0);
    {
        // Unpinned: stat still reports the on-disk 2.0 until a write upgrades it.
        let mut fs = Filesystem::mount(&mut ram, &cfg(0)).unwrap();
        assert_eq!(fs.fs_stat().unwrap().disk_version, DISK_VERSION_2_0);
        fs.write_file("b", b"2", &[]).unwrap();
        assert_eq!(fs.fs_stat().unwrap().disk_version, DISK_VERSION_2_1);
        let (r, dev) = fs.unmount();
        assert_eq!((r, dev.blocks), (Ok(()), 32));
    }
    assert_eq!(disk_version(&mut ram), DISK_VERSION_2_1);
    // A 2.1 filesystem cannot be mounted by a driver pinned to 2.0.
    assert_eq!(
        Filesystem::mount(&mut ram, &cfg(0).with_disk_version(DISK_VERSION_2_0)).err().map(|e| e.0),
        Some(Error::Invalid)
    );
}

#[test]
fn grow_extends_and_refuses_shrink() {
    let mut ram = Ram::new(64);
    Filesystem::format(&mut ram, &cfg(16).with_disk_version(DISK_VERSION_2_0)).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(0).with_disk_version(DISK_VERSION_2_0)).unwrap();
    fs.grow(64).unwrap();
    let info = fs.fs_stat().unwrap();
    assert_eq!((info.block_count, info.disk_version), (64, DISK_VERSION_2_0));
    assert_eq!(fs.grow(32), Err(Error::Config("littlefs cannot shrink a filesystem")));
    drop(fs);
    let mut fs = Filesystem::mount(&mut ram, &cfg(64)).unwrap();
    assert_eq!(fs.fs_stat().unwrap().block_count, 64);
}

#[test]
fn no_space_leaves_earlier_files_intact() {
    let mut ram = Ram::new(16);
    Filesystem::format(&mut ram, &cfg(16)).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(16)).unwrap();
    fs.write_file("keep", b"precious", &[]).unwrap();
    let err = fs.write_file("huge", &vec![7u8; 16 * 4096], &[]).unwrap_err();
    assert_eq!(err, Error::NoSpace);
    drop(fs);
    let mut fs = Filesystem::mount(&mut ram, &cfg(16)).unwrap();
    assert_eq!(fs.read_file("keep").unwrap(), b"precious");
}

#[test]
fn device_errors_reach_the_caller() {
    let mut ram = Ram::new(16);
    Filesystem::format(&mut ram, &cfg(16)).unwrap();
    ram.fail_after_progs = Some(ram.progs);
    let mut fs = Filesystem::mount(&mut ram, &cfg(16)).unwrap();
    assert_eq!(fs.device().progs, fs.device().fail_after_progs.unwrap());
    assert_eq!(fs.write_file("x", b"data", &[]).err(), Some(Error::Io));
}

#[test]
fn a_panic_in_the_device_unwinds_to_the_caller() {
    let mut ram = Ram::new(16);
    ram.panic_on_erase = true;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Filesystem::format(&mut ram, &cfg(16))));
    let msg = r.err().and_then(|p| p.downcast_ref::<&str>().map(|s| s.to_string()));
    assert_eq!(msg.as_deref(), Some("device exploded"));
    ram.panic_on_erase = false;
    Filesystem::format(&mut ram, &cfg(16)).unwrap();
    assert!(ram.erases > 0 && ram.reads > 0);
}

#[test]
fn traverse_visits_every_used_block() {
    let mut ram = Ram::new(64);
    Filesystem::format(&mut ram, &cfg(64)).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(64)).unwrap();
    fs.write_file("f", &vec![1u8; 3 * 4096], &[]).unwrap();
    let mut seen = Vec::new();
    fs.traverse(&mut |b| seen.push(b)).unwrap();
    assert_eq!(seen.len() as u32, fs.used_blocks().unwrap());
    assert!(seen.contains(&0) && seen.contains(&1));
    // 3 data blocks of 4096 bytes need 4 littlefs blocks (CTZ pointers take room).
    assert_eq!(seen.len(), 2 + 4);
}

/// Blocks in use, sorted, each once.
fn used(fs: &mut Filesystem<&mut Ram>) -> Vec<u32> {
    let mut seen = Vec::new();
    fs.traverse(&mut |b| seen.push(b)).unwrap();
    seen.sort_unstable();
    seen.dedup();
    seen
}

#[test]
fn allocate_from_start_packs_new_blocks_at_the_start() {
    let files = |fs: &mut Filesystem<&mut Ram>| {
        for i in 0..5u8 {
            fs.write_file(format!("f{i}"), &vec![i; 5000], &[]).unwrap();
        }
    };
    // As mounted, littlefs starts at seed % block_count: not at the start.
    let mut ram = Ram::new(512);
    Filesystem::format(&mut ram, &cfg(512)).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(512)).unwrap();
    files(&mut fs);
    let scattered = used(&mut fs);
    assert_eq!(scattered, [0, 1].into_iter().chain(37..47).collect::<Vec<u32>>());
    fs.unmount().0.unwrap();

    let mut ram = Ram::new(512);
    Filesystem::format(&mut ram, &cfg(512)).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(512)).unwrap();
    fs.allocate_from_start();
    files(&mut fs);
    assert_eq!(used(&mut fs), (0..12).collect::<Vec<u32>>());
    // A freed block is reused first by the next mount that asks for it.
    fs.remove("f1").unwrap();
    fs.unmount().0.unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(512)).unwrap();
    fs.allocate_from_start();
    fs.write_file("g", &[7; 100], &[]).unwrap();
    fs.write_file("h", &[8; 5000], &[]).unwrap();
    let packed = used(&mut fs);
    assert_eq!(packed, (0..12).collect::<Vec<u32>>());
    // Nothing on disk pins the start: a plain mount still works and allocates.
    fs.unmount().0.unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(512)).unwrap();
    fs.write_file("i", &[9; 5000], &[]).unwrap();
    assert_eq!(fs.read_file("h").unwrap(), vec![8; 5000]);
    assert_eq!(used(&mut fs).len(), 14);
}

/// Every attribute of `path` the slow way: one `getattr` per type.
fn attrs_by_getattr<D: BlockDevice>(fs: &mut Filesystem<D>, path: &str) -> Vec<Attribute> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; mpimg_littlefs::ATTR_MAX];
    for kind in 0..=255u8 {
        if let Some(n) = fs.getattr(path, kind, &mut buf).unwrap() {
            out.push(Attribute { kind, value: buf[..n].to_vec() });
        }
    }
    out
}

#[test]
fn attrs_lists_every_type_exactly_through_splices_renames_and_compaction() {
    let mut ram = Ram::new(64);
    Filesystem::format(&mut ram, &cfg(64)).unwrap();
    let mut fs = Filesystem::mount(&mut ram, &cfg(64)).unwrap();
    let a = |kind: u8, value: &[u8]| Attribute { kind, value: value.to_vec() };
    fs.mkdir("d").unwrap();
    // Siblings created before and after (lower and higher ids) shift ids in the log.
    fs.write_file("d/m.py", b"m", &[a(1, &7u64.to_le_bytes())]).unwrap();
    fs.write_file("d/b.py", b"b", &[a(1, &[1, 2, 3, 0, 0]), a(0, &[]), a(255, &[9; 1022])]).unwrap();
    fs.write_file("d/a.py", b"a", &[]).unwrap();
    fs.setattr("d/m.py", 42, b"tag").unwrap();
    fs.setattr("d/m.py", 42, b"tag2").unwrap();
    fs.setattr("d/m.py", 43, b"gone").unwrap();
    fs.removeattr("d/m.py", 43).unwrap();
    fs.setattr("d", 5, b"dir attr").unwrap();
    fs.setattr("/", 6, b"root attr").unwrap();
    fs.remove("d/a.py").unwrap();
    fs.write_file("d/z.py", b"z", &[a(1, &8u64.to_le_bytes())]).unwrap();
    fs.rename("d/b.py", "d/c.py").unwrap();
    let want_m = vec![a(1, &7u64.to_le_bytes()), a(42, b"tag2")];
    let want_c = vec![a(0, &[]), a(1, &[1, 2, 3, 0, 0]), a(255, &[9; 1022])];
    let check = |fs: &mut Filesystem<&mut Ram>| {
        for (path, want) in [
            ("d/m.py", want_m.clone()),
            ("d/c.py", want_c.clone()),
            ("d/z.py", vec![a(1, &8u64.to_le_bytes())]),
            ("d", vec![a(5, b"dir attr")]),
            ("/", vec![a(6, b"root attr")]),
        ] {
            assert_eq!(fs.attrs(path).unwrap(), want, "{path}");
            assert_eq!(attrs_by_getattr(fs, path), want, "{path} by getattr");
        }
    };
    check(&mut fs);
    // Rewrite one file until its directory's log compacts (block_cycles and size).
    for i in 0..300u32 {
        fs.setattr("d/z.py", 1, &u64::from(i).to_le_bytes()).unwrap();
    }
    fs.setattr("d/z.py", 1, &8u64.to_le_bytes()).unwrap();
    check(&mut fs);
    assert_eq!(fs.attrs("nope"), Err(Error::NoEntry));
    fs.unmount().0.unwrap();
}
