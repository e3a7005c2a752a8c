//! The command line: the same options, with the same meanings, as
//! mp-image-tool-esp32, plus mpimg's own (`--json`, `--to-csv`, `--in-place`,
//! `--discard-fs`, `--keep-backup`, `--backup-dir`).

use std::ffi::OsString;

use clap::Parser;

use mpimg::format::size::parse_size;

/// Inspect and edit MicroPython ESP32 firmware files and devices.
#[derive(Debug, Parser, Default)]
#[command(
    name = "mpimg",
    version,
    about = "Inspect and edit MicroPython ESP32 firmware files and flash on ESP32 devices.",
    after_help = "SIZE is a decimal or hex number with an optional suffix: K/KB (1024), M/MB (1 MiB), \
B (4096-byte blocks); fractions such as 1.5M work. Edits of a firmware file go to a new file \
(named after the input and the edits, or -o); the input is never modified. \
\n\n  --fs CMD [ARGS...]  work on files in the vfs (or another) filesystem partition; \
takes the words after it up to the next option or `--` (`--fs ls /lib -- fw.bin`); repeatable. \
Commands: ls [-l] [PATH...], cat FILE, get SRC... [DEST], put SRC... DEST, mkdir PATH, \
rm PATH..., rename OLD NEW, mkfs [PART] [fat], df [PART...], info [PART...], grow [PART [BLOCKS]], \
sync [--delete] [--checksum] [--exclude GLOB]... SRC [DEST] (the directory SRC's contents into DEST, \
writing only files that differ in size or time, or with --checksum in content; --delete removes \
what is only in DEST; sync's options come before SRC). \
A path may start with a partition name: vfs2:/data. \
\n\n  FILENAME may also be a build directory (or its flasher_args.json): its pieces are assembled into \
one firmware first (--assemble OFFSET=FILE,... names them instead). Intel HEX and UF2 files are read \
like .bin files; -o x.hex or -o x.uf2 (or --format) writes them. With SOURCE_DATE_EPOCH set, every \
time written into a filesystem is that time. \
\n\n  Several boards: FILENAME and --flash take a list of ports (u0,u1,u2) or all (every serial port \
whose ESP loader answers; $MPIMG_PORTS narrows where to look): the run goes to each in parallel, \
and a summary (port, MAC, OK or FAILED, bytes on the wire, time) ends it."
)]
pub struct Args {
    /// The firmware file (.bin, .hex, .uf2, .app-bin), a build directory (or
    /// its flasher_args.json), or a serial device (/dev/ttyUSB0, COM3, u0, a0, c0).
    #[arg(required_unless_present = "assemble")]
    pub filename: Option<String>,
    /// Assemble the firmware from pieces instead of FILENAME: OFFSET=FILE,...
    #[arg(long, value_name = "OFFSET=FILE,...", conflicts_with = "filename")]
    pub assemble: Option<String>,
    /// Output firmware format: bin, hex (Intel HEX) or uf2 (default: from the output file's extension).
    #[arg(long, value_name = "bin|hex|uf2", value_parser = ["bin", "hex", "uf2"])]
    pub format: Option<String>,
    /// Output firmware filename (named after the input and the edits if not
    /// given; `-` is stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<String>,
    /// Leave out notes, warnings, diagnoses and progress on stderr: only
    /// the product (on stdout: the report, --fs output, CSV, JSON) and
    /// errors are printed.
    #[arg(short, long)]
    pub quiet: bool,
    /// Leave the device in bootloader mode afterwards.
    #[arg(short = 'n', long)]
    pub no_reset: bool,
    /// Extract the app image (.app-bin) from the firmware.
    #[arg(short = 'x', long)]
    pub extract_app: bool,
    /// Change the flash size in the bootloader header (and the table's limit).
    #[arg(short = 'f', long, value_name = "SIZE", value_parser = size_u32)]
    pub flash_size: Option<u32>,
    /// Size of the factory and ota app partitions.
    #[arg(short = 'a', long, value_name = "SIZE", value_parser = size_u32)]
    pub app_size: Option<u32>,
    /// Accepted for compatibility (esptool method of the Python tool); ignored.
    #[arg(short = 'm', long, value_name = "METHOD", hide = true)]
    pub method: Option<String>,
    /// Print more detail (segments, block and byte counts).
    #[arg(short = 'd', long)]
    pub debug: bool,
    /// Accepted for compatibility (Python logger levels); ignored.
    #[arg(long, value_name = "NAME=LEVEL", hide = true)]
    pub log: Option<String>,
    /// Verify the bootloader and every app partition (header, checksum, SHA-256).
    #[arg(long)]
    pub check_app: bool,
    /// Disable app rollback after an OTA update.
    #[arg(long)]
    pub no_rollback: bool,
    /// Baud rate for the serial port.
    #[arg(long, value_name = "RATE", default_value_t = 921_600)]
    pub baud: u32,
    /// Write an app image to the next OTA partition of a device and boot it next.
    #[arg(long, value_name = "FILE")]
    pub ota_update: Option<String>,
    /// Load a new partition table from an ESP-IDF CSV file.
    #[arg(long, value_name = "FILE")]
    pub from_csv: Option<String>,
    /// New partition table: ota, default, original or NAME=SUBTYPE:SIZE,...
    #[arg(long, value_name = "ota|default|original|NAME=SUBTYPE:SIZE,...")]
    pub table: Option<String>,
    /// Delete the named partitions.
    #[arg(long, value_name = "NAME1[,NAME2,...]")]
    pub delete: Option<String>,
    /// Add partitions (OFFSET 0: after the last one; SIZE 0: to the end of flash).
    #[arg(long, value_name = "NAME:SUBTYPE:OFFSET:SIZE[,...]")]
    pub add: Option<String>,
    /// Resize partitions (SIZE 0: fill the free space); later partitions shift.
    #[arg(long, value_name = "NAME=SIZE[,...]")]
    pub resize: Option<String>,
    /// Rename partitions, e.g. --rename ffat=vfs.
    #[arg(long, value_name = "NAME=NEW[,...]")]
    pub rename: Option<String>,
    /// Erase the named partitions.
    #[arg(long, value_name = "NAME1[,NAME2,...]")]
    pub erase: Option<String>,
    /// Erase the first 4 blocks of filesystem partitions on a device.
    #[arg(long, value_name = "NAME1[,NAME2,...]")]
    pub erase_fs: Option<String>,
    /// Copy partitions (or bootloader, partition_table) into files.
    #[arg(long, value_name = "NAME=FILE[,...]")]
    pub read: Option<String>,
    /// Write files into partitions (or bootloader).
    #[arg(long, value_name = "NAME=FILE[,...]")]
    pub write: Option<String>,
    /// Flash the firmware (with this run's edits) to a serial-attached device.
    #[arg(long, value_name = "DEVICE")]
    pub flash: Option<String>,
    /// Fit the firmware to the board's flash: put it at the chip's bootloader
    /// offset, set the header's flash size, make the last filesystem partition
    /// end at the end of the flash (files kept); with --flash, also grow a
    /// firmware made for a smaller flash. On a file, fits to -f (or its header).
    #[arg(long, conflicts_with = "no_fit")]
    pub fit: bool,
    /// With --flash: write the firmware exactly as given, even when it does not fit the board.
    #[arg(long)]
    pub no_fit: bool,
    /// With --flash: also erase the device's flash past the image to its end,
    /// so the board holds exactly the image (a clone of a --backup).
    #[arg(long)]
    pub erase_rest: bool,
    /// Back up the device's whole flash (bootloader offset to the last used
    /// sector) to a firmware file.
    #[arg(long, value_name = "FILE")]
    pub backup: Option<String>,
    /// Remove trailing blank 4096-byte blocks from --read and --extract-app data.
    #[arg(long)]
    pub trimblocks: bool,
    /// Like --trimblocks, but to a 16-byte boundary (right for app images).
    #[arg(long)]
    pub trim: bool,
    /// Print the facts as one JSON document on stdout (and nothing else).
    #[arg(long)]
    pub json: bool,
    /// Write the partition table (after any edits) as ESP-IDF CSV (FILE `-`: to stdout).
    #[arg(long, value_name = "FILE")]
    pub to_csv: Option<String>,
    /// Modify the given firmware file itself instead of writing a new one.
    #[arg(long)]
    pub in_place: bool,
    /// Let a table edit drop the files of a filesystem partition it deletes
    /// or re-types (without it, such an edit is refused).
    #[arg(long)]
    pub discard_fs: bool,
    /// Devices: keep the host backup of the files a table edit moves after
    /// the edit finished (renamed to end in -done.bin) instead of removing it.
    #[arg(long)]
    pub keep_backup: bool,
    /// Devices: where the host backup of the files a table edit moves is kept
    /// (default: the current directory); a re-run finds it there, or from
    /// anywhere through its pointer in ~/.local/state/mpimg.
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<String>,
    /// Filesystem commands (filled in from the `--fs` groups, see [`split_fs`]).
    #[arg(skip)]
    pub fs: Vec<Vec<String>>,
}

fn size_u32(s: &str) -> Result<u32, String> {
    let v = parse_size(s).map_err(|e| e.to_string())?;
    u32::try_from(v).map_err(|_| format!("size '{s}' is larger than 4 GB"))
}

/// Options that end a `--fs` group (every flag mpimg knows, short and long).
fn is_known_option(word: &str) -> bool {
    const LONG: &[&str] = &[
        "--output",
        "--quiet",
        "--no-reset",
        "--extract-app",
        "--flash-size",
        "--app-size",
        "--method",
        "--debug",
        "--log",
        "--check-app",
        "--no-rollback",
        "--baud",
        "--ota-update",
        "--from-csv",
        "--table",
        "--delete",
        "--add",
        "--resize",
        "--rename",
        "--erase",
        "--erase-fs",
        "--read",
        "--write",
        "--flash",
        "--fit",
        "--no-fit",
        "--erase-rest",
        "--backup",
        "--trimblocks",
        "--trim",
        "--fs",
        "--json",
        "--to-csv",
        "--in-place",
        "--assemble",
        "--format",
        "--discard-fs",
        "--keep-backup",
        "--backup-dir",
        "--help",
        "--version",
    ];
    const SHORT: &[&str] = &["-o", "-q", "-n", "-x", "-f", "-a", "-m", "-d", "-h", "-V"];
    let base = word.split('=').next().unwrap_or(word);
    LONG.contains(&base)
        || SHORT.iter().any(|s| word == *s || (word.starts_with(s) && word.len() > 2 && !word.starts_with("--")))
}

/// Take the `--fs CMD ARGS...` groups out of the arguments: each runs to the
/// next known option or `--` (which is dropped). `ls -l` keeps its `-l`.
///
/// `sync` has options of its own, and one of them has the name of an mpimg
/// option (`--delete`): right after `sync`, before SRC, `--delete`,
/// `--checksum` (`-c`) and `--exclude GLOB` (`--exclude=GLOB`) belong to it
/// (`--fs sync --delete --exclude '*.pyc' src/ /`); after SRC, `--delete`
/// is mpimg's again.
pub fn split_fs(argv: Vec<OsString>) -> (Vec<OsString>, Vec<Vec<String>>) {
    let mut rest = Vec::new();
    let mut groups = Vec::new();
    let mut it = argv.into_iter().peekable();
    while let Some(a) = it.next() {
        if a != "--fs" {
            rest.push(a);
            continue;
        }
        let mut group: Vec<String> = Vec::new();
        // Between `sync` and its SRC: where sync's options are.
        let mut sync_options = false;
        while let Some(w) = it.peek() {
            let s = w.to_string_lossy().into_owned();
            if s == "--" {
                it.next();
                break;
            }
            let own = sync_options
                && (matches!(s.as_str(), "--delete" | "--checksum" | "-c" | "--exclude")
                    || s.starts_with("--exclude="));
            if !own && is_known_option(&s) {
                break;
            }
            it.next();
            sync_options = if group.is_empty() { s == "sync" } else { own };
            if own && s == "--exclude" {
                // Its pattern, whatever it looks like.
                let pattern = it.next().map(|p| p.to_string_lossy().into_owned());
                group.push(s);
                group.extend(pattern);
                continue;
            }
            group.push(s);
        }
        groups.push(group);
    }
    (rest, groups)
}

/// Parse the process arguments.
pub fn parse_from(argv: Vec<OsString>) -> Result<Args, clap::Error> {
    let (rest, fs) = split_fs(argv);
    let mut args = Args::try_parse_from(rest)?;
    args.fs = fs;
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn fs_groups_end_at_options_and_double_dash() {
        let (rest, fs) = split_fs(os(&["mpimg", "--fs", "ls", "-l", "/lib", "--fs", "cat", "boot.py", "-q", "fw.bin"]));
        assert_eq!(rest, os(&["mpimg", "-q", "fw.bin"]));
        assert_eq!(fs, vec![vec!["ls", "-l", "/lib"], vec!["cat", "boot.py"]]);
        let (rest, fs) = split_fs(os(&["mpimg", "--fs", "put", "a", "/", "--", "fw.bin"]));
        assert_eq!(rest, os(&["mpimg", "fw.bin"]));
        assert_eq!(fs, vec![vec!["put", "a", "/"]]);
    }

    #[test]
    fn sync_keeps_its_options_before_src() {
        let (rest, fs) = split_fs(os(&[
            "mpimg",
            "fw.bin",
            "--fs",
            "sync",
            "--delete",
            "--exclude",
            "-f*",
            "--checksum",
            "--exclude=*.pyc",
            "src/",
            "/",
            "--delete",
            "vfs2",
        ]));
        assert_eq!(rest, os(&["mpimg", "fw.bin", "--delete", "vfs2"]));
        assert_eq!(
            fs,
            vec![vec!["sync", "--delete", "--exclude", "-f*", "--checksum", "--exclude=*.pyc", "src/", "/"]]
        );
        // Other commands end at --delete, as before.
        let (rest, fs) = split_fs(os(&["mpimg", "fw.bin", "--fs", "put", "--delete", "x"]));
        assert_eq!(rest, os(&["mpimg", "fw.bin", "--delete", "x"]));
        assert_eq!(fs, vec![vec!["put"]]);
        let (rest, fs) = split_fs(os(&["mpimg", "fw.bin", "--fs", "sync", "-c", "src", "--", "-q"]));
        assert_eq!(rest, os(&["mpimg", "fw.bin", "-q"]));
        assert_eq!(fs, vec![vec!["sync", "-c", "src"]]);
    }

    #[test]
    fn options_parse_with_sizes() {
        let a = parse_from(os(&["mpimg", "fw.bin", "-f", "8M", "-a", "0x1f0B", "--resize", "vfs=0"])).unwrap();
        assert_eq!(a.flash_size, Some(0x800000));
        assert_eq!(a.app_size, Some(0x1f0000));
        assert_eq!(a.resize.as_deref(), Some("vfs=0"));
        assert_eq!(a.baud, 921600);
        let e = parse_from(os(&["mpimg", "fw.bin", "-f", "8G"])).unwrap_err();
        assert!(e.to_string().contains("invalid size '8G'"), "{e}");
    }
}
