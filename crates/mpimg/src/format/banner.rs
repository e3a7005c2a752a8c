//! MicroPython's banner string, the only place an esp32 app image names its
//! MicroPython version: `MicroPython <version> on <YYYY-MM-DD>` (the REPL
//! greeting; the app descriptor's `version` is left empty).
//!
//! `<version>` is a release tag (`v1.24.1`, `v1.17`), a git describe string
//! (`v1.11-328-gd96391a-dirty`, `v1.25.0-preview.123.gabcdef0`) or, for builds
//! outside a tagged checkout, a bare hash (`b4f53a0`).

use memchr::memmem;
use serde::Serialize;

const PREFIX: &[u8] = b"MicroPython ";
const ON: &[u8] = b" on ";
/// Longer tokens are not a version (git describe strings stay far below this).
const MAX_VERSION_LEN: usize = 64;

/// The version and build date from the banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Banner {
    /// The whole version token, e.g. `v1.24.1`, `v1.11-328-gd96391a-dirty`, `b4f53a0`.
    pub version: String,
    /// Build date, `YYYY-MM-DD`.
    pub date: String,
    /// True for a plain release tag `vX.Y` or `vX.Y.Z`.
    pub is_release: bool,
}

impl Banner {
    /// The release's major and minor number (`v1.24.1` is (1, 24)); None for
    /// a custom build (a git hash, or a tag with more after it).
    pub fn release(&self) -> Option<(u32, u32)> {
        if !self.is_release {
            return None;
        }
        let mut nums = self.version.trim_start_matches('v').split('.').map(|n| n.parse::<u32>().ok());
        Some((nums.next()??, nums.next()??))
    }
}

/// Find the first banner in `app` (the bytes of an app image, or any bytes).
///
/// The image also holds other strings starting with "MicroPython " (help
/// texts), so each occurrence is checked for the full pattern; a substring
/// search finds the candidates, which keeps a 2 MB scan well under a millisecond.
pub fn find_banner(app: &[u8]) -> Option<Banner> {
    memmem::find_iter(app, PREFIX).find_map(|at| parse_at(&app[at + PREFIX.len()..]))
}

/// Parse `<version> on <date>` at the start of `rest`.
fn parse_at(rest: &[u8]) -> Option<Banner> {
    let window = &rest[..rest.len().min(MAX_VERSION_LEN + 1)];
    let version_len = window.iter().position(|&b| b == b' ')?;
    let version = &rest[..version_len];
    if version.is_empty() || !version.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    let date = rest[version_len..].strip_prefix(ON)?.get(..10)?;
    if !is_date(date) {
        return None;
    }
    // Both checked to be ASCII above.
    let version = String::from_utf8_lossy(version).into_owned();
    let date = String::from_utf8_lossy(date).into_owned();
    Some(Banner { is_release: is_release(&version), version, date })
}

fn is_date(d: &[u8]) -> bool {
    d.len() == 10 && d.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() })
}

/// `vX.Y` or `vX.Y.Z` with decimal numbers and nothing after.
fn is_release(version: &str) -> bool {
    let Some(numbers) = version.strip_prefix('v') else {
        return false;
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banner(version: &str, date: &str, is_release: bool) -> Option<Banner> {
        Some(Banner { version: version.into(), date: date.into(), is_release })
    }

    #[test]
    fn finds_release_and_custom_banners() {
        let cases: &[(&[u8], Option<Banner>)] = &[
            (b"\0\0MicroPython v1.24.1 on 2024-11-29\0", banner("v1.24.1", "2024-11-29", true)),
            (b"MicroPython v1.17 on 2021-09-02; ESP32 module", banner("v1.17", "2021-09-02", true)),
            (b"xxMicroPython b4f53a0 on 2025-01-22\0\0\0", banner("b4f53a0", "2025-01-22", false)),
            (
                b"MicroPython v1.11-328-gd96391a-dirty on 2019-12-29; ESP32",
                banner("v1.11-328-gd96391a-dirty", "2019-12-29", false),
            ),
            (
                b"MicroPython v1.25.0-preview.123.gabcdef012 on 2025-02-01",
                banner("v1.25.0-preview.123.gabcdef012", "2025-02-01", false),
            ),
            // The banner can be the very last bytes.
            (b"MicroPython v1.23.0 on 2024-06-02", banner("v1.23.0", "2024-06-02", true)),
        ];
        for (bytes, want) in cases {
            assert_eq!(&find_banner(bytes), want, "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn skips_lookalikes_and_takes_the_first_real_banner() {
        let text = b"MicroPython firmware (completely erase flash, followed\0\
            MicroPython on the ESP32!\0\
            MicroPython v1.2 on 2024-6-02\0\
            MicroPython  on 2024-06-02\0\
            MicroPython v1.25.0 on 2025-04-15\0\
            MicroPython v9.9.9 on 2099-01-01\0";
        assert_eq!(find_banner(text), banner("v1.25.0", "2025-04-15", true));
    }

    #[test]
    fn rejects_incomplete_or_odd_banners() {
        let none: &[&[u8]] = &[
            b"",
            b"MicroPython ",
            b"MicroPython v1.24.1",
            b"MicroPython v1.24.1 on ",
            b"MicroPython v1.24.1 on 2024-11-2",
            b"MicroPython v1.24.1 on 2024/11/29",
            b"MicroPython v1.24.1 at 2024-11-29",
            b"MicroPython v1.\xff24 on 2024-11-29",
            b"micropython v1.24.1 on 2024-11-29",
        ];
        for bytes in none {
            assert_eq!(find_banner(bytes), None, "{}", String::from_utf8_lossy(bytes));
        }
        let long = format!("MicroPython {} on 2024-11-29", "x".repeat(MAX_VERSION_LEN + 1));
        assert_eq!(find_banner(long.as_bytes()), None);
        let longest = format!("MicroPython {} on 2024-11-29", "x".repeat(MAX_VERSION_LEN));
        assert_eq!(find_banner(longest.as_bytes()).map(|b| b.version.len()), Some(MAX_VERSION_LEN));
    }

    #[test]
    fn release_forms() {
        for v in ["v1.24", "v1.24.1", "v10.0.12"] {
            assert!(is_release(v), "{v}");
        }
        for v in ["1.24.1", "v1", "v1.2.3.4", "v1..2", "v1.24.1-dirty", "v1.x", "b4f53a0", "v"] {
            assert!(!is_release(v), "{v}");
        }
    }
}
