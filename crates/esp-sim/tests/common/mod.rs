//! Shared helpers for the integration tests: locating the Python venv with
//! esptool, temporary flash files, and a minimal raw protocol client.
#![allow(dead_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use esp_sim::command::{self, op};
use esp_sim::slip;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv holding esptool, or None (after printing why) when the test
/// should skip. Under CI=true a missing venv is a failure.
pub fn venv() -> Option<PathBuf> {
    let dir = std::env::var_os("MPIMG_VENV").map(PathBuf::from).unwrap_or_else(|| workspace_root().join(".venv"));
    if dir.join("bin/esptool").exists() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("no esptool in {}: run .ci/setup", dir.display());
    }
    eprintln!("SKIP: no esptool in {} (run .ci/setup or set MPIMG_VENV)", dir.display());
    None
}

/// Deterministic pseudo-random bytes (not compressible).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Deterministic bytes that compress well (text-like).
pub fn text(len: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 6] = [b"micropython ", b"esp32 ", b"flash ", b"\x00\x00\x00\x00", b"partition ", b"\xff\xff"];
    let n = noise(len, seed);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(words[n[i % len] as usize % words.len()]);
        i += 1;
    }
    out.truncate(len);
    out
}

pub fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// A raw client for the loader protocol on a pty.
pub struct RawClient {
    fd: OwnedFd,
    decoder: slip::Decoder,
    pending: std::collections::VecDeque<Vec<u8>>,
}

impl RawClient {
    pub fn open(path: &Path) -> RawClient {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: test code opening a tty.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK) };
        assert!(fd >= 0, "open {}: {}", path.display(), io::Error::last_os_error());
        // SAFETY: fd is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            libc::tcgetattr(fd.as_raw_fd(), &mut t);
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t);
        }
        RawClient { fd, decoder: slip::Decoder::new(), pending: Default::default() }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let mut data = bytes;
        while !data.is_empty() {
            // SAFETY: valid buffer.
            let n = unsafe { libc::write(self.fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
            if n > 0 {
                data = &data[n as usize..];
            } else if io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
                std::thread::sleep(Duration::from_millis(1));
            } else {
                // The port is gone (EIO after a hang-up): the bytes are lost.
                return;
            }
        }
    }

    pub fn send_frame(&mut self, payload: &[u8]) {
        self.send_raw(&slip::encode(payload));
    }

    pub fn send(&mut self, op: u8, data: &[u8], checksum: u32) {
        self.send_frame(&command::request(op, data, checksum));
    }

    /// Next frame within `timeout`; Err on EOF/EIO (port gone).
    pub fn recv(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Ok(Some(f));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut p = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one pollfd.
            unsafe { libc::poll(&mut p, 1, left.as_millis().max(1) as i32) };
            if p.revents & (libc::POLLHUP | libc::POLLERR) != 0 && p.revents & libc::POLLIN == 0 {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "port hung up"));
            }
            let mut buf = [0u8; 4096];
            // SAFETY: valid buffer.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "port closed"));
            }
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EAGAIN) {
                    continue;
                }
                return Err(e);
            }
            for &b in &buf[..n as usize] {
                if let Some(f) = self.decoder.push(b) {
                    self.pending.push_back(f);
                }
            }
        }
    }

    /// Send a command and return the first response frame for it.
    pub fn command(&mut self, op: u8, data: &[u8], checksum: u32) -> Vec<u8> {
        self.send(op, data, checksum);
        loop {
            let f = self.recv(Duration::from_secs(5)).unwrap().expect("no response");
            if f.len() >= 8 && f[0] == 1 && f[1] == op {
                return f;
            }
        }
    }

    /// SYNC and swallow all 8 replies; returns the value field of the first.
    pub fn sync(&mut self) -> u32 {
        let mut data = vec![0x07, 0x07, 0x12, 0x20];
        data.extend([0x55; 32]);
        let first = self.command(op::SYNC, &data, 0);
        for _ in 0..7 {
            let f = self.recv(Duration::from_secs(2)).unwrap().expect("sync reply");
            assert_eq!(f[1], op::SYNC);
        }
        u32::from_le_bytes(first[4..8].try_into().unwrap())
    }

    /// Upload a dummy "stub" and start it; waits for OHAI.
    pub fn start_stub(&mut self) {
        let words = |w: &[u32]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        assert_eq!(status(&self.command(op::MEM_BEGIN, &words(&[4, 1, 0x1800, 0x4008_0000]), 0), true), [0, 0]);
        let mut d = words(&[4, 0, 0, 0]);
        d.extend([1, 2, 3, 4]);
        let ck = u32::from(command::checksum(&[1, 2, 3, 4]));
        assert_eq!(status(&self.command(op::MEM_DATA, &d, ck), true), [0, 0]);
        assert_eq!(status(&self.command(op::MEM_END, &words(&[0, 0x4008_0000]), 0), true), [0, 0]);
        let f = self.recv(Duration::from_secs(2)).unwrap().expect("OHAI");
        assert_eq!(f, b"OHAI");
    }
}

/// The two meaningful status bytes of a response: the ROM sends four
/// (status, error, 0, 0), the stub two.
pub fn status(frame: &[u8], rom: bool) -> [u8; 2] {
    let size = u16::from_le_bytes([frame[2], frame[3]]) as usize;
    assert_eq!(frame.len(), 8 + size, "size field");
    let at = 8 + size - if rom { 4 } else { 2 };
    if rom {
        assert_eq!(&frame[at + 2..], &[0, 0], "ROM reserved status bytes");
    }
    [frame[at], frame[at + 1]]
}

pub fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}
