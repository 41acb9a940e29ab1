//! UTC timestamps in the shapes the areas' documents use: `2025-12-02
//! 06:24:44` (Alaya), RFC 3339 with milliseconds (`2019-10-10T02:24:02.325Z`)
//! and Go's `time.Time.String()` (`2020-09-23 02:38:17.894471458 +0000 UTC`,
//! IEF). Parsing RFC 3339 is [`crate::kubectl::parse_rfc3339`].

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC instant: seconds since the Unix epoch and nanoseconds within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds, 0..1e9.
    pub nanos: u32,
}

impl Instant {
    /// The current time (the host's wall clock, through WASI).
    pub fn now() -> Instant {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| Instant {
                secs: d.as_secs() as i64,
                nanos: d.subsec_nanos(),
            })
            .unwrap_or(Instant { secs: 0, nanos: 0 })
    }

    /// A whole second.
    pub fn from_secs(secs: i64) -> Instant {
        Instant { secs, nanos: 0 }
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    pub fn datetime(&self) -> String {
        let (y, mo, d, h, mi, s) = civil(self.secs);
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }

    /// RFC 3339 with milliseconds: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn rfc3339_millis(&self) -> String {
        let (y, mo, d, h, mi, s) = civil(self.secs);
        let ms = self.nanos / 1_000_000;
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }

    /// Go's `time.Time.String()` of a UTC time: fractional seconds with
    /// trailing zeros removed (none when whole), then `+0000 UTC`.
    pub fn go_string(&self) -> String {
        let (y, mo, d, h, mi, s) = civil(self.secs);
        let mut frac = String::new();
        if self.nanos > 0 {
            frac = format!(".{:09}", self.nanos);
            while frac.ends_with('0') {
                frac.pop();
            }
        }
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}{frac} +0000 UTC")
    }
}

/// (year, month, day, hour, minute, second) of a Unix time, in UTC
/// (Howard Hinnant's civil-from-days).
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (tod / 3600) as u32,
        (tod % 3600 / 60) as u32,
        (tod % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubectl::parse_rfc3339;

    #[test]
    fn shapes() {
        let t = parse_rfc3339("2025-12-02T06:24:44Z").map(Instant::from_secs);
        assert_eq!(
            t.map(|t| t.datetime()).as_deref(),
            Some("2025-12-02 06:24:44")
        );
        let t = Instant {
            secs: parse_rfc3339("2020-09-23T02:38:17Z").unwrap_or(0),
            nanos: 894_471_458,
        };
        assert_eq!(t.go_string(), "2020-09-23 02:38:17.894471458 +0000 UTC");
        assert_eq!(t.rfc3339_millis(), "2020-09-23T02:38:17.894Z");
        let t = Instant {
            secs: t.secs,
            nanos: 500_000_000,
        };
        assert_eq!(t.go_string(), "2020-09-23 02:38:17.5 +0000 UTC");
        assert_eq!(
            Instant::from_secs(0).go_string(),
            "1970-01-01 00:00:00 +0000 UTC"
        );
    }

    #[test]
    fn civil_round_trips() {
        for ts in [
            "2000-02-29T23:59:59Z",
            "1999-12-31T00:00:00Z",
            "2024-03-01T12:00:00Z",
        ] {
            let secs = parse_rfc3339(ts).unwrap_or(0);
            let (y, mo, d, h, mi, s) = civil(secs);
            assert_eq!(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"), ts);
        }
    }
}
