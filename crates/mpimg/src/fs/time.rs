//! File times: where the times mpimg writes come from, and calendar
//! arithmetic (UTC, without a date library): littlefs keeps nanoseconds since
//! 1970, FAT keeps a broken-down date.
//!
//! Every time the filesystem layer writes (a littlefs file's mtime attribute,
//! FAT entry times, a FAT volume id, the `boot.py` of `mkfs`) comes from
//! [`now_ns`] or [`file_time_ns`], which ask the [`TimeSource`] of the work
//! running on this thread. [`crate::fs::run_fs_commands`] sets one for its
//! run: `SOURCE_DATE_EPOCH` when set (as reproducible-builds.org defines it:
//! decimal seconds since 1970-01-01 00:00 UTC), so baked images are the same
//! on every run and machine, else the computer's clock. Tests fake the clock
//! with [`with_time_source`].

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

/// The environment variable of reproducible builds (reproducible-builds.org).
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Where the times mpimg writes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSource {
    /// `SOURCE_DATE_EPOCH` (seconds since 1970): when set, every time written
    /// is this one, a copied file's own modification time included.
    pub epoch: Option<u64>,
    /// The clock read for "now" when no epoch is set.
    pub clock: Clock,
}

/// A clock for "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The computer's clock.
    System,
    /// A clock stopped at this many nanoseconds since 1970 (tests).
    Stopped(u64),
}

/// A `SOURCE_DATE_EPOCH` that is not what reproducible-builds.org defines.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error(
    "SOURCE_DATE_EPOCH is '{value}': it must be a whole number of seconds since 1970-01-01 00:00 UTC \
     (as `date +%s` prints it, e.g. 1700000000){why}; fix it or unset it"
)]
pub struct BadSourceDateEpoch {
    /// The value as found in the environment.
    pub value: String,
    /// What is wrong beyond the syntax (empty when only the syntax is).
    why: &'static str,
}

/// The latest epoch whose nanoseconds fit littlefs's u64 times (year 2554).
const MAX_EPOCH: u64 = u64::MAX / 1_000_000_000;

impl TimeSource {
    /// The computer's clock, no fixed epoch.
    pub const SYSTEM: TimeSource = TimeSource { epoch: None, clock: Clock::System };

    /// The clock, with `SOURCE_DATE_EPOCH` from the environment when it is set
    /// (an empty value counts as unset).
    ///
    /// # Errors
    /// [`BadSourceDateEpoch`] when the value is not decimal digits or too large.
    pub fn from_env() -> Result<Self, BadSourceDateEpoch> {
        let epoch = match std::env::var_os(SOURCE_DATE_EPOCH) {
            None => None,
            Some(v) => parse_source_date_epoch(&v.to_string_lossy())?,
        };
        Ok(TimeSource { epoch, clock: Clock::System })
    }

    /// "Now" in nanoseconds since 1970: the epoch when set, else the clock.
    pub fn now_ns(&self) -> u64 {
        match (self.epoch, self.clock) {
            (Some(secs), _) => secs * 1_000_000_000,
            (None, Clock::Stopped(ns)) => ns,
            (None, Clock::System) => system_time_ns(SystemTime::now()),
        }
    }

    /// The time to store for a file copied from this computer whose own
    /// modification time is `own`: the epoch when set (so the source tree's
    /// times do not leak into the image), else `own`, else "now".
    pub fn file_time_ns(&self, own: Option<SystemTime>) -> u64 {
        match (self.epoch, own) {
            (Some(_), _) | (None, None) => self.now_ns(),
            (None, Some(t)) => system_time_ns(t),
        }
    }
}

/// Parse a `SOURCE_DATE_EPOCH` value: `Ok(None)` for an empty one.
///
/// # Errors
/// [`BadSourceDateEpoch`] for anything but ASCII digits (no sign, no spaces,
/// no fraction), or a value past what littlefs's nanosecond times hold.
pub fn parse_source_date_epoch(value: &str) -> Result<Option<u64>, BadSourceDateEpoch> {
    if value.is_empty() {
        return Ok(None);
    }
    let bad = |why| BadSourceDateEpoch { value: value.to_owned(), why };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(""));
    }
    match value.parse::<u64>() {
        Ok(secs) if secs <= MAX_EPOCH => Ok(Some(secs)),
        _ => Err(bad(" no later than 18446744073 (the year 2554)")),
    }
}

thread_local! {
    static CURRENT: Cell<Option<TimeSource>> = const { Cell::new(None) };
}

/// Restores the previous time source when dropped (also while unwinding).
struct Restore(Option<TimeSource>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Run `f` with `source` as this thread's time source.
pub fn with_time_source<R>(source: TimeSource, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(source))));
    f()
}

/// This thread's time source if one was set with [`with_time_source`].
pub fn current_source() -> Option<TimeSource> {
    CURRENT.with(Cell::get)
}

/// "Now" for times mpimg makes itself (mkfs, a FAT directory), in ns since
/// 1970, from this thread's time source; without one, from the clock or a
/// valid `SOURCE_DATE_EPOCH`.
pub fn now_ns() -> u64 {
    source_or_env().now_ns()
}

/// The time to store for a file copied from this computer (see
/// [`TimeSource::file_time_ns`]), from this thread's time source.
pub fn file_time_ns(own: Option<SystemTime>) -> u64 {
    source_or_env().file_time_ns(own)
}

fn source_or_env() -> TimeSource {
    current_source().unwrap_or_else(|| TimeSource::from_env().unwrap_or(TimeSource::SYSTEM))
}

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (1970, 2025, ...).
    pub year: i64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub min: u32,
    /// Second, 0..=59.
    pub sec: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's method).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl Civil {
    /// The date and time `secs` seconds after 1970-01-01 00:00 UTC.
    pub fn from_unix(secs: i64) -> Self {
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let t = secs.rem_euclid(86_400) as u32;
        Civil { year, month, day, hour: t / 3600, min: t / 60 % 60, sec: t % 60 }
    }

    /// Seconds since 1970-01-01 00:00 UTC.
    pub fn to_unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour * 3600 + self.min * 60 + self.sec)
    }
}

impl std::fmt::Display for Civil {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02} {:02}:{:02}:{:02}", self.year, self.month, self.day, self.hour, self.min, self.sec)
    }
}

/// Nanoseconds since 1970 of a file time (0 for times before 1970).
pub fn system_time_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Run `f` with "now" fixed at `ns` (nanoseconds since 1970) on this thread,
/// a stopped [`Clock`]: what a library caller does for a reproducible image
/// (files copied from this computer keep their own times; for
/// `SOURCE_DATE_EPOCH`'s rule, that every time is the epoch, use
/// [`with_time_source`]).
pub fn with_now<R>(ns: u64, f: impl FnOnce() -> R) -> R {
    with_time_source(TimeSource { epoch: None, clock: Clock::Stopped(ns) }, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(Civil::from_unix(0).to_string(), "1970-01-01 00:00:00");
        assert_eq!(Civil::from_unix(951_782_400).to_string(), "2000-02-29 00:00:00");
        assert_eq!(Civil::from_unix(1_717_286_400 + 3_723).to_string(), "2024-06-02 01:02:03");
        assert_eq!(Civil::from_unix(-1).to_string(), "1969-12-31 23:59:59");
        for s in [0i64, 315_532_800, 951_782_399, 1_717_286_400, 4_102_444_800, -86_400 * 365] {
            assert_eq!(Civil::from_unix(s).to_unix(), s);
        }
    }

    #[test]
    fn source_date_epoch_is_decimal_seconds() {
        assert_eq!(parse_source_date_epoch("1700000000"), Ok(Some(1_700_000_000)));
        assert_eq!(parse_source_date_epoch("0"), Ok(Some(0)));
        assert_eq!(parse_source_date_epoch(""), Ok(None));
        assert_eq!(parse_source_date_epoch("18446744073"), Ok(Some(18_446_744_073)));
        for bad in [" 1700000000", "1700000000\n", "+1", "-1", "1.5", "0x10", "2024-01-01", "abc"] {
            let e = parse_source_date_epoch(bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "SOURCE_DATE_EPOCH is '{bad}': it must be a whole number of seconds since 1970-01-01 00:00 UTC \
                     (as `date +%s` prints it, e.g. 1700000000); fix it or unset it"
                )
            );
        }
        assert_eq!(
            parse_source_date_epoch("18446744074").unwrap_err().to_string(),
            "SOURCE_DATE_EPOCH is '18446744074': it must be a whole number of seconds since 1970-01-01 00:00 UTC \
             (as `date +%s` prints it, e.g. 1700000000) no later than 18446744073 (the year 2554); fix it or unset it"
        );
    }

    #[test]
    fn the_epoch_wins_over_the_clock_and_file_times() {
        let own = Some(UNIX_EPOCH + std::time::Duration::from_secs(5));
        let fixed = TimeSource { epoch: Some(1_700_000_000), clock: Clock::Stopped(42) };
        assert_eq!((fixed.now_ns(), fixed.file_time_ns(own)), (1_700_000_000_000_000_000, 1_700_000_000_000_000_000));
        let stopped = TimeSource { epoch: None, clock: Clock::Stopped(42) };
        assert_eq!((stopped.now_ns(), stopped.file_time_ns(own), stopped.file_time_ns(None)), (42, 5_000_000_000, 42));
    }

    #[test]
    fn a_time_source_holds_for_its_scope_only() {
        let outer = current_source();
        let stopped = TimeSource { epoch: None, clock: Clock::Stopped(7) };
        let inner = with_time_source(stopped, || {
            let nested = with_time_source(TimeSource { epoch: Some(1), clock: Clock::System }, now_ns);
            (now_ns(), nested, current_source())
        });
        assert_eq!(inner, (7, 1_000_000_000, Some(stopped)));
        assert_eq!(current_source(), outer);
        let unwound = std::panic::catch_unwind(|| with_time_source(stopped, || panic!("inside")));
        assert!(unwound.is_err());
        assert_eq!(current_source(), outer);
    }
}
