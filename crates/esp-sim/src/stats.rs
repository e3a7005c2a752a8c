//! Wire and flash statistics, written as JSON on exit (and on SIGTERM).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub chip: String,
    /// Bytes the host sent us (SLIP framing included).
    pub bytes_from_host: u64,
    /// Bytes we sent the host (SLIP framing included).
    pub bytes_to_host: u64,
    pub frames_from_host: u64,
    pub frames_to_host: u64,
    /// Requests by command name (SYNC, FLASH_DEFL_DATA, ...).
    pub commands: BTreeMap<String, u64>,
    /// Requests answered with a failure status, by command name.
    pub command_errors: BTreeMap<String, u64>,
    /// READ_FLASH acknowledgements (not commands).
    pub read_acks: u64,
    pub sectors_erased: u64,
    pub sectors_written: u64,
    pub bytes_written: u64,
    /// Time the traffic so far takes on a real UART (10 bits per byte at
    /// the baud rate in force for each byte), whether or not it is paced.
    pub wire_seconds: f64,
    /// Wall time from the first byte from a host to the last byte handled.
    pub active_seconds: f64,
    /// The device's baud rate now.
    pub baud: u32,
    /// Every rate the device's UART switched to on a command, in order (a
    /// reset back to 115200 is not listed).
    #[serde(default)]
    pub baud_changes: Vec<u32>,
    /// Sessions: times a client opened the port and sent something. (Counted
    /// at the first byte: just after a close the line can still look open for
    /// a moment, which must not count as a client.)
    pub connections: u64,
    /// Times the flasher stub was started.
    pub stub_starts: u64,
    /// Entry point of the last stub started (MEM_END's entry word): tells
    /// which build a client uploaded (e.g. the ESP32-P4 stub for revisions
    /// >= 3.0 runs from 0x4FF5xxxx, the one for older ones from 0x4FF1xxxx).
    #[serde(default)]
    pub stub_entry: Option<u32>,
    /// Faults that fired, in order ("drop rx frame 5", ...).
    pub faults_fired: Vec<String>,
    /// With `--trace-flash`: every host frame that changed the flash, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flash_changes: Vec<FlashChange>,
}

/// One host frame that erased or programmed flash: where it ended in the
/// host's byte stream, so a `close:` fault can be placed just before or
/// after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashChange {
    /// Bytes from the host up to and including the frame's last byte (a
    /// `close:` at this count lets the frame through; one less stops it).
    pub end_byte: u64,
    /// Host frame number (1-based, as `drop:`/`corrupt:`/`stall:` count).
    pub frame: u64,
    /// The command (`FLASH_DEFL_DATA`, `ERASE_REGION`, ...).
    pub command: String,
    /// The flash range it erased or programmed (start, end exclusive).
    pub range: (u32, u32),
}

impl Stats {
    pub fn count_command(&mut self, name: &str) {
        *self.commands.entry(name.to_string()).or_default() += 1;
    }

    pub fn count_error(&mut self, name: &str) {
        *self.command_errors.entry(name.to_string()).or_default() += 1;
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string())
    }
}
