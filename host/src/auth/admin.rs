//! The admin token that guards `/admin`: from `COMPUTEHUB_ADMIN_TOKEN`, or
//! generated on first start, kept in the data dir as a SHA-256 hash only, and
//! printed once.

use std::path::Path;

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::seal::write_private;

pub struct AdminToken {
    sha256: [u8; 32],
}

impl AdminToken {
    /// The token from the environment, or the stored one. On the very first
    /// start a new token is generated and returned in clear exactly once.
    pub fn load(
        data_dir: &Path,
        from_env: Option<String>,
    ) -> anyhow::Result<(Self, Option<String>)> {
        if let Some(token) = from_env.filter(|t| !t.is_empty()) {
            return Ok((Self::from_secret(&token), None));
        }
        let path = data_dir.join("admin-token.sha256");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())?;
                let sha256: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("{} is not a SHA-256 hash", path.display()))?;
                Ok((AdminToken { sha256 }, None))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut raw = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut raw);
                let token = format!(
                    "cha.{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
                );
                let me = Self::from_secret(&token);
                write_private(&path, hex::encode(me.sha256).as_bytes())?;
                Ok((me, Some(token)))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn from_secret(token: &str) -> Self {
        AdminToken {
            sha256: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Does this `Authorization` header carry the admin token?
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
