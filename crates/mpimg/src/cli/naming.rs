//! Output file names, made as mp-image-tool-esp32 makes them: the input's base
//! name with each edit's suffix inserted before its extension, in the current
//! directory (`ESP32_GENERIC-v1.23.0.bin -f 8M --resize vfs=0` →
//! `ESP32_GENERIC-v1.23.0-8MB-resize=vfs.bin`).

use std::path::Path;

use mpimg::ops::layout::{PartSpec, Preset};

use super::arglist::{render_items, render_part_list, split_items};
use super::args::Args;

/// The suffix an output file's name gets for the edits `args` asks for, in
/// the Python tool's order and spelling (`-8MB-resize=vfs`); `resize` and
/// `add` are the parsed `--resize` and `--add` lists, `fs_changes` whether
/// `--fs` commands change a filesystem (`-fs`).
pub fn edit_suffix(args: &Args, resize: &[PartSpec], add: &[PartSpec], fs_changes: bool) -> String {
    let items = |arg: &str| render_items(&split_items(arg));
    let mut s = String::new();
    if let Some(size) = args.flash_size {
        s += &format!("-{}MB", size >> 20);
    }
    if args.fit && args.flash.is_none() {
        s += "-fit";
    }
    if args.from_csv.is_some() {
        s += "-CSV";
    }
    if let Some(spec) = &args.table {
        s += match Preset::from_name(spec) {
            Some(Preset::Ota) => "-OTA",
            Some(Preset::Default) => "-DEFAULT",
            Some(Preset::Original) => "-ORIGINAL",
            None => "-TABLE",
        };
    }
    if let Some(size) = args.app_size {
        s += &format!("-appsize={}B", size / 0x1000);
    }
    if let Some(arg) = &args.delete {
        s += &format!("-delete={}", items(arg));
    }
    if args.resize.is_some() {
        s += &format!("-resize={}", render_part_list(resize));
    }
    if let Some(arg) = &args.rename {
        s += &format!("-rename={}", items(arg));
    }
    if args.add.is_some() {
        s += &format!("-add={}", render_part_list(add));
    }
    if let Some(arg) = &args.erase {
        s += &format!("-erase={}", items(arg));
    }
    if let Some(arg) = &args.write {
        s += &format!("-write={}", items(arg));
    }
    if fs_changes {
        s += "-fs";
    }
    s
}

/// The file name part of `input` (as written by the user): the base of
/// output names. An input that is no regular file (`<(cat fw.bin)` is
/// `/dev/fd/63`, a FIFO) and whose name has no extension gives
/// `firmware.bin`: its name says nothing of the firmware (`63-8MB` would
/// be no name for an image).
pub fn basename(input: &str) -> String {
    let name =
        Path::new(input).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| input.to_string());
    let stream = std::fs::metadata(input).is_ok_and(|m| !m.is_file() && !m.is_dir());
    if stream && !name.contains('.') {
        return "firmware.bin".into();
    }
    name
}

/// `-x`'s file for an app read from a device: the chip and the app
/// partition (`esp32-factory.app-bin`, `esp32s3-ota_0.app-bin`), where the
/// Python tool takes the port's name (`ttyUSB0.app-bin`, and `2.app-bin`
/// for `/dev/pts/2`).
pub fn device_app_name(chip: &str, partition: &str) -> String {
    if partition.is_empty() {
        format!("{chip}.app-bin")
    } else {
        format!("{chip}-{partition}.app-bin")
    }
}

/// The base of output names for a build whose `flasher_args.json` is `json`:
/// its directory's name as a `.bin` file (`build-ESP32_GENERIC.bin`).
pub fn build_basename(json: &Path) -> String {
    let dir = json.parent().filter(|d| !d.as_os_str().is_empty()).map_or_else(
        || std::env::current_dir().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())),
        |d| d.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())),
    );
    format!("{}.bin", dir.unwrap_or_else(|| "firmware".into()))
}

/// `name` with its extension replaced by `ext` (or `ext` appended).
pub fn with_extension(name: &str, ext: &str) -> String {
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{}.{ext}", &name[..i]),
        _ => format!("{name}.{ext}"),
    }
}

/// Insert `suffix` before the last extension of `name` (or append it).
/// Path separators in the suffix (from `--write NAME=dir/file`) become `_`, so
/// the output stays in the current directory.
pub fn with_suffix(name: &str, suffix: &str) -> String {
    let suffix = suffix.replace(['/', '\\'], "_");
    match name.rfind('.') {
        Some(i) if i + 1 < name.len() => format!("{}{}{}", &name[..i], suffix, &name[i..]),
        _ => format!("{name}{suffix}"),
    }
}

/// `-x` output: `.bin` becomes `.app-bin`; any other name gets `.app-bin` appended.
pub fn app_bin_name(name: &str) -> String {
    match name.strip_suffix(".bin") {
        Some(stem) => format!("{stem}.app-bin"),
        None => format!("{name}.app-bin"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_the_python_tool() {
        assert_eq!(with_suffix("fw-v1.23.0.bin", "-8MB-resize=vfs"), "fw-v1.23.0-8MB-resize=vfs.bin");
        assert_eq!(with_suffix("firmware", "-OTA"), "firmware-OTA");
        assert_eq!(with_suffix("a.", "-OTA"), "a.-OTA");
        assert_eq!(with_suffix(".bin", "-CSV"), "-CSV.bin");
        assert_eq!(with_suffix("fw.bin", "-write=factory=out/app.bin"), "fw-write=factory=out_app.bin.bin");
        assert_eq!(app_bin_name("ESP32_GENERIC-20240602-v1.23.0.bin"), "ESP32_GENERIC-20240602-v1.23.0.app-bin");
        assert_eq!(app_bin_name("dump.img"), "dump.img.app-bin");
        assert_eq!(basename("/x/y/fw.bin"), "fw.bin");
        assert_eq!(basename("/dev/null"), "firmware.bin", "no regular file, no extension");
        assert_eq!(device_app_name("esp32", "factory"), "esp32-factory.app-bin");
        assert_eq!(with_extension("fw-8MB.bin", "hex"), "fw-8MB.hex");
        assert_eq!(with_extension("firmware", "uf2"), "firmware.uf2");
        let dir = tempfile::tempdir().unwrap();
        let build = dir.path().join("build-ESP32_GENERIC");
        std::fs::create_dir(&build).unwrap();
        assert_eq!(build_basename(&build.join("flasher_args.json")), "build-ESP32_GENERIC.bin");
        assert_eq!(build_basename(&build.join(".").join("flasher_args.json")), "build-ESP32_GENERIC.bin");
    }
}
