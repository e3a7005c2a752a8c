//! esp-sim: an emulated ESP32-family chip behind a pseudo-terminal.
//!
//! It speaks the serial loader protocol of the ROM and of the flasher stub
//! (SLIP frames, the real status bytes and error codes), keeps its flash in
//! a file with NOR semantics, can pace the link to a baud rate, count the
//! traffic, and inject faults. esptool and espflash work with it unchanged
//! through the pty path, using "no reset" (a pty has no modem lines).
//!
//! Tests start one in-process with [`Simulator::start`], or as a child
//! process with [`process::SimProcess::spawn`].

pub mod chip;
pub mod command;
pub mod device;
pub mod dispatch;
pub mod fault;
pub mod flash_write;
pub mod link;
pub mod nor;
pub mod process;
pub mod pty;
pub mod read_stream;
pub mod regs;
pub mod rom;
pub mod server;
pub mod size;
pub mod slip;
pub mod spi_flash;
pub mod stats;
pub mod stub;
pub mod timing;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use chip::Chip;
pub use fault::{Fault, FaultPlan};
pub use server::Ended;
pub use stats::{Stats, Traced};

/// Everything that can go wrong starting or running a simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot create a pseudo-terminal: {0}")]
    Pty(std::io::Error),
    #[error(transparent)]
    Flash(#[from] nor::NorError),
    #[error("cannot read image {path}: {source}")]
    Image { path: PathBuf, source: std::io::Error },
    #[error(
        "image {path} ({len:#x} bytes at {offset:#x}) does not fit a {size:#x}-byte flash: use a larger --flash-size"
    )]
    ImageTooLarge { path: PathBuf, len: u64, offset: u32, size: u32 },
    #[error("flash size {0:#x} is not a power of two between 256 KB and 128 MB")]
    BadFlashSize(u32),
    #[error("serving the pty failed: {0}")]
    Io(std::io::Error),
    #[error("the simulator thread panicked")]
    Panicked,
    #[error("esp-sim process: {0}")]
    Process(String),
}

/// How to build a simulated device.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub chip: Chip,
    /// Flash size in bytes (power of two).
    pub flash_size: u32,
    /// The flash contents; created 0xFF-filled if missing, kept afterwards.
    pub flash_file: PathBuf,
    /// A file copied into flash at `image_offset` before serving.
    pub image: Option<PathBuf>,
    pub image_offset: u32,
    /// Stop when the first client closes the port.
    pub once: bool,
    /// Pace both directions to the current baud rate.
    pub baud_model: bool,
    /// Write statistics JSON here on exit and whenever a client disconnects.
    pub stats_file: Option<PathBuf>,
    pub faults: Vec<Fault>,
    pub seed: u64,
    /// Factory MAC in eFuse; the chip's default if None.
    pub mac: Option<[u8; 6]>,
    /// Record every request in [`Stats::trace`].
    pub trace: bool,
}

impl SimConfig {
    /// A device with defaults for everything else.
    pub fn new(chip: Chip, flash_size: u32, flash_file: impl Into<PathBuf>) -> Self {
        SimConfig {
            chip,
            flash_size,
            flash_file: flash_file.into(),
            image: None,
            image_offset: 0,
            once: false,
            baud_model: false,
            stats_file: None,
            faults: Vec::new(),
            seed: 0,
            mac: None,
            trace: false,
        }
    }

    /// Command-line arguments for the `esp-sim` binary with the same settings.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--chip".into(),
            self.chip.cli_name().into(),
            "--flash-size".into(),
            self.flash_size.to_string(),
            "--flash-file".into(),
            self.flash_file.display().to_string(),
        ];
        if let Some(img) = &self.image {
            a.extend([
                "--image".into(),
                img.display().to_string(),
                "--offset".into(),
                format!("{:#x}", self.image_offset),
            ]);
        }
        if self.once {
            a.push("--once".into());
        }
        if self.baud_model {
            a.push("--baud-model".into());
        }
        if let Some(s) = &self.stats_file {
            a.extend(["--stats".into(), s.display().to_string()]);
        }
        for f in &self.faults {
            a.extend(["--fault".into(), f.to_string()]);
        }
        a.extend(["--seed".into(), self.seed.to_string()]);
        if let Some(m) = self.mac {
            a.extend(["--mac".into(), size::format_mac(m)]);
        }
        if self.trace {
            a.push("--trace".into());
        }
        a
    }

    /// Open the pty, the flash file and the image: everything that can fail
    /// before serving.
    pub fn build(&self, stop: Arc<AtomicBool>) -> Result<(server::Server, Arc<Mutex<Stats>>), SimError> {
        if !self.flash_size.is_power_of_two() || !(0x4_0000..=0x800_0000).contains(&self.flash_size) {
            return Err(SimError::BadFlashSize(self.flash_size));
        }
        let mut flash = nor::NorFlash::open(&self.flash_file, self.flash_size)?;
        if let Some(path) = &self.image {
            let bytes = std::fs::read(path).map_err(|source| SimError::Image { path: path.clone(), source })?;
            if u64::from(self.image_offset) + bytes.len() as u64 > u64::from(self.flash_size) {
                return Err(SimError::ImageTooLarge {
                    path: path.clone(),
                    len: bytes.len() as u64,
                    offset: self.image_offset,
                    size: self.flash_size,
                });
            }
            flash.load_image(self.image_offset, &bytes)?;
        }
        let pty = pty::Pty::open().map_err(SimError::Pty)?;
        let mac = self.mac.unwrap_or_else(|| self.chip.default_mac());
        let dev = device::Device::new(self.chip, mac, flash);
        let stats = Arc::new(Mutex::new(Stats {
            chip: self.chip.cli_name().to_string(),
            baud: device::ROM_BAUD,
            ..Stats::default()
        }));
        let mut srv = server::Server::new(
            pty,
            dev,
            link::Link::new(device::ROM_BAUD, self.baud_model),
            FaultPlan::new(self.faults.clone(), self.seed),
            self.once,
            stats.clone(),
            self.stats_file.clone(),
            stop,
        );
        srv.trace = self.trace;
        Ok((srv, stats))
    }
}

/// A simulator serving on a background thread of this process.
pub struct Simulator {
    pty_path: PathBuf,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<Stats>>,
    thread: Option<JoinHandle<Result<Ended, SimError>>>,
}

impl Simulator {
    /// Open the pty and start serving; the pty path is ready on return.
    pub fn start(config: SimConfig) -> Result<Simulator, SimError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (mut srv, stats) = config.build(stop.clone())?;
        let pty_path = srv.pty.as_ref().map(|p| p.path().to_path_buf()).unwrap_or_default();
        let thread = std::thread::Builder::new()
            .name("esp-sim".into())
            .spawn(move || srv.run().map_err(SimError::Io))
            .map_err(SimError::Io)?;
        Ok(Simulator { pty_path, stop, stats, thread: Some(thread) })
    }

    /// The serial port path to hand to a client (`/dev/pts/N`).
    pub fn pty_path(&self) -> &Path {
        &self.pty_path
    }

    /// A snapshot of the statistics so far.
    pub fn stats(&self) -> Stats {
        match self.stats.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Whether the serving thread still runs (it ends on `--once` after the
    /// client leaves, or when a `close:` fault fired).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stop serving and return the final statistics and why it ended.
    pub fn stop(mut self) -> Result<(Stats, Ended), SimError> {
        self.stop.store(true, Ordering::SeqCst);
        let ended = match self.thread.take() {
            Some(t) => t.join().map_err(|_| SimError::Panicked)??,
            None => Ended::Stopped,
        };
        Ok((self.stats(), ended))
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
