//! The pseudo-terminal the device sits behind: we hold the master side, the
//! client opens the slave path (`/dev/pts/N`) as if it were a USB serial port.
//!
//! A pty has no modem lines, so the client cannot reset us; what it can do is
//! close the port. On Linux the master then reports POLLHUP (and reads fail
//! with EIO) until a client opens the slave again. A client that closes and
//! at once reopens (a quick reconnect) can slip between two polls, so we
//! also watch the slave node with inotify: its open/close events are queued
//! in order and cannot be missed.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What happened on the line since the last poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineState {
    /// A client closed the port (possibly reopening it right after).
    pub client_left: bool,
    /// A client has the port open now.
    pub open: bool,
    /// There are bytes to read.
    pub readable: bool,
}

/// The master side of a pty pair.
#[derive(Debug)]
pub struct Pty {
    master: OwnedFd,
    path: PathBuf,
    notify: Option<OwnedFd>,
    opens: i64,
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
            let mut pty = Pty { master, path, notify: None, opens: 0 };
            // Opening and closing the slave once does two things: the line is
            // raw before any client arrives (no echo of our replies back to
            // us), and the master reports "other side closed" until a client
            // opens it, so waiting for a client and noticing it left are the
            // same check.
            pty.make_slave_raw()?;
            pty.notify = pty.watch_slave();
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

    /// An inotify watch on the slave node (None if the kernel refuses; then
    /// POLLHUP alone tells us about closes).
    fn watch_slave(&self) -> Option<OwnedFd> {
        let c = std::ffi::CString::new(self.path.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: creating and configuring our own inotify descriptor.
        unsafe {
            let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
            if fd < 0 {
                return None;
            }
            let owned = OwnedFd::from_raw_fd(fd);
            let mask = libc::IN_OPEN | libc::IN_CLOSE_WRITE | libc::IN_CLOSE_NOWRITE;
            if libc::inotify_add_watch(fd, c.as_ptr(), mask) < 0 {
                return None;
            }
            Some(owned)
        }
    }

    /// Apply queued open/close events; true if the open count fell to zero.
    fn drain_notify(&mut self) -> bool {
        let Some(fd) = self.notify.as_ref().map(AsRawFd::as_raw_fd) else { return false };
        let mut left = false;
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return left;
            }
            let mut i = 0usize;
            let header = std::mem::size_of::<libc::inotify_event>();
            while i + header <= n as usize {
                let mask = u32::from_ne_bytes([buf[i + 4], buf[i + 5], buf[i + 6], buf[i + 7]]);
                let name_len = u32::from_ne_bytes([buf[i + 12], buf[i + 13], buf[i + 14], buf[i + 15]]) as usize;
                if mask & libc::IN_OPEN != 0 {
                    self.opens += 1;
                }
                if mask & (libc::IN_CLOSE_WRITE | libc::IN_CLOSE_NOWRITE) != 0 {
                    self.opens = (self.opens - 1).max(0);
                    if self.opens == 0 {
                        left = true;
                    }
                }
                i += header + name_len;
            }
        }
    }

    /// The slave path clients open.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fd(&self) -> RawFd {
        self.master.as_raw_fd()
    }

    /// Wait up to `timeout` for input or a change of the line.
    pub fn poll(&mut self, timeout: Duration) -> io::Result<LineState> {
        let mut fds = [
            libc::pollfd { fd: self.fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.notify.as_ref().map_or(-1, AsRawFd::as_raw_fd), events: libc::POLLIN, revents: 0 },
        ];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: two valid pollfds (a negative fd is ignored by poll).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let client_left = self.drain_notify();
        // Poll the master again without waiting: the notify events may have
        // woken us before the line state settled.
        let mut p = libc::pollfd { fd: self.fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, 0) };
        let hup = p.revents & libc::POLLHUP != 0;
        let readable = p.revents & libc::POLLIN != 0;
        // A slave that is open never reports POLLHUP. The open count comes
        // from inotify alone: the line can show a client as open before its
        // IN_OPEN event is queued, so counting that client from the line as
        // well would count it twice and hide its close. (Merged events can
        // only undercount, and a close at count zero still means "left".)
        let open = !hup;
        if hup {
            self.opens = 0;
        }
        Ok(LineState { client_left: client_left || (hup && !readable && self.notify.is_none()), open, readable })
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
}
