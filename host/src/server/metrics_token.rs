//! `/metrics` restricted to a bearer token (`serve --metrics-token-file`):
//! the file holds the token (as Prometheus' `bearer_token_file` does); the
//! server keeps its SHA-256 only and compares in constant time. Without the
//! token `/metrics` answers 401; wrong tokens count as failed
//! authentication of the client address (see [`super::throttle`]).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
pub enum MetricsTokenError {
    #[error("cannot read the metrics token file {0}")]
    Read(PathBuf),
    #[error("the metrics token file {0} is empty or not one line of text")]
    Invalid(PathBuf),
}

pub struct MetricsToken {
    sha256: [u8; 32],
}

impl MetricsToken {
    /// The token in `path`: its first line, trimmed (at least 16 bytes, no
    /// spaces).
    pub fn load(path: &Path) -> Result<Self, MetricsTokenError> {
        let text =
            std::fs::read_to_string(path).map_err(|_| MetricsTokenError::Read(path.into()))?;
        let token = text.lines().next().unwrap_or("").trim();
        if token.len() < 16 || token.contains(char::is_whitespace) {
            return Err(MetricsTokenError::Invalid(path.into()));
        }
        Ok(MetricsToken {
            sha256: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Does this `Authorization` header carry the token?
    pub fn verify(&self, authorization: Option<&str>) -> bool {
        let Some(token) = authorization
            .and_then(|v| v.split_once(' '))
            .filter(|(kind, _)| kind.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
        else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        presented.ct_eq(&self.sha256).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_in_the_file_passes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metrics.token");
        std::fs::write(&file, "scrape-0123456789abcdef\n").unwrap();
        let t = MetricsToken::load(&file).unwrap();
        assert!(t.verify(Some("Bearer scrape-0123456789abcdef")));
        assert!(!t.verify(Some("Bearer scrape-0123456789abcdeX")));
        assert!(!t.verify(Some("Basic scrape-0123456789abcdef")));
        assert!(!t.verify(None));
        std::fs::write(&file, "short\n").unwrap();
        assert!(matches!(
            MetricsToken::load(&file),
            Err(MetricsTokenError::Invalid(_))
        ));
        assert!(matches!(
            MetricsToken::load(&dir.path().join("missing")),
            Err(MetricsTokenError::Read(_))
        ));
    }
}
