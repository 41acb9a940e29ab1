//! Kubernetes resource quantities (`500m`, `1.5`, `2Gi`, `128974848`, `1e3`, `12Mi`).
//!
//! Parsing follows `k8s.io/apimachinery/pkg/api/resource`: an optional sign, a
//! decimal number, and one suffix: binary (`Ki Mi Gi Ti Pi Ei`), decimal SI
//! (`n u m "" k M G T P E`) or a decimal exponent (`e3`, `E-2`). Values are kept
//! exactly as thousandths ("milli units", rounded up as Kubernetes' `MilliValue`
//! does), which covers CPU cores, bytes and device counts alike.

use std::fmt;

/// A parsed quantity, held exactly in milli units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Quantity {
    milli: i128,
}

/// Why a quantity string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}")]
pub struct QuantityError(pub String);

impl Quantity {
    /// A quantity from milli units (`1500` = `1.5`).
    pub fn from_milli(milli: i128) -> Self {
        Quantity { milli }
    }

    /// A quantity from whole units.
    pub fn from_units(units: i128) -> Self {
        Quantity {
            milli: units * 1000,
        }
    }

    /// Parses a Kubernetes quantity string.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        parse_milli(s.trim())
            .map(|milli| Quantity { milli })
            .ok_or_else(|| QuantityError(s.to_string()))
    }

    /// Thousandths of a unit, rounded up (CPU millicores).
    pub fn milli_value(&self) -> i128 {
        self.milli
    }

    /// Whole units, rounded up (bytes, GPUs, pods).
    pub fn value(&self) -> i128 {
        div_ceil(self.milli, 1000)
    }

    /// True when zero.
    pub fn is_zero(&self) -> bool {
        self.milli == 0
    }
}

impl fmt::Display for Quantity {
    /// Formats as a decimal quantity: `2`, `500m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_decimal_milli(self.milli))
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a > 0) == (b > 0)) {
        q + 1
    } else {
        q
    }
}

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

fn parse_milli(s: &str) -> Option<i128> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
        negative = bytes[i] == b'-';
        i += 1;
    }
    let num_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    let number = &s[num_start..i];
    let suffix = &s[i..];
    if number.is_empty() || number.matches('.').count() > 1 || number == "." {
        return None;
    }
    let (int_part, frac_part) = match number.split_once('.') {
        Some((a, b)) => (a, b),
        None => (number, ""),
    };
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    // value = mantissa * 10^(dec_exp) * 2^(bin_exp)
    let mut dec_exp: i32 = -(frac_part.len() as i32);
    let mut bin_exp: u32 = 0;
    match suffix {
        "" => {}
        "Ki" => bin_exp = 10,
        "Mi" => bin_exp = 20,
        "Gi" => bin_exp = 30,
        "Ti" => bin_exp = 40,
        "Pi" => bin_exp = 50,
        "Ei" => bin_exp = 60,
        "n" => dec_exp -= 9,
        "u" => dec_exp -= 6,
        "m" => dec_exp -= 3,
        "k" => dec_exp += 3,
        "M" => dec_exp += 6,
        "G" => dec_exp += 9,
        "T" => dec_exp += 12,
        "P" => dec_exp += 15,
        "E" => dec_exp += 18,
        other => {
            let rest = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))?;
            let rest_digits = rest
                .strip_prefix('+')
                .or_else(|| rest.strip_prefix('-'))
                .unwrap_or(rest);
            if rest_digits.is_empty() || !rest_digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let e: i32 = rest.parse().ok()?;
            dec_exp += e;
        }
    }
    // milli = value * 1000
    dec_exp += 3;
    let numerator = mantissa.checked_mul(1i128.checked_shl(bin_exp)?)?;
    let milli = if dec_exp >= 0 {
        numerator.checked_mul(pow10(dec_exp as u32)?)?
    } else {
        let d = pow10((-dec_exp) as u32)?;
        div_ceil(numerator, d)
    };
    Some(if negative { -milli } else { milli })
}

/// Formats milli units as a decimal quantity: `2`, `1500m`, `0`.
pub fn format_decimal_milli(milli: i128) -> String {
    if milli % 1000 == 0 {
        format!("{}", milli / 1000)
    } else {
        format!("{milli}m")
    }
}

/// Formats a byte count with the largest exact binary suffix: `2Gi`, `1536Mi`, `1000`.
pub fn format_binary(bytes: i128) -> String {
    for (suffix, shift) in [
        ("Ei", 60),
        ("Pi", 50),
        ("Ti", 40),
        ("Gi", 30),
        ("Mi", 20),
        ("Ki", 10),
    ] {
        let unit = 1i128 << shift;
        if bytes != 0 && bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    format!("{bytes}")
}

/// Formats CPU milli units as nanocores, as metrics-server does: `250000000n`.
pub fn format_nanocores(milli: i128) -> String {
    format!("{}n", milli * 1_000_000)
}

/// Formats bytes in KiB, rounded up, as metrics-server does: `1048576Ki`.
pub fn format_kibibytes(bytes: i128) -> String {
    format!("{}Ki", div_ceil(bytes, 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> i128 {
        Quantity::parse(s).unwrap().milli_value()
    }

    #[test]
    fn decimal_suffixes() {
        assert_eq!(m("1"), 1000);
        assert_eq!(m("500m"), 500);
        assert_eq!(m("1.5"), 1500);
        assert_eq!(m("0.1"), 100);
        assert_eq!(m(".5"), 500);
        assert_eq!(m("2k"), 2_000_000);
        assert_eq!(m("1M"), 1_000_000_000);
        assert_eq!(m("1G"), 1_000_000_000_000);
        assert_eq!(m("1T") / 1000, 1_000_000_000_000);
        assert_eq!(m("1P") / 1000, 1_000_000_000_000_000);
        assert_eq!(m("1E") / 1000, 1_000_000_000_000_000_000);
        assert_eq!(m("250000000n"), 250);
        assert_eq!(m("1500u"), 2, "rounded up like MilliValue");
        assert_eq!(m("1n"), 1);
        assert_eq!(m("+3"), 3000);
        assert_eq!(m("-2"), -2000);
        assert_eq!(m("0"), 0);
    }

    #[test]
    fn binary_suffixes() {
        assert_eq!(Quantity::parse("1Ki").unwrap().value(), 1024);
        assert_eq!(Quantity::parse("128Mi").unwrap().value(), 134_217_728);
        assert_eq!(Quantity::parse("1.5Gi").unwrap().value(), 1_610_612_736);
        assert_eq!(Quantity::parse("2Ti").unwrap().value(), 2 << 40);
        assert_eq!(Quantity::parse("1Pi").unwrap().value(), 1 << 50);
        assert_eq!(Quantity::parse("1Ei").unwrap().value(), 1 << 60);
    }

    #[test]
    fn exponents() {
        assert_eq!(m("1e3"), 1_000_000);
        assert_eq!(m("1E3"), 1_000_000);
        assert_eq!(m("12e-3"), 12);
        assert_eq!(m("1e+2"), 100_000);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1.2.3", "1Xi", "1e", "m", "1 Gi", "--1", "1ki"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn value_rounds_up() {
        assert_eq!(Quantity::parse("100m").unwrap().value(), 1);
        assert_eq!(Quantity::parse("1001m").unwrap().value(), 2);
    }

    #[test]
    fn formatting() {
        assert_eq!(format_decimal_milli(2000), "2");
        assert_eq!(format_decimal_milli(1500), "1500m");
        assert_eq!(format_binary(2 << 30), "2Gi");
        assert_eq!(format_binary(1536 << 20), "1536Mi");
        assert_eq!(format_binary(1000), "1000");
        assert_eq!(format_nanocores(250), "250000000n");
        assert_eq!(format_kibibytes(1025), "2Ki");
        assert_eq!(Quantity::parse("1.5").unwrap().to_string(), "1500m");
    }
}
