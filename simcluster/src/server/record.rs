//! The request log ([`crate::SimCluster::requests`]): what one record may
//! hold is bounded whatever the request sends, so the log's most (10,000
//! records) is a few tens of megabytes at worst. The path and query are
//! cut to [`MAX_URI`] bytes, a `traceparent` is kept only when it is a
//! valid W3C value, and a request refused before its caller was known is
//! not recorded at all (`super::handle`).

use hyper::Method;

/// The most bytes of a request's path and query a record keeps.
pub const MAX_URI: usize = 2048;

/// The most bytes of a request's method a record keeps (an extension
/// method is any token).
const MAX_METHOD: usize = 32;

/// The most records the log holds; past it the older half goes.
const MAX_RECORDS: usize = 10_000;

/// One logged request: method, path with query, status code, traceparent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path and query, at most [`MAX_URI`] bytes of them.
    pub uri: String,
    /// Response status.
    pub status: u16,
    /// The request's W3C `traceparent` header, if it had a valid one.
    pub traceparent: Option<String>,
}

impl RequestRecord {
    /// The record of `method uri` answered `status`, each part bounded.
    pub(super) fn new(method: &Method, uri: &str, status: u16, traceparent: Option<&str>) -> Self {
        RequestRecord {
            method: cut(method.as_str(), MAX_METHOD).to_string(),
            uri: cut(uri, MAX_URI).to_string(),
            status,
            traceparent: traceparent
                .filter(|t| valid_traceparent(t))
                .map(String::from),
        }
    }
}

/// Appends `record`, dropping the older half of a full log first.
pub(super) fn push(log: &mut Vec<RequestRecord>, record: RequestRecord) {
    if log.len() >= MAX_RECORDS {
        log.drain(..MAX_RECORDS / 2);
    }
    log.push(record);
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(super) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// A W3C trace context `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, 55
/// bytes, lower-case hex): a version other than `ff`, a trace id and a
/// parent id that are not all zeros.
fn valid_traceparent(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    match parts.as_slice() {
        [version, trace, parent, flags] => {
            t.len() == 55
                && hex(version, 2)
                && *version != "ff"
                && hex(trace, 32)
                && nonzero(trace)
                && hex(parent, 16)
                && nonzero(parent)
                && hex(flags, 2)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_record_holds_a_bounded_uri_and_only_a_valid_traceparent() {
        let long = format!("/api/v1/pods?labelSelector={}", "é".repeat(5000));
        let r = RequestRecord::new(&Method::GET, &long, 200, Some(TP));
        assert!(
            r.uri.len() <= MAX_URI && r.uri.len() > MAX_URI - 2,
            "{}",
            r.uri.len()
        );
        assert!(long.starts_with(&r.uri));
        assert_eq!(r.traceparent.as_deref(), Some(TP));

        let short = RequestRecord::new(&Method::GET, "/api/v1/pods", 200, None);
        assert_eq!(
            (short.uri.as_str(), short.traceparent),
            ("/api/v1/pods", None)
        );

        let big = "x".repeat(1 << 20);
        let zeros = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        let upper = TP.to_uppercase();
        let bad_version = TP.replacen("00", "ff", 1);
        let long_tp = format!("{TP}-extra");
        for bad in [
            big.as_str(),
            "",
            zeros,
            upper.as_str(),
            bad_version.as_str(),
            long_tp.as_str(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ] {
            let r = RequestRecord::new(&Method::GET, "/", 200, Some(bad));
            assert_eq!(r.traceparent, None, "{bad:.60}");
        }

        let method = Method::from_bytes("X".repeat(1000).as_bytes()).unwrap();
        assert_eq!(
            RequestRecord::new(&method, "/", 405, None).method.len(),
            MAX_METHOD
        );
    }

    #[test]
    fn the_log_keeps_its_newest_records_only() {
        let mut log = Vec::new();
        for i in 0..MAX_RECORDS + 1 {
            push(
                &mut log,
                RequestRecord::new(&Method::GET, &format!("/{i}"), 200, None),
            );
        }
        assert_eq!(log.len(), MAX_RECORDS / 2 + 1);
        assert_eq!(
            log.last().map(|r| r.uri.as_str()),
            Some(format!("/{MAX_RECORDS}").as_str())
        );
    }
}
