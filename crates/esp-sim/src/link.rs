//! The wire's cost: with the baud model on, bytes take 10 bit times each at
//! the current baud rate in both directions, so wall time is what a real
//! UART at that rate would take. The time is accounted either way.

use std::time::{Duration, Instant};

/// Largest piece of output written at once while pacing (keeps the
/// client's view smooth without a syscall per byte).
const PACE_CHUNK_SECONDS: f64 = 0.001;

#[derive(Debug)]
pub struct Link {
    pub baud: u32,
    paced: bool,
    rx_done: Instant,
    tx_done: Instant,
    pub wire_seconds: f64,
    first_activity: Option<Instant>,
    last_activity: Option<Instant>,
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

impl Link {
    pub fn new(baud: u32, paced: bool) -> Self {
        let now = Instant::now();
        Link { baud, paced, rx_done: now, tx_done: now, wire_seconds: 0.0, first_activity: None, last_activity: None }
    }

    /// Wall time from the first byte received to the last byte handled.
    pub fn active_seconds(&self) -> f64 {
        match (self.first_activity, self.last_activity) {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            _ => 0.0,
        }
    }

    fn touch(&mut self) {
        let now = Instant::now();
        self.first_activity.get_or_insert(now);
        self.last_activity = Some(now);
    }

    fn seconds(&self, n: usize) -> f64 {
        n as f64 * 10.0 / f64::from(self.baud.max(1))
    }

    /// Bytes arrived from the host: they are usable once the last of them
    /// would have crossed the wire. `arrived` is when they showed up if we
    /// were waiting for them; None if they were already queued (then they
    /// follow the previous bytes back to back, and our own sleep overshoot
    /// must not count as line time).
    pub fn received(&mut self, n: usize, arrived: Option<Instant>) {
        if self.first_activity.is_none() {
            self.touch();
        }
        let s = self.seconds(n);
        self.wire_seconds += s;
        if self.paced {
            let start = match arrived {
                Some(t) => self.rx_done.max(t),
                None => self.rx_done,
            };
            self.rx_done = start + Duration::from_secs_f64(s);
            sleep_until(self.rx_done);
        }
        self.touch();
    }

    /// Split output into pieces; call [`Link::before_send`] before writing each.
    pub fn chunk_len(&self) -> usize {
        if self.paced {
            ((f64::from(self.baud) / 10.0 * PACE_CHUNK_SECONDS) as usize).max(16)
        } else {
            usize::MAX
        }
    }

    /// The chip works for `t` before answering: with pacing, nothing goes
    /// out until then (the time is the chip's, not the wire's).
    pub fn busy(&mut self, t: Duration) {
        if self.paced && !t.is_zero() {
            let until = self.rx_done.max(Instant::now()) + t;
            self.tx_done = self.tx_done.max(until);
            sleep_until(until);
        }
        self.touch();
    }

    /// A frame is about to go out: it starts when the line is free, or now.
    pub fn frame_start(&mut self) {
        self.tx_done = self.tx_done.max(Instant::now());
    }

    /// Account for (and with pacing, wait out) `n` bytes about to be sent
    /// (the pieces of a frame follow each other back to back).
    pub fn before_send(&mut self, n: usize) {
        let s = self.seconds(n);
        self.wire_seconds += s;
        if self.paced {
            self.tx_done += Duration::from_secs_f64(s);
            sleep_until(self.tx_done);
        }
        self.touch();
    }
}
