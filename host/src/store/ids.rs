//! Identifiers: 21-character URL-safe random ids (the shape of the kboss
//! examples' ids) and validation of organisation names.

use rand::Rng;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A random id of `len` characters from the URL-safe alphabet.
pub fn random_id(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A record id: 21 characters, ~126 bits.
pub fn record_id() -> String {
    random_id(21)
}

/// Organisation ids: 1-64 characters of `[A-Za-z0-9_.-]`.
pub fn validate_org(org: &str) -> Result<(), String> {
    let ok = !org.is_empty()
        && org.len() <= 64
        && org
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "organisation `{org}` must be 1-64 characters of letters, digits, `_`, `-` or `.`"
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn record_ids_are_21_url_safe_chars() {
        let id = super::record_id();
        assert_eq!(id.len(), 21);
        assert!(id.bytes().all(|b| super::ALPHABET.contains(&b)));
        assert_ne!(id, super::record_id());
    }
}
