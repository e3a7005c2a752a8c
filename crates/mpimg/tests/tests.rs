//! The integration tests of mpimg, linked as one test binary: each file is a
//! module named for what it covers, and `util` holds the helpers they share.
//!
//! Tests that need `../shared/firmware` (or `$MPIMG_FIRMWARE_DIR`), the Python
//! venvs or mtools print a note and pass without them, unless `CI=true`: then
//! they fail.

mod util;

/// Assembling an image from a build directory's pieces (`flasher_args.json`).
mod assemble;
/// Bad input on the command line: one clear error line each.
mod bad_input;
/// Reproducible and compact bakes: SOURCE_DATE_EPOCH, packed littlefs.
mod bake;
/// Table edits keep the files of the filesystems they move, grow or shrink (firmware files).
mod carry;
/// The carrying edit with a backup in memory, cut after every sector it writes, finished by a re-run.
mod carry_job;
/// The carry operations on a synthetic flash: planning, matching, refusals, read-back.
mod carry_plan;
/// Every chip's image recognised; esp-sim devices of the newer chips.
mod chips;
/// Output files byte for byte against mp-image-tool-esp32 0.1.1.
mod compat;
/// A firmware file cut short: shown, its app flagged.
mod cut_firmware;
/// The device backend (`DeviceFlash`) against esp-sim.
mod device_backend;
/// Table edits on esp-sim boards keep the files, whatever point a cut link comes at.
mod device_carry;
/// Link faults during device runs.
mod device_faults;
/// `--fs` on esp-sim devices.
mod device_fs;
/// Every device option, against the same option on a file.
mod device_options;
/// `--ota-update` and `--flash DEVICE`.
mod device_ota_flash;
/// Diagnoses of esp-sim boards, and `--flash` fitting a firmware to a board.
mod diagnose_device;
/// Diagnoses of firmware files: each fault, its fix run verbatim, the files kept.
mod diagnose_file;
/// Every device write cut off at points spread over its bytes: the board
/// starts, and the same command run again completes it.
mod fault_matrix;
/// The binary formats on the real firmware images.
mod formats;
/// The block cache under real filesystem commands.
mod fs_cache;
/// `--fs` through the command line on firmware files.
mod fs_cli;
/// FAT volumes damaged on purpose (clusters 0/1 and past the last one in directory and FAT entries).
mod fs_damaged_fat;
/// littlefs images damaged on purpose (loops, sizes, blocks past the partition).
mod fs_damaged_littlefs;
/// Filesystem failures and what they leave.
mod fs_errors;
/// Every `--fs` command on FAT.
mod fs_fat;
/// FAT interop with mtools.
mod fs_interop_fat;
/// littlefs interop with littlefs-python.
mod fs_interop_littlefs;
/// Every `--fs` command on littlefs.
mod fs_littlefs;
/// Paths as typed to `--fs`: trailing slashes, the root, renames into themselves, symbolic links.
mod fs_paths;
/// Whole filesystem trees: read, made again at another size, compared.
mod fs_tree;
/// Faults on this computer: a full disk, a read-only or changing input, an output that is the input, a link, a FIFO or a device.
mod host_faults;
/// Intel HEX and UF2 firmware files.
mod image_formats;
/// Bootloaders and whole firmwares refused where an app goes, and named by --check-app.
mod not_an_app;
/// Every option on every real image.
mod options_real;
/// Every option on synthetic images built by the tests.
mod options_synthetic;
/// What goes to stdout and stderr, `--json` on failure, tables after edits, edits that change nothing.
mod output;
/// Builds, reproducible and compact bakes, HEX and UF2 through the command line.
mod pipelines;
/// Sparse reads, backup and clone, `--fs sync`, several boards at once (esp-sim).
mod scale;
