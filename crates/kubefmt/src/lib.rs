//! kubectl's way of printing values, in one place for both sides of the
//! project: the simulated cluster's server-side tables (what `kubectl get`
//! shows against it) and the guest SDK's cluster boards (what the pcapi and
//! kboss APIs answer). Both must print an age the way kubectl does, so they
//! share this code instead of keeping two copies in step.
//!
//! No dependencies: the crate builds for the host and for `wasm32-wasip2`.

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
