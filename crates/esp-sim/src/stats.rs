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
    /// Time the chip spent working before answering (hashing for
    /// SPI_FLASH_MD5, see `timing`), modelled whether or not it is paced;
    /// with `--baud-model` replies wait for it.
    #[serde(default)]
    pub device_seconds: f64,
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
    /// With tracing on: every request the device handled, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace: Vec<Traced>,
}

/// One request from the host, as a trace records it: where its frame ended
/// in the host's byte stream (a `close:` fault at that count lets the
/// request through and cuts what follows), its command and the first words
/// of its data (the flash offset of FLASH_BEGIN is the fourth, of
/// ERASE_REGION, READ_FLASH and SPI_FLASH_MD5 the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traced {
    /// Bytes from the host up to and including this frame's last byte.
    pub end: u64,
    /// The command's name (FLASH_DEFL_BEGIN, ...).
    pub op: String,
    /// Up to four little-endian words from the start of its data.
    pub words: Vec<u32>,
    /// Its host frame number (1-based, as `drop:`, `corrupt:` and `stall:` count them).
    #[serde(default)]
    pub frame: u64,
    /// The flash range it erased or programmed (start, end exclusive), if
    /// any: a compressed FLASH_DEFL_DATA says nothing of where it lands.
    #[serde(default)]
    pub flash: Option<(u32, u32)>,
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
