//! Diagnoses as the command line shows them: each typed [`Fix`] turned into
//! the exact mpimg command for the file or port it concerns (quoted as a
//! POSIX shell needs), and the options a fit amounts to (`-f 4M --resize vfs=0`).

use serde::Serialize;

use mpimg::format::size::flash_label;
use mpimg::fs::probe::disk_version_name;
use mpimg::ops::diagnose::{Code, Diagnosis, Fix, Severity};
use mpimg::ops::fit::Fit;

/// The file the user supplies where a fix needs a whole firmware.
pub const FIRMWARE_PLACEHOLDER: &str = "FIRMWARE.bin";

/// One diagnosis as `--json` has it: the fix is the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosisView {
    /// Stable name of the problem (`flash-size-mismatch`).
    pub code: Code,
    /// `error` or `warning`.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// The command that fixes it (None: mpimg cannot; the message says what can).
    pub fix: Option<String>,
}

/// `d` with its fix as the command for `subject` (the file or port, as the
/// user named it; a port already expanded from its short name).
pub fn view(d: &Diagnosis, subject: &str) -> DiagnosisView {
    DiagnosisView {
        code: d.code,
        severity: d.severity,
        message: d.message.clone(),
        fix: d.fix.as_ref().map(|f| command(f, subject)),
    }
}

/// The mpimg command that applies `fix` to `subject`.
pub fn command(fix: &Fix, subject: &str) -> String {
    let s = quote(subject);
    match fix {
        Fix::Fit => format!("mpimg {s} --fit"),
        Fix::GrowFs { part } => format!("mpimg {s} --fs grow {}", quote(part)),
        Fix::Resize { part, size } => format!("mpimg {s} --resize {}", quote(&format!("{part}={size:#x}"))),
        Fix::Erase { part } => format!("mpimg {s} --erase {}", quote(part)),
        Fix::FlashFirmware => format!("mpimg {FIRMWARE_PLACEHOLDER} --flash {s}"),
        Fix::WriteImage { part } => {
            let file = if part == "bootloader" { "BOOTLOADER.bin" } else { "APP.app-bin" };
            format!("mpimg {s} --write {}", quote(&format!("{part}={file}")))
        }
        Fix::Mkfs { part, fat } => format!("mpimg {s} --fs mkfs {}{}", quote(part), if *fat { " fat" } else { "" }),
        _ => format!("mpimg {s}"),
    }
}

/// `word` as a POSIX shell reads it back: as it is when it holds only
/// characters no shell treats specially, else in single quotes.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '=' | ',' | '+' | '@' | '%')
        });
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The options a fit amounts to, as the user would give them (`-f 4M --resize vfs=0`).
pub fn fit_options(fit: &Fit) -> String {
    let mut v = Vec::new();
    if let Some(size) = fit.header {
        v.push(format!("-f {}", size_option(size)));
    }
    if let Some(r) = &fit.resize {
        v.push(format!("--resize {}=0", quote(&r.name)));
    }
    v.join(" ")
}

/// The line that says what a fit changed: the options it amounts to
/// (`Fitted to the 4MB flash: -f 4M --resize vfs=0`), then what no option
/// does; a fit that changed no size says only what it did
/// (`Remade 'vfs' at its partition's size (files kept)`).
pub fn fitted_line(fit: &Fit) -> String {
    let mut done: Vec<String> = Vec::new();
    if fit.renew_digest {
        done.push("renewed the bootloader's SHA-256".into());
    }
    if let Some(v) = fit.lfs_version {
        done.push(format!("remade littlefs at on-disk version {} (files kept)", disk_version_name(v)));
    }
    for name in &fit.refit {
        done.push(format!("remade '{name}' at its partition's size (files kept)"));
    }
    let options = fit_options(fit);
    if options.is_empty() {
        let line = done.join("; ");
        let mut chars = line.chars();
        return chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
    }
    done.insert(0, options);
    format!("Fitted to the {} flash: {}", flash_label(fit.flash_size), done.join("; "))
}

/// A flash size as `-f` takes it: `4M`, `512K`, else hex bytes.
pub fn size_option(size: u32) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{}M", size >> 20)
    } else if size >= 1 << 10 && size.is_multiple_of(1 << 10) {
        format!("{}K", size >> 10)
    } else {
        format!("{size:#x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpimg::ops::fit::Resized;

    #[test]
    fn commands_quote_what_a_shell_would_split() {
        assert_eq!(command(&Fix::Fit, "/dev/ttyUSB0"), "mpimg /dev/ttyUSB0 --fit");
        assert_eq!(command(&Fix::Fit, "my fw (1).bin"), "mpimg 'my fw (1).bin' --fit");
        assert_eq!(command(&Fix::Fit, "it's.bin"), r"mpimg 'it'\''s.bin' --fit");
        assert_eq!(command(&Fix::GrowFs { part: "vfs".into() }, "a.bin"), "mpimg a.bin --fs grow vfs");
        assert_eq!(
            command(&Fix::Resize { part: "factory".into(), size: 0x1a0000 }, "a.bin"),
            "mpimg a.bin --resize factory=0x1a0000"
        );
        assert_eq!(command(&Fix::Erase { part: "otadata".into() }, "a.bin"), "mpimg a.bin --erase otadata");
        assert_eq!(command(&Fix::FlashFirmware, "/dev/pts/3"), "mpimg FIRMWARE.bin --flash /dev/pts/3");
        assert_eq!(
            command(&Fix::WriteImage { part: "factory".into() }, "a.bin"),
            "mpimg a.bin --write factory=APP.app-bin"
        );
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn fit_as_options() {
        let fit = Fit {
            flash_size: 4 << 20,
            header: Some(4 << 20),
            resize: Some(Resized { name: "vfs".into(), offset: 0x200000, from: 0x600000, to: 0x200000 }),
            renew_digest: false,
            lfs_version: None,
            refit: Vec::new(),
        };
        assert_eq!(fit_options(&fit), "-f 4M --resize vfs=0");
        assert_eq!(fit_options(&Fit { resize: None, ..fit.clone() }), "-f 4M");
        assert_eq!(size_option(512 << 10), "512K");
    }
}
