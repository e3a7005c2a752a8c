//! Parsing of command-line sizes ("4M", "8MB", "512K", "0x400000") and MAC
//! addresses ("02:e5:51:00:00:12").

/// Parse a byte size with an optional K/M suffix (powers of 1024) or a hex value.
pub fn parse_size(s: &str) -> Result<u32, String> {
    let t = s.trim().to_ascii_uppercase();
    let t = t.strip_suffix('B').unwrap_or(&t);
    let (num, mul) = if let Some(n) = t.strip_suffix('K') {
        (n, 1024u64)
    } else if let Some(n) = t.strip_suffix('M') {
        (n, 1024 * 1024)
    } else {
        (t, 1)
    };
    let v = if let Some(h) = num.strip_prefix("0X") { u64::from_str_radix(h, 16) } else { num.parse::<u64>() };
    let bytes = v.map_err(|_| format!("'{s}' is not a size: use e.g. 4M, 8MB, 512K or 0x400000"))? * mul;
    u32::try_from(bytes).map_err(|_| format!("'{s}' is too large"))
}

/// Parse a hex number with or without 0x (offsets).
pub fn parse_u32(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| format!("'{s}' is not a number: use decimal or 0x-prefixed hex"))
}

pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    let bad = || format!("'{s}' is not a MAC address: use six hex bytes like 02:e5:51:00:00:12");
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut m = [0u8; 6];
    for (slot, p) in m.iter_mut().zip(parts) {
        *slot = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(m)
}

pub fn format_mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("4MB"), Ok(4 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("0x400000"), Ok(4 << 20));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn macs() {
        let m = parse_mac("02:E5:51:00:00:12").unwrap();
        assert_eq!(format_mac(m), "02:e5:51:00:00:12");
        assert!(parse_mac("02:e5").is_err());
    }
}
