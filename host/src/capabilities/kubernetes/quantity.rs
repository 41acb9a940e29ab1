//! Kubernetes resource quantities (`100m`, `1.5Gi`, `2e3`, `128974848`), parsed
//! exactly with every suffix the apimachinery grammar allows.

use std::str::FromStr;

use rust_decimal::Decimal;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a Kubernetes quantity")]
pub struct QuantityError(pub String);

/// The exact value of a quantity (`1Ki` = 1024, `250m` = 0.25).
pub fn parse(q: &str) -> Result<Decimal, QuantityError> {
    let err = || QuantityError(q.to_string());
    let s = q.trim();
    if s.is_empty() {
        return Err(err());
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let base = Decimal::from_str(num).map_err(|_| err())?;
    let pow = |b: i64, e: u32| {
        (0..e)
            .try_fold(Decimal::ONE, |acc, _| acc.checked_mul(Decimal::from(b)))
            .ok_or_else(err)
    };
    let factor = match suffix {
        "" => Decimal::ONE,
        "n" => Decimal::new(1, 9),
        "u" => Decimal::new(1, 6),
        "m" => Decimal::new(1, 3),
        "k" => pow(10, 3)?,
        "M" => pow(10, 6)?,
        "G" => pow(10, 9)?,
        "T" => pow(10, 12)?,
        "P" => pow(10, 15)?,
        "E" => pow(10, 18)?,
        "Ki" => pow(2, 10)?,
        "Mi" => pow(2, 20)?,
        "Gi" => pow(2, 30)?,
        "Ti" => pow(2, 40)?,
        "Pi" => pow(2, 50)?,
        "Ei" => pow(2, 60)?,
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().map_err(|_| err())?;
            if exp >= 0 {
                pow(10, exp as u32)?
            } else {
                Decimal::ONE / pow(10, exp.unsigned_abs())?
            }
        }
        _ => return Err(err()),
    };
    base.checked_mul(factor).ok_or_else(err)
}

/// CPU in millicores, rounded up as the scheduler does.
pub fn millicores(q: &str) -> Result<u64, QuantityError> {
    let v = (parse(q)? * Decimal::from(1000)).ceil();
    u64::try_from(v).map_err(|_| QuantityError(q.to_string()))
}

/// A count or byte amount, rounded up.
pub fn units(q: &str) -> Result<u64, QuantityError> {
    let v = parse(q)?.ceil();
    u64::try_from(v).map_err(|_| QuantityError(q.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suffix() {
        let cases = [
            ("1", "1"),
            ("100m", "0.1"),
            ("1500u", "0.0015"),
            ("5n", "0.000000005"),
            ("1k", "1000"),
            ("2M", "2000000"),
            ("1G", "1000000000"),
            ("1T", "1000000000000"),
            ("1P", "1000000000000000"),
            ("1E", "1000000000000000000"),
            ("1Ki", "1024"),
            ("1.5Mi", "1572864"),
            ("2Gi", "2147483648"),
            ("1Ti", "1099511627776"),
            ("1Pi", "1125899906842624"),
            ("1Ei", "1152921504606846976"),
            ("1e3", "1000"),
            ("5E-3", "0.005"),
            ("+2", "2"),
        ];
        for (q, want) in cases {
            assert_eq!(parse(q).unwrap(), Decimal::from_str(want).unwrap(), "{q}");
        }
        for bad in ["", "abc", "1Qi", "1.2.3", "Mi"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(millicores("250m").unwrap(), 250);
        assert_eq!(millicores("2").unwrap(), 2000);
        assert_eq!(millicores("0.0001").unwrap(), 1);
        assert_eq!(units("8Gi").unwrap(), 8 << 30);
    }
}
