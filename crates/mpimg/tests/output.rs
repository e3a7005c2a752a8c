//! What a run prints, and where: stdout carries one product (the `--json`
//! document, what `--fs` commands print and `--to-csv -`, else the report)
//! with the report going to stderr when something else is the product;
//! `--json` prints one document on failure too; tables show the implicit
//! `vfs` as the board will have it; an edit that changes nothing says why.

use std::path::Path;

use crate::util::synth::{app_image, entry, firmware as firmware_for, s3_firmware, table};
use crate::util::{firmware, run_mpimg, text};

/// A synthetic esp32s3 firmware (4 MB, MicroPython's original table) whose
/// vfs holds littlefs with `/boot.py` and `/main.py`.
fn with_files() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("fw.bin"), s3_firmware()).unwrap();
    std::fs::write(d.path().join("main.py"), "print('hello')\n").unwrap();
    let o = run_mpimg(d.path(), &["fw.bin", "-q", "--in-place", "--fs", "mkfs", "--fs", "put", "main.py", "/"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    d
}

/// stdout and stderr of a successful run.
fn run(dir: &Path, args: &[&str]) -> (String, String) {
    let o = run_mpimg(dir, args);
    assert!(o.status.success(), "mpimg {args:?}: {}", text(&o.stderr));
    (text(&o.stdout), text(&o.stderr))
}

const CSV: &str = "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n\
                   nvs, data, nvs, 0x9000, 0x6000, \nphy_init, data, phy, 0xf000, 0x1000, \n\
                   factory, app, factory, 0x10000, 0x1f0000, \nvfs, data, fat, 0x200000, 0x200000, \n";

#[test]
fn stdout_carries_only_what_commands_print_and_the_report_goes_to_stderr() {
    let d = with_files();
    let p = d.path();
    let report_start = "Firmware file fw.bin: esp32s3, bootloader at 0x0, flash size 4MB";
    let (out, err) = run(p, &["fw.bin", "--fs", "cat", "main.py"]);
    assert_eq!(out, "print('hello')\n");
    assert!(err.starts_with(report_start), "{err}");
    assert!(err.contains("\nPartition table (flash size: 4MB):\n"), "{err}");
    let (out, err) = run(p, &["fw.bin", "--fs", "ls"]);
    assert_eq!(out, "boot.py\nmain.py\n");
    assert!(err.starts_with(report_start) && err.ends_with("ls 'vfs:/'\n"), "{err}");
    for cmd in ["df", "info"] {
        let (out, err) = run(p, &["fw.bin", "--fs", cmd]);
        let (quiet, nothing) = run(p, &["fw.bin", "-q", "--fs", cmd]);
        assert_eq!((out.as_str(), nothing.as_str()), (quiet.as_str(), ""), "{cmd}");
        assert!(out.starts_with(if cmd == "df" {
            "Partition    Filesystem"
        } else {
            "Filesystem 'vfs': littlefs 2.0\n"
        }));
        assert!(err.starts_with(report_start), "{cmd}: {err}");
    }
    let (out, err) = run(p, &["fw.bin", "--to-csv", "-"]);
    assert_eq!(out, CSV);
    assert!(err.starts_with(report_start), "{err}");
    // Several commands keep their order; a CSV comes after them.
    let (out, _) =
        run(p, &["fw.bin", "--fs", "cat", "main.py", "--fs", "ls", "--fs", "cat", "main.py", "--to-csv", "-"]);
    assert_eq!(out, format!("print('hello')\nboot.py\nmain.py\nprint('hello')\n{CSV}"));
    // --json: the document alone, the listing and the CSV inside it.
    let (out, err) = run(p, &["fw.bin", "--fs", "ls", "--to-csv", "-", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(
        (v["result"]["fs_output"].as_str(), v["result"]["csv_text"].as_str()),
        (Some("boot.py\nmain.py\n"), Some(CSV))
    );
    assert_eq!(err, "ls 'vfs:/'\n", "only the log of the commands");
}

#[test]
fn the_report_is_the_product_and_notes_go_to_stderr() {
    let d = with_files();
    let p = d.path();
    let (out, err) = run(p, &["fw.bin", "-f", "8M", "--resize", "vfs=0", "-o", "out.bin"]);
    let len = std::fs::metadata(p.join("out.bin")).unwrap().len();
    assert!(out.starts_with("Firmware file fw.bin: esp32s3"), "{out}");
    assert!(out.ends_with("vfs       data  fat      0x200000  0x600000  0x800000         (6.0 MiB)\n"), "{out}");
    assert_eq!(
        err,
        format!(
            "Setting flash size in the bootloader header to 8MB\nResized 'vfs' to 0x600000 bytes\n\
             Kept 2 files (154 bytes) of 'vfs': littlefs 2.0 grown in place to 0x600000 bytes\n\
             Wrote out.bin ({len} bytes)\n"
        )
    );
    let (out, err) = run(p, &["fw.bin", "-x", "-o", "app.bin"]);
    assert!(out.starts_with("Firmware file fw.bin"), "{out}");
    assert_eq!(
        err,
        format!("Wrote app image ({} bytes) to app.bin\n", std::fs::metadata(p.join("app.bin")).unwrap().len())
    );
}

/// Arguments, exit code, message, fix, whether the summary was gathered.
type JsonCase = (&'static [&'static str], i32, &'static str, Option<&'static str>, bool);

/// `--json` on failing inputs: exactly one JSON document on stdout, with the
/// error's message and fix apart, the facts gathered before it, nothing on
/// stderr, and a non-zero exit.
#[test]
fn json_failures_are_one_document_with_an_error() {
    let d = with_files();
    let p = d.path();
    std::fs::write(p.join("app.bin"), app_image(9, "MicroPython v1.26.1 on 2025-08-01")).unwrap();
    let fix_resize = "shrink it (--resize vfs=0 fills what is left) or set a larger flash size with -f";
    let cases: &[JsonCase] = &[
        (&["missing.bin"], 1, "cannot read 'missing.bin': no such file", None, false),
        (&["fw.bin", "-f", "2M"], 1, "partition 'vfs' ends at 0x400000, past the end of the 2 MB flash (0x200000)", Some(fix_resize), true),
        (&["fw.bin", "--resize", "data=1M"], 1, "no partition 'data' in the table (it has: nvs, phy_init, factory, vfs)", None, true),
        (&["fw.bin", "--fs", "cat", "nope.py"], 1, "'vfs:/nope.py': no such file or directory", Some("list the filesystem with --fs ls"), true),
        (&["fw.bin", "--read", "vfs"], 1, "invalid --read item 'vfs': use NAME=VALUE[,NAME=VALUE...]", None, false),
        (&["app.bin", "--table", "ota"], 1, "this is an app image (.app-bin), not a full firmware: it has no partition table to edit or read", Some("write it into a firmware with --write factory=FILE (or ota_0=FILE), or to a device with --ota-update"), false),
        (&["fw.bin", "-f", "8G"], 2, "invalid value '8G' for '--flash-size <SIZE>': invalid size '8G': use a decimal or hex number with an optional suffix K, KB, M, MB or B (4096-byte blocks), e.g. 8M, 0x1f0000, 1.5M, 7B", None, false),
        // clap's errors: the message whole (a missing argument's name with it), the tip alone as the fix.
        (&[], 2, "the following required arguments were not provided: <FILENAME>", None, false),
        (&["fw.bin", "--bogus"], 2, "unexpected argument '--bogus' found", Some("to pass '--bogus' as a value, use '-- --bogus'"), false),
    ];
    for (args, code, message, fix, facts) in cases {
        let argv: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
        let o = run_mpimg(p, &argv);
        assert_eq!(o.status.code(), Some(*code), "{args:?}");
        assert_eq!(text(&o.stderr), "", "{args:?}: the message is in the document only");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON document ({e}): {}", text(&o.stdout)));
        assert_eq!(v["error"]["message"], *message, "{args:?}");
        assert_eq!(v["error"]["fix"].as_str(), *fix, "{args:?}");
        assert_eq!(v["chip"].as_str(), facts.then_some("esp32s3"), "{args:?}: the facts gathered");
        // The file name given is a fact too, when mpimg got as far as reading the arguments.
        assert_eq!(v["source"].as_str(), (*code == 1).then(|| args[0]), "{args:?}");
    }
}

#[test]
fn json_failure_of_a_flash_size_the_table_does_not_fit() {
    // The case: an 8 MB S3 image made smaller than its table.
    let Some(fw) = firmware("ESP32_GENERIC_S3-20241129-v1.24.1.bin") else { return };
    let d = tempfile::tempdir().unwrap();
    let o = run_mpimg(d.path(), &[fw.to_str().unwrap(), "-f", "4M", "--json"]);
    assert_eq!((o.status.code(), text(&o.stderr)), (Some(1), String::new()));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["message"], "partition 'vfs' ends at 0x800000, past the end of the 4 MB flash (0x400000)");
    assert_eq!(v["flash_size"], 8 << 20);
    assert_eq!(v["partitions"].as_array().map(Vec::len), Some(4));
}

/// After `-f 8M` on a MicroPython ≥ 1.26 image (no vfs in its table) the new
/// table shows the vfs the board will make: from 0x200000 to the end of 8 MB.
fn implicit_vfs_after_flash_size(dir: &Path, fw: &str) {
    let (out, _) = run(dir, &[fw, "-f", "8M", "-o", "out.bin"]);
    let tables: Vec<&str> = out.split("Partition table ").collect();
    assert_eq!(tables.len(), 3, "before and after: {out}");
    assert!(
        tables[1].contains("vfs       data  fat      0x200000  0x200000  0x400000  implicit  (2.0 MiB)\n"),
        "{out}"
    );
    assert!(tables[2].starts_with("(flash size: 8MB):\n"), "{out}");
    assert!(
        tables[2].contains("vfs       data  fat      0x200000  0x600000  0x800000  implicit  (6.0 MiB)\n"),
        "{out}"
    );
    let o = run_mpimg(dir, &[fw, "-f", "8M", "-o", "out.bin", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let vfs = &v["result"]["partitions"][3];
    assert_eq!(
        (&vfs["name"], &vfs["offset"], &vfs["size"], &vfs["implicit"]),
        (&"vfs".into(), &0x200000.into(), &0x600000.into(), &true.into())
    );
}

#[test]
fn tables_show_the_implicit_vfs_after_edits() {
    let d = tempfile::tempdir().unwrap();
    let t = table(&[
        entry("nvs", 1, 2, 0x9000, 0x6000, 0),
        entry("phy_init", 1, 1, 0xf000, 0x1000, 0),
        entry("factory", 0, 0, 0x10000, 0x1f0000, 0),
    ]);
    std::fs::write(d.path().join("fw.bin"), firmware_for(9, 0, &t, &app_image(9, "MicroPython v1.27.0 on 2025-12-09")))
        .unwrap();
    implicit_vfs_after_flash_size(d.path(), "fw.bin");
    let Some(real) = firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return };
    implicit_vfs_after_flash_size(d.path(), real.to_str().unwrap());
}

#[test]
fn edits_that_change_nothing_say_why() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("fw.bin"), s3_firmware()).unwrap();
    // vfs to 6 MB, then a partition after it: vfs has nowhere to grow.
    let t = table(&[
        entry("nvs", 1, 2, 0x9000, 0x6000, 0),
        entry("phy_init", 1, 1, 0xf000, 0x1000, 0),
        entry("factory", 0, 0, 0x10000, 0x1f0000, 0),
        entry("vfs", 1, 0x81, 0x200000, 0x400000, 0),
        entry("data", 1, 0x81, 0x600000, 0x200000, 0),
    ]);
    std::fs::write(p.join("data.bin"), firmware_for(9, 0, &t, &app_image(9, "MicroPython v1.26.1 on 2025-08-01")))
        .unwrap();
    let (_, err) = run(p, &["data.bin", "-f", "8M", "--resize", "vfs=0"]);
    assert!(
        err.contains("\nwarning: --resize changed nothing: 'vfs' cannot grow: 'data' follows it at 0x600000\n"),
        "{err}"
    );
    let cases: &[(&[&str], &str)] = &[
        (&["-f", "4M"], "warning: -f changed nothing: the flash size is 4MB already\n"),
        (
            &["--resize", "vfs=0"],
            "warning: --resize changed nothing: 'vfs' cannot grow: it ends at the end of flash (0x400000)\n",
        ),
        (&["--resize", "nvs=0x6000"], "warning: --resize changed nothing: 'nvs' is 0x6000 bytes already\n"),
        (&["-a", "0x1f0000"], "warning: -a changed nothing: the app partitions are 0x1f0000 bytes already\n"),
        (&["--table", "original"], "warning: --table changed nothing: the new table is the same as the old one\n"),
        (
            &["--from-csv", "same.csv"],
            "warning: --from-csv changed nothing: the new table is the same as the old one\n",
        ),
    ];
    std::fs::write(p.join("same.csv"), CSV).unwrap();
    // Not a table edit, but an edit all the same: vfs lies past the end of the file.
    let cases = [cases, &[(&["--erase", "vfs"][..], "warning: --erase changed nothing: 'vfs' lies past the end of the file (0x15b30): it reads as erased already\n")]].concat();
    for (args, want) in &cases {
        let argv: Vec<&str> = ["fw.bin"].into_iter().chain(args.iter().copied()).chain(["-o", "out.bin"]).collect();
        let (_, err) = run(p, &argv);
        let len = std::fs::metadata(p.join("out.bin")).unwrap().len();
        assert_eq!(err, format!("{want}Wrote out.bin ({len} bytes)\n"), "{args:?}");
    }
    let o = run_mpimg(p, &["fw.bin", "--resize", "vfs=0", "--json", "-o", "out.bin"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["result"]["edits"],
        serde_json::json!([{"type": "unchanged", "edit": "resize", "reason": "'vfs' cannot grow: it ends at the end of flash (0x400000)"}])
    );
}
