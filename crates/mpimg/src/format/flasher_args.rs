//! `flasher_args.json`, the flashing recipe an ESP-IDF (and so MicroPython)
//! build leaves in its build directory, written from ESP-IDF's
//! `flasher_args.json.in` template:
//!
//! ```json
//! { "write_flash_args": ["--flash_mode", "dio", "--flash_size", "4MB", "--flash_freq", "80m"],
//!   "flash_settings": { "flash_mode": "dio", "flash_size": "4MB", "flash_freq": "80m" },
//!   "flash_files": { "0x0": "bootloader/bootloader.bin", "0x10000": "micropython.bin",
//!                    "0x8000": "partition_table/partition-table.bin" },
//!   "bootloader": { "offset": "0x0", "file": "bootloader/bootloader.bin", "encrypted": "false" },
//!   "app": { ... }, "partition-table": { ... }, "otadata": { ... },
//!   "extra_esptool_args": { "after": "hard_reset", "before": "default_reset", "stub": true, "chip": "esp32c3" } }
//! ```
//!
//! Offsets are flash offsets (hex or decimal strings); file names are
//! relative to the directory holding the json. Only what assembling an image
//! needs is read; other keys are ignored.

use serde_json::{Map, Value};
use thiserror::Error;

use super::size::parse_int;

/// A `flasher_args.json` that cannot be used.
#[derive(Debug, Error)]
pub enum FlasherArgsError {
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// No `flash_files` object.
    #[error("no \"flash_files\" object naming the images to flash")]
    NoFlashFiles,
    /// An offset that is not a number.
    #[error("\"{key}\" is not a flash offset (use e.g. \"0x10000\")")]
    BadOffset {
        /// The offset as written.
        key: String,
    },
    /// A file name or setting that is not a string.
    #[error("{what} must be a string")]
    NotAString {
        /// Which value.
        what: String,
    },
}

/// One entry of `flash_files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashFile {
    /// Flash offset.
    pub offset: u32,
    /// The file as the json names it (relative to the json's directory).
    pub file: String,
    /// Whether the matching named entry (`bootloader`, `app`, ...) says
    /// `"encrypted": "true"`: esptool encrypts such a file while flashing.
    pub encrypted: bool,
    /// The named entry this file is (`bootloader`, `app`, `partition-table`,
    /// `otadata`, ...), if one names the same offset.
    pub role: Option<String>,
}

/// What assembling an image needs from `flasher_args.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlasherArgs {
    /// The flash mode from `flash_settings` (or `write_flash_args`) as
    /// written: `dio`, or `keep`; empty when absent.
    pub flash_mode: String,
    /// The flash frequency (`80m`), as [`FlasherArgs::flash_mode`].
    pub flash_freq: String,
    /// The flash size (`4MB`, `detect`), as [`FlasherArgs::flash_mode`].
    pub flash_size: String,
    /// `extra_esptool_args.chip` (`esp32c3`), if given.
    pub chip: Option<String>,
    /// Every `flash_files` entry, sorted by offset.
    pub files: Vec<FlashFile>,
}

fn string(v: &Value, what: &str) -> Result<String, FlasherArgsError> {
    v.as_str().map(str::to_owned).ok_or_else(|| FlasherArgsError::NotAString { what: what.to_owned() })
}

fn offset(key: &str) -> Result<u32, FlasherArgsError> {
    parse_int(key)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| FlasherArgsError::BadOffset { key: key.to_owned() })
}

/// The value of option `name` (`--flash_mode` or `--flash-mode`) in `write_flash_args`.
fn from_args(args: Option<&Value>, name: &str) -> String {
    let Some(list) = args.and_then(Value::as_array) else { return String::new() };
    let dashed = name.replace('_', "-");
    list.windows(2)
        .find(|w| w[0].as_str().is_some_and(|a| a == name || a == dashed))
        .and_then(|w| w[1].as_str())
        .unwrap_or_default()
        .to_owned()
}

impl FlasherArgs {
    /// Read the text of a `flasher_args.json`.
    ///
    /// # Errors
    /// [`FlasherArgsError`]: not JSON, no `flash_files`, an offset that is not
    /// a number, a file name or setting that is not a string.
    pub fn parse(text: &str) -> Result<Self, FlasherArgsError> {
        let v: Value = serde_json::from_str(text)?;
        let top = v.as_object().ok_or(FlasherArgsError::NoFlashFiles)?;
        let files = top.get("flash_files").and_then(Value::as_object).ok_or(FlasherArgsError::NoFlashFiles)?;
        let named = named_entries(top)?;
        let mut out = Vec::with_capacity(files.len());
        for (key, file) in files {
            let offset = offset(key)?;
            let entry = named.iter().find(|n| n.0 == offset);
            out.push(FlashFile {
                offset,
                file: string(file, &format!("flash_files \"{key}\""))?,
                encrypted: entry.is_some_and(|n| n.2),
                role: entry.map(|n| n.1.clone()),
            });
        }
        out.sort_by_key(|f| f.offset);
        let settings = top.get("flash_settings").and_then(Value::as_object);
        let setting = |name: &str| -> Result<String, FlasherArgsError> {
            match settings.and_then(|s| s.get(name)) {
                Some(v) => string(v, &format!("flash_settings \"{name}\"")),
                None => Ok(from_args(top.get("write_flash_args"), &format!("--{name}"))),
            }
        };
        let chip = match top.get("extra_esptool_args").and_then(|e| e.get("chip")) {
            Some(c) => Some(string(c, "extra_esptool_args \"chip\"")?),
            None => None,
        };
        Ok(FlasherArgs {
            flash_mode: setting("flash_mode")?,
            flash_freq: setting("flash_freq")?,
            flash_size: setting("flash_size")?,
            chip,
            files: out,
        })
    }
}

/// Objects with an `offset` and a `file` (`bootloader`, `app`, ...): offset,
/// name, encrypted.
fn named_entries(top: &Map<String, Value>) -> Result<Vec<(u32, String, bool)>, FlasherArgsError> {
    let mut out = Vec::new();
    for (name, v) in top {
        let (Some(off), Some(_)) = (v.get("offset"), v.get("file")) else { continue };
        let off = offset(&string(off, &format!("\"{name}\" offset"))?)?;
        let encrypted = v.get("encrypted").is_some_and(|e| e.as_str() == Some("true") || e.as_bool() == Some(true));
        out.push((off, name.clone(), encrypted));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDF: &str = r#"{
        "write_flash_args" : [ "--flash_mode", "dio", "--flash_size", "4MB", "--flash_freq", "80m" ],
        "flash_settings" : { "flash_mode": "dio", "flash_size": "4MB", "flash_freq": "80m" },
        "flash_files" : {
            "0x0" : "bootloader/bootloader.bin",
            "0x10000" : "micropython.bin",
            "0x8000" : "partition_table/partition-table.bin",
            "0xd000" : "ota_data_initial.bin"
        },
        "bootloader" : { "offset" : "0x0", "file" : "bootloader/bootloader.bin", "encrypted" : "false" },
        "app" : { "offset" : "0x10000", "file" : "micropython.bin", "encrypted" : "false" },
        "partition-table" : { "offset" : "0x8000", "file" : "partition_table/partition-table.bin", "encrypted" : "true" },
        "otadata" : { "offset" : "0xd000", "file" : "ota_data_initial.bin", "encrypted" : "false" },
        "extra_esptool_args" : { "after" : "hard_reset", "before" : "default_reset", "stub" : true, "chip" : "esp32c3" }
    }"#;

    fn file(offset: u32, file: &str, encrypted: bool, role: &str) -> FlashFile {
        FlashFile { offset, file: file.into(), encrypted, role: Some(role.into()) }
    }

    #[test]
    fn reads_what_esp_idf_writes() {
        let a = FlasherArgs::parse(IDF).unwrap();
        assert_eq!((a.flash_mode.as_str(), a.flash_freq.as_str(), a.flash_size.as_str()), ("dio", "80m", "4MB"));
        assert_eq!(a.chip.as_deref(), Some("esp32c3"));
        assert_eq!(
            a.files,
            vec![
                file(0, "bootloader/bootloader.bin", false, "bootloader"),
                file(0x8000, "partition_table/partition-table.bin", true, "partition-table"),
                file(0xd000, "ota_data_initial.bin", false, "otadata"),
                file(0x10000, "micropython.bin", false, "app"),
            ]
        );
    }

    #[test]
    fn settings_come_from_write_flash_args_without_flash_settings() {
        let text = r#"{ "write_flash_args": ["--flash-mode", "qio", "--flash-freq", "40m"],
                        "flash_files": { "4096": "b.bin" } }"#;
        let a = FlasherArgs::parse(text).unwrap();
        assert_eq!((a.flash_mode.as_str(), a.flash_freq.as_str(), a.flash_size.as_str()), ("qio", "40m", ""));
        assert_eq!(a.files, vec![FlashFile { offset: 0x1000, file: "b.bin".into(), encrypted: false, role: None }]);
        assert_eq!(a.chip, None);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases = [
            ("{", "not valid JSON: EOF while parsing an object at line 1 column 1"),
            ("{}", "no \"flash_files\" object naming the images to flash"),
            (r#"{"flash_files": {"0x1g": "a.bin"}}"#, "\"0x1g\" is not a flash offset (use e.g. \"0x10000\")"),
            (r#"{"flash_files": {"0x0": 5}}"#, "flash_files \"0x0\" must be a string"),
        ];
        for (text, want) in cases {
            assert_eq!(FlasherArgs::parse(text).unwrap_err().to_string(), want);
        }
    }
}
