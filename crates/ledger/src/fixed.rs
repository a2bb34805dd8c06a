//! [`Fixed`]: the exact ledger's number, an integer count of `10^-scale` units.
//!
//! Every value the books hold — a bar's price, a fill price, a commission, cash, a
//! position's value, a quotient — has at most [`DIV_SCALE`] (12) places, so it is kept as
//! an integer count of `10^-12`: sums, differences, comparisons and a price times a share
//! count are single integer operations, and a quotient is one integer division with its
//! remainder deciding the rounding.
//!
//! A float parameter (a weight, a limit price, a cost rate) may have more places: `1/3` is
//! `0.3333333333333333`, and a limit of `price * 1.01` is `95.14000000000001`. Such a value
//! keeps the places its digits have, and a product keeps the sum of its factors' places,
//! exactly, as long as the mantissa fits its 120 bits (35 digits, against `rust_decimal`'s 28).
//! Nothing is rounded except where the ledger rounds on purpose ([`Money::div_q`],
//! [`Money::quantize`], [`Money::round_dp`]) and, beyond 35 digits, a product or sum,
//! which is rounded half-even to the most places that fit (computed in 256 bits, so the
//! rounding is exact). `rust_decimal` rounds there at 28 digits; the ledger's bounds
//! ([`crate::MAX_NOTIONAL`]) keep its own values far from either.
//!
//! The range is `rust_decimal`'s, `|x| < 2^96`, so that every refusal of a value beyond
//! the ledger's range is the same as before and as the reference engine's. The text of a
//! value is its shortest exact decimal (`"1.5"`, `"100"`): the places an operation
//! happened to produce are not part of the value.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};
use std::str::FromStr;

use ethnum::{I256, U256};
use rust_decimal::Decimal;

use crate::num::{
    beyond_notional_generic, div_rem, half_even, round_shares_mantissa, Money, DIV_SCALE,
    MAX_NOTIONAL, POW10, POW10_F64,
};

/// The scale every value with at most [`DIV_SCALE`] places is kept at.
const CANON: u32 = DIV_SCALE;
/// Most places a value keeps.
pub const MAX_SCALE: u32 = 38;
/// Largest mantissa magnitude: 120-bit two's complement (35 digits), so that the scale
/// shares the mantissa's 16 bytes.
const MANT_MAX: u128 = (1 << 119) - 1;
/// `|x| < 2^RANGE_BITS`: `rust_decimal`'s range.
const RANGE_BITS: u32 = 96;

/// An exact decimal: `mantissa × 10^-scale`, with a 120-bit mantissa and the scale in the
/// top byte of two 64-bit words: 16 bytes, 8-byte aligned, copied as two moves (a separate
/// scale byte made a 17-byte value the compiler copied in overlapping pieces, stalling
/// store forwarding on every order).
///
/// A value at the canonical scale — all money — is its mantissa's own two's-complement
/// `i128`: its top byte is the sign extension (`0x00` or `0xFF`), so sums, comparisons
/// and products of money read and write the words as they are, with no scale to take out
/// or put back. A value at any other scale `s` has `s + 1` in its top byte (1 to 39, never
/// a sign extension) above the mantissa's 120 bits.
#[derive(Clone, Copy)]
pub struct Fixed {
    lo: u64,
    hi: u64,
}

/// How [`rescale_down`] drops places.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Round {
    HalfEven,
    TowardZero,
    Floor,
}

/// The words of `m × 10^-scale` (`|m| <= MANT_MAX`, `scale <= MAX_SCALE`).
#[inline]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // the words of m
const fn raw(m: i128, scale: u32) -> Fixed {
    if scale == CANON {
        return Fixed {
            lo: m as u64,
            hi: (m >> 64) as u64,
        };
    }
    Fixed {
        lo: m as u64,
        hi: ((m >> 64) as u64 & ((1 << 56) - 1)) | ((scale as u64 + 1) << 56),
    }
}

/// Whether `|m| <= MANT_MAX` (one addition and one comparison).
#[inline]
#[allow(clippy::cast_sign_loss, clippy::cast_possible_wrap)] // offset into 0..=2·MANT_MAX
const fn fits(m: i128) -> bool {
    (m.wrapping_add(MANT_MAX as i128) as u128) <= 2 * MANT_MAX
}

/// `10^k` as `i128` (`k <= 38`).
#[inline]
#[allow(clippy::cast_possible_wrap)] // 10^38 < 2^127
const fn pow10_i(k: u32) -> i128 {
    POW10[k as usize] as i128
}

/// Whether `m × 10^-scale` is inside the range (automatic at the canonical scale and
/// above: `MANT_MAX × 10^-12 < 2^96`).
#[inline]
fn in_range(m: i128, scale: u32) -> bool {
    m.unsigned_abs() <= MANT_MAX
        && (scale >= CANON
            || (1u128 << RANGE_BITS)
                .checked_mul(POW10[scale as usize])
                .is_none_or(|limit| m.unsigned_abs() < limit))
}

/// `m × 10^-scale` at the canonical scale where it has fewer places and fits there.
#[inline]
fn canon(m: i128, scale: u32) -> Fixed {
    if scale < CANON {
        if let Some(x) = align(m, CANON - scale) {
            return raw(x, CANON);
        }
    }
    raw(m, scale)
}

/// `m × 10^k` where that stays a 120-bit mantissa (so that a sum of two cannot overflow).
#[inline]
fn align(m: i128, k: u32) -> Option<i128> {
    let u = m.unsigned_abs();
    let x = if u < 1 << 64 && k < 20 {
        // one 64×64→128 multiply, which cannot overflow (i128's checked product is a
        // longer sequence)
        u * POW10[k as usize]
    } else {
        u.checked_mul(*POW10.get(k as usize)?)?
    };
    if x > MANT_MAX {
        return None;
    }
    #[allow(clippy::cast_possible_wrap)] // at most MANT_MAX
    let x = x as i128;
    Some(if m < 0 { -x } else { x })
}

/// `m × 10^-scale` (`scale <= MAX_SCALE`), or `None` beyond the range.
#[inline]
fn make(m: i128, scale: u32) -> Option<Fixed> {
    in_range(m, scale).then(|| canon(m, scale))
}

/// `±mag × 10^-scale`, exact, rounded half-even to the most places that fit the mantissa
/// and [`MAX_SCALE`]; `None` beyond the range.
#[cold]
fn from_wide(negative: bool, mag: U256, scale: u32) -> Option<Fixed> {
    let limit = U256::new(MANT_MAX);
    let mut drop = scale.saturating_sub(MAX_SCALE);
    loop {
        if drop > scale {
            return None; // not even the integer part fits: beyond the range
        }
        let q = if drop == 0 {
            mag
        } else {
            div_half_even_wide(mag, U256::new(10).checked_pow(drop)?)
        };
        if q <= limit {
            let m = i128::try_from(q).ok()?; // (at most MANT_MAX)
            return make(if negative { -m } else { m }, scale - drop);
        }
        drop += 1;
    }
}

/// A signed 256-bit value into [`from_wide`].
#[cold]
fn from_i256(x: I256, scale: u32) -> Option<Fixed> {
    from_wide(x < 0, x.unsigned_abs(), scale)
}

/// `m` at `scale` as a 256-bit integer at `to >= scale` (`None` past 256 bits).
fn widen(m: i128, scale: u32, to: u32) -> Option<I256> {
    I256::new(m).checked_mul(I256::new(10).checked_pow(to - scale)?)
}

/// `m × 10^-from` rounded to `to < from` places as `mode` says: the new mantissa.
fn rescale_down(m: i128, from: u32, to: u32, mode: Round) -> i128 {
    let k = from - to;
    let (negative, u) = (m < 0, m.unsigned_abs());
    let (q, r, d) = if k as usize >= POW10.len() {
        // 10^k > |m|: the whole magnitude is the remainder (a divisor past u128, whose
        // half is above it too)
        (0, u, None)
    } else {
        let d = POW10[k as usize];
        let (q, r) = div_rem(u, d);
        (q, r, Some(d))
    };
    let up = match mode {
        Round::TowardZero => false,
        Round::Floor => negative && r != 0,
        Round::HalfEven => d.is_some_and(|d| half_even(q, r, d) > q),
    };
    #[allow(clippy::cast_possible_wrap)] // at most |m| / 10 + 1
    let q = (q + u128::from(up)) as i128;
    if negative {
        -q
    } else {
        q
    }
}

impl Fixed {
    /// The mantissa: the value is `mantissa × 10^-scale`.
    #[inline]
    #[must_use]
    #[allow(clippy::cast_possible_wrap)] // the top 56 bits, sign-extended
    pub const fn mantissa(self) -> i128 {
        let hi = ((self.hi << 8) as i64) >> 8;
        ((hi as i128) << 64) | self.lo as i128
    }

    /// Places of the mantissa (12 for every value with at most 12).
    #[inline]
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // the top byte
    pub const fn scale(self) -> u32 {
        let top = (self.hi >> 56) as u32;
        if top == 0 || top == 0xFF {
            CANON
        } else {
            top - 1
        }
    }

    /// The mantissa of a value at the canonical scale: the words themselves, whose top
    /// nine bits are then equal (the top byte of any other scale's value is 1 to 39).
    #[inline]
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)] // the words as i128
    const fn canonical_mantissa(self) -> Option<i128> {
        if (((self.hi as i64) >> 55) + 1) as u64 <= 1 {
            Some(((self.hi as i128) << 64) | self.lo as i128)
        } else {
            None
        }
    }

    /// The mantissa, where the value is at the canonical scale and the mantissa fits an
    /// `i64` (a price below 9.2 million, any value below it): one comparison of the high
    /// word, which is then the low word's sign extension.
    #[inline]
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)] // the words as i64
    fn canonical_i64(self) -> Option<i64> {
        let lo = self.lo as i64;
        (self.hi == (lo >> 63) as u64).then_some(lo)
    }

    /// A `rust_decimal` value, exactly.
    #[must_use]
    pub fn from_decimal(d: Decimal) -> Self {
        canon(d.mantissa(), d.scale())
    }

    /// The greatest value in the range with this sign (what an unchecked operation past the
    /// range gives: the ledger's bounds refuse such values before they are made).
    fn saturated(negative: bool) -> Self {
        let m = (1i128 << RANGE_BITS) - 1;
        raw(if negative { -m } else { m }, 0)
    }

    /// `self + rhs` exactly, or `None` beyond the range.
    #[inline]
    fn checked_add(self, rhs: Self) -> Option<Self> {
        let (a, sa, b, sb) = (self.mantissa(), self.scale(), rhs.mantissa(), rhs.scale());
        // (120-bit operands: their sum cannot overflow an i128)
        let sum = match sa.cmp(&sb) {
            Ordering::Equal => Some((a + b, sa)),
            Ordering::Less => align(a, sb - sa).map(|a| (a + b, sb)),
            Ordering::Greater => align(b, sa - sb).map(|b| (a + b, sa)),
        };
        sum.and_then(|(m, s)| make(m, s))
            .or_else(|| add_slow(a, sa, b, sb))
    }

    /// The quotient's mantissa at [`DIV_SCALE`] places, half-even, from the exact quotient;
    /// `None` for a zero divisor or a quotient past the 120-bit mantissa.
    #[inline]
    fn div_q_mantissa(self, rhs: Self) -> Option<i128> {
        let (a, sa, b, sb) = (self.mantissa(), self.scale(), rhs.mantissa(), rhs.scale());
        if b == 0 {
            return None;
        }
        if a == 0 {
            return Some(0);
        }
        // a whole-number divisor (a share count at 12 places) without its places: the
        // numerator then needs no scaling
        let (b, sb) = drop_whole(b, sb);
        let (ua, ub) = (a.unsigned_abs(), b.unsigned_abs());
        // q × 10^12 = ua × 10^(12 + sb − sa) / ub
        let e = DIV_SCALE + sb;
        let operands = if e >= sa {
            let k = (e - sa) as usize;
            if ua < 1 << 64 && k < 20 {
                Some((ua * POW10[k], ub)) // one widening multiply
            } else {
                POW10
                    .get(k)
                    .and_then(|p| ua.checked_mul(*p))
                    .map(|n| (n, ub))
            }
        } else {
            POW10
                .get((sa - e) as usize)
                .and_then(|p| ub.checked_mul(*p))
                .map(|d| (ua, d))
        };
        let q = match operands {
            Some((n, d)) => {
                let (q, r) = div_rem(n, d);
                half_even(q, r, d)
            }
            None => div_q_wide(ua, sa, ub, sb)?,
        };
        if q > MANT_MAX {
            return None;
        }
        #[allow(clippy::cast_possible_wrap)] // at most MANT_MAX
        let q = q as i128;
        Some(if (a < 0) == (b < 0) { q } else { -q })
    }
}

/// [`Fixed::checked_add`] where the scales differ or the sum overflows.
#[cold]
fn add_slow(a: i128, sa: u32, b: i128, sb: u32) -> Option<Fixed> {
    // (the exact sum, which `from_wide` keeps as it is wherever it fits)
    let s = sa.max(sb);
    let (a2, b2) = (widen(a, sa, s)?, widen(b, sb, s)?);
    from_i256(a2.checked_add(b2)?, s)
}

/// [`Fixed::div_q_mantissa`] past `u128`: the same division in 256 bits.
#[cold]
fn div_q_wide(ua: u128, sa: u32, ub: u128, sb: u32) -> Option<u128> {
    let e = DIV_SCALE + sb;
    let ten = U256::new(10);
    let (n, d) = if e >= sa {
        (
            U256::new(ua).checked_mul(ten.checked_pow(e - sa)?)?,
            U256::new(ub),
        )
    } else {
        (
            U256::new(ua),
            U256::new(ub).checked_mul(ten.checked_pow(sa - e)?)?,
        )
    };
    u128::try_from(div_half_even_wide(n, d)).ok()
}

/// `n / d` in 256 bits, rounded half to even on the exact remainder.
#[cold]
fn div_half_even_wide(n: U256, d: U256) -> U256 {
    let (q, r) = n.div_rem(d);
    match r.cmp(&(d - r)) {
        Ordering::Greater => q + 1,
        Ordering::Equal => q + (q & 1),
        Ordering::Less => q,
    }
}

impl Default for Fixed {
    fn default() -> Self {
        raw(0, CANON)
    }
}

impl PartialEq for Fixed {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Fixed {}

impl PartialOrd for Fixed {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Fixed {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        if let (Some(a), Some(b)) = (self.canonical_mantissa(), other.canonical_mantissa()) {
            return a.cmp(&b);
        }
        let (a, sa, b, sb) = (
            self.mantissa(),
            self.scale(),
            other.mantissa(),
            other.scale(),
        );
        let aligned = match sa.cmp(&sb) {
            Ordering::Equal => Some((a, b)),
            Ordering::Less => align(a, sb - sa).map(|a| (a, b)),
            Ordering::Greater => align(b, sa - sb).map(|b| (a, b)),
        };
        match aligned {
            Some((a, b)) => a.cmp(&b),
            None => cmp_slow(a, sa, b, sb),
        }
    }
}

#[cold]
fn cmp_slow(a: i128, sa: u32, b: i128, sb: u32) -> Ordering {
    let s = sa.max(sb);
    match (widen(a, sa, s), widen(b, sb, s)) {
        (Some(a), Some(b)) => a.cmp(&b),
        // (never: scales are at most 76, and 10^76 × 2^127 < 2^256; by sign otherwise)
        _ => a.signum().cmp(&b.signum()),
    }
}

impl Add for Fixed {
    type Output = Self;
    #[inline(always)]
    #[allow(clippy::inline_always)] // the one-instruction case at every sum of money
    fn add(self, rhs: Self) -> Self {
        // the common case inline: two sums of money, their words added as they are
        if let (Some(a), Some(b)) = (self.canonical_mantissa(), rhs.canonical_mantissa()) {
            let m = a + b; // 120-bit operands: no overflow
            if fits(m) {
                return raw(m, CANON);
            }
        }
        // two values at the same scale above the canonical one
        let (a, sa, b, sb) = (self.mantissa(), self.scale(), rhs.mantissa(), rhs.scale());
        if sa == sb && sa >= CANON {
            let m = a + b; // 120-bit operands: no overflow
            if m.unsigned_abs() <= MANT_MAX {
                return raw(m, sa);
            }
        }
        self.add_general(rhs)
    }
}

impl Fixed {
    #[inline(never)]
    fn add_general(self, rhs: Self) -> Self {
        self.checked_add(rhs)
            .unwrap_or_else(|| Self::saturated(self.mantissa() < 0))
    }
}

impl Sub for Fixed {
    type Output = Self;
    #[inline(always)]
    #[allow(clippy::inline_always)] // as `add`
    fn sub(self, rhs: Self) -> Self {
        if let (Some(a), Some(b)) = (self.canonical_mantissa(), rhs.canonical_mantissa()) {
            let m = a - b; // 120-bit operands: no overflow
            if fits(m) {
                return raw(m, CANON);
            }
        }
        self + (-rhs)
    }
}

impl AddAssign for Fixed {
    #[inline(always)]
    #[allow(clippy::inline_always)] // as `add`
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for Fixed {
    #[inline(always)]
    #[allow(clippy::inline_always)] // as `add`
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl Neg for Fixed {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        if let Some(m) = self.canonical_mantissa() {
            return raw(-m, CANON);
        }
        raw(-self.mantissa(), self.scale())
    }
}

impl Mul for Fixed {
    type Output = Self;
    #[inline]
    fn mul(self, rhs: Self) -> Self {
        Money::checked_mul(self, rhs)
            .unwrap_or_else(|| Self::saturated((self.mantissa() < 0) != (rhs.mantissa() < 0)))
    }
}

impl fmt::Display for Fixed {
    /// The shortest exact decimal: no exponent, no trailing zeros (`"1.5"`, `"-100"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.mantissa();
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(m.unsigned_abs());
        let scale = self.scale() as usize;
        let sign = if m < 0 { "-" } else { "" };
        if m == 0 || scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let (int, frac) = if digits.len() > scale {
            digits.split_at(digits.len() - scale)
        } else {
            ("", digits)
        };
        let frac = frac.trim_end_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        if frac.is_empty() {
            return write!(f, "{sign}{int}");
        }
        let zeros = scale
            - (if digits.len() > scale {
                scale
            } else {
                digits.len()
            });
        write!(f, "{sign}{int}.{}{frac}", "0".repeat(zeros))
    }
}

impl FromStr for Fixed {
    type Err = rust_decimal::Error;
    /// A decimal's text, exactly (as `rust_decimal` reads it: at most 28 places).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Decimal::from_str(text.trim()).map(Self::from_decimal)
    }
}

impl fmt::Debug for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Money for Fixed {
    const NAME: &'static str = "decimal";
    const EXACT: bool = true;
    #[inline]
    fn zero() -> Self {
        raw(0, CANON)
    }
    #[inline]
    fn one() -> Self {
        raw(pow10_i(CANON), CANON)
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        raw(i128::from(v) * pow10_i(CANON), CANON) // |v| · 10^12 < 2^103
    }
    #[inline]
    fn from_mantissa(mantissa: i64, scale: u32) -> Self {
        let m = i128::from(mantissa);
        if scale <= CANON {
            // |m| < 2^63 times at most 10^12 < 2^40: inside the mantissa (as two i64
            // operands, one widening multiply)
            #[allow(clippy::cast_possible_truncation)] // 10^k for k <= 12
            let p = POW10[(CANON - scale) as usize] as i64;
            return raw(m * i128::from(p), CANON);
        }
        if scale <= MAX_SCALE {
            canon(m, scale)
        } else {
            from_wide(mantissa < 0, U256::new(m.unsigned_abs()), scale).unwrap_or_default()
        }
    }
    fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() {
            return None;
        }
        // A parameter keeps its own digits, at the fewest places (0.02 is 2 at two places):
        // a value divided by a price then needs the divisor scaled by few powers of ten.
        if v == 0.0 {
            // (zero, a minimum cost or a weight, at the scale of the money it meets)
            return Some(Self::zero());
        }
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            #[allow(clippy::cast_possible_truncation)] // whole and below 2^53
            return Some(raw(i128::from(v as i64), 0));
        }
        // the same digits, and the same refusals, as the decimal ledger's (normalized)
        <Decimal as Money>::from_f64(v).map(|d| raw(d.mantissa(), d.scale()))
    }
    #[inline]
    fn to_f64(self) -> f64 {
        // The correctly rounded nearest double, as Python's float(Decimal): Clinger's fast
        // path (a mantissa below 2^53 and 10^scale up to 10^22 are exact doubles, so one
        // IEEE division rounds correctly), after dropping the mantissa's trailing zeros
        // (cash of 1000000.5 is 1000000500000000000 at 12 places, 10000005 at one).
        let m = self.mantissa();
        if m == 0 {
            return 0.0;
        }
        if let Ok(mut u) = u64::try_from(m.unsigned_abs()) {
            let mut scale = self.scale() as usize;
            let exact = |u: u64, scale: usize| u < 1 << 53 && scale < POW10_F64.len();
            if !exact(u, scale) {
                // trailing zeros in steps of 8, 4, 2 and 1 digits (remainders by
                // constants); a mantissa already below 2^53 (a return, a price) keeps them:
                // the value is the same
                for (step, p) in [(8, 100_000_000u64), (4, 10_000), (2, 100), (1, 10)] {
                    while scale >= step && u % p == 0 {
                        u /= p;
                        scale -= step;
                    }
                }
            }
            if exact(u, scale) {
                #[allow(clippy::cast_precision_loss)] // below 2^53: exact
                let v = u as f64;
                let v = if scale == 0 { v } else { v / POW10_F64[scale] };
                return if m < 0 { -v } else { v };
            }
        }
        fixed_to_f64_by_text(self)
    }
    #[inline]
    fn approx_f64(self) -> f64 {
        const NEG_POW10: [f64; 17] = [
            1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13,
            1e-14, 1e-15, 1e-16,
        ];
        // from the two words (an i128's own conversion is a software routine)
        let m = self.mantissa();
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)] // an estimate
        let v = ((m >> 64) as i64 as f64) * 18_446_744_073_709_551_616.0 + (m as u64) as f64;
        match NEG_POW10.get(self.scale() as usize) {
            Some(p) => v * p,
            #[allow(clippy::cast_possible_wrap)] // scale <= 76
            None => v * 10f64.powi(-(self.scale() as i32)),
        }
    }
    #[inline]
    fn div_q(self, rhs: Self) -> Self {
        match self.div_q_mantissa(rhs) {
            Some(q) => raw(q, CANON),
            None => Self::saturated((self.mantissa() < 0) != (rhs.mantissa() < 0)),
        }
    }
    #[inline]
    fn checked_div_q(self, rhs: Self) -> Option<Self> {
        // (a mantissa at 12 places is always inside the range)
        self.div_q_mantissa(rhs).map(|q| raw(q, CANON))
    }
    #[inline]
    fn checked_mul(self, rhs: Self) -> Option<Self> {
        let (a, sa, b, sb) = (self.mantissa(), self.scale(), rhs.mantissa(), rhs.scale());
        // a whole number at twelve places (a slippage model's direction, ±1; a portfolio
        // value in whole dollars) adds no places to a product
        let ((a, sa), (b, sb)) = if sa + sb > CANON {
            (drop_whole(a, sa), drop_whole(b, sb))
        } else {
            ((a, sa), (b, sb))
        };
        let s = sa + sb;
        if s <= MAX_SCALE {
            if let Some(x) = a.checked_mul(b).and_then(|m| make(m, s)) {
                return Some(x);
            }
        }
        mul_stripped(a, sa, b, sb)
    }
    #[inline(always)]
    #[allow(clippy::inline_always)] // every fill's value and commission: the common case inline
    fn mul_int(self, n: i64) -> Self {
        if let Some(m) = self.canonical_i64() {
            // money below 9.2 million times a whole number: one widening multiply
            let p = i128::from(m) * i128::from(n);
            if fits(p) {
                return raw(p, CANON);
            }
        }
        self.mul_int_general(n)
    }
    fn sum_mul_int<I: Iterator<Item = (i64, Self)> + Clone>(terms: I) -> Self {
        // `0 + n₁·p₁ + n₂·p₂ + …` in one i128 at the canonical scale, where every price has
        // it and fits 64 bits (each term one widening multiply; 2^64 · 2^63 per term and a
        // book of at most a few thousand terms stay far inside i128); the fold otherwise
        let mut acc = 0i128;
        for (n, p) in terms.clone() {
            // one signed 64×64→128 multiply (below 2^126 in magnitude)
            let Some(m) = p.canonical_i64() else {
                return crate::num::sum_mul_int_generic(terms);
            };
            match acc.checked_add(i128::from(m) * i128::from(n)) {
                Some(a) => acc = a,
                None => return crate::num::sum_mul_int_generic(terms),
            }
        }
        make(acc, CANON).unwrap_or_else(|| crate::num::sum_mul_int_generic(terms))
    }
    #[inline(always)]
    #[allow(clippy::inline_always)] // as `mul_int`, which whole shares are
    fn mul_qty(self, units: i64, scale: u32) -> Self {
        if scale == 0 {
            return self.mul_int(units);
        }
        self.mul_qty_fractional(units, scale)
    }
    #[inline]
    fn quantize(self) -> Self {
        if self.canonical_mantissa().is_some() {
            return self;
        }
        if self.scale() <= CANON {
            return canon(self.mantissa(), self.scale());
        }
        raw(
            rescale_down(self.mantissa(), self.scale(), CANON, Round::HalfEven),
            CANON,
        )
    }
    #[inline]
    fn abs(self) -> Self {
        if let Some(m) = self.canonical_mantissa() {
            return raw(m.abs(), CANON);
        }
        raw(self.mantissa().abs(), self.scale())
    }
    #[inline]
    fn round_int(self) -> Self {
        self.round_to(0, Round::HalfEven)
    }
    #[inline]
    fn trunc(self) -> Self {
        self.round_to(0, Round::TowardZero)
    }
    #[inline]
    fn floor(self) -> Self {
        self.round_to(0, Round::Floor)
    }
    #[inline]
    fn round_dp(self, dp: u32) -> Self {
        self.round_to(dp, Round::HalfEven)
    }
    fn from_decimal_str(text: &str) -> Option<Self> {
        text.parse().ok()
    }
    #[inline]
    fn to_i64(self) -> i64 {
        let m = if self.scale() == 0 {
            self.mantissa()
        } else {
            rescale_down(self.mantissa(), self.scale(), 0, Round::TowardZero)
        };
        i64::try_from(m).unwrap_or(if m < 0 { i64::MIN } else { i64::MAX })
    }
    #[inline]
    fn round_shares(self) -> i64 {
        let (m, s) = if self.scale() < POW10.len() as u32 {
            (self.mantissa(), self.scale())
        } else {
            let to = POW10.len() as u32 - 1;
            (
                rescale_down(self.mantissa(), self.scale(), to, Round::TowardZero),
                to,
            )
        };
        round_shares_mantissa(m.unsigned_abs(), m < 0, s)
    }
    #[inline]
    fn target_shares(self, price: Self, held: i64) -> Option<i64> {
        if let Some(n) = target_shares_one_division(self, price, held) {
            return Some(n);
        }
        let q = self.div_q_mantissa(price)?;
        let x = q.checked_sub(i128::from(held) * pow10_i(CANON))?;
        Some(round_shares_mantissa(x.unsigned_abs(), x < 0, CANON))
    }
    fn to_exact_string(self) -> String {
        self.to_string()
    }
    #[inline]
    fn beyond_notional(self, a: i64, b: i64, scale: u32) -> bool {
        // exactly, in integers: |mantissa| × lots against MAX_NOTIONAL at the product's
        // places; at or below the bound is not beyond (the general path's quantized
        // product cannot exceed it either), above it the general path decides
        let lots = a.unsigned_abs().max(b.unsigned_abs());
        if let (Some(m), true) = (self.canonical_i64(), scale <= crate::num::MAX_LOT_SCALE) {
            // the common case, a price at 12 places below 9.2 million: one 64×64→128
            // multiply against the bound at 12 + scale places (below 10^36)
            #[allow(clippy::cast_sign_loss)] // MAX_NOTIONAL is positive
            let limit = MAX_NOTIONAL as u128 * POW10[(CANON + scale) as usize];
            if u128::from(m.unsigned_abs()) * u128::from(lots) <= limit {
                return false;
            }
        }
        let places = self.scale() + scale;
        let limit = POW10
            .get(places as usize)
            .and_then(|p| p.checked_mul(MAX_NOTIONAL.unsigned_abs().into()));
        match limit {
            Some(limit)
                if self
                    .mantissa()
                    .unsigned_abs()
                    .checked_mul(lots.into())
                    .is_some_and(|v| v <= limit) =>
            {
                false
            }
            _ => beyond_notional_generic(self, a, b, scale),
        }
    }
    fn canonical(self) -> Self {
        canon(self.mantissa(), self.scale())
    }
    fn add_quantize_fill(self, x: Self, scale: u32) -> Self {
        // The exact sum at its own places (one i128 multiply and add; 256 bits past
        // that), rounded once, half-even, to the fill price's `t` places. The plain sum
        // would be rounded at 35 digits first where the slippage term has ~37 places (the
        // volume-share impact), and a tie could then come out of that first rounding.
        let t = DIV_SCALE - scale.min(DIV_SCALE);
        let (c, sc, m, sx) = (self.mantissa(), self.scale(), x.mantissa(), x.scale());
        let s = sc.max(sx);
        if s <= t {
            return (self + x).quantize_fill(scale); // exact, and nothing to round
        }
        #[allow(clippy::cast_possible_wrap)] // powers of ten up to 10^38 < 2^127
        let scaled = |v: i128, from: u32| v.checked_mul(*POW10.get((s - from) as usize)? as i128);
        let sum = scaled(c, sc)
            .zip(scaled(m, sx))
            .and_then(|(a, b)| a.checked_add(b));
        let rounded = match sum {
            Some(v) => make(rescale_down(v, s, t, Round::HalfEven), t),
            None => round_wide(widen(c, sc, s).zip(widen(m, sx, s)), s, t),
        };
        rounded.unwrap_or_else(|| (self + x).quantize_fill(scale))
    }
    #[inline]
    fn max(self, other: Self) -> Self {
        if other > self {
            other
        } else {
            self
        }
    }
    #[inline]
    fn min(self, other: Self) -> Self {
        if other < self {
            other
        } else {
            self
        }
    }
    #[inline]
    fn is_zero(self) -> bool {
        self.lo == 0 && self.hi << 8 == 0
    }
    #[inline]
    fn same(self, other: Self) -> bool {
        self.lo == other.lo && self.hi == other.hi
    }
}

impl Fixed {
    /// [`Money::mul_int`] past its inline case.
    #[inline(never)]
    fn mul_int_general(self, n: i64) -> Self {
        let (m, s) = (self.mantissa(), self.scale());
        if let Ok(mu) = u64::try_from(m.unsigned_abs()) {
            // one 64×64→128 multiply, which cannot overflow
            let p = u128::from(mu) * u128::from(n.unsigned_abs());
            if p <= MANT_MAX {
                #[allow(clippy::cast_possible_wrap)] // at most MANT_MAX
                let p = p as i128;
                let p = if (m < 0) == (n < 0) { p } else { -p };
                if s >= CANON {
                    return raw(p, s);
                }
                // a parameter's places (a cost of 0.001 a share): the product at the
                // canonical scale, where the sums of money it joins are single additions
                if let Some(x) = make(p, s) {
                    return x;
                }
            }
        }
        match self.mantissa().checked_mul(i128::from(n)) {
            Some(m) if in_range(m, self.scale()) => raw(m, self.scale()),
            _ => mul_slow(self.mantissa(), i128::from(n), self.scale())
                .unwrap_or_else(|| Self::saturated((self.mantissa() < 0) != (n < 0))),
        }
    }

    /// [`Money::mul_qty`] of lots finer than a share.
    #[inline(never)]
    fn mul_qty_fractional(self, units: i64, scale: u32) -> Self {
        // the price times the lots at scale + k places, then quantized: the value of
        // `(units × 10^-k) × price`, quantized, without lifting the quantity to 12 places
        let s = self.scale() + scale;
        match self.mantissa().checked_mul(i128::from(units)) {
            Some(m) if s <= MAX_SCALE && m.unsigned_abs() <= MANT_MAX => raw(m, s).quantize(),
            _ => (Self::from_mantissa(units, scale) * self).quantize(),
        }
    }

    /// Rounded to `dp` places (nothing to do where it has no more), at the canonical scale
    /// where that has room.
    #[inline]
    fn round_to(self, dp: u32, mode: Round) -> Self {
        if self.scale() <= dp {
            return self;
        }
        canon(rescale_down(self.mantissa(), self.scale(), dp, mode), dp)
    }
}

/// [`Money::target_shares`] in one integer division, where the divisor fits 64 bits:
/// `value / price − held` is `(n − held·d) / d`; its magnitude `i + r/d` is, rounded to
/// [`DIV_SCALE`] places half-even, what the general path's quotient less `held` is
/// (subtracting a whole number commutes with that rounding: `held · 10^12` is even). By
/// zipline's share rule the count is then `i + 1` where the rounded fraction is at least
/// 0.9999 (within 0.0001 of the next share, or carried to it), `i` otherwise — and the
/// rounded fraction is at least 0.9999 exactly where `2·r·10^12 >= 1_999_799_999_999·d`
/// (a tie at the threshold rounds up: 999900000000 is even).
#[inline]
fn target_shares_one_division(value: Fixed, price: Fixed, held: i64) -> Option<i64> {
    let (mv, sv, mp, sp) = (
        value.mantissa(),
        value.scale(),
        price.mantissa(),
        price.scale(),
    );
    let (n, d) = if sv >= sp {
        (mv, align(mp, sv - sp)?)
    } else {
        (align(mv, sp - sv)?, mp)
    };
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let d = u64::try_from(d).ok().filter(|d| *d != 0)?;
    // |held| ≤ 2^63 and d < 2^64: the product is inside an i128
    let t = n.checked_sub(i128::from(held) * i128::from(d))?;
    let (i, r) = div_rem(t.unsigned_abs(), u128::from(d));
    // r < d < 2^64: two 64×64→128 multiplies
    #[allow(clippy::cast_possible_truncation)] // r < d
    let up =
        u128::from(r as u64) * (2 * POW10[DIV_SCALE as usize]) >= 1_999_799_999_999 * u128::from(d);
    let mag = i + u128::from(up);
    Some(if t < 0 {
        i64::try_from(mag).map_or(i64::MIN, |m| -m)
    } else {
        i64::try_from(mag).unwrap_or(i64::MAX)
    })
}

/// A whole number at the canonical scale or above, 12 places fewer; anything else as it is.
/// (One 64-bit remainder by a constant.)
#[inline]
fn drop_whole(m: i128, scale: u32) -> (i128, u32) {
    const WHOLE: u64 = 1_000_000_000_000;
    if scale >= CANON {
        if let Ok(u) = u64::try_from(m.unsigned_abs()) {
            if u % WHOLE == 0 {
                let q = i128::from(u / WHOLE);
                return (if m < 0 { -q } else { q }, scale - CANON);
            }
        }
    }
    (m, scale)
}

/// `m × 10^-scale` without its trailing zeros (a whole number at the canonical scale,
/// `±1 × 10^12`, is `±1` at none).
fn strip(m: i128, scale: u32) -> (i128, u32) {
    let (mut u, mut s) = (m.unsigned_abs(), scale);
    if u == 0 {
        return (0, 0);
    }
    while s > 0 && u % 10 == 0 {
        u /= 10;
        s -= 1;
    }
    #[allow(clippy::cast_possible_wrap)] // at most |m|
    let u = u as i128;
    (if m < 0 { -u } else { u }, s)
}

/// [`Money::checked_mul`] where the plain product has too many places or digits: the
/// same exact product of the operands without their trailing zeros (a slippage model's
/// `direction`, ±1 at 12 places, adds none), and only then 256 bits and a rounding.
#[cold]
fn mul_stripped(a: i128, sa: u32, b: i128, sb: u32) -> Option<Fixed> {
    let ((a, sa), (b, sb)) = (strip(a, sa), strip(b, sb));
    let s = sa + sb;
    if s <= MAX_SCALE {
        if let Some(x) = a.checked_mul(b).and_then(|m| make(m, s)) {
            return Some(x);
        }
    }
    mul_slow(a, b, s)
}

/// An exact sum of two 256-bit values at `s` places rounded half-even to `t < s` places.
#[cold]
fn round_wide(terms: Option<(I256, I256)>, s: u32, t: u32) -> Option<Fixed> {
    let (a, b) = terms?;
    let v = a.checked_add(b)?;
    let q = div_half_even_wide(v.unsigned_abs(), U256::new(10).checked_pow(s - t)?);
    let q = i128::try_from(q).ok()?;
    make(if v < 0 { -q } else { q }, t)
}

/// [`Money::checked_mul`] past an `i128` mantissa or [`MAX_SCALE`]: the exact product in
/// 256 bits, rounded to what fits.
#[cold]
fn mul_slow(a: i128, b: i128, scale: u32) -> Option<Fixed> {
    let mag = U256::new(a.unsigned_abs()) * U256::new(b.unsigned_abs()); // < 2^254
    from_wide((a < 0) != (b < 0), mag, scale)
}

/// [`Money::to_f64`] beyond its fast path: through the exact text, as Python's
/// `float(Decimal)` reads it.
#[cold]
#[inline(never)]
fn fixed_to_f64_by_text(x: Fixed) -> f64 {
    f64::from_str(&x.to_string()).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fx(text: &str) -> Fixed {
        Fixed::from_decimal_str(text).expect("a decimal")
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).expect("a decimal")
    }

    /// The same value as `Decimal`, whatever the places of either.
    fn same_value(f: Fixed, d: Decimal) -> bool {
        Decimal::from_str(&f.to_string()).is_ok_and(|x| x == d)
    }

    #[test]
    fn sums_past_the_mantissa_round_on_either_side() {
        // 2^119 at twelve places is inside the range but not the 120-bit mantissa: both
        // signs round to eleven places (the canonical words could hold -2^119; they don't)
        #[allow(clippy::cast_possible_wrap)]
        let max = MANT_MAX as i128;
        for (a, b) in [(max, 1), (-max, -1)] {
            let sum = raw(a, CANON) + raw(b, CANON);
            assert_eq!(sum.scale(), CANON - 1, "{a} + {b}");
            assert!(fits(sum.mantissa()));
            let diff = raw(a, CANON) - raw(-b, CANON);
            assert!(diff.same(sum), "{a} - {}", -b);
        }
    }

    #[test]
    fn values_print_their_shortest_exact_decimal() {
        assert_eq!(Fixed::from_i64(100).to_string(), "100");
        assert_eq!(fx("1.50").to_string(), "1.5");
        assert_eq!(fx("-0.005").to_string(), "-0.005");
        assert_eq!(fx("0.5").to_string(), "0.5");
        assert_eq!(Fixed::zero().to_string(), "0");
        assert_eq!((-fx("12.340")).to_string(), "-12.34");
        assert_eq!(fx("0.3333333333333333").to_string(), "0.3333333333333333");
        assert_eq!(Fixed::from_mantissa(-7, 3).to_string(), "-0.007");
        assert_eq!(format!("{:?}", fx("2.50")), "2.5");
    }

    #[test]
    fn money_lives_at_twelve_places_and_parameters_keep_theirs() {
        assert_eq!(Fixed::from_mantissa(12345, 2).scale(), 12);
        assert_eq!(Fixed::from_i64(7).scale(), 12);
        let third = Fixed::from_f64(1.0 / 3.0).unwrap();
        assert_eq!(third.scale(), 16);
        assert_eq!(third.to_string(), "0.3333333333333333");
        // the product is exact: 28 places
        let v = fx("1000000.123456789012") * third;
        assert!(same_value(
            v,
            dec("1000000.123456789012") * dec("0.3333333333333333")
        ));
        // a limit price with more places than a bar's price still compares exactly
        assert!(Fixed::from_f64(95.140_000_000_000_01).unwrap() > fx("95.14"));
    }

    #[test]
    fn quotients_round_half_even_at_twelve_places() {
        assert_eq!(
            Fixed::one().div_q(Fixed::from_i64(3)).to_string(),
            "0.333333333333"
        );
        assert_eq!(
            Fixed::from_i64(2).div_q(Fixed::from_i64(3)).to_string(),
            "0.666666666667"
        );
        // exact ties: ...5 at the 13th place goes to the even neighbour
        assert_eq!(
            fx("0.0000000000025").div_q(Fixed::one()).to_string(),
            "0.000000000002"
        );
        assert_eq!(
            fx("0.0000000000035").div_q(Fixed::one()).to_string(),
            "0.000000000004"
        );
        assert_eq!(
            fx("-0.0000000000035").div_q(Fixed::one()).to_string(),
            "-0.000000000004"
        );
        assert_eq!(Fixed::one().checked_div_q(Fixed::zero()), None);
        // a numerator past u128 after scaling goes through 256 bits
        let (a, b) = ("12345678.123456789012", "0.000000000007000000000000");
        assert_eq!(fx(b).scale(), 24);
        assert!(same_value(fx(a).div_q(fx(b)), Money::div_q(dec(a), dec(b))));
    }

    #[test]
    fn beyond_the_range_is_refused_like_rust_decimal() {
        let max = Fixed::from_decimal(Decimal::MAX);
        assert!(max.checked_mul(Fixed::from_i64(2)).is_none());
        assert!(Decimal::MAX.checked_mul(Decimal::TWO).is_none());
        assert!(Fixed::from_i64(10i64.pow(15))
            .checked_mul(fx("1e13"))
            .is_some());
        assert!(Fixed::from_i64(10i64.pow(15))
            .checked_mul(fx("1e14"))
            .is_none());
        // unchecked operations saturate instead of panicking
        assert!(max + max > max - Fixed::one());
        assert_eq!(Fixed::from_f64(f64::NAN), None);
        assert_eq!(Fixed::from_f64(1e-30), None);
    }

    #[test]
    fn products_past_38_digits_round_half_even() {
        // 28 places times 28 places: rounded to what the mantissa holds, not refused
        let a = fx("0.1234567890123456789012345678");
        let p = a * a;
        assert!(p.scale() <= MAX_SCALE);
        // the exact square, 0.0152415787532388367504953515403139767652796829976527968…,
        // to 37 places (35 digits: what the mantissa holds)
        assert_eq!(p.to_string(), "0.0152415787532388367504953515403139768");
        assert_eq!(p.scale(), 37);
    }

    fn fixed_and_decimal() -> impl Strategy<Value = (Fixed, Decimal)> {
        // mantissas below 10^13 at up to 12 places: every sum and product below stays
        // within rust_decimal's exact 28 digits, so it is an oracle
        (-(10i64.pow(13))..10i64.pow(13), 0u32..=12).prop_map(|(m, s)| {
            (
                Fixed::from_mantissa(m, s),
                Decimal::from_i128_with_scale(i128::from(m), s),
            )
        })
    }

    /// A mantissa anywhere in the 120 bits, the edges and the 64-bit boundary included.
    fn any_mantissa() -> impl Strategy<Value = i128> {
        #[allow(clippy::cast_possible_wrap)]
        let max = MANT_MAX as i128;
        prop_oneof![
            -max..=max,
            -(1i128 << 70)..(1i128 << 70),
            prop::sample::select(vec![
                0,
                1,
                -1,
                max,
                -max,
                max - 1,
                -max + 1,
                i128::from(i64::MAX),
                i128::from(i64::MIN),
                i128::from(i64::MAX) + 1,
                i128::from(i64::MIN) - 1,
                1i128 << 118,
                -(1i128 << 118),
            ]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The two words hold every mantissa at every scale (money's own two's-complement
        /// words at the canonical one), and sums, differences, negations and comparisons
        /// across scales are exact: each against the same operation on 256-bit integers
        /// at the larger scale.
        #[test]
        fn the_words_hold_every_value_and_operations_across_scales_are_exact(
            a in any_mantissa(), sa in 0u32..=MAX_SCALE,
            b in any_mantissa(), sb in 0u32..=MAX_SCALE,
        ) {
            // inside the range (beyond it an operation saturates, as rust_decimal refuses):
            // a mantissa beyond it is taken modulo 2^95, inside it at every scale
            let inside = |m: i128, s: u32| if in_range(m, s) { m } else { m % (1i128 << 95) };
            let (a, b) = (inside(a, sa), inside(b, sb));
            let (x, y) = (raw(a, sa), raw(b, sb));
            prop_assert_eq!((x.mantissa(), x.scale()), (a, sa));
            prop_assert_eq!((y.mantissa(), y.scale()), (b, sb));
            prop_assert_eq!(x.is_zero(), a == 0);
            prop_assert_eq!(x.canonical_mantissa(), (sa == CANON).then_some(a));
            prop_assert_eq!(
                x.canonical_i64(),
                if sa == CANON { i64::try_from(a).ok() } else { None }
            );
            prop_assert_eq!(((-x).mantissa(), (-x).scale()), (-a, sa));
            prop_assert_eq!((x.abs().mantissa(), x.abs().scale()), (a.abs(), sa));
            let s = sa.max(sb);
            let wide = |v: Fixed| widen(v.mantissa(), v.scale(), s).unwrap();
            prop_assert_eq!(x.cmp(&y), wide(x).cmp(&wide(y)));
            let limit = I256::new(1i128 << RANGE_BITS) * I256::new(10).pow(s);
            let exact = |r: Fixed, want: I256| {
                // a result kept at the operands' places or more is the exact one; one with
                // fewer was rounded past 35 digits (checked elsewhere)
                want.unsigned_abs() >= limit.unsigned_abs() || r.scale() < s || widen(r.mantissa(), r.scale(), r.scale()).unwrap()
                    == want * I256::new(10).pow(r.scale() - s)
            };
            prop_assert!(exact(x + y, wide(x) + wide(y)));
            prop_assert!(exact(x - y, wide(x) - wide(y)));
            let sum = x + y;
            if sum.scale() >= s && (wide(x) + wide(y)).unsigned_abs() < limit.unsigned_abs() {
                prop_assert_eq!(sum.cmp(&x), wide(y).cmp(&I256::ZERO));
            }
        }

        /// Every operation gives rust_decimal's value where rust_decimal is exact.
        #[test]
        fn operations_agree_with_rust_decimal(
            (a, da) in fixed_and_decimal(),
            (b, db) in fixed_and_decimal(),
            n in -1_000_000i64..1_000_000,
            held in -1_000_000i64..1_000_000,
            dp in 0u32..=12,
        ) {
            prop_assert!(same_value(a + b, da + db));
            prop_assert!(same_value(a - b, da - db));
            prop_assert!(same_value(a * b, da * db));
            prop_assert!(same_value(a.mul_int(n), da.mul_int(n)));
            prop_assert_eq!(a.cmp(&b), da.cmp(&db));
            prop_assert_eq!(a == b, da == db);
            prop_assert!(same_value(a.quantize(), Money::quantize(da)));
            prop_assert!(same_value(a.round_dp(dp), Money::round_dp(da, dp)));
            prop_assert!(same_value(a.round_int(), Money::round_int(da)));
            prop_assert!(same_value(a.trunc(), Money::trunc(da)));
            prop_assert!(same_value(a.floor(), Money::floor(da)));
            prop_assert!(same_value(a.abs(), Money::abs(da)));
            prop_assert_eq!(a.to_i64(), Money::to_i64(da));
            prop_assert_eq!(a.round_shares(), Money::round_shares(da));
            prop_assert_eq!(a.to_f64().to_bits(), Money::to_f64(da).to_bits());
            prop_assert_eq!(a.is_zero(), Money::is_zero(da));
            let k = u32::try_from(n.rem_euclid(9)).unwrap();
            prop_assert!(same_value(a.mul_qty(held, k), Money::mul_qty(da, held, k)));
            prop_assert!(same_value(a.quantize_fill(k), Money::quantize_fill(da, k)));
            if !db.is_zero() {
                prop_assert!(same_value(a.div_q(b), Money::div_q(da, db)));
                prop_assert_eq!(
                    a.target_shares(b, held),
                    Money::target_shares(da, db, held)
                );
            }
        }

        /// The one-division share count is the quotient path's (div_q, less held, zipline's
        /// rule), at any pair of scales: values and prices near a share boundary included.
        #[test]
        fn one_division_target_shares_equal_the_quotient_path(
            mv in prop_oneof![-(10i128.pow(20))..10i128.pow(20), -1000i128..1000],
            sv in 0u32..=20,
            mp in prop_oneof![1i128..10i128.pow(16), 1i128..1000],
            sp in 0u32..=14,
            negative_price: bool,
            held in prop_oneof![-(1i64 << 40)..(1i64 << 40), -10i64..10],
            nudge in -3i128..=3,
        ) {
            let price = raw(if negative_price { -mp } else { mp }, sp);
            // half the cases: a value within a few units of a whole number of shares
            let near = (mp * (mv % 1000))
                .checked_mul(pow10_i(sv.saturating_sub(sp)))
                .filter(|m| m.unsigned_abs() < MANT_MAX / 2);
            let value = match near {
                Some(m) if nudge != 0 && sv >= sp => raw(m + nudge, sv),
                _ => raw(mv, sv),
            };
            let general = value.div_q_mantissa(price).and_then(|q| {
                let x = q.checked_sub(i128::from(held) * pow10_i(CANON))?;
                Some(round_shares_mantissa(x.unsigned_abs(), x < 0, CANON))
            });
            // (where the quotient is past the mantissa, the ledger saturates by sign, as
            // the one division does: beyond 2^63 shares)
            let general = general.unwrap_or(if (mv < 0) == negative_price {
                i64::MAX
            } else {
                i64::MIN
            });
            if let Some(fast) = target_shares_one_division(value, price, held) {
                prop_assert_eq!(fast, general);
            }
        }

        /// The integer notional bound is the decimal ledger's, near the bound too.
        #[test]
        fn the_notional_bound_is_the_decimal_ledgers(
            m in prop_oneof![1i64..10i64.pow(16), 999_999i64..1_000_001],
            s in 0u32..=12,
            // (rust_decimal's own product panics past 2^96: the ledger refuses such
            // share counts first)
            a in prop_oneof![-(10i64.pow(12))..10i64.pow(12), -1000i64..1000],
            b in -(10i64.pow(12))..10i64.pow(12),
            k in 0u32..=8,
        ) {
            let (f, d) = (Fixed::from_mantissa(m, s), Decimal::new(m, s));
            prop_assert_eq!(
                f.beyond_notional(a, b, k),
                beyond_notional_generic(d, a, b, k)
            );
            // and exactly at the bound: 10^15 is not beyond, one unit more is
            let at = Fixed::from_i64(10i64.pow(15));
            prop_assert!(!at.beyond_notional(1, 1, 0));
            prop_assert!((at + Fixed::from_mantissa(1, 12)).beyond_notional(1, 0, 0));
        }

        /// A book's value in one accumulator is the fold's (and rust_decimal's).
        #[test]
        fn a_books_value_is_the_folds(
            terms in prop::collection::vec(
                (prop_oneof![-(1i64 << 40)..(1i64 << 40), -1000i64..1000], 1i64..10i64.pow(15), 0u32..=14),
                0..60,
            ),
        ) {
            let f: Vec<(i64, Fixed)> =
                terms.iter().map(|&(n, m, s)| (n, Fixed::from_mantissa(m, s))).collect();
            let d: Vec<(i64, Decimal)> = terms.iter().map(|&(n, m, s)| (n, Decimal::new(m, s))).collect();
            let one = Fixed::sum_mul_int(f.iter().copied());
            prop_assert_eq!(one, crate::num::sum_mul_int_generic(f.iter().copied()));
            // (rust_decimal is exact only while the sum fits its 28 digits)
            if terms.iter().all(|&(n, m, _)| i128::from(n).abs() * i128::from(m) < 10i128.pow(15)) {
                prop_assert!(same_value(one, Decimal::sum_mul_int(d.iter().copied())));
            }
        }

        /// A fill price rounded once from the exact sum is the decimal ledger's, and the
        /// I256 path's where the sum is past 35 digits.
        #[test]
        fn fill_prices_round_once_from_the_exact_sum(
            c in 1i64..10i64.pow(10),
            sc in 0u32..=6,
            m in prop_oneof![-(10i128.pow(30))..10i128.pow(30), -100i128..100],
            sx in 0u32..=37,
            k in 0u32..=8,
        ) {
            let close = Fixed::from_mantissa(c, sc);
            let x = raw(m, sx);
            let once = close.add_quantize_fill(x, k);
            // the oracle: the exact sum in 256 bits, rounded half-even to 12 - k places
            let t = DIV_SCALE - k;
            let s = sx.max(12);
            let exact = widen(close.mantissa(), close.scale(), s).unwrap()
                + widen(m, sx, s).unwrap();
            let expect = from_wide(exact < 0, exact.unsigned_abs(), s).map(|_| {
                let d = I256::new(10).pow(s - t);
                let (q, r) = (exact.div_euclid(d), exact.rem_euclid(d));
                let up = match (r * 2).cmp(&d) {
                    Ordering::Greater => true,
                    Ordering::Equal => q % 2 != 0,
                    Ordering::Less => false,
                };
                q + I256::from(up)
            });
            if let Some(expect) = expect {
                prop_assert_eq!(widen(once.mantissa(), once.scale(), 40).unwrap(), expect * I256::new(10).pow(40 - t));
            }
            // (rust_decimal is exact while the sum fits 28 digits)
            if sx <= 16 && m.unsigned_abs() < 10u128.pow(16) {
                let d = Decimal::from_i128_with_scale(m, sx);
                prop_assert!(same_value(once, Money::add_quantize_fill(Decimal::new(c, sc), d, k)));
            }
        }

        /// Floats enter with the same digits and the same refusals.
        #[test]
        fn floats_enter_as_the_decimal_ledger_reads_them(
            v in prop_oneof![any::<f64>(), -1e6f64..1e6, -1.0f64..1.0],
        ) {
            let (f, d) = (Fixed::from_f64(v), <Decimal as Money>::from_f64(v));
            prop_assert_eq!(f.is_some(), d.is_some());
            if let (Some(f), Some(d)) = (f, d) {
                prop_assert!(same_value(f, d));
                prop_assert!(f.to_f64() == v); // (-0.0 enters as 0)
            }
        }

        /// Wide operands (28-place parameters, values near the range): sums undo,
        /// products commute, and a quotient is within half a unit of the 12th place of
        /// the exact one (checked in 256 bits).
        #[test]
        fn wide_operands_stay_exact_or_round_once(
            ma in -(1i128 << 95)..(1i128 << 95),
            sa in 0u32..=28,
            mb in -(1i128 << 95)..(1i128 << 95),
            sb in 0u32..=28,
        ) {
            let a = Fixed::from_decimal(Decimal::from_i128_with_scale(ma, sa));
            let b = Fixed::from_decimal(Decimal::from_i128_with_scale(mb, sb));
            if let Some(s) = a.checked_add(b) {
                if s.scale() == a.scale().max(b.scale()) {
                    prop_assert_eq!(s - b, a);
                }
            }
            prop_assert_eq!(a.checked_mul(b), b.checked_mul(a));
            if mb != 0 {
                if let Some(q) = a.div_q_mantissa(b) {
                    // |q·b·10^-12 − a| ≤ |b|·10^-12 / 2, at scale 12 + sb + sa
                    let s = DIV_SCALE + sb + sa;
                    let qb = I256::new(q) * I256::new(mb) * I256::new(10).pow(sa);
                    let av = I256::new(ma) * I256::new(10).pow(s - sa);
                    let half = I256::new(mb).abs() * I256::new(10).pow(sa);
                    let diff2 = ((qb - av) * 2).abs();
                    prop_assert!(diff2 < half || (diff2 == half && q % 2 == 0));
                }
            }
        }
    }
}
