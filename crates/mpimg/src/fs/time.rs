//! Calendar arithmetic for file times (UTC), without a date library:
//! littlefs keeps nanoseconds since 1970, FAT keeps a broken-down date.

use std::time::{SystemTime, UNIX_EPOCH};

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

thread_local! {
    /// "Now" fixed by [`with_now`] for this thread.
    static FIXED_NOW: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Run `f` with "now" fixed at `ns` (nanoseconds since 1970) on this thread:
/// what a library caller does for a reproducible image, as the command line
/// does with `SOURCE_DATE_EPOCH` (the environment is one per process; this is
/// one per thread, so parallel callers do not see each other's clock).
pub fn with_now<R>(ns: u64, f: impl FnOnce() -> R) -> R {
    let before = FIXED_NOW.with(|c| c.replace(Some(ns)));
    let r = f();
    FIXED_NOW.with(|c| c.set(before));
    r
}

/// "Now" for timestamps mpimg makes itself (mkfs, mkdir): the time fixed by
/// [`with_now`], else `SOURCE_DATE_EPOCH` when set, so baked images can be
/// reproducible, else the clock.
pub fn now_ns() -> u64 {
    if let Some(ns) = FIXED_NOW.with(std::cell::Cell::get) {
        return ns;
    }
    if let Some(secs) = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse::<u64>().ok()) {
        return secs.saturating_mul(1_000_000_000);
    }
    system_time_ns(SystemTime::now())
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
}
