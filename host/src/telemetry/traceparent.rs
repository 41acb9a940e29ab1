//! The W3C Trace Context `traceparent` header
//! (<https://www.w3.org/TR/trace-context/>): parsed strictly (a header that
//! is not one is ignored, and the request starts a new trace) and written
//! as version `00`.

use std::fmt;

/// The header's name.
pub const HEADER: &str = "traceparent";

/// Length of a version-00 header: `00-<32 hex>-<16 hex>-<2 hex>`.
const LEN: usize = 55;

/// One span's place in a trace, as `traceparent` carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    /// The id of the span that is the parent of whoever receives this.
    pub span_id: [u8; 8],
    /// Whether the sender records this trace (the `sampled` flag).
    pub sampled: bool,
}

fn hex_lower<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl TraceParent {
    /// A header value, if it is a valid one: lower-case hex, a version other
    /// than `ff`, trace and parent ids not all zeros; a version above `00`
    /// may carry more after its first 55 characters (separated by `-`).
    pub fn parse(v: &str) -> Option<TraceParent> {
        let v = v.trim_matches(|c| c == ' ' || c == '\t');
        let head = v.get(..LEN)?;
        let version = hex_lower::<1>(&head[..2])?[0];
        if version == 0xff || (version == 0 && v.len() != LEN) {
            return None;
        }
        if v.len() > LEN && v.as_bytes()[LEN] != b'-' {
            return None;
        }
        let mut parts = head.split('-');
        let (_, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let trace_id = hex_lower::<16>(trace)?;
        let span_id = hex_lower::<8>(parent)?;
        let flags = hex_lower::<1>(flags)?[0];
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The one valid `traceparent` of a request: none when it is missing,
    /// repeated or not valid.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<TraceParent> {
        let mut all = headers.get_all(HEADER).iter();
        let first = all.next()?;
        if all.next().is_some() {
            return None;
        }
        TraceParent::parse(first.to_str().ok()?)
    }

    /// The trace id as 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        self.trace_id_text().as_str().to_string()
    }

    /// The trace id as 32 lower-case hex digits, without allocating.
    pub fn trace_id_text(&self) -> TraceIdText {
        let mut text = [b'0'; 32];
        // 16 bytes fill the 32 digits exactly.
        let _ = hex::encode_to_slice(self.trace_id, &mut text);
        TraceIdText(text)
    }

    /// The version-00 header value, written without formatting machinery
    /// (`None` only if a length here were wrong).
    pub fn header_value(&self) -> Option<http::HeaderValue> {
        let mut v = [0u8; LEN];
        v[..3].copy_from_slice(b"00-");
        hex::encode_to_slice(self.trace_id, &mut v[3..35]).ok()?;
        v[35] = b'-';
        hex::encode_to_slice(self.span_id, &mut v[36..52]).ok()?;
        v[52] = b'-';
        v[53] = b'0';
        v[54] = if self.sampled { b'1' } else { b'0' };
        http::HeaderValue::from_bytes(&v).ok()
    }

    /// A new random id pair (never all zeros).
    pub fn random(sampled: bool) -> TraceParent {
        TraceParent {
            trace_id: nonzero(rand::random),
            span_id: nonzero(rand::random),
            sampled,
        }
    }

    /// The same trace, a new random span id (a child of this span).
    pub fn child(&self) -> TraceParent {
        TraceParent {
            span_id: nonzero(rand::random),
            ..*self
        }
    }
}

/// A trace id as 32 lower-case hex digits, on the stack.
#[derive(Clone, Copy)]
pub struct TraceIdText([u8; 32]);

impl TraceIdText {
    pub fn as_str(&self) -> &str {
        // Only hex digits are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

fn nonzero<const N: usize>(mut random: impl FnMut() -> [u8; N]) -> [u8; N] {
    loop {
        let v = random();
        if v != [0; N] {
            return v;
        }
    }
}

/// The version-00 header value.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.header_value() {
            Some(v) => f.write_str(v.to_str().unwrap_or_default()),
            None => Err(fmt::Error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_round_trips() {
        let tp = TraceParent::parse(GOOD).unwrap();
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex::encode(tp.span_id), "00f067aa0ba902b7");
        assert!(tp.sampled);
        assert_eq!(tp.to_string(), GOOD);
        let unsampled = TraceParent::parse(&GOOD.replace("-01", "-00")).unwrap();
        assert!(!unsampled.sampled);
        // Other flag bits are kept out of what is written back.
        assert_eq!(
            TraceParent::parse(&GOOD.replace("-01", "-03"))
                .unwrap()
                .to_string(),
            GOOD
        );
    }

    #[test]
    fn invalid_headers_are_refused() {
        for bad in [
            "",
            "garbage",
            &GOOD.to_uppercase(),
            &GOOD.replace("4bf92f3577b34da6a3ce929d0e0e4736", &"0".repeat(32)),
            &GOOD.replace("00f067aa0ba902b7", &"0".repeat(16)),
            &GOOD.replacen("00-", "ff-", 1),
            &format!("{GOOD}-extra"), // version 00 is exactly 55 characters
            &GOOD.replace("-01", "-1"),
            &GOOD.replacen('-', "_", 1),
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_later_version_may_carry_more() {
        let later = GOOD.replacen("00-", "01-", 1);
        assert!(TraceParent::parse(&format!("{later}-what-comes")).is_some());
        assert_eq!(TraceParent::parse(&format!("{later}x")), None);
    }

    #[test]
    fn a_repeated_header_is_ignored() {
        let mut h = http::HeaderMap::new();
        h.append(HEADER, GOOD.parse().unwrap());
        assert!(TraceParent::from_headers(&h).is_some());
        h.append(HEADER, GOOD.parse().unwrap());
        assert_eq!(TraceParent::from_headers(&h), None);
    }

    #[test]
    fn random_and_child_ids() {
        let a = TraceParent::random(false);
        assert_ne!(a.trace_id, [0; 16]);
        let c = a.child();
        assert_eq!(c.trace_id, a.trace_id);
        assert_ne!(c.span_id, a.span_id);
        assert_eq!(TraceParent::parse(&c.to_string()), Some(c));
    }

    #[test]
    fn the_header_value_and_trace_id_text_are_the_formatted_ones() {
        for tp in [
            TraceParent::parse(GOOD).unwrap(),
            TraceParent::random(false),
            TraceParent::random(true),
        ] {
            let expected = format!(
                "00-{}-{}-{:02x}",
                hex::encode(tp.trace_id),
                hex::encode(tp.span_id),
                u8::from(tp.sampled)
            );
            assert_eq!(tp.header_value().unwrap().to_str().unwrap(), expected);
            assert_eq!(tp.to_string(), expected);
            assert_eq!(tp.trace_id_text().as_str(), hex::encode(tp.trace_id));
            assert_eq!(tp.trace_id_hex(), hex::encode(tp.trace_id));
        }
    }
}
