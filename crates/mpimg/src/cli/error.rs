//! Errors of a command-line run, and how they are shown: the library's
//! message, and separately the fix, which names the options to use (the
//! library's errors know nothing of the command line; the advice is added
//! here, as espflash keeps its help text apart from its messages).

use std::fmt;

use mpimg::format::app_kind::NotApp;
use mpimg::format::partition::TableError;
use mpimg::fs::{FsError, COMMANDS};
use mpimg::ops::carry::CarryError;
use mpimg::ops::summary::Warning;
use mpimg::ops::EditError;
use mpimg::Error;

use super::arglist::ArgError;

/// Everything a run of `mpimg` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The library failed.
    #[error(transparent)]
    Lib(#[from] Error),
    /// An option's value is malformed.
    #[error(transparent)]
    Arg(#[from] ArgError),
    /// An option for devices given with a file.
    #[error("{option} needs a serial-attached device (e.g. /dev/ttyUSB0 or u0), not a firmware file")]
    DeviceOnly {
        /// The option.
        option: &'static str,
    },
    /// An option that only means something with another.
    #[error("{option} only works with {needs}")]
    Needs {
        /// The option given.
        option: &'static str,
        /// The option it needs.
        needs: &'static str,
    },
    /// An option that writes a file on this computer, with several boards.
    #[error("{option} writes a file on this computer: give one board, not several")]
    OneBoard {
        /// The option.
        option: &'static str,
    },
    /// Some boards of a run on several failed (each is named in the summary).
    #[error("{} of {total} boards failed: {}", failed.len(), failed.join(", "))]
    BoardsFailed {
        /// The ports of the boards that failed.
        failed: Vec<String>,
        /// How many boards the run went to.
        total: usize,
    },
    /// A board's `--check-app` found an invalid image (in a run on several boards).
    #[error("an image check failed (--check-app)")]
    CheckFailed,
    /// `all` found no board.
    #[error("no ESP loader answered on any serial port (looked at: {})", if looked.is_empty() { "none found".to_string() } else { looked.join(", ") })]
    NoBoards {
        /// The ports tried.
        looked: Vec<String>,
    },
    /// `--flash` given with a device as FILENAME.
    #[error(
        "--flash writes a firmware file to a device: give the firmware file as FILENAME, e.g. mpimg fw.bin --flash u0"
    )]
    FlashFromDevice,
    /// `--in-place` on a build directory or `--assemble`: there is no firmware file to change.
    #[error("--in-place changes a firmware file, and a build has none: write the assembled firmware with -o FILE")]
    InPlaceBuild,
    /// Two things asked to go to stdout, which carries one product.
    #[error("{first} and {second} both write to stdout, which carries one product: send one of them to a file")]
    TwoOnStdout {
        /// The first.
        first: String,
        /// The second.
        second: String,
    },
    /// A table edit on a device failed after its backup was saved: the files are in it.
    #[error("{source}")]
    AfterBackup {
        /// What failed.
        #[source]
        source: Box<CliError>,
        /// Where the backup is.
        backup: String,
    },
    /// A filesystem that does not mount on a board whose table edit did not
    /// finish: its files are in that edit's backup, not lost.
    #[error("{source}")]
    PendingEdit {
        /// What failed.
        #[source]
        source: Box<CliError>,
        /// Where the backup is.
        backup: String,
        /// When the edit was made.
        made: String,
    },
    /// Moving a misplaced firmware was cut off: the board may not start
    /// until the firmware saved before the move is flashed.
    #[error("{source}")]
    MoveCut {
        /// What failed.
        #[source]
        source: Box<CliError>,
        /// The firmware saved before the move.
        saved: String,
        /// The board's port.
        port: String,
    },
    /// A misplaced firmware that is not whole is not moved.
    #[error("{source}")]
    MoveNotWhole {
        /// Why it is not whole.
        #[source]
        source: Box<CliError>,
        /// The firmware saved before an earlier move of this board, if any.
        saved: Option<String>,
        /// The board's port.
        port: String,
    },
    /// Writing to stdout or stderr failed.
    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

impl CliError {
    /// `e`, which a table edit with a backup at `backup` (if any) failed with.
    pub fn after_backup(e: impl Into<CliError>, backup: Option<&str>) -> CliError {
        match backup {
            Some(at) => CliError::AfterBackup { source: Box::new(e.into()), backup: at.to_owned() },
            None => e.into(),
        }
    }

    /// Whether the error is a closed stdout (`mpimg ... | head`): not a
    /// failure of the run, which then ends quietly, as ripgrep does.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// An error as the user sees it: what is wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// What is wrong.
    pub message: String,
    /// What to do, naming options (None: nothing to add).
    pub fix: Option<String>,
    /// How the fix follows the message on one line: `(": ", "")`, `(" (", ")")`.
    join: (&'static str, &'static str),
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "{}{fix}{}", self.join.0, self.join.1)?;
        }
        Ok(())
    }
}

fn plain(message: String) -> Shown {
    Shown { message, fix: None, join: ("", "") }
}

fn with(message: String, sep: &'static str, fix: String) -> Shown {
    Shown { message, fix: Some(fix), join: (sep, "") }
}

fn in_parens(message: String, fix: String) -> Shown {
    Shown { message, fix: Some(fix), join: (" (", ")") }
}

/// How `e` is shown.
pub fn shown(e: &CliError) -> Shown {
    match e {
        CliError::Lib(e) => shown_lib(e),
        CliError::AfterBackup { source, backup } => {
            let inner = shown(source);
            let more =
                format!("the files are safe in the backup {backup}: the same command run again finishes the edit");
            let fix = match inner.fix {
                Some(f) => format!("{f}. {}{}", more[..1].to_uppercase(), &more[1..]),
                None => more,
            };
            with(inner.message, "; ", fix)
        }
        // The usual advice (recreate it with --fs mkfs) would lose the files the backup holds.
        CliError::PendingEdit { source, backup, made } => with(
            shown(source).message,
            ": ",
            format!(
                "a table edit on this board made on {made} did not finish, and its backup {backup} holds the files: run that edit again (the same options) to finish it and put them back"
            ),
        ),
        CliError::MoveCut { source, saved, port } => with(
            shown(source).message,
            "; ",
            format!("the board may not start until the move is finished: mpimg {saved} --flash {port}"),
        ),
        CliError::MoveNotWhole { source, saved: Some(saved), port } => with(
            shown(source).message,
            "; ",
            format!("flash the firmware saved before the move that was cut off: mpimg {saved} --flash {port}"),
        ),
        CliError::MoveNotWhole { source, saved: None, port } => with(
            shown(source).message,
            "; ",
            format!("flash a firmware with --flash: mpimg FIRMWARE.bin --flash {port}"),
        ),
        other => plain(other.to_string()),
    }
}

/// How a warning is shown (a table problem gets the same advice as the error).
pub fn shown_warning(w: &Warning) -> String {
    match w {
        Warning::Table(e) => shown_table(e).to_string(),
        other => other.to_string(),
    }
}

fn shown_lib(e: &Error) -> Shown {
    let m = e.to_string();
    match e {
        Error::Table(t) | Error::Edit(EditError::Table(t)) => shown_table(t),
        Error::Edit(e) => shown_edit(e),
        Error::Fs(e) => shown_fs(e),
        Error::Carry(e) => shown_carry(e),
        Error::AppImageOnly { .. } => with(
            m,
            "; ",
            "write it into a firmware with --write factory=FILE (or ota_0=FILE), or to a device with --ota-update"
                .into(),
        ),
        Error::OutputIsInput { .. } => {
            with(m, ": ", "name another file (to change the input itself, use --in-place)".into())
        }
        Error::ImplicitVfs { start, .. } => {
            with(m, "; ", format!("to pin it, add it first: --add vfs:fat:{start:#x}:SIZE (0 = to the end of flash)"))
        }
        Error::LargerThanDevice { asked, device } => with(
            format!(
                "-f {}M is larger than the device's flash ({} MB): the device cannot hold that table",
                asked >> 20,
                device >> 20
            ),
            "; ",
            format!("use -f {}M or less", device >> 20),
        ),
        Error::TablePastDevice { device, .. } => with(
            m,
            ": ",
            format!("set the flash size with -f {}M and fit the table to it (e.g. --resize vfs=0)", device >> 20),
        ),
        Error::Misplaced { .. } => with(
            m,
            ": ",
            "move it where the chip starts it with --fit (a firmware for another chip: flash the right one with --flash)"
                .into(),
        ),
        Error::ChipRevision { .. } => with(m, "; ", "use a firmware built for this chip revision".into()),
        Error::Fit(mpimg::ops::fit::FitError::Conflict { option, flash_size, .. }) => with(
            m,
            "; ",
            format!("give it a size that ends by {flash_size:#x}, or leave {option} out and let --fit size it"),
        ),
        Error::Fit(_) => with(
            m,
            "; ",
            "give it a layout for this flash (-f SIZE --table ota|default|original), or (with --flash) write it as it is with --no-fit"
                .into(),
        ),
        Error::NotAnApp { file, looks, .. } => with(
            m,
            ": ",
            match looks {
                NotApp::WholeFirmware => format!("extract its app with `mpimg {file} -x` and write that app image"),
                _ => "write an app image there (the .app-bin that `mpimg FIRMWARE -x` extracts)".into(),
            },
        ),
        Error::NoBootloader { .. } | Error::NotABootloader { .. } => {
            with(m, ": ", "flash a firmware with --flash".into())
        }
        Error::NotDataPartition { .. } => {
            with(m, ": ", "--erase-fs erases the start of a filesystem partition (e.g. vfs)".into())
        }
        Error::NoOtaPartitions => with(m, ": ", "change it first, e.g. --table ota".into()),
        Error::WrongChip { device, .. } => with(m, ": ", format!("use a firmware for {device}")),
        _ => plain(m),
    }
}

fn shown_table(e: &TableError) -> Shown {
    let m = e.to_string();
    match e {
        TableError::Md5Mismatch { .. } => in_parens(m, "rewrite it with --table or --from-csv".into()),
        TableError::Duplicate { .. } => in_parens(m, "use --rename".into()),
        TableError::PastFlashEnd { name, .. } => with(
            m,
            ": ",
            format!("shrink it (--resize {name}=0 fills what is left) or set a larger flash size with -f"),
        ),
        _ => plain(m),
    }
}

fn shown_edit(e: &EditError) -> Shown {
    let m = e.to_string();
    match e {
        EditError::Exists { .. } => with(m, ": ", "pick another name or --delete it first".into()),
        EditError::UnknownSubtype { name, .. } => {
            with(m, ": ", format!("give one, e.g. {name}:fat, {name}:littlefs, {name}:nvs or {name}:ota_0"))
        }
        EditError::ShiftedOut { .. } => with(m, ": ", "make room first (--delete, a smaller --resize, or -f)".into()),
        EditError::NoRoom { offset, size, .. } => {
            // Size 0 asks for the rest of the flash: a sector at least.
            let need = (u64::from(*offset) + u64::from((*size).max(0x1000))).next_power_of_two().max(1 << 20);
            with(
                m,
                ": ",
                format!(
                    "make room: a larger flash (-f {}M), or shrink the partition that ends there first (--resize NAME=SIZE)",
                    need >> 20
                ),
            )
        }
        EditError::AppTooBig { name, app, .. } => {
            let least = mpimg::ops::app_size_for(*app);
            with(m, ": ", format!("give it that much, e.g. --resize {name}={least:#x} (with --table: -a {least:#x})"))
        }
        _ => plain(m),
    }
}

fn shown_fs(e: &FsError) -> Shown {
    let m = e.to_string();
    match e {
        FsError::UnknownCommand(cmd) => {
            with(format!("unknown --fs command '{cmd}'"), "; ", format!("use one of: {}", COMMANDS.join(", ")))
        }
        FsError::Usage { .. } | FsError::GrowShrink { .. } => plain(format!("--fs {m}")),
        FsError::GrowPastPartition { .. } => with(format!("--fs {m}"), "; ", "enlarge it with --resize first".into()),
        FsError::GrowFat { .. } => with(
            format!("--fs {m}"),
            "; ",
            "for FAT, save the files (--fs get), --fs mkfs PART fat, and put them back".into(),
        ),
        FsError::NoPartition(_) => {
            with(m, "; ", "run mpimg on the image without options to list its partitions".into())
        }
        FsError::NoFilesystem(part) => with(m, "; ", format!("create one with --fs mkfs {part}")),
        FsError::Corrupt { part, .. } => {
            with(m, "; ", format!("save what you can with --fs get, then recreate it with --fs mkfs {part}"))
        }
        // Never mkfs: the files are whole, in a partition too small for them.
        FsError::FsLargerThanPartition { part, fs_blocks: blocks, .. } => {
            too_small(m, part, u64::from(*blocks) * 4096)
        }
        FsError::FatLargerThanPartition { part, fs_bytes, .. } => too_small(m, part, *fs_bytes),
        FsError::NotFound(_) => in_parens(m, "list the filesystem with --fs ls".into()),
        FsError::NoSpace { part, .. } => with(
            m,
            ". ",
            format!("Free space with --fs rm, or enlarge the partition (--resize {part}=SIZE, which grows a littlefs with it)"),
        ),
        FsError::CrossPartitionRename { .. } => with(m, "; ", "copy with --fs get and --fs put instead".into()),
        FsError::NoSuchDirectory(path) => with(m, "; ", format!("make it first with --fs mkdir {path}")),
        FsError::RemoveRoot { part, fat } => with(
            m,
            ". ",
            format!(
                "To start it afresh, make a new one with --fs mkfs {part}{}; to remove some of it, name each file or directory (rm takes no patterns)",
                if *fat { " fat" } else { "" }
            ),
        ),
        _ => plain(m),
    }
}

/// A filesystem larger than its partition: the fs-size-mismatch diagnosis's
/// fix (give the partition its filesystem's size), which keeps the files.
fn too_small(m: String, part: &str, bytes: u64) -> Shown {
    with(
        m,
        ": ",
        format!(
            "the partition is too small for the filesystem, whose files are kept; give it back its size with --resize {part}={bytes:#x} (or --fit when the space after it is taken), as the fs-size-mismatch diagnosis of mpimg without options says"
        ),
    )
}

fn shown_carry(e: &CarryError) -> Shown {
    let m = e.to_string();
    match e {
        CarryError::WouldLose { name, .. } => with(
            m,
            ". ",
            format!("Copy them out first (--fs get {name}:/ DIR), then run the edit again with --discard-fs"),
        ),
        CarryError::DoesNotFit { .. } => with(
            m,
            "; ",
            "choose a layout that leaves it that much, or first remove files (--fs rm) in a run of their own".into(),
        ),
        CarryError::Unreadable { .. } => {
            with(m, ": ", "save what you can with --fs get, then run the edit again with --discard-fs".into())
        }
        CarryError::Verify { .. } => with(m, "; ", "a firmware file is left as it was (no output is written)".into()),
        CarryError::OtherChange { .. } => with(
            m,
            ": ",
            "run that edit again (the same options) to finish it and put the files back; to give them up, move the backup out of the backup directory".into(),
        ),
        CarryError::TableChanged { .. } => with(
            m,
            ": ",
            "the files are in that backup; to edit the board anyway, move the backup out of the backup directory".into(),
        ),
        CarryError::Fs(e) => shown_fs(e),
        _ => plain(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpimg::ops::EditError;

    fn line(e: impl Into<Error>) -> String {
        shown(&CliError::Lib(e.into())).to_string()
    }

    /// Every message that names an option reads as it did when the advice
    /// was part of the library's message, word for word.
    #[test]
    fn messages_with_advice_read_as_before() {
        let cases: Vec<(String, &str)> = vec![
            (line(EditError::Exists { name: "nvs".into() }), "partition 'nvs' already exists: pick another name or --delete it first"),
            (line(EditError::UnknownSubtype { name: "x".into(), subtype: "fancy".into() }), "unknown subtype 'fancy' for partition 'x': give one, e.g. x:fat, x:littlefs, x:nvs or x:ota_0"),
            (line(EditError::ShiftedOut { name: "vfs".into(), offset: 0x400000, flash_size: 0x400000 }), "partition 'vfs' would move to 0x400000, past the end of flash (0x400000): make room first (--delete, a smaller --resize, or -f)"),
            (line(EditError::NoRoom { name: "vfs2".into(), offset: 0x400000, size: 0x100000, flash_size: 0x400000 }), "no room for partition 'vfs2' at 0x400000 (size 0x100000): flash ends at 0x400000: make room: a larger flash (-f 8M), or shrink the partition that ends there first (--resize NAME=SIZE)"),
            (line(EditError::AppTooBig { name: "factory".into(), size: 0x4000, app: 23000 }), "the app (23000 bytes) does not fit 'factory' (0x4000 bytes); it needs at least 0x10000 bytes: give it that much, e.g. --resize factory=0x10000 (with --table: -a 0x10000)"),
            (line(TableError::Md5Mismatch { stored: "aa".into(), computed: "bb".into() }), "partition table MD5 mismatch: stored aa, computed bb; the table is corrupt (rewrite it with --table or --from-csv)"),
            (line(TableError::Duplicate { name: "vfs".into() }), "partition 'vfs' appears twice in the table: names must be unique (use --rename)"),
            (line(TableError::PastFlashEnd { name: "vfs".into(), end: 0x500000, flash_size: 0x400000, flash_mb: 4 }), "partition 'vfs' ends at 0x500000, past the end of the 4 MB flash (0x400000): shrink it (--resize vfs=0 fills what is left) or set a larger flash size with -f"),
            (line(Error::AppImageOnly { what: "edit or read".into() }), "this is an app image (.app-bin), not a full firmware: it has no partition table to edit or read; write it into a firmware with --write factory=FILE (or ota_0=FILE), or to a device with --ota-update"),
            (line(Error::ImplicitVfs { name: "vfs".into(), version: "v1.26.1".into(), start: 0x200000 }), "'vfs' is not in the partition table: MicroPython v1.26.1 creates it at boot from the end of the table (0x200000) to the end of flash; to pin it, add it first: --add vfs:fat:0x200000:SIZE (0 = to the end of flash)"),
            (line(Error::LargerThanDevice { asked: 8 << 20, device: 4 << 20 }), "-f 8M is larger than the device's flash (4 MB): the device cannot hold that table; use -f 4M or less"),
            (line(Error::TablePastDevice { end: 0x800000, device: 4 << 20 }), "the new table ends at 0x800000, past the end of the device's 4 MB flash (0x400000): set the flash size with -f 4M and fit the table to it (e.g. --resize vfs=0)"),
            (line(Error::NoBootloader { offset: 0x1000 }), "no bootloader found at 0x1000 (flash is erased there): flash a firmware with --flash"),
            (line(Error::NotABootloader { offset: 0x1000, source: mpimg::format::image::ImageError::BadMagic { found: 0 } }), "no bootloader found at 0x1000: flash a firmware with --flash"),
            (line(Error::NotDataPartition { name: "factory".into() }), "'factory' is not a data partition: --erase-fs erases the start of a filesystem partition (e.g. vfs)"),
            (line(Error::NoOtaPartitions), "the partition table has no otadata and OTA app partitions (ota_0, ota_1): change it first, e.g. --table ota"),
            (line(Error::WrongChip { firmware: "esp32", port: "/dev/pts/3".into(), device: "esp32s3" }), "the firmware is for esp32 but the device on /dev/pts/3 is an esp32s3: use a firmware for esp32s3"),
            (line(Error::Misplaced { offset: 0x1000, found: 0, chip: "esp32" }), "no bootloader at 0x1000, but one for esp32 at 0x0: the firmware was written at the wrong offset: move it where the chip starts it with --fit (a firmware for another chip: flash the right one with --flash)"),
            (line(Error::ChipRevision { why: "needs esp32c3 revision v0.3 or later".into(), port: "/dev/pts/3".into(), chip: "esp32c3", revision: "v0.0".into() }), "the firmware needs esp32c3 revision v0.3 or later, but the esp32c3 on /dev/pts/3 is revision v0.0: it would not start; use a firmware built for this chip revision"),
            (line(mpimg::ops::fit::FitError::NoFit { flash_size: 4 << 20, parts: vec![("factory".into(), 0x10000, 0x800000)] }), "the table does not fit the 4MB flash: 'factory' (0x10000..0x800000) ends past its end (0x400000); a fit only resizes the last partition, and only a filesystem partition; give it a layout for this flash (-f SIZE --table ota|default|original), or (with --flash) write it as it is with --no-fit"),
            (line(FsError::UnknownCommand("frobnicate".into())), "unknown --fs command 'frobnicate'; use one of: ls, cat, get, put, mkdir, rm, rename, mkfs, df, info, grow, sync"),
            (line(FsError::Usage { cmd: "cat", msg: "needs a file".into() }), "--fs cat: needs a file"),
            (line(FsError::NoPartition("vfs3".into())), "no partition 'vfs3' in the partition table; run mpimg on the image without options to list its partitions"),
            (line(FsError::NoFilesystem("vfs2".into())), "no littlefs or FAT filesystem on 'vfs2'; create one with --fs mkfs vfs2"),
            (line(FsError::Corrupt { part: "vfs".into(), kind: "littlefs", detail: "mount: corrupted filesystem".into() }), "the littlefs filesystem on 'vfs' is corrupt (mount: corrupted filesystem); save what you can with --fs get, then recreate it with --fs mkfs vfs"),
            (line(FsError::NotFound("vfs:/nope.py".into())), "'vfs:/nope.py': no such file or directory (list the filesystem with --fs ls)"),
            (line(FsError::NoSpace { part: "vfs".into(), path: "/big.bin".into() }), "no space left on 'vfs' while writing '/big.bin'; nothing was written to the image. Free space with --fs rm, or enlarge the partition (--resize vfs=SIZE, which grows a littlefs with it)"),
            (line(FsError::NoSuchDirectory("vfs:/lib".into())), "'vfs:/lib': no such directory; make it first with --fs mkdir vfs:/lib"),
            (line(FsError::RemoveRoot { part: "vfs".into(), fat: false }), "refusing to remove the root directory of 'vfs': that would empty the whole filesystem. To start it afresh, make a new one with --fs mkfs vfs; to remove some of it, name each file or directory (rm takes no patterns)"),
            (line(FsError::RemoveRoot { part: "vfs2".into(), fat: true }), "refusing to remove the root directory of 'vfs2': that would empty the whole filesystem. To start it afresh, make a new one with --fs mkfs vfs2 fat; to remove some of it, name each file or directory (rm takes no patterns)"),
            (line(FsError::MoveIntoItself { from: "vfs:/d".into(), to: "vfs:/d/sub".into() }), "cannot move directory 'vfs:/d' into itself ('vfs:/d/sub')"),
            (line(FsError::CrossPartitionRename { from: "vfs:/boot.py".into(), to: "vfs2:/boot.py".into() }), "cannot rename across partitions ('vfs:/boot.py' to 'vfs2:/boot.py'); copy with --fs get and --fs put instead"),
            (line(FsError::GrowPastPartition { part: "vfs".into(), blocks: 1000, part_blocks: 512 }), "--fs grow vfs: 1000 blocks do not fit in the partition (512 blocks); enlarge it with --resize first"),
            (line(FsError::GrowShrink { part: "vfs".into(), now: 512, asked: 100 }), "--fs grow vfs: littlefs cannot shrink (512 blocks now, 100 asked)"),
            (line(FsError::GrowFat { part: "vfs".into() }), "--fs grow vfs: only littlefs can grow in place; for FAT, save the files (--fs get), --fs mkfs PART fat, and put them back"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn carry_errors_name_their_fix() {
        let carry = |e: CarryError| line(Error::from(e));
        let at = "mpimg-backup-ttyUSB0-240ac4000001-20251129T101500Z.bin";
        let made = "2025-11-29 10:15:00 UTC";
        assert_eq!(
            carry(CarryError::OtherChange { location: at.into(), made: made.into() }),
            format!("a table edit on this board made on {made} did not finish: its backup of the files is {at}, and this run asks for another change: run that edit again (the same options) to finish it and put the files back; to give them up, move the backup out of the backup directory")
        );
        assert_eq!(
            carry(CarryError::WouldLose { name: "vfs".into(), filesystem: "FAT12".into(), files: "3 files (2 KiB)".into(), how: "deletes the partition".into() }),
            "partition 'vfs' holds 3 files (2 KiB) in a FAT12 filesystem, and this edit deletes the partition: the files would be lost. Copy them out first (--fs get vfs:/ DIR), then run the edit again with --discard-fs"
        );
        let cut = CliError::after_backup(Error::NoAppPartition, Some(at));
        assert_eq!(
            shown(&cut).to_string(),
            format!("the partition table has no app partition; the files are safe in the backup {at}: the same command run again finishes the edit")
        );
        let cut = CliError::after_backup(Error::NoOtaPartitions, Some(at));
        assert_eq!(
            shown(&cut).fix.unwrap(),
            format!("change it first, e.g. --table ota. The files are safe in the backup {at}: the same command run again finishes the edit")
        );
        assert!(matches!(CliError::after_backup(Error::Empty, None), CliError::Lib(Error::Empty)));
    }

    #[test]
    fn a_filesystem_lost_to_a_pending_edit_points_to_its_backup() {
        let corrupt =
            FsError::Corrupt { part: "vfs".into(), kind: "littlefs", detail: "mount: corrupted filesystem".into() };
        let e = CliError::PendingEdit {
            source: Box::new(CliError::Lib(corrupt.into())),
            backup: "/home/u/mpimg-backup-pts1-aabbccddeeff-20251129T101500Z.bin".into(),
            made: "2025-11-29 10:15:00 UTC".into(),
        };
        assert_eq!(
            shown(&e).to_string(),
            "the littlefs filesystem on 'vfs' is corrupt (mount: corrupted filesystem): a table edit on this board made on 2025-11-29 10:15:00 UTC did not finish, and its backup /home/u/mpimg-backup-pts1-aabbccddeeff-20251129T101500Z.bin holds the files: run that edit again (the same options) to finish it and put them back"
        );
    }

    #[test]
    fn fix_is_kept_apart_from_the_message() {
        let s = shown(&CliError::Lib(EditError::AppTooBig { name: "ota_0".into(), size: 0x4000, app: 0x10001 }.into()));
        assert_eq!(
            s.message,
            "the app (65537 bytes) does not fit 'ota_0' (0x4000 bytes); it needs at least 0x20000 bytes"
        );
        assert_eq!(s.fix.as_deref(), Some("give it that much, e.g. --resize ota_0=0x20000 (with --table: -a 0x20000)"));
        let s = shown(&CliError::Lib(Error::Empty));
        assert_eq!(s.fix, None);
    }
}
