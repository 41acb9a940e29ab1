//! `kubeadm join` commands: parsed from what a caller sends (`join_command`)
//! or what `kubeadm token create --print-join-command` printed, and rebuilt
//! as validated arguments. The CA must be pinned
//! (`--discovery-token-ca-cert-hash sha256:<64 hex>`); unpinned discovery
//! and any other flag are refused.

use std::fmt;

/// A join command's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// `host:port` of the control plane.
    pub endpoint: String,
    /// The bootstrap token (`abcdef.0123456789abcdef`): a secret.
    pub token: String,
    /// `sha256:<hex>`.
    pub ca_hash: String,
}

fn token_ok(t: &str) -> bool {
    let tok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    matches!(t.split_once('.'), Some((id, secret)) if tok(id, 6) && tok(secret, 16))
}

fn hash_ok(h: &str) -> bool {
    h.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn endpoint_ok(e: &str) -> bool {
    let Some((host, port)) = e.rsplit_once(':') else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}

impl Join {
    /// Parse `kubeadm join <endpoint> --token <t> --discovery-token-ca-cert-hash <h>`
    /// (flags in any order, `--flag=value` or `--flag value`, line
    /// continuations allowed). The error says what is wrong, never echoing
    /// the token.
    pub fn parse(text: &str) -> Result<Join, String> {
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == '\\')
            .filter(|w| !w.is_empty())
            .collect();
        let rest = match words.as_slice() {
            ["kubeadm", "join", rest @ ..] => rest,
            _ => return Err("must start with `kubeadm join`".into()),
        };
        let (mut endpoint, mut token, mut hash) = (None, None, None);
        let mut i = 0;
        while i < rest.len() {
            let w = rest[i];
            let (flag, inline) = match w.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v)),
                _ => (w, None),
            };
            let mut value = || -> Result<&str, String> {
                if let Some(v) = inline {
                    return Ok(v);
                }
                i += 1;
                rest.get(i)
                    .copied()
                    .ok_or_else(|| format!("`{flag}` needs a value"))
            };
            match flag {
                "--token" => token = Some(value()?.to_string()),
                "--discovery-token-ca-cert-hash" => hash = Some(value()?.to_string()),
                "--discovery-token-unsafe-skip-ca-verification" => {
                    return Err("must pin the cluster CA: unsafe discovery is refused".into())
                }
                f if f.starts_with('-') => {
                    return Err(format!("flag `{}` is not accepted", f.escape_debug()))
                }
                e if endpoint.is_none() => endpoint = Some(e.to_string()),
                _ => return Err("has more than one endpoint".into()),
            }
            i += 1;
        }
        let endpoint = endpoint.ok_or("has no control-plane endpoint (host:port)")?;
        if !endpoint_ok(&endpoint) {
            return Err(format!(
                "endpoint `{}` is not host:port",
                endpoint.escape_debug()
            ));
        }
        let token = token.ok_or("has no `--token`")?;
        if !token_ok(&token) {
            return Err("`--token` is not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})".into());
        }
        let ca_hash =
            hash.ok_or("has no `--discovery-token-ca-cert-hash`: the cluster CA must be pinned")?;
        if !hash_ok(&ca_hash) {
            return Err("`--discovery-token-ca-cert-hash` must be sha256:<64 hex digits>".into());
        }
        Ok(Join {
            endpoint,
            token,
            ca_hash,
        })
    }

    /// The arguments of `kubeadm` to join as `node`.
    pub fn args(&self, node: &str) -> Vec<String> {
        [
            "join",
            &self.endpoint,
            "--token",
            &self.token,
            "--discovery-token-ca-cert-hash",
            &self.ca_hash,
            "--node-name",
            node,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// The endpoint's host.
    pub fn host(&self) -> &str {
        self.endpoint
            .rsplit_once(':')
            .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
            .unwrap_or(&self.endpoint)
    }
}

impl fmt::Display for Join {
    /// The command as a caller passes it on.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kubeadm join {} --token {} --discovery-token-ca-cert-hash {}",
            self.endpoint, self.token, self.ca_hash
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "sha256:7b33439b2a1b37a8d8938513bd45405f57c3255771c3b9b9b90af448d886b0c2";

    #[test]
    fn the_documented_command_parses() {
        let j = Join::parse(&format!(
            "kubeadm join 192.168.0.3:6443 --token nt80u6.gzpj9dxsrw79270c \\\n\t--discovery-token-ca-cert-hash {HASH} "
        ))
        .unwrap();
        assert_eq!(j.endpoint, "192.168.0.3:6443");
        assert_eq!(j.host(), "192.168.0.3");
        assert_eq!(j.token, "nt80u6.gzpj9dxsrw79270c");
        assert_eq!(Join::parse(&j.to_string()).unwrap(), j);
        assert_eq!(j.args("w1")[0], "join");
    }

    #[test]
    fn unpinned_or_odd_commands_are_refused() {
        for bad in [
            "kubeadm join 10.0.0.1:6443 --token nt80u6.gzpj9dxsrw79270c",
            "kubeadm join 10.0.0.1:6443 --token nt80u6.gzpj9dxsrw79270c --discovery-token-unsafe-skip-ca-verification",
            "kubeadm join 10.0.0.1:6443 --token bad --discovery-token-ca-cert-hash sha256:00",
            "kubeadm init",
            "kubeadm join 10.0.0.1:6443;reboot --token nt80u6.gzpj9dxsrw79270c",
            "kubeadm join 10.0.0.1:6443 --token nt80u6.gzpj9dxsrw79270c --config /etc/x",
        ] {
            assert!(Join::parse(bad).is_err(), "{bad}");
        }
        let e =
            Join::parse("kubeadm join 10.0.0.1:6443 --token nt80u6.gzpj9dxsrw79270c").unwrap_err();
        assert!(!e.contains("gzpj9dxsrw79270c"));
    }
}
