//! Interop with an independent FAT implementation (mtools), both directions:
//! mtools reads mpimg's FAT volumes inside a firmware file, and mpimg reads,
//! changes and rewrites volumes mtools formatted and filled.

use std::path::Path;
use std::process::Command;

use crate::util::fs::*;
use crate::util::mtools;
use mpimg::flash::{FileFlash, Flash};

/// Run an mtools command (UTC, so FAT's local times are read as mpimg writes them).
fn mtool(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).env("TZ", "UTC").output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// mtools' image argument for a volume at `offset` bytes into `file`.
fn at(file: &Path, offset: u32) -> String {
    format!("{}@@{offset:#x}", file.display())
}

#[test]
fn mtools_reads_mpimg_fat_in_a_firmware_file() {
    let Some((mut flash, parts)) = esp32_v123() else { return };
    let Some(()) = mtools() else { return };
    let host = tempfile::tempdir().unwrap();
    let files = make_tree(host.path());
    for (i, (rel, _)) in files.iter().enumerate() {
        set_mtime(&host.path().join(rel), 1_700_000_000 + 3600 * i as u64);
    }
    let s = |rel: &str| host.path().join(rel).to_string_lossy().into_owned();
    let put: Vec<String> = ["put", &s("main.py"), &s("lib"), &s("Long File Name With Spaces.txt"), "/"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    run_words(&mut flash, &parts, &[cmd("mkfs fat"), put, cmd("mkdir empty")]).ok();
    let dir = tempfile::tempdir().unwrap();
    let fw = dir.path().join("fw.bin");
    flash.save(&fw).unwrap();
    // The file starts at the bootloader (0x1000), so vfs is 0x1ff000 bytes in.
    let img = at(&fw, 0x200000 - 0x1000);

    let info = mtool("minfo", &["-i", &img, "::"]);
    for line in [
        "sector size: 4096 bytes",
        "cluster size: 1 sectors",
        "fats: 1",
        "max available root directory slots: 512",
        "small size: 512 sectors",
        "media descriptor byte: 0xf8",
    ] {
        assert!(info.contains(line), "minfo lacks '{line}':\n{info}");
    }
    assert_eq!(mtool("mtype", &["-i", &img, "::/lib/util.py"]), "def f():\n    return 42\n");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    mtool(
        "mcopy",
        &[
            "-s",
            "-m",
            "-n",
            "-i",
            &img,
            "::/main.py",
            "::/lib",
            "::/Long File Name With Spaces.txt",
            "::/empty",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(summary(&read_tree(&out)), summary(&files));
    assert!(out.join("empty").is_dir());
    let m = std::fs::metadata(out.join("lib/pkg/data.bin")).unwrap().modified().unwrap();
    assert_eq!(m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), 1_700_000_000 + 7200);
}

#[test]
fn mpimg_reads_changes_and_rewrites_an_mtools_volume() {
    let Some(()) = mtools() else { return };
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("src");
    let files = make_tree(&src);
    let img = host.path().join("fat.img");
    std::fs::write(&img, vec![0xFFu8; 0x200000]).unwrap();
    let i = img.to_string_lossy().into_owned();
    // MicroPython's geometry: 4096-byte sectors (-S 5), 1 FAT, 512 root entries (-r 4 sectors), 1 sector per cluster.
    mtool(
        "mformat",
        &["-i", &i, "-T", "512", "-S", "5", "-h", "255", "-s", "63", "-H", "0", "-d", "1", "-r", "4", "-c", "1", "::"],
    );
    let entries: Vec<String> =
        std::fs::read_dir(&src).unwrap().map(|e| e.unwrap().path().to_string_lossy().into_owned()).collect();
    let mut args = vec!["-s", "-i", &i];
    args.extend(entries.iter().map(String::as_str));
    args.push("::");
    mtool("mcopy", &args);

    let (mut flash, parts) = blank(4 * MB, &[("vfs", 0x200000, 0x200000)]);
    flash.write(0x200000, &std::fs::read(&img).unwrap()).unwrap();
    let (_, out, _) = run(&mut flash, &parts, &["ls", "cat main.py"]).ok();
    assert_eq!(
        out,
        "Long File Name With Spaces.txt\nmain.py\nlib/\nlib/util.py\nlib/pkg/\nlib/pkg/data.bin\nlib/pkg/empty.txt\nprint('hello')\n"
    );
    let dest = tempfile::tempdir().unwrap();
    run(&mut flash, &parts, &[&format!("get / {}", dest.path().display())]).ok();
    assert_eq!(summary(&read_tree(dest.path())), summary(&files));

    let new = host.path().join("new.py");
    std::fs::write(&new, vec![b'#'; 9000]).unwrap();
    run(
        &mut flash,
        &parts,
        &[&format!("put {} /lib", new.display()), "rm lib/pkg", "rename main.py boot.py", "mkdir data/logs"],
    )
    .ok();
    let changed = host.path().join("changed.img");
    std::fs::write(&changed, flash.read_vec(0x200000, 0x200000).unwrap()).unwrap();
    let c = changed.to_string_lossy().into_owned();
    let out = host.path().join("out");
    std::fs::create_dir(&out).unwrap();
    mtool(
        "mcopy",
        &[
            "-s",
            "-n",
            "-i",
            &c,
            "::/boot.py",
            "::/lib",
            "::/data",
            "::/Long File Name With Spaces.txt",
            out.to_str().unwrap(),
        ],
    );
    let want = vec![
        ("Long File Name With Spaces.txt".to_owned(), b"long name\n".to_vec()),
        ("boot.py".to_owned(), b"print('hello')\n".to_vec()),
        ("lib/new.py".to_owned(), vec![b'#'; 9000]),
        ("lib/util.py".to_owned(), b"def f():\n    return 42\n".to_vec()),
    ];
    assert_eq!(summary(&read_tree(&out)), summary(&want));
    assert!(out.join("data/logs").is_dir());
    let listing = mtool("mdir", &["-b", "-/", "-i", &c, "::"]);
    assert!(!listing.contains("pkg"), "{listing}");
    // A FileFlash built from the image bytes reads the same afterwards.
    let mut again = FileFlash::new(flash.bytes().to_vec(), 0, 4 * MB);
    let (_, out, _) = run(&mut again, &parts, &["ls"]).ok();
    assert_eq!(out, "Long File Name With Spaces.txt\nboot.py\ndata/\nlib/\ndata/logs/\nlib/new.py\nlib/util.py\n");
}
