//! Errors of the device backend, each saying what to do next.

use thiserror::Error;

/// A `start..end` flash range list, as the interruption report shows it.
pub fn ranges_text(ranges: &[(u32, u32)]) -> String {
    if ranges.is_empty() {
        return "nothing".into();
    }
    ranges.iter().map(|(a, b)| format!("{a:#x}..{b:#x}")).collect::<Vec<_>>().join(", ")
}

/// Why talking to a device failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The port does not exist.
    #[error(
        "no such port '{port}': check the device name (ls /dev/ttyUSB* /dev/ttyACM*) and that the board is plugged in"
    )]
    NoSuchPort {
        /// The port.
        port: String,
    },
    /// The port exists but cannot be opened.
    #[error("cannot open '{port}': {source} (is another program using it? on Linux, join the 'dialout' group)")]
    Open {
        /// The port.
        port: String,
        /// Why.
        #[source]
        source: serialport::Error,
    },
    /// Nothing answered the loader's sync.
    #[error("no ESP32 bootloader answered on {port}: hold BOOT and press RESET, or check the cable")]
    NoLoader {
        /// The port.
        port: String,
    },
    /// A chip mpimg has no entry for.
    #[error("the device on {port} is an {name}, which mpimg does not know")]
    UnknownChip {
        /// The port.
        port: String,
        /// The chip as espflash names it.
        name: String,
    },
    /// The serial link failed (espflash's error).
    #[error("serial link to {port} failed: {source}")]
    Link {
        /// The port.
        port: String,
        /// espflash's error.
        #[source]
        source: Box<espflash::Error>,
    },
    /// An answer that does not fit the protocol.
    #[error("unexpected answer from the device: {what}")]
    Protocol {
        /// What was wrong with it.
        what: String,
    },
    /// A write that does not verify after a retry.
    #[error("flash at {offset:#x}..{end:#x} does not hold what was written (MD5 differs after a retry): the flash may be worn or write-protected", end = offset + len)]
    Unverified {
        /// Where the write starts.
        offset: u32,
        /// Its length in bytes.
        len: u32,
    },
    /// A write cut off by a link failure, with what was and was not written.
    #[error(
        "writing {start:#x}..{end:#x} was interrupted: {cause}. Written and verified before that: {}; {}. \
         Run the same command again to complete it",
        ranges_text(&outside(done, *start, torn.map_or(*end, |t| t.max(*end)))),
        unwritten(*start, *end, *torn)
    )]
    Interrupted {
        /// Where the interrupted write starts.
        start: u32,
        /// Where it ends.
        end: u32,
        /// Flash ranges written and verified in this run before it (the
        /// message leaves out what the interrupted write covers).
        done: Vec<(u32, u32)>,
        /// When the transfer in flight may have landed in part (it took
        /// several frames of the loader and not all were acknowledged): where
        /// that transfer ends. `None`: it landed whole or not at all.
        torn: Option<u32>,
        /// What failed.
        #[source]
        cause: Box<DeviceError>,
    },
}

/// The parts of `ranges` outside `start..end`, in flash order, each place
/// once (a run writes some ranges twice, e.g. a filesystem's blocks and then
/// its backup's): a range written earlier in the run and then caught by the
/// interrupted write is no longer known to hold what was verified.
fn outside(ranges: &[(u32, u32)], start: u32, end: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(a, b) in ranges {
        if a < start {
            out.push((a, b.min(start)));
        }
        if b > end {
            out.push((a.max(end), b));
        }
    }
    out.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(out.len());
    for (a, b) in out {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// What an interrupted write leaves unwritten, as its message says it.
fn unwritten(start: u32, end: u32, torn: Option<u32>) -> String {
    match torn {
        None => format!("not written: {start:#x}..{end:#x} and whatever this run had still to do"),
        Some(t) if t < end => {
            format!("perhaps written in part: {start:#x}..{t:#x}; not written: {t:#x}..{end:#x} and whatever this run had still to do")
        }
        Some(t) => {
            format!("perhaps written in part: {start:#x}..{t:#x}; not written: whatever this run had still to do")
        }
    }
}

impl DeviceError {
    /// Whether the port has no ESP loader behind it at all (it does not
    /// exist, cannot be opened, or nothing answered the sync), as opposed to
    /// a board that answered and then failed: what looking for boards on
    /// every port skips.
    pub fn is_not_a_board(&self) -> bool {
        matches!(self, DeviceError::NoSuchPort { .. } | DeviceError::Open { .. } | DeviceError::NoLoader { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(done: Vec<(u32, u32)>, torn: Option<u32>) -> String {
        let cause = Box::new(DeviceError::Protocol { what: "no answer".into() });
        DeviceError::Interrupted { start: 0x203000, end: 0x204000, done, torn, cause }.to_string()
    }

    /// A range written earlier in the run and caught again by the cut write is
    /// not also called written (trial 1, finding 12).
    #[test]
    fn an_interrupted_write_lists_each_range_once() {
        assert_eq!(
            cut(vec![(0x203000, 0x204000)], None),
            "writing 0x203000..0x204000 was interrupted: unexpected answer from the device: no answer. Written and \
             verified before that: nothing; not written: 0x203000..0x204000 and whatever this run had still to do. \
             Run the same command again to complete it"
        );
        assert_eq!(
            cut(vec![(0x200000, 0x206000), (0x340000, 0x341000)], Some(0x205000)),
            "writing 0x203000..0x204000 was interrupted: unexpected answer from the device: no answer. Written and \
             verified before that: 0x200000..0x203000, 0x205000..0x206000, 0x340000..0x341000; perhaps written in \
             part: 0x203000..0x205000; not written: whatever this run had still to do. Run the same command again to \
             complete it"
        );
        // Written twice in the run (trial 2): each place once, in flash order.
        assert_eq!(
            cut(
                vec![(0x8000, 0x9000), (0x200000, 0x203000), (0x0, 0x5000), (0x200000, 0x203000), (0x205000, 0x206000)],
                None
            ),
            "writing 0x203000..0x204000 was interrupted: unexpected answer from the device: no answer. Written and \
             verified before that: 0x0..0x5000, 0x8000..0x9000, 0x200000..0x203000, 0x205000..0x206000; not written: \
             0x203000..0x204000 and whatever this run had still to do. Run the same command again to complete it"
        );
    }
}
