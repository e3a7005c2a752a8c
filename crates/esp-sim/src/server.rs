//! The serving loop: wait for a client on the pty, decode SLIP frames, let
//! the device answer, pace and fault the traffic, notice the client closing
//! the port (a reset: back to the ROM loader), and keep the statistics.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::device::{Device, Out, ROM_BAUD};
use crate::dispatch;
use crate::fault::{Dir, FaultPlan, FrameFault};
use crate::link::Link;
use crate::pty::Pty;
use crate::slip;
use crate::stats::Stats;

/// Why serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Asked to stop (signal or [`crate::Simulator::stop`]).
    Stopped,
    /// `--once` and the client closed the port.
    ClientClosed,
    /// A `close:` fault closed the port.
    FaultClosed,
}

pub struct Server {
    pub pty: Option<Pty>,
    pub device: Device,
    pub link: Link,
    pub faults: FaultPlan,
    pub once: bool,
    pub stats: Arc<Mutex<Stats>>,
    pub stats_file: Option<PathBuf>,
    pub stop: Arc<AtomicBool>,
    decoder: slip::Decoder,
    connected: bool,
    /// The client of this connection has sent bytes (it counts as a session).
    spoke: bool,
    /// Record every request in the statistics' trace.
    pub trace: bool,
}

const POLL: Duration = Duration::from_millis(20);

impl Server {
    #[allow(clippy::too_many_arguments)] // one call site, in SimConfig::build
    pub fn new(
        pty: Pty,
        device: Device,
        link: Link,
        faults: FaultPlan,
        once: bool,
        stats: Arc<Mutex<Stats>>,
        stats_file: Option<PathBuf>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Server {
            pty: Some(pty),
            device,
            link,
            faults,
            once,
            stats,
            stats_file,
            stop,
            decoder: slip::Decoder::new(),
            connected: false,
            spoke: false,
            trace: false,
        }
    }

    fn with_stats<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        let mut g = match self.stats.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut g)
    }

    /// Write the statistics file (if any); errors are reported, not fatal.
    pub fn write_stats(&self) {
        let Some(path) = &self.stats_file else { return };
        let json = self.with_stats(|s| s.to_json());
        if let Err(e) = std::fs::write(path, json + "\n") {
            eprintln!("esp-sim: cannot write stats to {}: {e}", path.display());
        }
    }

    fn on_client_closed(&mut self) {
        self.connected = false;
        self.spoke = false;
        self.with_stats(|s| s.active_seconds = self.link.active_seconds());
        self.device.reset();
        self.decoder.reset();
        self.link.baud = ROM_BAUD;
        // Replies the old client never read stay queued on the line (a pty
        // cannot drop them without also dropping what a new client already
        // sent); clients flush their input when they connect.
        self.write_stats();
    }

    /// Serve until stopped, the client leaves (`--once`) or a fault closes the port.
    pub fn run(&mut self) -> std::io::Result<Ended> {
        let mut buf = vec![0u8; 64 * 1024];
        let ended = loop {
            if self.stop.load(Ordering::SeqCst) {
                break Ended::Stopped;
            }
            let Some(pty) = self.pty.as_mut() else { break Ended::FaultClosed };
            let polled = std::time::Instant::now();
            let state = pty.poll(POLL)?;
            // Bytes we had to wait for arrived now; bytes already queued
            // followed earlier ones on the wire.
            let arrived = (polled.elapsed() > Duration::from_micros(300)).then(std::time::Instant::now);
            if state.client_left && self.connected {
                self.on_client_closed();
                if self.once {
                    break Ended::ClientClosed;
                }
            }
            if !state.open {
                if self.connected {
                    self.on_client_closed();
                    if self.once {
                        break Ended::ClientClosed;
                    }
                }
                if state.readable {
                    // Bytes the departed client sent that were never read: a
                    // reset device loses what was in flight, so they are dropped
                    // (served, they would answer the next client out of turn).
                    if let Some(pty) = self.pty.as_ref() {
                        let _ = pty.read(&mut buf)?;
                    }
                } else {
                    // Nobody has the port open: poll reports that at once, so
                    // wait a little before asking again.
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            self.connected = true;
            if !state.readable {
                continue;
            }
            let Some(pty) = self.pty.as_ref() else { break Ended::FaultClosed };
            match pty.read(&mut buf)? {
                None => {
                    self.on_client_closed();
                    if self.once {
                        break Ended::ClientClosed;
                    }
                }
                Some(n) => {
                    if n > 0 && !self.spoke {
                        self.spoke = true;
                        self.with_stats(|s| s.connections += 1);
                    }
                    let bytes = buf[..n].to_vec();
                    if let Some(e) = self.on_bytes(&bytes, arrived)? {
                        break e;
                    }
                }
            }
        };
        self.with_stats(|s| {
            s.wire_seconds = self.link.wire_seconds;
            s.active_seconds = self.link.active_seconds();
        });
        self.write_stats();
        Ok(ended)
    }

    fn close_port(&mut self, why: String) -> Ended {
        self.with_stats(|s| s.faults_fired.push(why));
        // Dropping the master is the pty's unplug: the client's next read
        // or write fails.
        self.pty = None;
        Ended::FaultClosed
    }

    fn on_bytes(&mut self, bytes: &[u8], arrived: Option<std::time::Instant>) -> std::io::Result<Option<Ended>> {
        let before = self.with_stats(|s| s.bytes_from_host);
        let (take, closing) = match self.faults.close_after(Dir::Rx) {
            Some(limit) if before + bytes.len() as u64 >= limit => ((limit.saturating_sub(before)) as usize, true),
            _ => (bytes.len(), false),
        };
        let bytes = &bytes[..take.min(bytes.len())];
        self.link.received(bytes.len(), arrived);
        self.with_stats(|s| {
            s.bytes_from_host += bytes.len() as u64;
            s.wire_seconds = self.link.wire_seconds;
        });
        for (i, &b) in bytes.iter().enumerate() {
            if let Some(frame) = self.decoder.push(b) {
                if let Some(e) = self.on_frame(frame, before + i as u64 + 1)? {
                    return Ok(Some(e));
                }
            }
        }
        if closing {
            let n = before + bytes.len() as u64;
            return Ok(Some(self.close_port(format!("close port after {n} bytes from host"))));
        }
        Ok(None)
    }

    /// Apply a configured fault to frame `n` going `dir`: corrupt a byte in
    /// place, or drop it (returns false). Each fired fault is logged in the stats.
    fn frame_fault(&mut self, dir: Dir, n: u64, frame: &mut [u8]) -> bool {
        let who = if dir == Dir::Rx { "host" } else { "device" };
        match self.faults.frame(dir, n, frame.len()) {
            FrameFault::Drop => {
                self.with_stats(|s| s.faults_fired.push(format!("drop {who} frame {n}")));
                false
            }
            FrameFault::Corrupt { index, mask } => {
                frame[index] ^= mask;
                self.with_stats(|s| s.faults_fired.push(format!("corrupt {who} frame {n} byte {index} ^ {mask:#04x}")));
                true
            }
            FrameFault::None => true,
        }
    }

    /// Handle host frame `frame`, whose last byte was byte `end` of the host's stream.
    fn on_frame(&mut self, mut frame: Vec<u8>, end: u64) -> std::io::Result<Option<Ended>> {
        let n = self.with_stats(|s| {
            s.frames_from_host += 1;
            s.frames_from_host
        });
        if !self.frame_fault(Dir::Rx, n, &mut frame) {
            return Ok(None);
        }
        if self.trace && frame.len() >= 8 && frame[0] == 0 {
            let words =
                frame[8..].chunks_exact(4).take(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
            let op = crate::command::name(frame[1]);
            self.with_stats(|s| s.trace.push(crate::stats::Traced { end, op, words, frame: n, flash: None }));
        }
        if let Some(ms) = self.faults.stall(n) {
            self.with_stats(|s| s.faults_fired.push(format!("stall {ms} ms before host frame {n}")));
            let until = std::time::Instant::now() + Duration::from_millis(ms);
            while std::time::Instant::now() < until && !self.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let outs = {
            let mut g = match self.stats.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let outs = dispatch::handle(&mut self.device, &frame, &mut g);
            let touched = self.device.flash.take_touched();
            if let (Some(range), true, Some(last)) = (touched, self.trace, g.trace.last_mut()) {
                if last.frame == n {
                    last.flash = Some(range);
                }
            }
            outs
        };
        for o in outs {
            match o {
                Out::SetBaud(b) => self.link.baud = b,
                Out::Busy(t) => self.link.busy(t),
                Out::Frame(payload) => {
                    if let Some(e) = self.send_frame(payload)? {
                        return Ok(Some(e));
                    }
                }
            }
        }
        Ok(None)
    }

    fn send_frame(&mut self, mut payload: Vec<u8>) -> std::io::Result<Option<Ended>> {
        let n = self.with_stats(|s| {
            s.frames_to_host += 1;
            s.frames_to_host
        });
        if !self.frame_fault(Dir::Tx, n, &mut payload) {
            return Ok(None);
        }
        let mut wire = slip::encode(&payload);
        let sent = self.with_stats(|s| s.bytes_to_host);
        let mut closing = false;
        if let Some(limit) = self.faults.close_after(Dir::Tx) {
            if sent + wire.len() as u64 >= limit {
                wire.truncate(limit.saturating_sub(sent) as usize);
                closing = true;
            }
        }
        let chunk = self.link.chunk_len();
        self.link.frame_start();
        for piece in wire.chunks(chunk) {
            self.link.before_send(piece.len());
            let stop = self.stop.clone();
            let Some(pty) = self.pty.as_ref() else { return Ok(Some(Ended::FaultClosed)) };
            let delivered = pty.write_all(piece, &|| !stop.load(Ordering::SeqCst))?;
            self.with_stats(|s| {
                s.bytes_to_host += piece.len() as u64;
                s.wire_seconds = self.link.wire_seconds;
            });
            if !delivered {
                // The client went away mid-frame; the poll loop sees it next.
                break;
            }
        }
        if closing {
            let total = self.with_stats(|s| s.bytes_to_host);
            return Ok(Some(self.close_port(format!("close port after {total} bytes to host"))));
        }
        Ok(None)
    }
}
