//! `esp-sim`: serve an emulated ESP chip on a new pseudo-terminal. Prints
//! `PTY /dev/pts/N` as its first line, then serves until killed (or, with
//! `--once`, until the client closes the port).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use esp_sim::{size, Chip, SimConfig};

#[derive(Parser, Debug)]
#[command(name = "esp-sim", version, about = "An emulated ESP32-family serial loader on a pseudo-terminal")]
struct Args {
    /// Chip to emulate: esp32, esp32s2, esp32s3, esp32c3, esp32c6, esp32c2, esp32c5, esp32c61, esp32h2, esp32p4.
    #[arg(long)]
    chip: Chip,
    /// Flash size (4M, 8MB, 16M, 0x400000 ...).
    #[arg(long, default_value = "4M", value_parser = size::parse_size)]
    flash_size: u32,
    /// File holding the flash contents (created erased if missing, kept after exit).
    #[arg(long)]
    flash_file: PathBuf,
    /// Copy this file into flash before serving (e.g. a firmware at its bootloader offset).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Flash offset for --image.
    #[arg(long, default_value = "0", value_parser = size::parse_u32)]
    offset: u32,
    /// Exit when the client closes the port.
    #[arg(long)]
    once: bool,
    /// Pace both directions to the current baud rate (10 bits per byte).
    #[arg(long)]
    baud_model: bool,
    /// Write statistics as JSON to this file on exit (and on SIGTERM).
    #[arg(long)]
    stats: Option<PathBuf>,
    /// Inject faults: drop:[rx|tx:]N, corrupt:[rx|tx:]N, stall:N:MS, close:[rx|tx:]BYTES (comma-separated, repeatable).
    #[arg(long, value_parser = esp_sim::fault::parse)]
    fault: Vec<Vec<esp_sim::Fault>>,
    /// Seed for fault placement.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Factory MAC address in eFuse.
    #[arg(long, value_parser = size::parse_mac)]
    mac: Option<[u8; 6]>,
    /// Record every request (where its frame ends in the host's bytes, its command, its first words) in the statistics.
    #[arg(long)]
    trace: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() -> ExitCode {
    let a = Args::parse();
    let mut cfg = SimConfig::new(a.chip, a.flash_size, a.flash_file);
    cfg.image = a.image;
    cfg.image_offset = a.offset;
    cfg.once = a.once;
    cfg.baud_model = a.baud_model;
    cfg.stats_file = a.stats;
    cfg.faults = a.fault.into_iter().flatten().collect();
    cfg.seed = a.seed;
    cfg.mac = a.mac;
    cfg.trace = a.trace;

    // The loop polls a flag; the handlers only set it, and the statistics
    // are written by the loop on its way out.
    let stop = Arc::new(AtomicBool::new(false));
    // SAFETY: installing async-signal-safe handlers that store to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let (mut server, _stats) = match cfg.build(stop.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("esp-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let path = server.pty.as_ref().map(|p| p.path().display().to_string()).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if writeln!(out, "PTY {path}").and_then(|_| out.flush()).is_err() {
        eprintln!("esp-sim: cannot write the PTY line to stdout");
    }
    drop(out);
    let watcher_stop = stop.clone();
    std::thread::spawn(move || loop {
        if STOP.load(Ordering::SeqCst) {
            watcher_stop.store(true, Ordering::SeqCst);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    });
    match server.run() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("esp-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
