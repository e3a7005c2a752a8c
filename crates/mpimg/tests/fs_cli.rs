//! `--fs` through the command line on firmware files: output naming, baking a
//! filesystem into a flashable image, read-only commands that write nothing,
//! `--in-place`, table edits followed by `grow`, and littlefs-python reading
//! what the CLI wrote.

use std::path::Path;
use std::process::Command;

use crate::util::*;

const E32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
const C3_27: &str = "ESP32_GENERIC_C3-20251209-v1.27.0.bin";

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run_mpimg(dir, args);
    assert!(o.status.success(), "mpimg {args:?}: {}", text(&o.stderr));
    text(&o.stdout)
}

fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("app/lib")).unwrap();
    std::fs::write(dir.join("app/main.py"), "print('hello')\n").unwrap();
    std::fs::write(dir.join("app/lib/data.bin"), (0..20000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>()).unwrap();
}

#[test]
fn bake_files_into_a_flashable_image() {
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // A new file (a copy would keep the shared image's read-only mode, which --in-place refuses).
    std::fs::write(p.join("fw.bin"), std::fs::read(&fw).unwrap()).unwrap();
    tree(p);
    ok(p, &["fw.bin", "--fs", "mkfs", "--fs", "put", "app/main.py", "app/lib", "/"]);
    let src = std::fs::read(p.join("fw.bin")).unwrap();
    assert_eq!(src, std::fs::read(&fw).unwrap(), "the input is untouched");
    let out = std::fs::read(p.join("fw-fs.bin")).unwrap();
    // Bootloader, table and app are unchanged; the file now reaches into vfs (flash 0x200000 = file 0x1ff000).
    assert_eq!(&out[..src.len()], &src[..]);
    assert!(out.len() > 0x1ff000 && out.len() <= 0x3ff000 && out.len().is_multiple_of(0x1000), "{:#x}", out.len());
    assert!(out[src.len()..0x1ff000].iter().all(|&b| b == 0xFF));
    assert_eq!(&out[0x1ff000 + 8..0x1ff000 + 16], b"littlefs");
    assert_eq!(ok(p, &["fw-fs.bin", "--fs", "ls", "-q"]), "boot.py\nmain.py\nlib/\nlib/data.bin\n");
    assert_eq!(ok(p, &["fw-fs.bin", "-q", "--fs", "cat", "main.py"]), "print('hello')\n");
    // An independent reader: littlefs-python on the vfs region.
    let Some(py) = venv_python() else { return };
    let script = r#"
import sys, littlefs
data = open(sys.argv[1], 'rb').read()[0x1ff000:0x3ff000]
data += b'\xff' * (0x200000 - len(data))
fs = littlefs.LittleFS(block_size=4096, block_count=512, mount=False)
fs.context.buffer = bytearray(data)
fs.mount()
print(sorted(fs.listdir('/')))
print(fs.open('main.py', 'r').read(), end='')
print(len(fs.open('lib/data.bin', 'rb').read()))
print('%d.%d' % (fs.fs_stat().disk_version >> 16, fs.fs_stat().disk_version & 0xffff))
"#;
    let o = Command::new(py).args(["-c", script, p.join("fw-fs.bin").to_str().unwrap()]).output().unwrap();
    assert_eq!(text(&o.stdout), "['boot.py', 'lib', 'main.py']\nprint('hello')\n20000\n2.0\n", "{}", text(&o.stderr));
}

#[test]
fn reading_commands_write_nothing_and_in_place_changes_the_input() {
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // A new file (a copy would keep the shared image's read-only mode, which --in-place refuses).
    std::fs::write(p.join("fw.bin"), std::fs::read(&fw).unwrap()).unwrap();
    ok(p, &["fw.bin", "-q", "--in-place", "--fs", "mkfs"]);
    let baked = std::fs::read(p.join("fw.bin")).unwrap();
    assert_ne!(baked, std::fs::read(&fw).unwrap());
    let before = files_in(p);
    ok(p, &["fw.bin", "-q", "--fs", "ls", "--fs", "df", "--fs", "info", "--fs", "cat", "boot.py"]);
    assert_eq!(files_in(p), before, "reading commands make no output file");
    assert_eq!(std::fs::read(p.join("fw.bin")).unwrap(), baked);
    // A failing command leaves nothing behind either.
    let o = run_mpimg(p, &["fw.bin", "--fs", "mkdir", "/x", "--fs", "cat", "/nope.py"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(files_in(p), before);
    let err = text(&o.stderr);
    assert!(err.lines().last().unwrap().starts_with("error: "), "{err}");
}

#[test]
fn in_place_writes_only_the_changed_blocks_and_equals_a_new_output() {
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("fw.bin"), std::fs::read(&fw).unwrap()).unwrap();
    tree(p);
    let input_len = std::fs::metadata(&fw).unwrap().len();
    // vfs starts at flash 0x200000 = file 0x1ff000, past the end of the input:
    // the file grows up to the last block mkfs writes, and everything it
    // gained (0xFF gap included) is written.
    // What was written is a note: on stderr, stdout being for the report.
    let said = text(&run_mpimg(p, &["fw.bin", "--in-place", "--fs", "mkfs"]).stderr);
    let grown = std::fs::metadata(p.join("fw.bin")).unwrap().len();
    assert!(grown > 0x1ff000 + 4096 && grown.is_multiple_of(4096), "{grown:#x}");
    assert_eq!(said.lines().last().unwrap(), format!("Updated fw.bin in place ({} bytes written)", grown - input_len));
    std::fs::copy(p.join("fw.bin"), p.join("copy.bin")).unwrap();
    // The same put as a new output file and in place: the same bytes. In
    // place, only the blocks that changed are written (the table, rewritten
    // with the same bytes, is not): a small file goes into the superblock
    // block, which the filesystem uses and so is written in place, not erased.
    ok(p, &["copy.bin", "-q", "--fs", "put", "app/main.py", "/", "-o", "new.bin"]);
    let o = run_mpimg(p, &["fw.bin", "-d", "--in-place", "--fs", "put", "app/main.py", "/"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr)
        .lines()
        .any(|l| l == "fs: blocks read: 2 (in 2 reads), blocks written: 1, blocks erased: 0 (in 0 runs)"));
    assert_eq!(text(&o.stderr).lines().last().unwrap(), "Updated fw.bin in place (4096 bytes written)");
    assert!(std::fs::read(p.join("fw.bin")).unwrap() == std::fs::read(p.join("new.bin")).unwrap());
    // Nothing changed, nothing written.
    assert_eq!(
        text(&run_mpimg(p, &["fw.bin", "--in-place", "--fs", "ls"]).stderr).lines().last().unwrap(),
        "Updated fw.bin in place (0 bytes written)"
    );
}

#[test]
fn implicit_vfs_of_v127_is_the_default_and_grow_follows_a_resize() {
    let Some(fw) = firmware(C3_27) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // A new file (a copy would keep the shared image's read-only mode, which --in-place refuses).
    std::fs::write(p.join("fw.bin"), std::fs::read(&fw).unwrap()).unwrap();
    ok(p, &["fw.bin", "-q", "--fs", "mkfs", "-o", "a.bin"]);
    // Superblock pair + boot.py (139 bytes: over the 128-byte inline limit, so a block of its own).
    assert_eq!(
        ok(p, &["a.bin", "-q", "--fs", "df"]),
        "Partition    Filesystem    Total KiB  Used KiB  Free KiB  Used\nvfs          littlefs 2.0       2048        12      2036    1%\n"
    );
    // Pin vfs on an 8 MB flash and grow the filesystem to fill it, in one run.
    ok(p, &["a.bin", "-q", "-f", "8M", "--add", "vfs:fat:0:0", "--fs", "grow", "-o", "b.bin"]);
    let df = ok(p, &["b.bin", "-q", "--fs", "df"]);
    assert!(df.contains("vfs          littlefs 2.0       6144"), "{df}");
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    // `mpimg fw.bin --fs cat big.bin | head -c 10`: the reader goes away
    // while mpimg writes; that is not an error.
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // A new file (a copy would keep the shared image's read-only mode, which --in-place refuses).
    std::fs::write(p.join("fw.bin"), std::fs::read(&fw).unwrap()).unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(p.join("big.bin"), &big).unwrap();
    ok(p, &["fw.bin", "-q", "--in-place", "--fs", "mkfs", "--fs", "put", "big.bin", "/"]);
    let mut child = Command::new(mpimg_bin())
        .args(["fw.bin", "--fs", "cat", "big.bin"])
        .current_dir(p)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 10];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut head).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(head, big[..10]);
    // The report went to stderr (the file is the product); no error follows it.
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.starts_with("Firmware file fw.bin: esp32") && !err.contains("error"), "{err}");
}

#[test]
fn debug_prints_block_counts() {
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // A new file (a copy would keep the shared image's read-only mode, which --in-place refuses).
    std::fs::write(p.join("fw.bin"), std::fs::read(&fw).unwrap()).unwrap();
    ok(p, &["fw.bin", "-q", "--in-place", "--fs", "mkfs"]);
    let o = run_mpimg(p, &["fw.bin", "-d", "--fs", "ls"]);
    let err = text(&o.stderr);
    assert!(
        err.lines().any(|l| l == "fs: blocks read: 2 (in 2 reads), blocks written: 0, blocks erased: 0 (in 0 runs)"),
        "{err}"
    );
}

/// `--fs grow` (or any `--fs` run) that changes nothing writes no `-fs`
/// file and says so; with `-o` the file asked for is written all the same.
#[test]
fn a_fs_run_that_changes_nothing_writes_no_file() {
    let Some(fw) = firmware(E32) else { return };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // A new file (a copy would keep the shared image's read-only mode, which --in-place refuses).
    std::fs::write(p.join("fw.bin"), std::fs::read(&fw).unwrap()).unwrap();
    ok(p, &["fw.bin", "-q", "--fs", "mkfs", "-o", "base.bin"]);
    let before = files_in(p);
    let r = mpimg(p, &["base.bin", "--fs", "grow", "vfs"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(
        r.err.ends_with("grow 'vfs': already 512 blocks\nwarning: --fs changed nothing: no output file written\n"),
        "{}",
        r.err
    );
    assert_eq!(files_in(p), before);
    ok(p, &["base.bin", "-q", "--fs", "grow", "vfs", "-o", "same.bin"]);
    assert_eq!(std::fs::read(p.join("same.bin")).unwrap(), std::fs::read(p.join("base.bin")).unwrap());
    // A change, however small, is written as before.
    ok(p, &["base.bin", "-q", "--fs", "mkdir", "/lib"]);
    assert!(p.join("base-fs.bin").is_file());
}
