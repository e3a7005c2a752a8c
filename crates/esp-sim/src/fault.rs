//! Fault injection, deterministic for a given `--seed`: drop or corrupt the
//! Nth frame (from the host by default, or to it), stall before answering
//! the Nth frame, or close the port after N bytes.
//!
//! Spec: comma-separated items, e.g. `drop:5`, `drop:tx:3`, `corrupt:rx:7`,
//! `stall:4:1500` (stall 1500 ms before handling host frame 4),
//! `close:20000` (close after 20000 bytes from the host), `close:tx:100`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Host to device.
    Rx,
    /// Device to host.
    Tx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Drop { dir: Dir, frame: u64 },
    Corrupt { dir: Dir, frame: u64 },
    Stall { frame: u64, ms: u64 },
    Close { dir: Dir, after_bytes: u64 },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Dir| if *d == Dir::Rx { "rx" } else { "tx" };
        match self {
            Fault::Drop { dir, frame } => write!(f, "drop:{}:{frame}", d(dir)),
            Fault::Corrupt { dir, frame } => write!(f, "corrupt:{}:{frame}", d(dir)),
            Fault::Stall { frame, ms } => write!(f, "stall:{frame}:{ms}"),
            Fault::Close { dir, after_bytes } => write!(f, "close:{}:{after_bytes}", d(dir)),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad fault spec '{0}': use drop:[rx|tx:]N, corrupt:[rx|tx:]N, stall:N:MS or close:[rx|tx:]BYTES")]
pub struct BadFault(pub String);

fn num(s: &str, item: &str) -> Result<u64, BadFault> {
    let s = s.trim();
    let v = if let Some(h) = s.strip_prefix("0x") { u64::from_str_radix(h, 16) } else { s.parse() };
    v.map_err(|_| BadFault(item.to_string()))
}

/// Parse a comma-separated fault spec.
pub fn parse(spec: &str) -> Result<Vec<Fault>, BadFault> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parts: Vec<&str> = item.split(':').collect();
        let bad = || BadFault(item.to_string());
        let (dir, rest) = match parts.get(1) {
            Some(&"rx") => (Dir::Rx, &parts[2..]),
            Some(&"tx") => (Dir::Tx, &parts[2..]),
            _ => (Dir::Rx, &parts[1..]),
        };
        let f = match (parts[0], rest) {
            ("drop", [n]) => Fault::Drop { dir, frame: num(n, item)? },
            ("corrupt", [n]) => Fault::Corrupt { dir, frame: num(n, item)? },
            ("stall", [n, ms]) if dir == Dir::Rx && parts.len() == 3 => {
                Fault::Stall { frame: num(n, item)?, ms: num(ms, item)? }
            }
            ("close", [n]) => Fault::Close { dir, after_bytes: num(n, item)? },
            _ => return Err(bad()),
        };
        if matches!(f, Fault::Drop { frame: 0, .. } | Fault::Corrupt { frame: 0, .. } | Fault::Stall { frame: 0, .. }) {
            return Err(bad());
        }
        out.push(f);
    }
    Ok(out)
}

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFault {
    None,
    Drop,
    /// XOR the byte at this index with this non-zero mask.
    Corrupt {
        index: usize,
        mask: u8,
    },
}

/// The faults of one run and the seeded generator that places corruption.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    faults: Vec<Fault>,
    rng: u64,
}

impl FaultPlan {
    pub fn new(faults: Vec<Fault>, seed: u64) -> Self {
        FaultPlan { faults, rng: seed ^ 0x9E37_79B9_7F4A_7C15 }
    }

    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    fn next_rand(&mut self) -> u64 {
        // splitmix64: tiny, good enough, and stable across platforms.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Decide the fate of frame number `n` (1-based) in direction `dir`.
    pub fn frame(&mut self, dir: Dir, n: u64, len: usize) -> FrameFault {
        let hit = self.faults.iter().find_map(|f| match *f {
            Fault::Drop { dir: d, frame } if d == dir && frame == n => Some(true),
            Fault::Corrupt { dir: d, frame } if d == dir && frame == n => Some(false),
            _ => None,
        });
        match hit {
            Some(true) => FrameFault::Drop,
            Some(false) if len > 0 => {
                let index = (self.next_rand() % len as u64) as usize;
                let mask = (self.next_rand() % 255) as u8 + 1;
                FrameFault::Corrupt { index, mask }
            }
            _ => FrameFault::None,
        }
    }

    /// Milliseconds to stall before handling host frame `n`.
    pub fn stall(&self, n: u64) -> Option<u64> {
        self.faults.iter().find_map(|f| match *f {
            Fault::Stall { frame, ms } if frame == n => Some(ms),
            _ => None,
        })
    }

    /// Byte count after which the port closes, per direction.
    pub fn close_after(&self, dir: Dir) -> Option<u64> {
        self.faults
            .iter()
            .filter_map(|f| match *f {
                Fault::Close { dir: d, after_bytes } if d == dir => Some(after_bytes),
                _ => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_kinds() {
        assert_eq!(
            parse("drop:5, corrupt:tx:2,stall:3:250,close:0x100").unwrap(),
            vec![
                Fault::Drop { dir: Dir::Rx, frame: 5 },
                Fault::Corrupt { dir: Dir::Tx, frame: 2 },
                Fault::Stall { frame: 3, ms: 250 },
                Fault::Close { dir: Dir::Rx, after_bytes: 256 },
            ]
        );
        assert_eq!(parse("drop:0"), Err(BadFault("drop:0".into())));
        assert_eq!(parse("explode:1"), Err(BadFault("explode:1".into())));
    }

    #[test]
    fn corruption_is_deterministic_per_seed() {
        let f = parse("corrupt:1").unwrap();
        let a = FaultPlan::new(f.clone(), 7).frame(Dir::Rx, 1, 100);
        let b = FaultPlan::new(f.clone(), 7).frame(Dir::Rx, 1, 100);
        assert_eq!(a, b);
        assert!(matches!(a, FrameFault::Corrupt { index, mask } if index < 100 && mask != 0));
        assert_eq!(FaultPlan::new(f, 7).frame(Dir::Rx, 2, 100), FrameFault::None);
    }
}
