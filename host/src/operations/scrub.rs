//! A backstop against secrets in what operations persist and show: step
//! output, messages, results and errors pass through [`scrub`] before they
//! reach the store. Plugins are expected not to record secrets; this catches
//! the ones that command output carries anyway (kubeadm prints the join
//! token; a kubeconfig holds keys and tokens).

/// Keys of `key: value` / `key=value` pairs whose value is replaced.
const SECRET_KEYS: &[&str] = &[
    "client-key-data",
    "client-certificate-data",
    "token",
    "password",
    "psssword",
    "adminpwd",
    "api_pwd",
    "token-secret",
];

/// Replace secrets in `text` with `******`.
pub fn scrub(text: &str) -> String {
    let text = private_keys(text);
    let text = bootstrap_tokens(&text);
    text.lines().map(key_values).collect::<Vec<_>>().join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

/// PEM private key blocks.
fn private_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let header_end = rest[start..].find('\n').map(|i| start + i);
        let is_private = header_end
            .map(|e| rest[start..e].contains("PRIVATE KEY"))
            .unwrap_or(false);
        if !is_private {
            out.push_str(&rest[..start + 11]);
            rest = &rest[start + 11..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str("******");
        match rest[start..].find("-----END ") {
            Some(end) => {
                let after = start + end + 9;
                let close = rest[after..]
                    .find("-----")
                    .map(|i| after + i + 5)
                    .unwrap_or(rest.len());
                rest = &rest[close..];
            }
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// kubeadm bootstrap tokens: `[a-z0-9]{6}.[a-z0-9]{16}`.
fn bootstrap_tokens(text: &str) -> String {
    let b = text.as_bytes();
    let tok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 23 <= b.len() {
        let bounded_before = i == 0 || !tok(b[i - 1]);
        let bounded_after = i + 23 == b.len() || !tok(b[i + 23]);
        if bounded_before
            && bounded_after
            && b[i..i + 6].iter().all(|c| tok(*c))
            && b[i + 6] == b'.'
            && b[i + 7..i + 23].iter().all(|c| tok(*c))
        {
            out.push_str(&text[copied..i]);
            out.push_str("******");
            i += 23;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// `token: abc`, `"password": "x"`, `--token=abc`, `--token abc`.
fn key_values(line: &str) -> String {
    let mut line = line.to_string();
    for key in SECRET_KEYS {
        line = mask_values_of(&line, key);
    }
    line
}

/// The values of `key` in `line` masked, in one pass: a line of many
/// secrets costs its length, not its length times their number, and no
/// recursion (it ran once per secret, on the stack of the plugin's call).
fn mask_values_of(line: &str, key: &str) -> String {
    // ASCII lower-casing keeps every byte where it was.
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(pos) = lower[from..].find(key) {
        let at = from + pos;
        let after = at + key.len();
        from = after;
        let before_ok = at == 0
            || !lower.as_bytes()[at - 1].is_ascii_alphanumeric()
                && lower.as_bytes()[at - 1] != b'_';
        let rest = &line[after..];
        let sep = rest
            .char_indices()
            .take_while(|(_, c)| matches!(c, '"' | '\'' | ':' | '=' | ' ' | '\t'))
            .last()
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        // `--token abc` (a flag and its value) as well as `key: value`.
        let flag = line[..at].ends_with("--");
        let has_sep = rest[..sep].contains([':', '=']) || (flag && sep > 0);
        if !(before_ok && has_sep && sep > 0) {
            continue;
        }
        let value_end = rest[sep..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
            .map(|i| sep + i)
            .unwrap_or(rest.len());
        if value_end > sep && &rest[sep..value_end] != "******" {
            out.push_str(&line[copied..after + sep]);
            out.push_str("******");
            copied = after + value_end;
            from = copied;
        }
    }
    out.push_str(&line[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn join_tokens_and_kubeconfig_secrets_are_removed() {
        let out = "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef \\\n\t--discovery-token-ca-cert-hash sha256:7b33";
        let s = scrub(out);
        assert!(!s.contains("0123456789abcdef"), "{s}");
        assert!(
            s.contains("sha256:7b33") && s.contains("10.0.0.1:6443"),
            "{s}"
        );
        let kc = "users:\n- name: admin\n  user:\n    token: s3cr3t-value\n    client-key-data: LS0tLS1CRUdJTg==\n";
        let s = scrub(kc);
        assert!(
            !s.contains("s3cr3t-value") && !s.contains("LS0tLS1CRUdJTg"),
            "{s}"
        );
        assert!(s.ends_with('\n'));
        let json = r#"{"password": "hunter2", "user": "root"}"#;
        assert_eq!(scrub(json), r#"{"password": "******", "user": "root"}"#);
        assert_eq!(scrub("--token=abc.def x"), "--token=****** x");
    }

    #[test]
    fn private_keys_are_removed() {
        let k = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\nafter";
        let s = scrub(k);
        assert!(!s.contains("b3BlbnNzaC1rZXk"), "{s}");
        assert!(s.contains("after"));
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(scrub(cert), cert);
    }

    /// A line of thousands of secrets (a plugin's result of 64 KiB is one
    /// line) is masked whole, every value, in one pass.
    #[test]
    fn a_line_of_many_secrets_is_masked_whole() {
        let line = (0..8000)
            .map(|i| format!("token={i}x"))
            .collect::<Vec<_>>()
            .join(",");
        let s = scrub(&line);
        assert_eq!(s.matches("token=******").count(), 8000, "{}", &s[..200]);
        assert!(!s.contains('x'));
    }

    #[test]
    fn ordinary_text_is_kept() {
        let t = "[preflight] Running pre-flight checks\ntokens are fine, token id \"abc\" too\n";
        assert_eq!(scrub(t), t);
    }
}
