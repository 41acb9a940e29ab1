//! Names that end up in a command on a machine or in a Kubernetes object:
//! one set of rules, checked when a plugin stores a value and again where it
//! is used (provisioning, node labels, manifests), so a value that would be
//! refused later is never stored in the first place.
//!
//! - [`dns_label_ok`] / [`dns_subdomain_ok`]: RFC 1123 names (namespaces,
//!   workloads; node names and host names);
//! - [`label_key_ok`] / [`label_value_ok`]: Kubernetes label syntax;
//! - [`login_name_ok`]: SSH login names;
//! - [`ip_ok`], [`port_ok`]: IP literals and TCP ports;
//! - [`display_name_ok`]: free names shown to people (devices, labels,
//!   clusters, centers): any letters and digits (so `2-虚拟机ubuntu2204`),
//!   spaces and `- _ . : @ + / , ( )` and common CJK punctuation, nothing
//!   else;
//! - [`shell_unsafe`]: the characters the host's `ssh` capability refuses in
//!   any argument (`; | & < > $`, backticks, newlines, control characters),
//!   for free text that may reach a command (models, descriptions).
//!
//! ```
//! use computehub_sdk::names;
//! assert!(names::label_key_ok("kyy.io/gpu"));
//! assert!(!names::label_key_ok("a;b"));
//! assert!(names::display_name_ok("2-虚拟机ubuntu2204"));
//! assert!(!names::display_name_ok("n1;reboot"));
//! assert_eq!(names::shell_unsafe("$(id)"), Some("`$` (expansion)"));
//! ```

/// Longest RFC 1123 label and Kubernetes label name or value.
pub const MAX_LABEL: usize = 63;
/// Longest RFC 1123 subdomain (a node name, a label key's prefix).
pub const MAX_SUBDOMAIN: usize = 253;
/// Longest SSH login name.
pub const MAX_LOGIN: usize = 32;
/// Longest display name.
pub const MAX_DISPLAY: usize = 255;

/// An RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
pub fn dns_label_ok(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// An RFC 1123 subdomain: labels joined by `.`, at most 253 (node names,
/// host names, label key prefixes).
pub fn dns_subdomain_ok(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_SUBDOMAIN && v.split('.').all(dns_label_ok)
}

/// A label name or non-empty value: `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`,
/// at most 63.
pub fn label_name_ok(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A Kubernetes label key: `name` or `prefix/name`, the prefix a DNS
/// subdomain.
pub fn label_key_ok(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => dns_subdomain_ok(prefix) && label_name_ok(name),
        None => label_name_ok(k),
    }
}

/// A Kubernetes label value: empty or a label name.
pub fn label_value_ok(v: &str) -> bool {
    v.is_empty() || label_name_ok(v)
}

/// An SSH login name: 1-32 of `[A-Za-z0-9_.-]`, not starting with `-`.
pub fn login_name_ok(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_LOGIN
        && !v.starts_with('-')
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// An IPv4 or IPv6 literal (no host names, no ports, no zones).
pub fn ip_ok(v: &str) -> bool {
    v.parse::<std::net::IpAddr>().is_ok()
}

/// A TCP port, 1-65535.
pub fn port_ok(n: i64) -> bool {
    (1..=65535).contains(&n)
}

/// Punctuation a display name may hold besides letters, digits and spaces.
const DISPLAY_PUNCT: &[char] = &[
    '-', '_', '.', ':', '@', '+', '/', ',', '(', ')', '（', '）', '【', '】', '《', '》', '、',
    '，', '。', '：', '·', '—',
];

/// A name shown to people (devices, labels, clusters, centers): 1-255
/// characters, each a letter or digit of any script, a space, or one of
/// `- _ . : @ + / , ( )` and common CJK punctuation. No shell
/// metacharacters, quotes, backslashes, control or invisible characters.
pub fn display_name_ok(v: &str) -> bool {
    !v.is_empty()
        && v.chars().count() <= MAX_DISPLAY
        && v.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || DISPLAY_PUNCT.contains(&c))
}

/// What makes `v` unusable in a command, as the host's `ssh` capability
/// refuses it: `None` when it is safe.
pub fn shell_unsafe(v: &str) -> Option<&'static str> {
    v.chars().find_map(|c| {
        Some(match c {
            ';' => "`;`",
            '|' => "`|`",
            '&' => "`&`",
            '<' | '>' => "a redirection",
            '$' => "`$` (expansion)",
            '`' => "a backtick",
            '\n' | '\r' => "a newline",
            c if c.is_control() => "a control character",
            _ => return None,
        })
    })
}

/// What a display name may hold, for error messages.
pub const DISPLAY_RULE: &str =
    "a name of letters, digits, spaces and `- _ . : @ + / , ( )` (at most 255; no `; | & $`, quotes, backticks or newlines)";
/// What a label key may be, for error messages.
pub const LABEL_KEY_RULE: &str =
    "a Kubernetes label key (`name` or `prefix/name`: letters, digits, `-`, `_`, `.`; at most 63, the prefix a DNS subdomain)";
/// What a label value may be, for error messages.
pub const LABEL_VALUE_RULE: &str =
    "a Kubernetes label value (letters, digits, `-`, `_`, `.`; at most 63, alphanumeric at both ends)";
/// What a node name may be, for error messages.
pub const NODE_NAME_RULE: &str = "a node name (a DNS subdomain: a-z, 0-9, `-`, `.`; at most 253)";
/// What a login name may be, for error messages.
pub const LOGIN_RULE: &str = "a login name (1-32 of letters, digits, `_ - .`)";

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "n1;reboot",
        "$(touch /tmp/x)",
        "`id`",
        "a\nb",
        "a\rb",
        "a|b",
        "a&b",
        "a>b",
        "a<b",
        "a'b",
        "a\"b",
        "a\\b",
        "a\u{0}b",
        "a\u{202e}b",
        "a\tb",
    ];

    #[test]
    fn hostile_text_fits_no_rule() {
        for v in HOSTILE {
            assert!(!display_name_ok(v), "{v:?}");
            assert!(!label_key_ok(v), "{v:?}");
            assert!(!label_value_ok(v), "{v:?}");
            assert!(!dns_subdomain_ok(v), "{v:?}");
            assert!(!login_name_ok(v), "{v:?}");
            assert!(!ip_ok(v), "{v:?}");
        }
        for v in [
            "n1;reboot",
            "$(x)",
            "`id`",
            "a\nb",
            "a|b",
            "a&b",
            "a>b",
            "a\u{0}b",
        ] {
            assert!(shell_unsafe(v).is_some(), "{v:?}");
        }
        assert_eq!(shell_unsafe("INTEL(R) XEON(R) PLATINUM 8582C"), None);
    }

    #[test]
    fn names_people_use_are_kept() {
        for v in [
            "2-虚拟机ubuntu2204",
            "假算力设备",
            "首都算力中心1",
            "朝阳区",
            "gpu node (A100)",
            "worker_1.example",
        ] {
            assert!(display_name_ok(v), "{v}");
        }
        assert!(!display_name_ok(""));
        assert!(!display_name_ok(&"x".repeat(256)));
        assert!(display_name_ok(&"算".repeat(255)));
    }

    #[test]
    fn kubernetes_syntax() {
        for ok in [
            "kyy-gpu",
            "kyy.io/app",
            "a",
            "A_b.c-9",
            "nvidia.com/gpu.product",
        ] {
            assert!(label_key_ok(ok), "{ok}");
        }
        for no in [
            "-a",
            "a-",
            "",
            "a b",
            "a=b",
            "Kyy.IO/app",
            "/a",
            "a/",
            "a/b/c",
            "x".repeat(64).as_str(),
        ] {
            assert!(!label_key_ok(no), "{no}");
        }
        assert!(label_value_ok(""));
        assert!(label_value_ok("RTX4090-24G"));
        assert!(!label_value_ok("a b"));
        assert!(dns_label_ok("worker-1"));
        assert!(!dns_label_ok("Worker-1"));
        assert!(!dns_label_ok(&"a".repeat(64)));
        assert!(dns_subdomain_ok("node-1.cluster.local"));
        assert!(!dns_subdomain_ok("node..1"));
        assert!(!dns_subdomain_ok(&["a"; 130].join(".")));
    }

    #[test]
    fn machines() {
        assert!(login_name_ok("root"));
        assert!(login_name_ok("ysh.admin-1"));
        assert!(!login_name_ok("-oProxyCommand=x"));
        assert!(!login_name_ok(&"u".repeat(33)));
        assert!(ip_ok("192.168.0.8"));
        assert!(ip_ok("fd00::1"));
        assert!(!ip_ok("192.168.0.8:22"));
        assert!(!ip_ok("example.com"));
        assert!(port_ok(22) && port_ok(65535));
        assert!(!port_ok(0) && !port_ok(65536));
    }
}
