//! Kubernetes resource quantities (`500m`, `1.5`, `2Gi`, `128974848`, `1e3`,
//! `12Mi`): the one parser the host, the guest SDK and the simulated cluster
//! share.
//!
//! Parsing follows `k8s.io/apimachinery/pkg/api/resource`: an optional sign, a
//! decimal number, and one suffix: binary (`Ki Mi Gi Ti Pi Ei`), decimal SI
//! (`n u m "" k M G T P E`) or a decimal exponent (`e3`, `E-2`). Values are
//! kept exactly in nano units (integer arithmetic, never a float); anything
//! finer is rounded up to `1n`, as Kubernetes does.

use std::fmt;

const NANO: i128 = 1_000_000_000;
const MICRO_PER_NANO: i128 = 1_000;
const MILLI_PER_NANO: i128 = 1_000_000;

/// A parsed quantity, held exactly in nano units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Quantity {
    nanos: i128,
}

/// Why a quantity string did not parse (or, for [`millicores`] and
/// [`units`], did not fit): the text as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(pub String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a Kubernetes quantity", self.0)
    }
}

impl std::error::Error for QuantityError {}

impl Quantity {
    /// A quantity from nano units (`1500000000` = `1.5`).
    pub fn from_nanos(nanos: i128) -> Self {
        Quantity { nanos }
    }

    /// A quantity from milli units (`1500` = `1.5`).
    pub fn from_milli(milli: i128) -> Self {
        Quantity {
            nanos: milli.saturating_mul(MILLI_PER_NANO),
        }
    }

    /// A quantity from whole units.
    pub fn from_units(units: i128) -> Self {
        Quantity {
            nanos: units.saturating_mul(NANO),
        }
    }

    /// Parses a Kubernetes quantity string (surrounding white space ignored).
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        parse_nanos(s.trim())
            .map(|nanos| Quantity { nanos })
            .ok_or_else(|| QuantityError(s.to_string()))
    }

    /// The exact value in nano units.
    pub fn nano_value(&self) -> i128 {
        self.nanos
    }

    /// Thousandths of a unit, rounded up (CPU millicores), as Kubernetes'
    /// `MilliValue`.
    pub fn milli_value(&self) -> i128 {
        div_ceil(self.nanos, MILLI_PER_NANO)
    }

    /// Whole units, rounded up (bytes, GPUs, pods), as Kubernetes' `Value`.
    pub fn value(&self) -> i128 {
        div_ceil(self.nanos, NANO)
    }

    /// True when zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The exact value as a plain decimal number, no suffix and no trailing
    /// zeros: `1.5`, `0.25`, `2147483648`, `0.000000005`.
    pub fn plain(&self) -> String {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        let (int, frac) = (abs / NANO as u128, abs % NANO as u128);
        if frac == 0 {
            return format!("{sign}{int}");
        }
        let frac = format!("{frac:09}");
        format!("{sign}{int}.{}", frac.trim_end_matches('0'))
    }
}

impl fmt::Display for Quantity {
    /// Formats as a decimal quantity: `2`, `1500m`, `1500u`, `5n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.nanos;
        if n % NANO == 0 {
            write!(f, "{}", n / NANO)
        } else if n % MILLI_PER_NANO == 0 {
            write!(f, "{}m", n / MILLI_PER_NANO)
        } else if n % MICRO_PER_NANO == 0 {
            write!(f, "{}u", n / MICRO_PER_NANO)
        } else {
            write!(f, "{n}n")
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl std::ops::Add for Quantity {
    type Output = Quantity;
    /// The sum (saturating at the largest amount a quantity holds).
    fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
        }
    }
}

impl std::ops::AddAssign for Quantity {
    fn add_assign(&mut self, other: Quantity) {
        *self = *self + other;
    }
}

impl std::iter::Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::default(), |a, b| a + b)
    }
}

/// CPU in millicores (`500m` -> 500, `2` -> 2000), rounded up; a negative
/// or unparsable amount is refused.
pub fn millicores(q: &str) -> Result<u64, QuantityError> {
    let v = Quantity::parse(q)?.milli_value();
    u64::try_from(v).map_err(|_| QuantityError(q.to_string()))
}

/// Bytes or a count (`8Gi`, `4`), rounded up; a negative or unparsable
/// amount is refused.
pub fn units(q: &str) -> Result<u64, QuantityError> {
    let v = Quantity::parse(q)?.value();
    u64::try_from(v).map_err(|_| QuantityError(q.to_string()))
}

/// `a / b` rounded towards positive infinity (`b > 0`).
fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && a > 0 {
        q + 1
    } else {
        q
    }
}

fn parse_nanos(s: &str) -> Option<i128> {
    let (negative, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    // Zeros that change nothing would only overflow the mantissa.
    let frac = frac.trim_end_matches('0');
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    // value = mantissa * 10^dec_exp * 2^bin_exp
    let mut dec_exp: i32 = -i32::try_from(frac.len()).ok()?;
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
            let rest = other.strip_prefix(['e', 'E'])?;
            let exp_digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if exp_digits.is_empty() || !exp_digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            dec_exp = dec_exp.checked_add(rest.parse().ok()?)?;
        }
    }
    // nanos = value * 10^9
    dec_exp = dec_exp.checked_add(9)?;
    let numerator = mantissa.checked_mul(1i128.checked_shl(bin_exp)?)?;
    let nanos = if numerator == 0 {
        0
    } else if dec_exp >= 0 {
        numerator.checked_mul(10i128.checked_pow(dec_exp.unsigned_abs())?)?
    } else {
        div_ceil(numerator, 10i128.checked_pow(dec_exp.unsigned_abs())?)
    };
    Some(if negative { -nanos } else { nanos })
}

/// Formats milli units as a decimal quantity: `2`, `1500m`, `0`.
pub fn format_decimal_milli(milli: i128) -> String {
    Quantity::from_milli(milli).to_string()
}

/// Formats a byte count with the largest exact binary suffix: `2Gi`,
/// `1536Mi`, `1000`.
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
    format!("{}n", milli.saturating_mul(1_000_000))
}

/// Formats bytes in KiB, rounded up, as metrics-server does: `1048576Ki`.
pub fn format_kibibytes(bytes: i128) -> String {
    format!("{}Ki", div_ceil(bytes, 1024))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(s: &str) -> i128 {
        Quantity::parse(s).unwrap().milli_value()
    }

    fn plain(s: &str) -> String {
        Quantity::parse(s).unwrap().plain()
    }

    /// A node's CPU is the sum of what pods request (`1e29` is a valid
    /// quantity): in nanocores it stops at the largest number.
    #[test]
    fn nanocores_of_the_largest_sums_do_not_overflow() {
        assert_eq!(format_nanocores(250), "250000000n");
        assert_eq!(format_nanocores(i128::MAX), format!("{}n", i128::MAX));
    }

    #[test]
    fn decimal_suffixes() {
        assert_eq!(m("1"), 1000);
        assert_eq!(m("500m"), 500);
        assert_eq!(m("1.5"), 1500);
        assert_eq!(m("0.1"), 100);
        assert_eq!(m(".5"), 500);
        assert_eq!(m("5."), 5000);
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
        assert_eq!(m("-1500u"), -1, "towards positive infinity");
        assert_eq!(m("0"), 0);
        assert_eq!(m("1.000000000000000000000000000000000000000000"), 1000);
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
    fn exact_values_of_every_suffix() {
        for (q, want) in [
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
            ("-0.25", "-0.25"),
            ("1e-12", "0.000000001"),
        ] {
            assert_eq!(plain(q), want, "{q}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "", "abc", "1.2.3", "1Xi", "1Qi", "1e", "m", "Gi", "Mi", "1 Gi", "--1", "+-1", "1ki",
            "x", ".", "1e1.5", "1e+",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn base_units() {
        assert_eq!(millicores("500m").unwrap(), 500);
        assert_eq!(millicores("4").unwrap(), 4000);
        assert_eq!(millicores("0.25").unwrap(), 250);
        assert_eq!(millicores("100u").unwrap(), 1);
        assert_eq!(millicores("0.0001").unwrap(), 1);
        assert_eq!(units("8Gi").unwrap(), 8 << 30);
        assert_eq!(units("1.5Mi").unwrap(), 1_572_864);
        assert_eq!(units("2k").unwrap(), 2000);
        assert_eq!(units("1e3").unwrap(), 1000);
        assert_eq!(units("5E-1").unwrap(), 1);
        assert_eq!(units("100Gi").unwrap(), 100 << 30);
        for bad in ["", "x", "1Qi", "-1", "1.2.3", "Gi"] {
            assert!(units(bad).is_err(), "{bad}");
        }
        assert_eq!(
            units("-1").unwrap_err().to_string(),
            "`-1` is not a Kubernetes quantity"
        );
    }

    #[test]
    fn value_rounds_up() {
        assert_eq!(Quantity::parse("100m").unwrap().value(), 1);
        assert_eq!(Quantity::parse("1001m").unwrap().value(), 2);
    }

    #[test]
    fn sums_are_exact() {
        let sum: Quantity = ["100m", "1500u", "2"]
            .iter()
            .map(|q| Quantity::parse(q).unwrap())
            .sum();
        assert_eq!(sum.plain(), "2.1015");
    }

    #[test]
    fn formatting() {
        assert_eq!(format_decimal_milli(2000), "2");
        assert_eq!(format_decimal_milli(1500), "1500m");
        assert_eq!(format_decimal_milli(0), "0");
        assert_eq!(format_binary(2 << 30), "2Gi");
        assert_eq!(format_binary(1536 << 20), "1536Mi");
        assert_eq!(format_binary(1000), "1000");
        assert_eq!(format_nanocores(250), "250000000n");
        assert_eq!(format_kibibytes(1025), "2Ki");
        assert_eq!(Quantity::parse("1.5").unwrap().to_string(), "1500m");
        assert_eq!(Quantity::parse("1500u").unwrap().to_string(), "1500u");
        assert_eq!(Quantity::parse("5n").unwrap().to_string(), "5n");
        assert_eq!(Quantity::parse("-2").unwrap().to_string(), "-2");
    }
}
