//! Paths as a user types them to `--fs` (trial 1, findings 4, 5, 6 and 8):
//! a directory renamed into itself, the root removed however it is spelled,
//! a trailing `/` that means "a directory", and symbolic links named on the
//! command line. Each refusal leaves no output file; each result that is an
//! image is read back with littlefs-python or mtools.

use std::path::Path;
use std::process::Command;

use crate::util::diag::lfs_view;
use crate::util::*;

const E32: &str = "ESP32_GENERIC-20240602-v1.23.0.bin";
/// Where `vfs` (flash 0x200000, 2 MB) starts in the v1.23 file (which starts at 0x1000).
const VFS_IN_FILE: u32 = 0x1ff000;
const VFS_SIZE: u32 = 0x200000;

/// A work directory with `fw.bin` (the v1.23 image), `a.py` and `base.bin`:
/// a fresh littlefs holding `/dir with space/a file.py`.
fn setup() -> Option<tempfile::TempDir> {
    let fw = firmware(E32)?;
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::copy(fw, p.join("fw.bin")).unwrap();
    std::fs::write(p.join("a.py"), "print('a')\n").unwrap();
    std::fs::create_dir(p.join("dir with space")).unwrap();
    std::fs::write(p.join("dir with space/a file.py"), "hello\n").unwrap();
    ok(&mpimg(p, &["fw.bin", "-q", "--fs", "mkfs", "--fs", "put", "dir with space", "/", "-o", "base.bin"]));
    Some(d)
}

/// Run mpimg; it must fail with exactly `error` (one line on stderr; stdout
/// holds no error: it is empty, or the report where that is the product,
/// which `-q` keeps) and leave the directory as it was.
#[track_caller]
fn refused(dir: &Path, args: &[&str], error: &str) {
    let before = files_in(dir);
    let r = mpimg(dir, args);
    assert_eq!((r.code, r.err.as_str()), (1, format!("error: {error}\n").as_str()), "{args:?}");
    assert!(r.out.is_empty() || r.out.starts_with("Firmware file ") && !r.out.contains("error"), "{args:?}: {}", r.out);
    assert_eq!(files_in(dir), before, "{args:?} wrote a file");
}

/// Files with their sizes, and directories.
type Listing = (Vec<(String, u64)>, Vec<String>);

/// littlefs-python's listing of the vfs in a v1.23 file.
fn lfs_listing(file: &Path) -> Option<Listing> {
    let v = lfs_view(&std::fs::read(file).unwrap(), VFS_IN_FILE, VFS_SIZE)?;
    let files = v["files"].as_object().unwrap().iter().map(|(k, f)| (k.clone(), f["size"].as_u64().unwrap())).collect();
    let dirs = v["dirs"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    Some((files, dirs))
}

/// mtools' command on the FAT vfs of a v1.23 file.
fn mtool(tool: &str, file: &Path, args: &[&str]) -> String {
    let img = format!("{}@@{VFS_IN_FILE:#x}", file.display());
    let o = Command::new(tool).arg("-i").arg(&img).args(args).env("TZ", "UTC").output().unwrap();
    assert!(o.status.success(), "{tool} {args:?}: {}", text(&o.stderr));
    text(&o.stdout)
}

fn s(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(n, l)| (n.to_string(), *l)).collect()
}

#[test]
fn a_directory_renamed_into_itself_is_refused_on_littlefs_and_fat() {
    let Some(d) = setup() else { return };
    let p = d.path();
    refused(
        p,
        &["base.bin", "-q", "--fs", "rename", "/dir with space", "/dir with space/sub", "-o", "t.bin"],
        "cannot move directory 'vfs:/dir with space' into itself ('vfs:/dir with space/sub')",
    );
    refused(
        p,
        &["base.bin", "-q", "--fs", "rename", "dir with space/", "/dir with space/a/b/", "-o", "t.bin"],
        "cannot move directory 'vfs:/dir with space' into itself ('vfs:/dir with space/a/b')",
    );
    // A file "into itself" is a path through a file.
    refused(
        p,
        &[
            "base.bin",
            "-q",
            "--fs",
            "rename",
            "/dir with space/a file.py",
            "/dir with space/a file.py/x",
            "-o",
            "t.bin",
        ],
        "'vfs:/dir with space/a file.py' is not a directory",
    );
    // FAT: the same, also when the new path spells the directory in another case.
    let fat = ["fw.bin", "-q", "--fs", "mkfs", "vfs", "fat", "--fs", "mkdir", "/d", "--fs", "put", "a.py", "/d/"];
    for to in ["/d/sub", "/D/sub", "d/./sub/deeper"] {
        let mut args = fat.to_vec();
        args.extend(["--fs", "rename", "/d", to, "-o", "t.bin"]);
        let shown = format!("/{}", to.trim_start_matches('/').replace("./", ""));
        refused(p, &args, &format!("cannot move directory 'vfs:/d' into itself ('vfs:{shown}')"));
    }
    // A rename that is not into itself still works, as mtools reads it.
    let mut args = fat.to_vec();
    args.extend(["--fs", "mkdir", "/e", "--fs", "rename", "/d", "/e/sub", "-o", "fat.bin"]);
    ok(&mpimg(p, &args));
    let Some(()) = mtools() else { return };
    assert_eq!(mtool("mtype", &p.join("fat.bin"), &["::/e/sub/a.py"]), "print('a')\n");
    let listed = mtool("mdir", &p.join("fat.bin"), &["-b", "::/"]);
    assert_eq!(listed, "::/e/\n");
}

#[test]
fn a_rename_onto_itself_changes_nothing() {
    let Some(d) = setup() else { return };
    let p = d.path();
    let before = files_in(p);
    let r = mpimg(p, &["base.bin", "--fs", "rename", "/dir with space", "dir with space/"]);
    ok(&r);
    assert!(
        r.err.contains(
            "rename 'vfs:/dir with space' -> 'vfs:/dir with space'\nrename 'vfs:/dir with space': it has that name already; nothing to do\n"
        ),
        "{}",
        r.err
    );
    // Nothing changed, so no base-fs.bin either (trial 1 #20).
    assert!(r.err.ends_with("warning: --fs changed nothing: no output file written\n"), "{}", r.err);
    assert_eq!(files_in(p), before);
}

#[test]
fn removing_the_root_is_refused_however_it_is_spelled() {
    let Some(d) = setup() else { return };
    let p = d.path();
    let fix = "To start it afresh, make a new one with --fs mkfs vfs; to remove some of it, name each file or directory (rm takes no patterns)";
    let msg = format!("refusing to remove the root directory of 'vfs': that would empty the whole filesystem. {fix}");
    for root in ["/", "//", "/.", "vfs:", "vfs:/", ".", "/boot.py/..", "../.."] {
        refused(p, &["base.bin", "-q", "--fs", "rm", root, "-o", "t.bin"], &msg);
        // Also after another path: nothing is removed at all.
        refused(p, &["base.bin", "-q", "--fs", "rm", "/boot.py", root, "-o", "t.bin"], &msg);
    }
    refused(
        p,
        &["fw.bin", "-q", "--fs", "mkfs", "vfs", "fat", "--fs", "rm", "/", "-o", "t.bin"],
        &msg.replace("mkfs vfs;", "mkfs vfs fat;"),
    );
    // What the message says to do works, and is what the Python tool's users do too.
    ok(&mpimg(p, &["base.bin", "-q", "--fs", "mkfs", "vfs", "-o", "fresh.bin"]));
    let Some(listing) = lfs_listing(&p.join("fresh.bin")) else { return };
    assert_eq!(listing, (s(&[("boot.py", 139)]), vec![]));
}

#[test]
fn a_trailing_slash_on_the_put_destination_means_a_directory() {
    let Some(d) = setup() else { return };
    let p = d.path();
    // Missing: refused, with how to make it (the trial got a file '/newdir').
    refused(
        p,
        &["base.bin", "-q", "--fs", "put", "a.py", "/newdir/", "-o", "t.bin"],
        "'vfs:/newdir': no such directory; make it first with --fs mkdir vfs:/newdir",
    );
    refused(
        p,
        &["base.bin", "-q", "--fs", "put", "dir with space", "vfs:/lib/", "-o", "t.bin"],
        "'vfs:/lib': no such directory; make it first with --fs mkdir vfs:/lib",
    );
    // A file there: not a directory.
    refused(
        p,
        &["base.bin", "-q", "--fs", "put", "a.py", "/boot.py/", "-o", "t.bin"],
        "'vfs:/boot.py' is not a directory",
    );
    // Several sources need a directory, slash or not.
    refused(
        p,
        &["base.bin", "-q", "--fs", "put", "a.py", "fw.bin", "/new", "-o", "t.bin"],
        "'vfs:/new': no such directory; make it first with --fs mkdir vfs:/new",
    );
    // Existing: the file goes inside it; without the slash a missing name is the file's new name.
    let r = mpimg(
        p,
        &["base.bin", "--fs", "put", "a.py", "/dir with space/", "--fs", "put", "a.py", "/b.py", "-o", "t.bin"],
    );
    ok(&r);
    assert!(r.err.contains("a.py -> vfs:/dir with space/a.py\na.py -> vfs:/b.py\n"), "{}", r.err);
    let Some(listing) = lfs_listing(&p.join("t.bin")) else { return };
    assert_eq!(
        listing,
        (
            s(&[("b.py", 11), ("boot.py", 139), ("dir with space/a file.py", 6), ("dir with space/a.py", 11)]),
            vec!["dir with space".to_owned()]
        )
    );
}

#[test]
fn a_trailing_slash_on_put_means_a_directory_on_fat_too() {
    let Some(d) = setup() else { return };
    let p = d.path();
    let fat = ["fw.bin", "-q", "--fs", "mkfs", "vfs", "fat", "--fs", "mkdir", "/lib"];
    let with = |more: &[&'static str]| [&fat[..], more].concat();
    refused(
        p,
        &with(&["--fs", "put", "a.py", "/nodir/", "-o", "t.bin"]),
        "'vfs:/nodir': no such directory; make it first with --fs mkdir vfs:/nodir",
    );
    refused(
        p,
        &with(&["--fs", "put", "a.py", "/lib/", "--fs", "cat", "/lib/a.py/", "-o", "t.bin"]),
        "'vfs:/lib/a.py' is not a directory",
    );
    ok(&mpimg(p, &with(&["--fs", "put", "a.py", "/lib/", "-o", "fat.bin"])));
    let Some(()) = mtools() else { return };
    assert_eq!(mtool("mtype", &p.join("fat.bin"), &["::/lib/a.py"]), "print('a')\n");
    assert_eq!(mtool("mdir", &p.join("fat.bin"), &["-b", "::/"]), "::/lib/\n");
}

#[test]
fn a_trailing_slash_on_a_file_is_not_a_directory() {
    let Some(d) = setup() else { return };
    let p = d.path();
    let f = "'vfs:/dir with space/a file.py' is not a directory";
    for cmd in [&["cat"][..], &["ls"], &["ls", "-l"], &["rm"], &["get"]] {
        let mut args = vec!["base.bin", "-q", "--fs"];
        args.extend(cmd);
        args.extend(["/dir with space/a file.py/", "-o", "t.bin"]);
        refused(p, &args, f);
    }
    refused(p, &["base.bin", "-q", "--fs", "rename", "/dir with space/a file.py/", "/x.py", "-o", "t.bin"], f);
    refused(
        p,
        &["base.bin", "-q", "--fs", "rename", "/boot.py", "/dir with space/", "-o", "t.bin"],
        "--fs rename: '/dir with space/' ends in '/' but 'vfs:/boot.py' is a file; give its new path in full",
    );
    // Without the slash, and on a directory with it, they work.
    let r = mpimg(p, &["base.bin", "-q", "--fs", "cat", "/dir with space/a file.py", "--fs", "ls", "/dir with space/"]);
    ok(&r);
    assert_eq!(r.out, "hello\na file.py\n");
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_named_on_the_command_line_is_followed() {
    let Some(d) = setup() else { return };
    let p = d.path();
    std::os::unix::fs::symlink("a.py", p.join("link.py")).unwrap();
    std::fs::create_dir(p.join("tree")).unwrap();
    std::fs::write(p.join("tree/x.py"), "x = 1\n").unwrap();
    std::os::unix::fs::symlink("..", p.join("tree/up")).unwrap();
    std::os::unix::fs::symlink("tree", p.join("linkdir")).unwrap();
    std::os::unix::fs::symlink("nowhere", p.join("dangling.py")).unwrap();
    let r = mpimg(p, &["base.bin", "--fs", "put", "link.py", "linkdir", "/", "-o", "l.bin"]);
    ok(&r);
    // The links named are followed; the one met inside the tree is skipped, with a warning.
    let log = "link.py -> vfs:/link.py\nlinkdir/ -> vfs:/linkdir/\nwarning: skipping symbolic link 'linkdir/up'\nlinkdir/x.py -> vfs:/linkdir/x.py\n";
    assert!(r.err.contains(log), "{}", r.err);
    let Some(listing) = lfs_listing(&p.join("l.bin")) else { return };
    assert_eq!(
        listing,
        (
            s(&[("boot.py", 139), ("dir with space/a file.py", 6), ("link.py", 11), ("linkdir/x.py", 6)]),
            vec!["dir with space".to_owned(), "linkdir".to_owned()]
        )
    );
    // sync's SRC is followed too; the link inside is skipped there as well.
    let r = mpimg(p, &["base.bin", "--fs", "sync", "linkdir", "/s", "-o", "s.bin"]);
    ok(&r);
    assert!(
        r.err.contains(
            "added vfs:/s/\nwarning: skipping symbolic link 'linkdir/up'\nadded vfs:/s/x.py\nsync linkdir -> vfs:/s: 2 added, 0 updated, 0 deleted, 0 unchanged\n"
        ),
        "{}",
        r.err
    );
    let Some((files, _)) = lfs_listing(&p.join("s.bin")) else { return };
    assert_eq!(files, s(&[("boot.py", 139), ("dir with space/a file.py", 6), ("s/x.py", 6)]));
    // A link to nothing is an error naming it.
    refused(
        p,
        &["base.bin", "-q", "--fs", "put", "dangling.py", "/", "-o", "t.bin"],
        "'dangling.py' on this computer: No such file or directory (os error 2)",
    );
}

/// Renaming a directory onto a file, or a file onto a directory, names each
/// for what it is (littlefs and FAT name only the source), on both (trial 2).
#[test]
fn a_rename_onto_the_other_kind_names_both() {
    let Some(d) = setup() else { return };
    let p = d.path();
    let onto = |what: &str, from: &str, onto: &str, to: &str| {
        format!(
            "--fs rename: cannot rename the {what} 'vfs:{from}' onto the {onto} 'vfs:{to}'; remove 'vfs:{to}' first or \
             choose another name"
        )
    };
    let dir = "/dir with space";
    refused(
        p,
        &["base.bin", "-q", "--fs", "rename", dir, "/boot.py", "-o", "t.bin"],
        &onto("directory", dir, "file", "/boot.py"),
    );
    refused(
        p,
        &["base.bin", "-q", "--fs", "rename", "/boot.py", dir, "-o", "t.bin"],
        &onto("file", "/boot.py", "directory", dir),
    );
    std::fs::write(p.join("f.py"), "x\n").unwrap();
    let fat = ["fw.bin", "-q", "--fs", "mkfs", "vfs", "fat", "--fs", "mkdir", "/lib", "--fs", "put", "f.py", "/"];
    refused(
        p,
        &[&fat[..], &["--fs", "rename", "/lib", "/f.py", "-o", "t.bin"]].concat(),
        &onto("directory", "/lib", "file", "/f.py"),
    );
}
