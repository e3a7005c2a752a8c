//! Size syntax of the command line and human-readable sizes.
//!
//! A size is a decimal or `0x`/`0o`/`0b` number, optionally fractional
//! (`1.5M`), with an optional case-insensitive suffix: `K`/`KB` (1024),
//! `M`/`MB` (1 MiB) or `B` (one 4096-byte block). The suffix is matched the way
//! mp-image-tool-esp32 matches it, so `0x1fB` is 0x1f blocks.

use thiserror::Error;

/// One kilobyte (`K`, `KB`): 1024 bytes.
pub const KB: u64 = 0x400;
/// One megabyte (`M`, `MB`): 1 MiB.
pub const MB: u64 = 0x10_0000;
/// One flash block (sector) in the size syntax's `B` suffix.
pub const BLOCK: u64 = 0x1000;

/// A size that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid size '{text}': use a decimal or hex number with an optional suffix K, KB, M, MB or B (4096-byte blocks), e.g. 8M, 0x1f0000, 1.5M, 7B")]
pub struct SizeError {
    /// The size as written.
    pub text: String,
}

/// Parse a size as the command line writes it. An empty string is 0.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let err = || SizeError { text: text.to_string() };
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    let upper = t.to_ascii_uppercase();
    // The same suffix order as mp-image-tool-esp32: the first that matches wins.
    let (num, unit) = [("M", MB), ("MB", MB), ("K", KB), ("KB", KB), ("B", BLOCK)]
        .iter()
        .find(|(s, _)| upper.ends_with(s))
        .map(|(s, u)| (&t[..t.len() - s.len()], *u))
        .unwrap_or((t, 1));
    if num.contains('.') {
        let v: f64 = num.parse().map_err(|_| err())?;
        if !v.is_finite() || v < 0.0 {
            return Err(err());
        }
        let bytes = v * unit as f64;
        if bytes > u32::MAX as f64 * 256.0 {
            return Err(err());
        }
        return Ok(bytes as u64); // truncates toward zero, as int(float) does
    }
    parse_int(num).ok_or_else(err)?.checked_mul(unit).ok_or_else(err)
}

/// Parse an unsigned integer literal: decimal, `0x`, `0o` or `0b`, `_` between digits.
pub fn parse_int(text: &str) -> Option<u64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let (digits, radix) = if let Some(r) = lower.strip_prefix("0x") {
        (r, 16)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (r, 8)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (r, 2)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    u64::from_str_radix(&digits.replace('_', ""), radix).ok()
}

/// A size as people read it, in binary units (1 KiB = 1024 bytes, as every
/// size mpimg prints): `512 B`, `24.0 KiB`, `1.9 MiB` (one decimal, KiB below
/// half a MiB).
pub fn human(size: u64) -> String {
    let s = size as f64;
    if s < 0.5 * KB as f64 {
        format!("{size} B")
    } else if s < 0.5 * MB as f64 {
        format!("{:.1} KiB", s / KB as f64)
    } else {
        format!("{:.1} MiB", s / MB as f64)
    }
}

/// A flash size as the header and `-f` name it: `8MB`, `512KB`, else hex.
pub fn flash_label(size: u32) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{}MB", size >> 20)
    } else if size >= 1 << 10 && size.is_multiple_of(1 << 10) {
        format!("{}KB", size >> 10)
    } else {
        format!("{size:#x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_the_python_tool() {
        let cases: &[(&str, u64)] = &[
            ("", 0),
            ("0", 0),
            ("4096", 4096),
            ("0x1f0000", 0x1f_0000),
            ("8M", 8 * MB),
            ("8mb", 8 * MB),
            ("4k", 4 * KB),
            ("16KB", 16 * KB),
            ("7B", 7 * BLOCK),
            ("0x1fB", 0x1f * BLOCK),
            ("1.5M", 0x18_0000),
            ("0.5K", 512),
            ("1_000", 1000),
            ("0o10", 8),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_refused_with_the_syntax() {
        for text in ["x", "8G", "-1", "1..5M", "0x", "M", "1e3", "0xZZ", "_1"] {
            let e = parse_size(text).unwrap_err();
            assert_eq!(e.text, text);
            assert!(e.to_string().starts_with(&format!("invalid size '{text}': use a decimal")));
        }
    }

    #[test]
    fn flash_labels() {
        assert_eq!(flash_label(8 << 20), "8MB");
        assert_eq!(flash_label(512 << 10), "512KB");
        assert_eq!(flash_label(0x1234), "0x1234");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(24 * 1024), "24.0 KiB");
        assert_eq!(human(0x1f_0000), "1.9 MiB");
        assert_eq!(human(100), "100 B");
        assert_eq!(human(0xf_0000), "0.9 MiB");
    }
}
