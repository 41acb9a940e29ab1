//! Kubernetes quantities (`500m`, `4`, `8Gi`, `1e3`) in base units, exactly
//! (integer arithmetic), for endpoint plugins reading products and node
//! capacities. The host parses the same grammar for its own use.

/// Why a quantity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Kubernetes quantity")]
pub struct QuantityError(pub String);

/// The value times 10^9 (nano-units), rounded up; enough for every suffix
/// from `n` to `Ei` on the amounts clusters hold.
fn nanos(q: &str) -> Result<u128, QuantityError> {
    let err = || QuantityError(q.to_string());
    let s = q.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let num = num.strip_prefix('+').unwrap_or(num);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(err());
    }
    // value = digits / 10^frac_len
    let digits: u128 = format!("{int}{frac}").parse().map_err(|_| err())?;
    let scale = 10u128.checked_pow(frac.len() as u32).ok_or_else(err)?;
    // multiplier as (numerator, denominator) in nano-units
    let (mul, div): (u128, u128) = match suffix {
        "" => (1_000_000_000, 1),
        "n" => (1, 1),
        "u" => (1_000, 1),
        "m" => (1_000_000, 1),
        "k" => (1_000_000_000_000, 1),
        "M" => (1_000_000_000_000_000, 1),
        "G" => (10u128.pow(18), 1),
        "T" => (10u128.pow(21), 1),
        "P" => (10u128.pow(24), 1),
        "E" => (10u128.pow(27), 1),
        "Ki" => (1_000_000_000 << 10, 1),
        "Mi" => (1_000_000_000 << 20, 1),
        "Gi" => (1_000_000_000 << 30, 1),
        "Ti" => (1_000_000_000 << 40, 1),
        "Pi" => (1_000_000_000 << 50, 1),
        "Ei" => (1_000_000_000 << 60, 1),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().map_err(|_| err())?;
            if exp >= 0 {
                (
                    1_000_000_000 * 10u128.checked_pow(exp as u32).ok_or_else(err)?,
                    1,
                )
            } else {
                (
                    1_000_000_000,
                    10u128.checked_pow(exp.unsigned_abs()).ok_or_else(err)?,
                )
            }
        }
        _ => return Err(err()),
    };
    let total = digits.checked_mul(mul).ok_or_else(err)?;
    let den = scale.checked_mul(div).ok_or_else(err)?;
    Ok(total.div_ceil(den))
}

fn round_up(n: u128, unit: u128, q: &str) -> Result<u64, QuantityError> {
    u64::try_from(n.div_ceil(unit)).map_err(|_| QuantityError(q.to_string()))
}

/// CPU in millicores (`500m` -> 500, `2` -> 2000), rounded up.
pub fn millicores(q: &str) -> Result<u64, QuantityError> {
    round_up(nanos(q)?, 1_000_000, q)
}

/// Bytes or a count (`8Gi`, `4`), rounded up.
pub fn units(q: &str) -> Result<u64, QuantityError> {
    round_up(nanos(q)?, 1_000_000_000, q)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base_units() {
        assert_eq!(millicores("500m").unwrap(), 500);
        assert_eq!(millicores("4").unwrap(), 4000);
        assert_eq!(millicores("0.25").unwrap(), 250);
        assert_eq!(millicores("100u").unwrap(), 1);
        assert_eq!(units("8Gi").unwrap(), 8 << 30);
        assert_eq!(units("1.5Mi").unwrap(), 1_572_864);
        assert_eq!(units("2k").unwrap(), 2000);
        assert_eq!(units("1e3").unwrap(), 1000);
        assert_eq!(units("5E-1").unwrap(), 1);
        assert_eq!(units("100Gi").unwrap(), 100 << 30);
        for bad in ["", "x", "1Qi", "-1", "1.2.3", "Gi"] {
            assert!(units(bad).is_err(), "{bad}");
        }
    }
}
