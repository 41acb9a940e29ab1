//! Identifiers: 21-character URL-safe random ids (the shape of the kboss
//! examples' ids) and validation of organisation names.

use rand::Rng;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A random id of `len` characters from the URL-safe alphabet.
pub fn random_id(len: usize) -> String {
    // 64 characters: each takes 6 bits of a random u64 (10 per draw), so
    // every character is uniform without a range draw per character.
    const _: () = assert!(ALPHABET.len() == 64);
    let mut rng = rand::thread_rng();
    let mut id = String::with_capacity(len);
    let (mut bits, mut left) = (0u64, 0);
    for _ in 0..len {
        if left == 0 {
            bits = rng.gen();
            left = 10;
        }
        id.push(char::from(ALPHABET[(bits & 63) as usize]));
        bits >>= 6;
        left -= 1;
    }
    id
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

    #[test]
    fn random_ids_use_the_whole_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let id = super::random_id(16);
            assert_eq!(id.len(), 16);
            seen.extend(id.bytes());
        }
        assert_eq!(seen.len(), super::ALPHABET.len());
    }
}
