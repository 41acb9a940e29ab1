//! Kubernetes' formats in one place for every side of the project: the host,
//! the guest SDK (vendored into plugins made by `computehub plugin new`) and
//! the simulated cluster. Each must read a quantity and print a column the way
//! Kubernetes does, so they share this code instead of keeping copies in step:
//!
//! - [`quantity`]: resource quantities (`500m`, `8Gi`, `1e3`) parsed exactly,
//!   in base units, and printed (`1500m`, `2Gi`, metrics-server's `250000000n`);
//! - [`kubectl`]: kubectl's columns (an object's AGE, a pod's READY, STATUS and
//!   RESTARTS, a node's STATUS and ROLES) for objects given as JSON;
//! - [`human_duration`]: kubectl's AGE format for a number of seconds.
//!
//! Its only dependency is `serde_json` (which the SDK and the simulated cluster
//! use anyway): the crate builds for the host and for `wasm32-wasip2`.

pub mod kubectl;
pub mod quantity;

pub use quantity::{Quantity, QuantityError};

/// Kubernetes' `duration.HumanDuration` (what kubectl prints in AGE columns)
/// for a number of seconds: `119s`, `2m5s`, `3h5m`, `17h`, `5d18h`, `70d`,
/// `3y1d`, `9y`. Negative values are clock skew: -1 prints `0s`, anything
/// below prints `<invalid>`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_rest(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    if hours < 24 * 365 * 8 {
        return with_rest(days / 365, "y", days % 365, "d");
    }
    format!("{}y", days / 365)
}

/// `5d18h`, or `5d` when the smaller unit's count is zero.
fn with_rest(n: i64, unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{n}{unit}")
    } else {
        format!("{n}{unit}{rest}{rest_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn every_range_prints_as_kubectl_does() {
        for (s, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (150, "2m30s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (17 * 3600, "17h"),
            (17 * 3600 + 59, "17h"),
            (47 * 3600 + 59 * 60, "47h"),
            (2 * 86400, "2d"),
            (5 * 86400 + 18 * 3600, "5d18h"),
            (5 * 86400 + 18 * 3600 + 100, "5d18h"),
            (30 * 86400, "30d"),
            (70 * 86400, "70d"),
            (2 * 365 * 86400, "2y"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (3 * 365 * 86400 + 10 * 86400, "3y10d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(s), want, "{s} seconds");
        }
    }
}
