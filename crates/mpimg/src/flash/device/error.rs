//! Errors of the device backend, each saying what to do next.

use thiserror::Error;

/// A `start..end` flash range list, as the interruption report shows it.
pub fn ranges_text(ranges: &[(u32, u32)]) -> String {
    if ranges.is_empty() {
        return "nothing".into();
    }
    ranges.iter().map(|(a, b)| format!("{a:#x}..{b:#x}")).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Error)]
pub enum DeviceError {
    #[error(
        "no such port '{port}': check the device name (ls /dev/ttyUSB* /dev/ttyACM*) and that the board is plugged in"
    )]
    NoSuchPort { port: String },
    #[error("cannot open '{port}': {cause} (is another program using it? on Linux, join the 'dialout' group)")]
    Open { port: String, cause: String },
    #[error("no ESP32 bootloader answered on {port}: hold BOOT and press RESET, or check the cable")]
    NoLoader { port: String },
    #[error("the device on {port} is an {name}, which mpimg does not know")]
    UnknownChip { port: String, name: String },
    #[error("serial link to {port} failed: {cause}")]
    Link { port: String, cause: String },
    #[error("unexpected answer from the device: {what}")]
    Protocol { what: String },
    #[error("flash at {offset:#x}..{end:#x} does not hold what was written (MD5 differs after a retry): the flash may be worn or write-protected", end = offset + len)]
    Unverified { offset: u32, len: u32 },
    #[error(
        "writing {start:#x}..{end:#x} was interrupted: {cause}. Written and verified before that: {}; \
         not written: {start:#x}..{end:#x} and whatever this run had still to do. Run the same command again to complete it",
        ranges_text(done)
    )]
    Interrupted { start: u32, end: u32, done: Vec<(u32, u32)>, cause: String },
}
