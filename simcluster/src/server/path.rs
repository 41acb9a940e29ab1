//! A request's path, percent-decoded once. Authorization
//! ([`super::gate`], [`crate::auth::Attributes`]) and routing read the same
//! decoded segments, so `PUT /api/v1/namespaces/dev/finaliz%65` is decided
//! as the namespace `finalize` it reaches (kube-apiserver reads the decoded
//! path for both), not as a resource named `finaliz%65`.

use percent_encoding::percent_decode_str;

use crate::error::{ApiError, ApiResult};

/// A request's path: the decoded whole and its non-empty segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestPath {
    /// The decoded path (`/api/v1/namespaces/dev/finalize`): what a
    /// non-resource rule matches and a message names.
    pub decoded: String,
    /// Its non-empty segments, each decoded.
    pub segments: Vec<String>,
}

impl RequestPath {
    /// Decodes `raw` (a URI's path). A segment holding an encoded `/`
    /// (`pods%2Fweb`) is a `400`: split before or after decoding it would
    /// name different things, and the server serves neither.
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let mut segments = Vec::new();
        for s in raw.split('/').filter(|s| !s.is_empty()) {
            let decoded = percent_decode_str(s).decode_utf8_lossy();
            if decoded.contains('/') {
                return Err(ApiError::bad_request(
                    "invalid request path: a path segment must not hold an encoded \"/\" (%2F)",
                ));
            }
            segments.push(decoded.into_owned());
        }
        Ok(RequestPath {
            decoded: percent_decode_str(raw).decode_utf8_lossy().into_owned(),
            segments,
        })
    }

    /// The segments as `&str`s, for matching.
    pub fn segs(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Attributes;

    #[test]
    fn segments_are_decoded_once_and_an_encoded_slash_is_refused() {
        let p = RequestPath::parse("/api/v1/namespaces/dev/finaliz%65").unwrap();
        assert_eq!(p.decoded, "/api/v1/namespaces/dev/finalize");
        assert_eq!(p.segs(), ["api", "v1", "namespaces", "dev", "finalize"]);
        let p = RequestPath::parse("//healthz/").unwrap();
        assert_eq!(
            (p.decoded.as_str(), p.segs()),
            ("//healthz/", vec!["healthz"])
        );
        for bad in [
            "/api/v1/namespaces/dev/pods%2Fweb",
            "/api/v1/namespaces/dev/pods/a%2fb",
        ] {
            let e = RequestPath::parse(bad).unwrap_err();
            assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"), "{bad}");
            assert!(e.message.contains("%2F"), "{}", e.message);
        }
    }

    /// RBAC is asked about what the router will run: the namespace `dev`'s
    /// `finalize`, not a resource named `finaliz%65` in it.
    #[test]
    fn an_encoded_subresource_is_authorized_as_it_is_routed() {
        let p = RequestPath::parse("/api/v1/namespaces/dev/finaliz%65").unwrap();
        let q = std::collections::HashMap::new();
        let a = Attributes::of(&hyper::Method::PUT, &p.decoded, &p.segs(), &q);
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.name.as_str(),
                a.subresource.as_str(),
                a.namespace.as_str()
            ),
            ("update", "namespaces", "dev", "finalize", "dev")
        );
        let p = RequestPath::parse("/api/v1/namespaces/dev/st%61tus").unwrap();
        let a = Attributes::of(&hyper::Method::GET, &p.decoded, &p.segs(), &q);
        assert_eq!((a.verb.as_str(), a.subresource.as_str()), ("get", "status"));
    }
}
