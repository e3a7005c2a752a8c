//! The pseudo-terminal the device sits behind: we hold the master side, the
//! client opens the slave path (`/dev/pts/N`) as if it were a USB serial port.
//!
//! A pty has no modem lines, so the client cannot reset us; what it can do is
//! close the port. On Linux the master then reports POLLHUP (and reads fail
//! with EIO) until a client opens the slave again, which is how we notice.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the line looked like when we polled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    /// No client has the slave open.
    Closed,
    /// A client has the port open; nothing to read yet.
    Idle,
    /// A client has the port open and sent bytes.
    Readable,
}

/// The master side of a pty pair.
#[derive(Debug)]
pub struct Pty {
    master: OwnedFd,
    path: PathBuf,
}

fn last_err(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl Pty {
    /// Open a new pty pair and put the slave in raw mode.
    pub fn open() -> io::Result<Pty> {
        // SAFETY: plain libc calls on a descriptor we own; the returned
        // pointer from ptsname_r is written into our own buffer.
        unsafe {
            let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(last_err("posix_openpt"));
            }
            let master = OwnedFd::from_raw_fd(fd);
            if libc::grantpt(fd) != 0 {
                return Err(last_err("grantpt"));
            }
            if libc::unlockpt(fd) != 0 {
                return Err(last_err("unlockpt"));
            }
            let mut buf = [0 as libc::c_char; 128];
            if libc::ptsname_r(fd, buf.as_mut_ptr(), buf.len()) != 0 {
                return Err(last_err("ptsname_r"));
            }
            let path = PathBuf::from(CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned());
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) != 0 {
                return Err(last_err("fcntl O_NONBLOCK"));
            }
            let pty = Pty { master, path };
            // Opening and closing the slave once does two things: the line is
            // raw before any client arrives (no echo of our replies back to
            // us), and the master reports "other side closed" until a client
            // opens it, so waiting for a client and noticing it left are the
            // same check.
            pty.make_slave_raw()?;
            Ok(pty)
        }
    }

    fn make_slave_raw(&self) -> io::Result<()> {
        let c = std::ffi::CString::new(self.path.as_os_str().as_encoded_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: the slave descriptor is opened, configured and closed here.
        unsafe {
            let fd = libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(last_err("open pty slave"));
            }
            let slave = OwnedFd::from_raw_fd(fd);
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(slave.as_raw_fd(), &mut t) != 0 {
                return Err(last_err("tcgetattr"));
            }
            libc::cfmakeraw(&mut t);
            libc::cfsetspeed(&mut t, libc::B115200);
            if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t) != 0 {
                return Err(last_err("tcsetattr"));
            }
        }
        Ok(())
    }

    /// The slave path clients open.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fd(&self) -> RawFd {
        self.master.as_raw_fd()
    }

    /// Wait up to `timeout` for input or a change of the line.
    pub fn poll(&self, timeout: Duration) -> io::Result<LineState> {
        let mut p = libc::pollfd { fd: self.fd(), events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(LineState::Idle);
            }
            return Err(e);
        }
        if p.revents & libc::POLLIN != 0 {
            return Ok(LineState::Readable);
        }
        if p.revents & libc::POLLHUP != 0 {
            return Ok(LineState::Closed);
        }
        Ok(LineState::Idle)
    }

    /// Read what is there. `Ok(None)` means the client closed the port.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::read(self.fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EIO) => Ok(None),
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(Some(0)),
            _ => Err(e),
        }
    }

    /// Write all of `data`, waiting while the client's input buffer is full.
    /// `Ok(false)` means the client closed the port first.
    pub fn write_all(&self, mut data: &[u8], keep_going: &dyn Fn() -> bool) -> io::Result<bool> {
        while !data.is_empty() {
            // SAFETY: data is valid for data.len() bytes.
            let n = unsafe { libc::write(self.fd(), data.as_ptr().cast(), data.len()) };
            if n > 0 {
                data = &data[n as usize..];
                continue;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    if !keep_going() {
                        return Ok(false);
                    }
                    let mut p = libc::pollfd { fd: self.fd(), events: libc::POLLOUT, revents: 0 };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut p, 1, 20) };
                    if p.revents & libc::POLLHUP != 0 {
                        return Ok(false);
                    }
                }
                Some(libc::EIO) => return Ok(false),
                _ => return Err(e),
            }
        }
        Ok(true)
    }

    /// Drop bytes we sent that the client never read (the port was closed;
    /// a reset device would not resend them either).
    pub fn discard_pending_output(&self) {
        // SAFETY: flushing our own descriptor's queues.
        unsafe {
            libc::tcflush(self.fd(), libc::TCIOFLUSH);
        }
    }
}
