//! Faults on this computer while mpimg edits a firmware file: a full disk, a
//! read-only input, an input another program changes during the run, an
//! output that is the input itself, an output that is a symbolic link, and
//! outputs that are no regular file (a FIFO, `/dev/null`, stdout).
//! Each has its exact message (or exact result), and none leaves part of a
//! file behind.
//!
//! A full disk is simulated with RLIMIT_FSIZE on the mpimg process (which
//! ignores SIGXFSZ itself): write(2) then fails part way through the file
//! exactly as on a full disk, with EFBIG instead of ENOSPC, and mpimg's
//! handling of a failed write is the same code. Unlike a small tmpfs it needs no privileges and no
//! mount, and it works on any Unix. A read-only input is one mpimg may not
//! write: mode 0444, and when the tests run as root (whom modes do not stop)
//! mpimg runs as `nobody`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{files_in, mpimg, mpimg_bin, synth, text, Run};

/// A small esp32s3 firmware (bootloader at 0, generic table, app at 0x10000;
/// ~94 KB, its vfs at 0x200000 lies past its end).
fn firmware(dir: &Path) -> Vec<u8> {
    let fw = synth::s3_firmware();
    std::fs::write(dir.join("fw.bin"), &fw).unwrap();
    fw
}

/// How to start mpimg.
#[derive(Default, Clone, Copy)]
struct Limits {
    /// RLIMIT_FSIZE in bytes.
    file_size: Option<u64>,
    /// Run as `nobody` when the tests run as root.
    unprivileged: bool,
}

fn command(dir: &Path, args: &[&str], limits: Limits) -> Command {
    let mut c = Command::new(mpimg_bin());
    c.args(args).current_dir(dir).env("NO_COLOR", "1").env("MPIMG_STATE_DIR", "");
    let root = unsafe { libc::geteuid() } == 0;
    // SAFETY: between fork and exec only async-signal-safe calls
    // (setrlimit, setgid, setuid) run, on values copied in.
    unsafe {
        c.pre_exec(move || {
            if let Some(n) = limits.file_size {
                let lim = libc::rlimit { rlim_cur: n as libc::rlim_t, rlim_max: n as libc::rlim_t };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if limits.unprivileged && root && (libc::setgid(65534) != 0 || libc::setuid(65534) != 0) {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c
}

fn run(dir: &Path, args: &[&str], limits: Limits) -> Run {
    let o = command(dir, args, limits).output().unwrap();
    Run { out: text(&o.stdout), err: text(&o.stderr), code: o.status.code().unwrap_or(-1) }
}

#[test]
fn a_full_disk_leaves_no_part_of_a_new_output() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    firmware(d);
    let limit = Limits { file_size: Some(32 * 1024), ..Limits::default() };
    let r = run(d, &["fw.bin", "-f", "8M", "-o", "out.bin"], limit);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(
        r.err.lines().last().unwrap(),
        "error: cannot write 'out.bin': the file would be larger than this system allows (a file size limit)"
    );
    // No output, and no temporary file beside it.
    assert_eq!(files_in(d), ["fw.bin"]);
    // An output there before stays as it was.
    std::fs::write(d.join("out.bin"), b"the old output").unwrap();
    let r = run(d, &["fw.bin", "-f", "8M", "-o", "out.bin"], limit);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(std::fs::read(d.join("out.bin")).unwrap(), b"the old output");
    assert_eq!(files_in(d), ["fw.bin", "out.bin"]);
}

/// `--in-place` that makes the file longer (a filesystem past its end) takes
/// the room first: on a full disk it fails before changing a byte.
#[test]
fn a_full_disk_leaves_an_in_place_input_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fw = firmware(d);
    let limit = Limits { file_size: Some(1 << 20), ..Limits::default() };
    let r = run(d, &["fw.bin", "--in-place", "-f", "8M", "--fs", "mkfs"], limit);
    assert_eq!(r.code, 1, "{}", r.err);
    assert_eq!(
        r.err.lines().last().unwrap(),
        "error: cannot write 'fw.bin': the file would be larger than this system allows (a file size limit)"
    );
    assert!(std::fs::read(d.join("fw.bin")).unwrap() == fw, "the input changed");
    assert_eq!(files_in(d), ["fw.bin"]);
    // With room, the same run works.
    let r = mpimg(d, &["fw.bin", "--in-place", "-f", "8M", "--fs", "mkfs"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(std::fs::metadata(d.join("fw.bin")).unwrap().len() > 0x1ff000);
}

#[test]
fn a_read_only_input_is_read_and_refused_in_place() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fw = firmware(d);
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(d.join("fw.bin"), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::set_permissions(d.join("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let ro = Limits { unprivileged: true, ..Limits::default() };
    // Reading (and mapping) it works, and so does writing the edit elsewhere.
    let r = run(d, &["fw.bin"], ro);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("Partition table"), "{}", r.out);
    let r = run(d, &["fw.bin", "-f", "8M", "-o", "out/new.bin"], ro);
    assert_eq!(r.code, 0, "{}", r.err);
    assert_eq!(std::fs::read(d.join("out/new.bin")).unwrap().len(), fw.len());
    // In place: refused before any work (no note of an edit), the file as it was.
    let read_only = "error: cannot write 'fw.bin': the file is read-only (mode 0444); make it writable first (chmod \
                     u+w) to change it in place\n";
    let r = run(d, &["fw.bin", "-f", "8M", "--in-place"], ro);
    assert_eq!((r.code, r.err.as_str()), (1, read_only));
    assert!(std::fs::read(d.join("fw.bin")).unwrap() == fw);
    // As whoever runs the tests (root on CI, whom modes do not stop): a file
    // no one may write is still refused in place.
    let r = run(d, &["fw.bin", "-f", "8M", "--in-place"], Limits::default());
    assert_eq!((r.code, r.err.as_str()), (1, read_only));
    assert!(std::fs::read(d.join("fw.bin")).unwrap() == fw);
    // Made writable (0644), the same command changes it in place.
    std::fs::set_permissions(d.join("fw.bin"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(d, &["fw.bin", "-f", "8M", "--in-place"], Limits::default());
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(std::fs::read(d.join("fw.bin")).unwrap() != fw);
}

/// The input changes while mpimg works: mpimg reads a file named on its
/// command line from a named pipe, and the test changes the input while
/// mpimg waits on the pipe (so the change falls inside the run, every time).
/// Nothing is written from the mixed view: no output, and in place the file
/// keeps what the other program wrote.
#[test]
fn an_input_changed_during_the_run_is_not_written_from() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fw = firmware(d);
    let fifo = d.join("nvs.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let theirs: Vec<u8> = fw.iter().map(|b| b ^ 0x5A).collect();
    for extra in [&["-o", "out.bin"][..], &["--in-place"][..]] {
        std::fs::write(d.join("fw.bin"), &fw).unwrap();
        let mut args = vec!["fw.bin", "--write", "nvs=nvs.fifo"];
        args.extend_from_slice(extra);
        let child = command(d, &args, Limits::default()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Opening the pipe waits for mpimg to open it: the firmware is open by then.
        let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        let other = std::fs::OpenOptions::new().write(true).open(d.join("fw.bin")).unwrap();
        (&other).write_all(&theirs).unwrap();
        other.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
        drop(other);
        pipe.write_all(&[0x42; 64]).unwrap();
        drop(pipe);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        assert_eq!(
            text(&o.stderr).lines().last().unwrap(),
            "error: 'fw.bin' changed while mpimg was working on it (another program wrote to it): nothing was \
             written; run the command again once it is left alone"
        );
        assert!(std::fs::read(d.join("fw.bin")).unwrap() == theirs, "{extra:?}: the other program's bytes");
        assert_eq!(files_in(d), ["fw.bin", "nvs.fifo"], "{extra:?}");
    }
}

/// `-o` (or `--read`'s file) naming the input, by any path, is refused
/// before any work: a run changes its input only with `--in-place`.
#[test]
fn an_output_that_is_the_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fw = firmware(d);
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::hard_link(d.join("fw.bin"), d.join("hard.bin")).unwrap();
    std::os::unix::fs::symlink("fw.bin", d.join("soft.bin")).unwrap();
    for (args, named) in [
        (&["-f", "8M", "-o", "fw.bin"][..], "fw.bin"),
        (&["-f", "8M", "-o", "sub/../fw.bin"][..], "sub/../fw.bin"),
        (&["-f", "8M", "-o", "hard.bin"][..], "hard.bin"),
        (&["-f", "8M", "-o", "soft.bin"][..], "soft.bin"),
        (&["--read", "nvs=fw.bin"][..], "fw.bin"),
        (&["-x", "-o", "hard.bin"][..], "hard.bin"),
    ] {
        let mut all = vec!["fw.bin"];
        all.extend_from_slice(args);
        let r = mpimg(d, &all);
        assert_eq!(
            (r.code, r.err.as_str()),
            (
                1,
                format!(
                    "error: '{named}' is the input file itself: name another file (to change the input itself, use \
                     --in-place)\n"
                )
                .as_str()
            ),
            "{args:?}"
        );
        assert!(std::fs::read(d.join("fw.bin")).unwrap() == fw, "{args:?}");
    }
    // --in-place names it on purpose.
    let r = mpimg(d, &["fw.bin", "-f", "8M", "--in-place", "-q"]);
    assert_eq!(r.code, 0, "{}", r.err);
}

/// An output that is a symbolic link is written through: the file it points
/// to gets the output (created if missing), and the link stays a link.
#[test]
fn a_symlinked_output_is_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    firmware(d);
    let r = mpimg(d, &["fw.bin", "-f", "8M", "-o", "plain.bin", "-q"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let want = std::fs::read(d.join("plain.bin")).unwrap();
    std::fs::create_dir(d.join("builds")).unwrap();
    std::fs::write(d.join("builds/latest.bin"), b"an older build").unwrap();
    std::os::unix::fs::symlink("builds/latest.bin", d.join("out.bin")).unwrap();
    // A link to a link to a file that does not exist yet.
    std::os::unix::fs::symlink("new.bin", d.join("builds/next.bin")).unwrap();
    std::os::unix::fs::symlink("builds/next.bin", d.join("next.bin")).unwrap();
    for (link, target) in [("out.bin", "builds/latest.bin"), ("next.bin", "builds/new.bin")] {
        let r = mpimg(d, &["fw.bin", "-f", "8M", "-o", link, "-q"]);
        assert_eq!(r.code, 0, "{}", r.err);
        assert!(std::fs::symlink_metadata(d.join(link)).unwrap().file_type().is_symlink(), "{link}");
        assert!(std::fs::read(d.join(target)).unwrap() == want, "{target}");
    }
    assert_eq!(files_in(&d.join("builds")), ["latest.bin", "new.bin", "next.bin"]);
}

/// mpimg's stdout, as bytes, and its stderr, run in `dir` (stdout a pipe).
fn raw(dir: &Path, args: &[&str]) -> (Vec<u8>, String, i32) {
    let o = command(dir, args, Limits::default()).output().unwrap();
    (o.stdout, text(&o.stderr), o.status.code().unwrap_or(-1))
}

/// Each output option written to a regular file, then into `target`,
/// a path that must be written into rather than replaced: the bytes
/// `target` gets (as `read` returns them) are the file's.
fn outputs_into(d: &Path, target: &str, read: impl Fn(&[&str]) -> (Vec<u8>, String, i32)) {
    for (to_file, to_target) in [
        (&["-f", "8M", "-o", "plain.bin"][..], &["-f", "8M", "-o", target][..]),
        (&["-x", "-o", "plain.bin"][..], &["-x", "-o", target][..]),
        (&["--read", "nvs=plain.bin"][..], &[&*format!("--read=nvs={target}")][..]),
        (&["--to-csv", "plain.bin"][..], &["--to-csv", target][..]),
    ] {
        let (_, err, code) = raw(d, &[&["fw.bin", "-q"][..], to_file].concat());
        assert_eq!(code, 0, "{err}");
        let want = std::fs::read(d.join("plain.bin")).unwrap();
        let (got, err, code) = read(&[&["fw.bin", "-q"][..], to_target].concat());
        assert_eq!((code, err.as_str()), (0, ""), "{to_target:?}");
        assert!(got == want, "{to_target:?}: {} bytes, want {}", got.len(), want.len());
    }
}

/// A FIFO named as an output is written into (its reader gets the bytes),
/// never replaced by a regular file.
#[test]
fn a_fifo_output_is_written_into() {
    use std::os::unix::fs::FileTypeExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    firmware(d);
    let fifo = d.join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    outputs_into(d, "pipe", |args| {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let (out, err, code) = raw(d, args);
        // With -q stdout still carries the product: the report.
        assert!(out.starts_with(b"Firmware file fw.bin: esp32s3"), "{}", text(&out));
        (reader.join().unwrap(), err, code)
    });
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(files_in(d), ["fw.bin", "pipe", "plain.bin"]);
}

/// `/dev/null` as an output takes the bytes and stays the character device
/// it is (as root, a rename over it would have replaced it).
#[test]
fn dev_null_as_an_output_stays_a_device() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    firmware(d);
    let before = std::fs::symlink_metadata("/dev/null").unwrap();
    let r = mpimg(d, &["fw.bin", "-f", "8M", "-o", "/dev/null"]);
    assert_eq!(r.code, 0, "{}", r.err);
    let size = std::fs::metadata(d.join("fw.bin")).unwrap().len();
    assert_eq!(r.err, format!("Setting flash size in the bootloader header to 8MB\nWrote /dev/null ({size} bytes)\n"));
    for args in [&["-x", "-o", "/dev/null"][..], &["--read", "nvs=/dev/null"], &["--to-csv", "/dev/null"]] {
        let r = mpimg(d, &[&["fw.bin", "-q"][..], args].concat());
        assert_eq!((r.code, r.err.as_str()), (0, ""), "{args:?}");
    }
    let after = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(after.file_type().is_char_device());
    assert_eq!((after.rdev(), after.ino()), (before.rdev(), before.ino()));
    assert_eq!(files_in(d), ["fw.bin"]);
}

/// `-` as an output (`-o -`, `-x -o -`, `--read PART=-`, like `--to-csv -`)
/// is stdout, and so is `/dev/stdout`: stdout then carries those bytes only
/// (the report goes to stderr), whether stdout is a pipe or a file.
#[test]
fn dash_and_dev_stdout_outputs_are_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    firmware(d);
    outputs_into(d, "-", |args| raw(d, args));
    outputs_into(d, "/dev/stdout", |args| raw(d, args));
    // stdout redirected to a file (`> out.bin`): written into, not replaced.
    outputs_into(d, "/dev/stdout", |args| {
        let out = std::fs::File::create(d.join("out.bin")).unwrap();
        let o = command(d, args, Limits::default()).stdout(out).output().unwrap();
        (std::fs::read(d.join("out.bin")).unwrap(), text(&o.stderr), o.status.code().unwrap_or(-1))
    });
    // Without -q the report goes to stderr, the firmware alone to stdout.
    let (out, err, code) = raw(d, &["fw.bin", "-f", "8M", "-o", "-"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.len(), std::fs::metadata(d.join("fw.bin")).unwrap().len() as usize);
    assert!(err.starts_with("Firmware file fw.bin: esp32s3"), "{err}");
    assert!(err.ends_with(&format!("Wrote /dev/stdout ({} bytes)\n", out.len())), "{err}");
    // `--write` reads its file: `-` there is a file named `-`.
    let r = mpimg(d, &["fw.bin", "--write", "nvs=-", "-o", "w.bin", "-q"]);
    assert_eq!((r.code, r.err.as_str()), (1, "error: cannot read '-': no such file\n"));
}

/// An input that is no regular file and whose name says nothing of the
/// firmware (`mpimg <(cat fw.bin) -f 8M` reads `/dev/fd/63`) names its
/// outputs `firmware-8MB.bin` and `firmware.app-bin`, not `63-8MB`.
#[test]
fn outputs_of_a_stream_input_are_named_firmware() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fw = firmware(d);
    let fifo = d.join("63");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let size = fw.len();
    for (args, named) in [(&["63", "-f", "8M"][..], "firmware-8MB.bin"), (&["63", "-x"], "firmware.app-bin")] {
        let writer = {
            let (fifo, fw) = (fifo.clone(), fw.clone());
            std::thread::spawn(move || std::fs::write(fifo, fw).unwrap())
        };
        let r = mpimg(d, args);
        writer.join().unwrap();
        assert_eq!(r.code, 0, "{}", r.err);
        assert!(r.err.lines().last().unwrap().contains(named), "{args:?}: {}", r.err);
        assert!(d.join(named).is_file(), "{args:?}");
    }
    assert_eq!(std::fs::read(d.join("firmware-8MB.bin")).unwrap().len(), size);
    assert_eq!(files_in(d), ["63", "firmware-8MB.bin", "firmware.app-bin", "fw.bin"]);
}
