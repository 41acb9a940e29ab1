//! UTC timestamps in the shapes the areas' documents use: `2025-12-02
//! 06:24:44` (Alaya), RFC 3339 with milliseconds (`2019-10-10T02:24:02.325Z`)
//! and Go's `time.Time.String()` (`2020-09-23 02:38:17.894471458 +0000 UTC`,
//! IEF). Parsing RFC 3339 is [`crate::kubectl::parse_rfc3339`].

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};

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

    /// The instant as a chrono time (the epoch when out of its range, some
    /// 262,000 years either way).
    fn utc(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.secs, self.nanos).unwrap_or_default()
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    pub fn datetime(&self) -> String {
        self.utc().format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// RFC 3339 with milliseconds: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn rfc3339_millis(&self) -> String {
        self.utc().to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Go's `time.Time.String()` of a UTC time: fractional seconds with
    /// trailing zeros removed (none when whole), then `+0000 UTC`.
    pub fn go_string(&self) -> String {
        let mut frac = String::new();
        if self.nanos > 0 {
            frac = format!(".{:09}", self.nanos);
            while frac.ends_with('0') {
                frac.pop();
            }
        }
        format!("{}{frac} +0000 UTC", self.datetime())
    }
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
    fn round_trips() {
        for ts in [
            "2000-02-29T23:59:59.000Z",
            "1999-12-31T00:00:00.000Z",
            "2024-03-01T12:00:00.250Z",
        ] {
            let t = Instant {
                secs: parse_rfc3339(ts).unwrap_or(0),
                nanos: if ts.ends_with(".250Z") {
                    250_000_000
                } else {
                    0
                },
            };
            assert_eq!(t.rfc3339_millis(), ts);
        }
        // Out of range: the epoch, not a panic.
        assert_eq!(
            Instant::from_secs(i64::MAX).datetime(),
            "1970-01-01 00:00:00"
        );
    }
}
