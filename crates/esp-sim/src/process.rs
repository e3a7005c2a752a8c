//! Running `esp-sim` as a child process: spawn it, read the `PTY /dev/pts/N`
//! line it prints first, and stop it with SIGTERM (it writes its statistics
//! file on the way out).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{SimConfig, SimError, Stats};

pub struct SimProcess {
    child: Child,
    pty_path: PathBuf,
    stats_file: Option<PathBuf>,
}

impl SimProcess {
    /// Start `exe` (the esp-sim binary) with the settings of `config`.
    pub fn spawn(exe: &Path, config: &SimConfig) -> Result<SimProcess, SimError> {
        let mut child = Command::new(exe)
            .args(config.to_args())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| SimError::Process(format!("cannot start {}: {e}", exe.display())))?;
        let stdout = child.stdout.take().ok_or_else(|| SimError::Process("no stdout".into()))?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| SimError::Process(format!("reading its first line: {e}")))?;
        let Some(path) = line.trim().strip_prefix("PTY ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SimError::Process(format!("expected 'PTY /dev/pts/N' as its first line, got {line:?}")));
        };
        Ok(SimProcess { pty_path: PathBuf::from(path), child, stats_file: config.stats_file.clone() })
    }

    pub fn pty_path(&self) -> &Path {
        &self.pty_path
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, wait, and read the statistics file if one was configured.
    pub fn stop(mut self) -> Result<Option<Stats>, SimError> {
        // SAFETY: signalling our own child by pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        self.child.wait().map_err(|e| SimError::Process(format!("waiting for it: {e}")))?;
        self.read_stats()
    }

    /// Wait for it to exit by itself (`--once`, or a `close:` fault).
    pub fn wait(mut self) -> Result<Option<Stats>, SimError> {
        self.child.wait().map_err(|e| SimError::Process(format!("waiting for it: {e}")))?;
        self.read_stats()
    }

    fn read_stats(&self) -> Result<Option<Stats>, SimError> {
        let Some(p) = &self.stats_file else { return Ok(None) };
        let text = std::fs::read_to_string(p).map_err(|e| SimError::Process(format!("stats {}: {e}", p.display())))?;
        serde_json::from_str(&text).map(Some).map_err(|e| SimError::Process(format!("stats {}: {e}", p.display())))
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
