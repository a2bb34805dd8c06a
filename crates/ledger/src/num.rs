//! The number type a ledger runs on: exact `Decimal` (default) or `f64` (measured twin).
//!
//! Every division in the ledger goes through [`Money::div_q`], which quantizes the
//! quotient to [`DIV_SCALE`] decimal places with round-half-even. Python's `decimal`
//! rounds to 28 *significant* digits and `rust_decimal` to 28 *decimal places*; quantizing
//! explicitly at one documented scale is what lets the pure-Python reference engine agree
//! with this ledger to the last digit.

use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places every quotient is quantized to (round half to even).
pub const DIV_SCALE: u32 = 12;

/// Largest order or position, in shares. With [`MAX_NOTIONAL`] this keeps every money
/// value below 10^16 with 12 decimals: 28 digits, inside `rust_decimal`'s exact range, so
/// the ledger never rounds silently. Larger requests are refused.
pub const MAX_SHARES: i64 = 1_000_000_000_000_000;

/// Finest lot an asset may trade in: quantities are whole multiples of `10^-MAX_LOT_SCALE`
/// at most (a bundle's `lot_size`, e.g. 0.0001 for a coin traded in ten-thousandths).
/// Amounts are kept as integer counts of lots; a price times such a count keeps its
/// digits inside `rust_decimal`'s exact range (see [`Money::mul_qty`]).
pub const MAX_LOT_SCALE: u32 = 8;

/// `10^scale` for a lot scale (at most [`MAX_LOT_SCALE`]; `i64::MAX` past `10^18`, where
/// no lot scale reaches). From the powers-of-ten table: the power was a loop on every fill's bounds check.
#[must_use]
pub const fn lots_per_unit(scale: u32) -> i64 {
    if scale <= 18 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // <= 10^18
        let lots = POW10[scale as usize] as i64;
        lots
    } else {
        i64::MAX
    }
}

/// `x × 10^scale`: a quantity or a value counted in lots of `10^-scale` instead of whole
/// units (exact for a decimal), or `None` beyond the number type's range.
pub fn in_lots<N: Money>(x: N, scale: u32) -> Option<N> {
    if scale == 0 {
        Some(x)
    } else {
        x.checked_mul(N::from_i64(lots_per_unit(scale)))
    }
}

/// A quantity of `units` lots of `10^-scale` for a message: `"150 shares"` where the lot
/// is one share, the decimal quantity (`"0.5"`) otherwise.
#[must_use]
pub fn qty_text(units: i64, scale: u32) -> String {
    if scale == 0 {
        format!("{units} shares")
    } else {
        Decimal::new(units, scale.min(28)).normalize().to_string()
    }
}

/// Largest capital base, order value or position value the ledger accepts (10^15).
pub const MAX_NOTIONAL: i64 = 1_000_000_000_000_000;

/// Arithmetic the ledger needs from its number type.
pub trait Money:
    Copy
    + Clone
    + Debug
    + Display
    + Default
    + PartialEq
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + Send
    + Sync
    + 'static
{
    /// `"decimal"` or `"float"`: the name users pass as `ledger=`.
    const NAME: &'static str;
    /// Whether sums, products and exact quotients are exact (so `(n·p) / n == p`).
    const EXACT: bool;
    fn zero() -> Self;
    fn one() -> Self;
    fn from_i64(v: i64) -> Self;
    /// An exact fixed-point value `mantissa * 10^-scale` (bundle prices).
    fn from_mantissa(mantissa: i64, scale: u32) -> Self;
    /// A float parameter (a weight, a cost) converted through its shortest round-trip
    /// decimal representation, as Python's `repr(float)` prints it (on an exact tie between
    /// two equally short digit strings, the even one: Rust's `Display` would take the one
    /// away from zero). `None` for NaN and infinities, or a value out of range.
    fn from_f64(v: f64) -> Option<Self>;
    fn to_f64(self) -> f64;
    /// `self` as `f64` to within a few units in the last place (an estimate for bounds
    /// checks: cheaper than the correctly rounded [`Money::to_f64`] where that divides).
    fn approx_f64(self) -> f64 {
        self.to_f64()
    }
    /// `self / rhs` quantized to [`DIV_SCALE`] places, half-even. `rhs` must not be zero.
    fn div_q(self, rhs: Self) -> Self;
    /// [`Money::div_q`], or `None` where the quotient is beyond the number type's range.
    fn checked_div_q(self, rhs: Self) -> Option<Self>;
    /// `self * rhs`, or `None` where the product is beyond the number type's range
    /// (never for `f64`, which goes to infinity as the reference's floats do).
    fn checked_mul(self, rhs: Self) -> Option<Self>;
    /// Round to [`DIV_SCALE`] places, half-even. Fill prices and commissions pass through
    /// this, so every later sum of money stays exact within 28 digits.
    fn quantize(self) -> Self;
    fn abs(self) -> Self;
    /// Round to a whole number, half to even.
    fn round_int(self) -> Self;
    /// Drop the fraction (toward zero).
    fn trunc(self) -> Self;
    /// Largest whole number not above `self`.
    fn floor(self) -> Self;
    /// Round to `dp` decimal places, half to even.
    fn round_dp(self, dp: u32) -> Self;
    /// Parse a decimal string (bundle adjustments store ratios and amounts as text).
    fn from_decimal_str(text: &str) -> Option<Self>;
    /// As an integer count; the value must already be whole and in range.
    fn to_i64(self) -> i64;
    /// zipline's share rounding of an order quantity (see [`round_order_amount`]).
    fn round_shares(self) -> i64 {
        round_shares_generic(self)
    }
    /// Shares to order to go from `held` shares to `self / price` (zipline's
    /// `order_target_value` arithmetic): `round_order_amount(self.div_q(price) − held)`, or
    /// `None` where the quotient is beyond the number type's range. `price` is not zero.
    fn target_shares(self, price: Self, held: i64) -> Option<i64> {
        target_shares_generic(self, price, held)
    }
    /// `n * self` (a share count times a price or cost), as `N::from_i64(n) * self`.
    fn mul_int(self, n: i64) -> Self {
        Self::from_i64(n) * self
    }
    /// `self` times a quantity of `units` lots of `10^-scale` (a price times an amount).
    /// Whole shares (scale 0) are [`Money::mul_int`]; finer lots are quantized to
    /// [`DIV_SCALE`] places, half-even (a no-op where the fill price carries at most
    /// `DIV_SCALE - scale` places, as [`Money::quantize_fill`] leaves it).
    fn mul_qty(self, units: i64, scale: u32) -> Self {
        if scale == 0 {
            self.mul_int(units)
        } else {
            (Self::from_mantissa(units, scale) * self).quantize()
        }
    }
    /// A fill price for an asset traded in lots of `10^-scale`: [`Money::quantize`] to
    /// `DIV_SCALE - scale` places, so a price times a whole number of lots has at most
    /// [`DIV_SCALE`] places and every sum of money stays exact.
    fn quantize_fill(self, scale: u32) -> Self {
        if scale == 0 {
            self.quantize()
        } else {
            self.round_dp(DIV_SCALE - scale.min(DIV_SCALE))
        }
    }
    /// Whether `self` (a price) times `a` or `b` lots of `10^-scale` is beyond
    /// [`MAX_NOTIONAL`] in value: see [`beyond_notional`].
    fn beyond_notional(self, a: i64, b: i64, scale: u32) -> bool {
        beyond_notional_generic(self, a, b, scale)
    }
    /// The same value in the representation money has (for [`crate::Fixed`], at 12 places
    /// where it has fewer): a model parameter, which then multiplies and adds like money.
    fn canonical(self) -> Self {
        self
    }
    /// `(self + x).quantize_fill(scale)`: a fill price from a bar's price (`self`, at most
    /// [`DIV_SCALE`] places) and a slippage term with many places (`close × share² ×
    /// impact`, `close × basis points`), rounded once from the exact sum.
    fn add_quantize_fill(self, x: Self, scale: u32) -> Self {
        (self + x).quantize_fill(scale)
    }
    /// The exact value as text, as `Display` prints it.
    fn to_exact_string(self) -> String {
        self.to_string()
    }
    /// `0 + n₁·p₁ + n₂·p₂ + …` (a book's value), as that left fold of [`Money::mul_int`].
    fn sum_mul_int<I: Iterator<Item = (i64, Self)> + Clone>(terms: I) -> Self {
        sum_mul_int_generic(terms)
    }
    fn is_zero(self) -> bool {
        self == Self::zero()
    }
    /// Whether `self` and `other` have the same representation (then the same value; the
    /// same value may have several): a cache's key test, cheaper than a comparison.
    fn same(self, other: Self) -> bool;
    fn max(self, other: Self) -> Self {
        if other > self {
            other
        } else {
            self
        }
    }
    fn min(self, other: Self) -> Self {
        if other < self {
            other
        } else {
            self
        }
    }
}

impl Money for Decimal {
    const NAME: &'static str = "decimal";
    const EXACT: bool = true;
    #[inline]
    fn zero() -> Self {
        Decimal::ZERO
    }
    #[inline]
    fn one() -> Self {
        Decimal::ONE
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        Decimal::from(v)
    }
    #[inline]
    fn from_mantissa(mantissa: i64, scale: u32) -> Self {
        if scale <= 28 {
            // `Decimal::new`'s value, without its checks out of line (a bar's price, per order)
            decimal_from_parts(u128::from(mantissa.unsigned_abs()), mantissa < 0, scale)
        } else {
            Decimal::new(mantissa, scale)
        }
    }
    fn from_f64(v: f64) -> Option<Self> {
        // (strategies repeat their weights: `Simulation::param` remembers the last one)
        if !v.is_finite() {
            return None;
        }
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            return Some(Decimal::from(v as i64));
        }
        // Rust's `Display` for f64 prints the shortest round-trip digits, never exponent form.
        let text = format!("{v}");
        let text = repr_digits(v, text);
        if text
            .split_once('.')
            .is_some_and(|(_, frac)| frac.len() > 28)
        {
            return None; // more places than a decimal holds: refuse rather than round
        }
        let d = Decimal::from_str(&text)
            .ok()
            .or_else(|| Decimal::from_scientific(&format!("{v:e}")).ok())
            .map(|d| d.normalize())?;
        if d.is_zero() {
            return None; // digits beyond 28 places: not representable, refuse rather than round to 0
        }
        Some(d)
    }
    #[inline]
    fn to_f64(self) -> f64 {
        // The correctly rounded nearest double, as Python's float(Decimal). Fast path
        // (Clinger): a mantissa below 2^53 and a power of ten up to 10^22 are both exact
        // doubles, so one IEEE division rounds correctly. Otherwise through the string.
        let u = self.unpack();
        let scale = u.scale as usize;
        if u.hi == 0 && u.mid < (1 << 21) && scale < POW10_F64.len() {
            // the mantissa is below 2^53: u64 words, a native conversion (an i128's is
            // done in software)
            let m = low_words(u.mid, u.lo);
            if m == 0 {
                return 0.0;
            }
            #[allow(clippy::cast_precision_loss)] // below 2^53: exact
            let m = m as f64;
            // (whole numbers, a share count or a flat cost, need no division)
            let m = if scale == 0 { m } else { m / POW10_F64[scale] };
            return if u.negative { -m } else { m };
        }
        decimal_to_f64_by_text(self)
    }
    #[inline]
    fn approx_f64(self) -> f64 {
        // two roundings (the mantissa, then the product by an inexact 10^-scale)
        const NEG_POW10: [f64; 29] = [
            1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13,
            1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22, 1e-23, 1e-24, 1e-25,
            1e-26, 1e-27, 1e-28,
        ];
        let u = self.unpack();
        // u64 converts natively; i128 in software
        #[allow(clippy::cast_precision_loss)] // an estimate
        let m = if u.hi == 0 {
            low_words(u.mid, u.lo) as f64
        } else {
            self.mantissa().unsigned_abs() as f64
        };
        let v = m * NEG_POW10[u.scale as usize];
        if u.negative {
            -v
        } else {
            v
        }
    }
    fn div_q(self, rhs: Self) -> Self {
        if self.is_zero() {
            // rust_decimal's own 0 / b (which the general path would settle unchanged)
            return Decimal::ZERO;
        }
        div_q_integer(self, rhs).unwrap_or_else(|| decimal_div_half_even(self, rhs, DIV_SCALE))
    }
    #[inline]
    fn checked_div_q(self, rhs: Self) -> Option<Self> {
        if rhs.is_zero() {
            return None;
        }
        if self.is_zero() {
            return Some(Decimal::ZERO);
        }
        if let Some(q) = div_q_integer(self, rhs) {
            return Some(q);
        }
        self.checked_div(rhs)
            .map(|q| settle_half_even(self, rhs, q, DIV_SCALE))
    }
    #[inline]
    fn is_zero(self) -> bool {
        Decimal::is_zero(&self) // the words, not a comparison across scales
    }
    #[inline]
    fn same(self, other: Self) -> bool {
        self.serialize() == other.serialize()
    }
    fn sum_mul_int<I: Iterator<Item = (i64, Self)> + Clone>(terms: I) -> Self {
        sum_mul_int_exact(terms.clone()).unwrap_or_else(|| sum_mul_int_generic(terms))
    }
    #[inline]
    fn mul_int(self, n: i64) -> Self {
        // the product of the mantissas at this scale, as rust_decimal's own product is
        // whenever it fits 96 bits (and is not zero, whose sign rust_decimal decides)
        let u = self.unpack();
        if u.hi == 0 && n != 0 {
            // a 64-bit magnitude times |n|: one widening multiply, never overflowing u128
            let magnitude = low_words(u.mid, u.lo);
            let p = u128::from(magnitude) * u128::from(n.unsigned_abs());
            if p != 0 && p < 1u128 << 96 {
                return decimal_from_parts(p, u.negative != (n < 0), u.scale);
            }
        }
        match self.mantissa().checked_mul(i128::from(n)) {
            Some(p) if p != 0 && p.unsigned_abs() < 1u128 << 96 => {
                decimal_from_parts(p.unsigned_abs(), p < 0, self.scale())
            }
            _ => Decimal::from(n) * self,
        }
    }
    fn to_exact_string(self) -> String {
        let m = self.mantissa();
        if m == 0 {
            return self.to_string(); // zero's sign and places: rust_decimal's own rules
        }
        let mut buf = itoa::Buffer::new(); // on the stack: one allocation, the result's
        let digits = buf.format(m.unsigned_abs());
        let scale = self.scale() as usize;
        let mut out = String::with_capacity(digits.len() + scale + 3);
        if m < 0 {
            out.push('-');
        }
        if scale == 0 {
            out.push_str(digits);
        } else if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - digits.len()));
            out.push_str(digits);
        }
        out
    }
    fn round_shares(self) -> i64 {
        round_shares_mantissa(
            self.mantissa().unsigned_abs(),
            self.is_sign_negative(),
            self.scale(),
        )
    }
    #[inline]
    fn target_shares(self, price: Self, held: i64) -> Option<i64> {
        target_shares_integer(self, price, held)
            .or_else(|| target_shares_generic(self, price, held))
    }
    #[inline]
    fn checked_mul(self, rhs: Self) -> Option<Self> {
        Decimal::checked_mul(self, rhs)
    }
    #[inline]
    fn quantize(self) -> Self {
        if self.scale() <= DIV_SCALE {
            return self; // what rust_decimal returns too, without the call
        }
        self.round_dp_with_strategy(DIV_SCALE, RoundingStrategy::MidpointNearestEven)
    }
    #[inline]
    fn abs(self) -> Self {
        Decimal::abs(&self)
    }
    #[inline]
    fn round_int(self) -> Self {
        self.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
    }
    #[inline]
    fn trunc(self) -> Self {
        Decimal::trunc(&self)
    }
    #[inline]
    fn floor(self) -> Self {
        Decimal::floor(&self)
    }
    #[inline]
    fn round_dp(self, dp: u32) -> Self {
        self.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven)
    }
    fn from_decimal_str(text: &str) -> Option<Self> {
        Decimal::from_str(text.trim()).ok()
    }
    #[inline]
    fn to_i64(self) -> i64 {
        use rust_decimal::prelude::ToPrimitive;
        ToPrimitive::to_i64(&self).unwrap_or(if self.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
    }
}

/// The low two 32-bit words of a decimal's mantissa (`unpack`'s `mid` and `lo`): all of
/// its magnitude where `hi` is 0, as a `u64` (which converts and multiplies natively;
/// `i128` does not).
#[inline]
fn low_words(mid: u32, lo: u32) -> u64 {
    (u64::from(mid) << 32) | u64::from(lo)
}

/// [`Money::to_f64`] beyond its fast path: through the exact text, as Python's
/// `float(Decimal)` reads it (kept out of line: the fast path is inlined at every call).
#[cold]
#[inline(never)]
fn decimal_to_f64_by_text(d: Decimal) -> f64 {
    f64::from_str(&d.to_string()).unwrap_or(f64::NAN)
}

/// `text`, the shortest round-trip digits of `v` as Rust's `Display` prints them, changed
/// to the digits Python's `repr` prints. The two differ only on an exact tie: when `v` lies
/// exactly halfway between two equally short digit strings that both read back as `v`,
/// `Display` takes the one away from zero and `repr` the one with an even last digit.
fn repr_digits(v: f64, text: String) -> String {
    let Ok(d) = Decimal::from_str(&text) else {
        return text;
    };
    let d = d.normalize();
    // the unit of the last significant digit, and that digit
    let (ulp, last) = if d.scale() > 0 {
        (Decimal::new(1, d.scale()), d.mantissa() % 10)
    } else {
        let mut m = d.mantissa();
        let mut ulp = Decimal::ONE;
        while m != 0 && m % 10 == 0 {
            m /= 10;
            ulp *= Decimal::TEN;
        }
        (ulp, m % 10)
    };
    if last % 2 == 0 {
        return text; // an even last digit is what repr takes too
    }
    let toward_zero = if d.is_sign_negative() {
        d + ulp
    } else {
        d - ulp
    };
    let Some(twice) = d.checked_add(toward_zero) else {
        return text;
    };
    let mid = twice / Decimal::TWO; // exact: one more digit than d
    if toward_zero.to_f64() == v && decimal_equals_f64(mid, v) {
        toward_zero.to_string()
    } else {
        text
    }
}

/// Whether the decimal `d` is exactly the double `v` (no rounding either way).
fn decimal_equals_f64(d: Decimal, v: f64) -> bool {
    if !v.is_finite() || v == 0.0 || d.is_sign_negative() != v.is_sign_negative() {
        return false;
    }
    let bits = v.to_bits();
    let exp_field = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let frac = bits & ((1u64 << 52) - 1);
    let (mut m, mut e) = if exp_field == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_field - 1075)
    };
    let tz = m.trailing_zeros();
    m >>= tz;
    e += i32::try_from(tz).unwrap_or(0);
    // |v| = m * 2^e with m odd; |d| = big / 10^s
    let big = d.mantissa().unsigned_abs();
    let s = d.scale();
    let m = u128::from(m);
    if e >= 0 {
        // big == m * 2^e * 10^s
        if e > 75 {
            return false; // beyond a 96-bit mantissa
        }
        (m << e)
            .checked_mul(10u128.pow(s))
            .is_some_and(|rhs| rhs == big)
    } else {
        // big * 2^k == m * 10^s = m * 2^s * 5^s with m odd: needs k <= s
        let k = e.unsigned_abs();
        if k > s {
            return false;
        }
        (m.checked_mul(10u128.pow(s))).is_some_and(|rhs| rhs == big << k)
    }
}

pub(crate) fn sum_mul_int_generic<N: Money, I: Iterator<Item = (i64, N)>>(terms: I) -> N {
    terms.fold(N::zero(), |acc, (n, p)| acc + p.mul_int(n))
}

/// [`Money::sum_mul_int`] in one `i128` accumulator at the largest scale seen: what
/// rust_decimal's fold gives whenever every product and partial sum fits 96 bits and
/// nothing is zero (then each of its additions is exact, at the larger scale). `None`
/// otherwise, for the fold itself to decide.
fn sum_mul_int_exact<I: Iterator<Item = (i64, Decimal)>>(terms: I) -> Option<Decimal> {
    const LIMIT: u128 = 1 << 96;
    let (mut acc, mut scale) = (0i128, 0u32);
    for (n, p) in terms {
        let term = p.mantissa().checked_mul(i128::from(n))?;
        if term == 0 || term.unsigned_abs() >= LIMIT {
            return None;
        }
        let s = p.scale();
        let term = if s > scale {
            acc = acc.checked_mul(i128::try_from(POW10[(s - scale) as usize]).ok()?)?;
            scale = s;
            term
        } else {
            term.checked_mul(i128::try_from(POW10[(scale - s) as usize]).ok()?)?
        };
        acc = acc.checked_add(term)?;
        if acc == 0 || acc.unsigned_abs() >= LIMIT {
            return None;
        }
    }
    Some(decimal_from_parts(acc.unsigned_abs(), acc < 0, scale))
}

/// The powers of ten an `f64` holds exactly, 10^0 to 10^22 (Clinger's fast path).
pub(crate) const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `10^k` as `f64`: the table where it is exact (what `10f64.powi(k)` computes there, every
/// partial product being an exact power of ten), `powi` past it.
#[inline]
fn pow10_f64(k: u32) -> f64 {
    match POW10_F64.get(k as usize) {
        Some(&p) => p,
        #[allow(clippy::cast_possible_wrap)] // a scale, far below 2^31
        None => 10f64.powi(k as i32),
    }
}

/// Powers of ten as `u128`, up to 10^38.
pub(crate) const POW10: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `a / b` rounded half-even to [`DIV_SCALE`] places in one `u128` division: the exact
/// quotient's digits at that scale and the exact remainder decide the rounding, so no
/// double rounding can occur. `None` (the caller takes the general path) where an operand
/// does not fit the integer arithmetic, the quotient is zero, or a decimal at the scale
/// could not hold it, and where the quotient is exact at the scale (then `rust_decimal`'s
/// own quotient may carry fewer places, and the result must be digit for digit its).
fn div_q_integer(a: Decimal, b: Decimal) -> Option<Decimal> {
    let (q, exact) = div_q_magnitude(a, b)?;
    if exact {
        // exact at this scale: rust_decimal's own quotient may carry fewer places (which
        // ones depends on its algorithm); the general path gives exactly that
        return None;
    }
    if q == 0 || q >= 1u128 << 96 {
        return None;
    }
    let negative = a.is_sign_negative() != b.is_sign_negative();
    Some(decimal_from_parts(q, negative, DIV_SCALE))
}

/// [`Money::round_shares`] of `±magnitude · 10^-scale`: the generic rule on the mantissa,
/// integer part and fraction in one division.
pub(crate) fn round_shares_mantissa(magnitude: u128, negative: bool, scale: u32) -> i64 {
    let p = POW10[scale as usize];
    let (int, frac) = div_rem(magnitude, p);
    // within 0.0001 of the next integer: that integer; otherwise toward zero (which is
    // also the nearest integer when within 0.0001 below)
    let r = if frac * 10_000 > p && (p - frac) * 10_000 <= p {
        int + 1
    } else {
        int
    };
    if negative {
        if r >= 1u128 << 63 {
            i64::MIN
        } else {
            -i64::try_from(r).unwrap_or(i64::MAX)
        }
    } else {
        i64::try_from(r).unwrap_or(i64::MAX)
    }
}

/// `|a / b|` at [`DIV_SCALE`] places, half-even, as an integer: the quotient's digits and
/// the exact remainder in one `u128` division, and whether the quotient was exact at that
/// scale. `None` where an operand is zero or does not fit the integer arithmetic.
fn div_q_magnitude(a: Decimal, b: Decimal) -> Option<(u128, bool)> {
    let (ma, sa) = (a.mantissa().unsigned_abs(), a.scale());
    let (mb, sb) = (b.mantissa().unsigned_abs(), b.scale());
    if ma == 0 || mb == 0 {
        return None;
    }
    // q * 10^DIV_SCALE = ma * 10^(DIV_SCALE + sb - sa) / mb
    let e = DIV_SCALE + sb;
    let (num, den) = if e >= sa {
        (ma.checked_mul(*POW10.get((e - sa) as usize)?)?, mb)
    } else {
        (ma, mb.checked_mul(*POW10.get((sa - e) as usize)?)?)
    };
    let (q, r) = div_rem(num, den);
    Some((half_even(q, r, den), r == 0))
}

/// The quotient `q` of a division by `d` rounded half to even on its exact remainder `r`
/// (`r < d`, so `d − r` cannot overflow).
#[inline]
pub(crate) fn half_even(q: u128, r: u128, d: u128) -> u128 {
    match r.cmp(&(d - r)) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
        std::cmp::Ordering::Less => q,
    }
}

/// [`Money::target_shares`] without building a decimal: the quotient's mantissa at
/// [`DIV_SCALE`] places less `held` at that scale, rounded as [`round_shares_mantissa`].
/// The general path's values are the same (its quotient may carry fewer places where it is
/// exact, which changes no share count). `None` where the general path must decide: a zero
/// operand, or a quotient or difference beyond 96 bits.
fn target_shares_integer(a: Decimal, b: Decimal, held: i64) -> Option<i64> {
    const LIMIT: u128 = 1 << 96;
    let (q, _) = div_q_magnitude(a, b)?;
    if q >= LIMIT {
        return None;
    }
    let q = i128::try_from(q).ok()?;
    let q = if a.is_sign_negative() == b.is_sign_negative() {
        q
    } else {
        -q
    };
    let x = q.checked_sub(
        i128::from(held).checked_mul(i128::try_from(POW10[DIV_SCALE as usize]).ok()?)?,
    )?;
    if x.unsigned_abs() >= LIMIT {
        return None;
    }
    Some(round_shares_mantissa(x.unsigned_abs(), x < 0, DIV_SCALE))
}

/// `(n / d, n % d)`. Operands below 2^64 take one hardware division; a divisor below
/// 2^32 (a price's mantissa, a share count) goes limb by limb through 64-bit hardware
/// divisions; `u128`'s own division is a software routine, several times slower.
#[allow(clippy::cast_possible_truncation)] // 32-bit limbs and remainders below d < 2^32
#[inline]
pub(crate) fn div_rem(n: u128, d: u128) -> (u128, u128) {
    if n < 1 << 64 && d < 1 << 64 {
        let (n, d) = (n as u64, d as u64);
        return (u128::from(n / d), u128::from(n % d));
    }
    #[cfg(target_arch = "x86_64")]
    if d < 1 << 64 && (n >> 64) < d {
        // the quotient fits 64 bits: one 128-by-64 hardware division
        let (q, r) = div_128_by_64(n, d as u64);
        return (u128::from(q), u128::from(r));
    }
    if d >= 1 << 32 {
        return (n / d, n % d);
    }
    let d = d as u64;
    let (mut q, mut r) = (0u128, 0u64);
    // from the highest non-zero limb (n >= 2^64 here: at least three)
    let top: &[u32] = if n >> 96 == 0 {
        &[64, 32, 0]
    } else {
        &[96, 64, 32, 0]
    };
    for &shift in top {
        let cur = (r << 32) | ((n >> shift) as u64 & 0xFFFF_FFFF);
        q |= u128::from(cur / d) << shift;
        r = cur % d;
    }
    (q, u128::from(r))
}

/// `(n / d, n % d)` by x86-64's `div`, which divides the 128-bit `rdx:rax` by a 64-bit
/// operand. Requires `n >> 64 < d` (then the quotient fits 64 bits and `div` cannot fault).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::cast_possible_truncation)] // the two 64-bit halves of n
#[inline]
fn div_128_by_64(n: u128, d: u64) -> (u64, u64) {
    let (hi, lo) = ((n >> 64) as u64, n as u64);
    assert!(hi < d, "div_128_by_64 needs a quotient below 2^64");
    let (q, r): (u64, u64);
    // SAFETY: `div` faults only on a zero divisor or a quotient beyond 64 bits; `hi < d`
    // (asserted above) excludes both. It reads rdx:rax and the operand, writes rax (the
    // quotient) and rdx (the remainder), and touches no memory or stack.
    unsafe {
        std::arch::asm!(
            "div {d}",
            d = in(reg) d,
            inout("rax") lo => q,
            inout("rdx") hi => r,
            options(pure, nomem, nostack),
        );
    }
    (q, r)
}

/// A decimal from a magnitude already known to be below 2^96 and a scale up to 28
/// (`from_i128_with_scale` checks both again).
#[allow(clippy::cast_possible_truncation)] // the three 32-bit words of a 96-bit magnitude
#[inline]
fn decimal_from_parts(magnitude: u128, negative: bool, scale: u32) -> Decimal {
    debug_assert!(magnitude < 1u128 << 96 && scale <= 28);
    Decimal::from_parts(
        magnitude as u32,
        (magnitude >> 32) as u32,
        (magnitude >> 64) as u32,
        negative,
        scale,
    )
}

/// `a / b` rounded half-even to `dp` places, exact even where `rust_decimal`'s own
/// 96-bit quotient was already rounded onto a midpoint (double rounding): the tie is
/// settled by comparing `midpoint * b` with `a`, both exact.
fn decimal_div_half_even(a: Decimal, b: Decimal, dp: u32) -> Decimal {
    settle_half_even(a, b, a / b, dp)
}

/// `q` (`rust_decimal`'s quotient `a / b`) rounded half-even to `dp` places, the tie
/// settled on the exact quotient (see [`decimal_div_half_even`]).
fn settle_half_even(a: Decimal, b: Decimal, q: Decimal, dp: u32) -> Decimal {
    let rounded = q.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven);
    let half_ulp = Decimal::new(5, dp + 1);
    let diff = (q - rounded).abs();
    if diff != half_ulp {
        return rounded;
    }
    // q sits exactly on a midpoint of the dp grid; decide on the exact quotient.
    let mid = q;
    let Some(prod) = mid.checked_mul(b) else {
        return rounded;
    };
    let exact_on_midpoint = prod == a;
    if exact_on_midpoint {
        return rounded; // a true tie: half-even already chose
    }
    // |true quotient| is above |mid| when |a| > |mid * b|.
    let above = a.abs() > prod.abs();
    let ulp = Decimal::new(1, dp);
    let toward_zero = mid.trunc_with_scale(dp);
    let away = if mid.is_sign_negative() {
        toward_zero - ulp
    } else {
        toward_zero + ulp
    };
    if above {
        away
    } else {
        toward_zero
    }
}

impl Money for f64 {
    const NAME: &'static str = "float";
    const EXACT: bool = false;
    #[inline]
    fn zero() -> Self {
        0.0
    }
    #[inline]
    fn one() -> Self {
        1.0
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        v as f64
    }
    #[inline]
    fn from_mantissa(mantissa: i64, scale: u32) -> Self {
        mantissa as f64 / pow10_f64(scale)
    }
    fn from_f64(v: f64) -> Option<Self> {
        v.is_finite().then_some(v)
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn same(self, other: Self) -> bool {
        self.to_bits() == other.to_bits()
    }
    #[inline]
    fn div_q(self, rhs: Self) -> Self {
        self / rhs
    }
    #[inline]
    fn checked_div_q(self, rhs: Self) -> Option<Self> {
        Some(self / rhs)
    }
    #[inline]
    fn checked_mul(self, rhs: Self) -> Option<Self> {
        Some(self * rhs)
    }
    #[inline]
    fn quantize(self) -> Self {
        self
    }
    #[inline]
    fn quantize_fill(self, _scale: u32) -> Self {
        self // the float twin rounds nothing it need not
    }
    #[inline]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline]
    fn round_int(self) -> Self {
        self.round_ties_even()
    }
    #[inline]
    fn trunc(self) -> Self {
        f64::trunc(self)
    }
    #[inline]
    fn floor(self) -> Self {
        f64::floor(self)
    }
    #[inline]
    fn round_dp(self, dp: u32) -> Self {
        let m = pow10_f64(dp);
        (self * m).round_ties_even() / m
    }
    #[inline]
    fn round_shares(self) -> i64 {
        // round_shares_generic's rule and float operations, without its two library calls
        // (rint, trunc): below 2^52 in magnitude the truncation is the cast and the
        // fraction `self − t` is exact, so the nearest integer follows from the fraction
        // (a tie may go either way: half a share from both is never within 0.0001 of
        // either); the same integer-valued `nearest` then meets the same comparison
        const EXACT_FRACTION: f64 = 4_503_599_627_370_496.0; // 2^52
        if self.is_nan() || self.abs() >= EXACT_FRACTION {
            return round_shares_generic(self); // NaN, infinities, huge values
        }
        #[allow(clippy::cast_possible_truncation)] // below 2^52: exact toward zero
        let t = self as i64;
        #[allow(clippy::cast_precision_loss)] // below 2^52: exact
        let tf = t as f64;
        let frac = self - tf;
        let nearest = if frac.abs() > 0.5 {
            tf + frac.signum()
        } else {
            tf
        };
        let epsilon = Self::from_mantissa(1, 4);
        if (self - nearest).abs() <= epsilon {
            #[allow(clippy::cast_possible_truncation)] // a whole number below 2^52 + 1
            let n = nearest as i64;
            n
        } else {
            t
        }
    }
    fn from_decimal_str(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    #[inline]
    fn to_i64(self) -> i64 {
        self as i64
    }
}

/// The share count for `a * b` or `a / b` when it is beyond the number type's range:
/// saturated with its sign (far beyond [`MAX_SHARES`] either way, so the size check
/// refuses it).
pub fn saturated_shares<N: Money>(a: N, b: N) -> i64 {
    if (a < N::zero()) == (b < N::zero()) {
        i64::MAX
    } else {
        i64::MIN
    }
}

/// Whether `price × a` or `price × b` (an order and the position after it, in lots of
/// `10^-scale`) is beyond [`MAX_NOTIONAL`] in value, where the exact ledger could not stay
/// exact.
pub fn beyond_notional<N: Money>(price: N, a: i64, b: i64, scale: u32) -> bool {
    price.beyond_notional(a, b, scale)
}

/// [`beyond_notional`] in the number type's own operations: estimated in `f64` first (good
/// to ~1e-15 relative, checked against half the bound), the exact products taken only near
/// the bound.
pub(crate) fn beyond_notional_generic<N: Money>(price: N, a: i64, b: i64, scale: u32) -> bool {
    #[allow(clippy::cast_precision_loss)] // an estimate, with a factor 2 to spare
    let (half, p) = (
        MAX_NOTIONAL as f64 / 2.0,
        price.approx_f64().abs() / lots_per_unit(scale) as f64,
    );
    #[allow(clippy::cast_precision_loss)]
    if (a as f64).abs() * p < half && (b as f64).abs() * p < half {
        return false;
    }
    let max = N::from_i64(MAX_NOTIONAL);
    price.mul_qty(a, scale).abs() > max || price.mul_qty(b, scale).abs() > max
}

/// zipline's share rounding: within 0.0001 of an integer means that integer,
/// otherwise truncate toward zero.
pub fn round_order_amount<N: Money>(raw: N) -> i64 {
    raw.round_shares()
}

/// [`Money::target_shares`] in the number type's own operations (`Decimal` has a faster,
/// equivalent integer version).
pub fn target_shares_generic<N: Money>(value: N, price: N, held: i64) -> Option<i64> {
    value
        .checked_div_q(price)
        .map(|q| round_order_amount(q - N::from_i64(held)))
}

/// [`round_order_amount`] in the number type's own operations (`Decimal` has a faster,
/// equivalent integer version).
pub fn round_shares_generic<N: Money>(raw: N) -> i64 {
    let nearest = raw.round_int();
    let epsilon = N::from_mantissa(1, 4);
    if (raw - nearest).abs() <= epsilon {
        nearest.to_i64()
    } else {
        raw.trunc().to_i64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_float_twin_s_tables_are_the_powers_it_computed() {
        for k in 0..=30u32 {
            #[allow(clippy::cast_possible_wrap)]
            let powi = 10f64.powi(k as i32);
            assert_eq!(pow10_f64(k).to_bits(), powi.to_bits(), "10^{k}");
            for m in [1i64, 7, -3, 123_456_789, i64::MAX] {
                #[allow(clippy::cast_precision_loss)]
                let old = m as f64 / powi;
                assert_eq!(f64::from_mantissa(m, k).to_bits(), old.to_bits());
            }
        }
        for k in 0..=18 {
            assert_eq!(lots_per_unit(k), 10i64.pow(k));
        }
        assert_eq!(lots_per_unit(19), i64::MAX);
    }

    /// What the float twin's `round_shares` must equal bit for bit: the generic rule.
    fn float_shares_agree(x: f64) -> Result<(), TestCaseError> {
        prop_assert_eq!(x.round_shares(), round_shares_generic(x), "{}", x);
        Ok(())
    }

    #[test]
    fn float_share_rounding_at_its_edges() {
        let edges = [
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            0.499_999_999_999_999_94,
            0.9999,
            0.999_899_99,
            1.0001,
            1.000_100_01,
            -0.9999,
            -1.0001,
            2.9999,
            3.0001,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            -4_503_599_627_370_497.0,
            9.3e18,
            -9.3e18,
            1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            1.0 - f64::EPSILON,
        ];
        for x in edges {
            float_shares_agree(x).unwrap();
            float_shares_agree(x + 1e-4).unwrap();
            float_shares_agree(x - 1e-4).unwrap();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn float_share_rounding_is_the_generic_rule(
            whole in -5_000_000i64..5_000_000,
            frac in prop_oneof![0.0f64..1.0, 0.9998f64..1.0, 0.0f64..0.0002, Just(0.5), Just(0.9999)],
            wide in any::<f64>(),
        ) {
            #[allow(clippy::cast_precision_loss)]
            float_shares_agree(whole as f64 + frac)?;
            float_shares_agree(wide)?;
        }
    }

    #[test]
    fn quantities_in_lots_multiply_exactly_and_name_themselves() {
        let p = Decimal::from_str("40020.12306150").unwrap();
        assert_eq!(
            p.mul_qty(5000, 4),
            Decimal::from_str("20010.06153075").unwrap()
        );
        assert_eq!(p.mul_qty(3, 0), p * Decimal::from(3));
        // finer than 12 places after the product: quantized half-even
        let q = Decimal::from_str("1.000000000005").unwrap();
        assert_eq!(
            q.mul_qty(1, 1),
            Decimal::from_str("0.100000000000").unwrap()
        );
        assert_eq!(
            Decimal::from_str("1.234567890123456")
                .unwrap()
                .quantize_fill(4),
            Decimal::from_str("1.23456789").unwrap()
        );
        assert_eq!(2.5f64.quantize_fill(4), 2.5);
        assert_eq!(qty_text(150, 0), "150 shares");
        assert_eq!(qty_text(-1234, 4), "-0.1234");
        assert_eq!(qty_text(5000, 4), "0.5");
        // 10^14 coins in 0.0001s: worth 2·10^15 at 20 (beyond), 5·10^14 at 5
        assert!(beyond_notional(Decimal::from(20), 10i64.pow(18), 0, 4));
        assert!(!beyond_notional(Decimal::from(5), 10i64.pow(18), 0, 4));
    }

    /// Whether `q` (scale [`DIV_SCALE`]) is `a / b` rounded half-even: `2·|q·b − a| <= |b|`
    /// at a common scale, with a tie only on an even last digit. In `i128`/`u128`; true
    /// where that arithmetic overflows (too large to check this way).
    fn rounds_correctly(a: Decimal, b: Decimal, q: Decimal) -> bool {
        let (sa, sb) = (a.scale(), b.scale());
        // everything at scale DIV_SCALE + sb (for q·b) vs sa (for a): bring both to the max
        let s = (DIV_SCALE + sb).max(sa);
        let scale_up = |m: i128, from: u32| m.checked_mul(10i128.checked_pow(s - from)?);
        let (Some(qb), Some(av)) = (
            q.mantissa()
                .checked_mul(b.mantissa())
                .and_then(|p| scale_up(p, DIV_SCALE + sb)),
            scale_up(a.mantissa(), sa),
        ) else {
            return true;
        };
        let Some(bs) = scale_up(b.mantissa(), sb + DIV_SCALE) else {
            return true;
        };
        let (Some(diff2), bs) = ((qb - av).checked_mul(2), bs.unsigned_abs()) else {
            return true;
        };
        let d = diff2.unsigned_abs();
        d < bs || (d == bs && q.mantissa() % 2 == 0)
    }

    fn general_div_q(a: Decimal, b: Decimal) -> Option<Decimal> {
        a.checked_div(b)
            .map(|q| settle_half_even(a, b, q, DIV_SCALE))
    }

    fn decimal(mantissa: i128, scale: u32) -> Decimal {
        Decimal::from_i128_with_scale(mantissa, scale)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The integer quotient is the general path's, digit for digit and scale for scale.
        #[test]
        fn integer_div_q_equals_the_general_path(
            ma in prop_oneof![1i128..1_000_000, 1i128..(1i128 << 60), 1i128..(1i128 << 95)],
            sa in 0u32..=28,
            mb in prop_oneof![1i128..10_000, 1i128..(1i128 << 40), 1i128..(1i128 << 95)],
            sb in 0u32..=28,
            na: bool,
            nb: bool,
            exact: bool,
        ) {
            let b = decimal(if nb { -mb } else { mb }, sb);
            // half the cases: a multiple of b, so the quotient is exact
            let a = if exact {
                match b.checked_mul(decimal(ma % 1_000_000, sa % 6)) {
                    Some(p) if !p.is_zero() => if na { -p } else { p },
                    _ => decimal(ma, sa),
                }
            } else {
                decimal(if na { -ma } else { ma }, sa)
            };
            if let Some(fast) = div_q_integer(a, b) {
                let slow = general_div_q(a, b).expect("a quotient the fast path holds");
                // the integer result on its definition, exactly: |2·q·b − 2·a| <= |b| at the
                // scale, ties to even
                prop_assert!(rounds_correctly(a, b, fast));
                if fast.mantissa().unsigned_abs() < 10u128.pow(22) {
                    // and digit for digit the general path's, where that one is exact too:
                    // above ~10^10 with 12 places, its tie check multiplies mid·b past 28
                    // digits and rounds, and 114550081205421.5636033491374962… came out
                    // ...138 there (the integer path's ...137 is right)
                    prop_assert_eq!(fast, slow);
                    prop_assert_eq!(fast.to_string(), slow.to_string());
                }
            }
        }

        /// The integer share rounding is the generic rule's.
        #[test]
        fn integer_round_shares_equals_the_generic_rule(
            m in prop_oneof![-1_000_000_000i128..1_000_000_000, -(1i128 << 95)..(1i128 << 95)],
            s in 0u32..=28,
            near in -3i128..=3,
        ) {
            // also values a few units from an integer's 0.0001 band at scale >= 4
            let v = decimal(m, s);
            prop_assert_eq!(v.round_shares(), round_shares_generic(v));
            if s >= 4 {
                let band = decimal(10i128.pow(s - 4) + near, s);
                let whole = decimal(m / 10i128.pow(s) * 10i128.pow(s), s);
                for x in [whole + band, whole - band, whole + decimal(10i128.pow(s) / 2 + near, s)] {
                    prop_assert_eq!(x.round_shares(), round_shares_generic(x));
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The integer sum of products is rust_decimal's fold, digit for digit.
        #[test]
        fn sum_mul_int_equals_the_fold(
            terms in prop::collection::vec(
                (
                    prop_oneof![-1_000_000i64..1_000_000, -(1i64 << 40)..(1i64 << 40)],
                    prop_oneof![1i128..10_000_000, -(1i128 << 60)..(1i128 << 60)],
                    0u32..=14,
                ),
                0..30,
            ),
        ) {
            let terms: Vec<(i64, Decimal)> =
                terms.into_iter().map(|(n, m, s)| (n, decimal(m, s))).collect();
            let fold = terms.iter().try_fold(Decimal::ZERO, |acc, &(n, p)| {
                Decimal::from(n).checked_mul(p).and_then(|x| acc.checked_add(x))
            });
            prop_assume!(fold.is_some()); // else both panic
            let want = fold.unwrap();
            let got = Decimal::sum_mul_int(terms.iter().copied());
            prop_assert_eq!(got, want);
            prop_assert_eq!(got.to_string(), want.to_string());
        }

        /// The integer product and the fast text are rust_decimal's own, digit for digit.
        #[test]
        fn mul_int_and_exact_text_equal_rust_decimal(
            m in prop_oneof![-1_000_000i128..1_000_000, -(1i128 << 95)..(1i128 << 95)],
            s in 0u32..=28,
            n in prop_oneof![-1_000i64..1_000, i64::MIN..i64::MAX],
        ) {
            let v = decimal(m, s);
            prop_assume!(Decimal::from(n).checked_mul(v).is_some()); // else both panic
            let want = Decimal::from(n) * v;
            let got = v.mul_int(n);
            prop_assert_eq!(got, want);
            prop_assert_eq!(got.to_exact_string(), want.to_string());
            prop_assert_eq!(v.to_exact_string(), v.to_string());
            prop_assert_eq!(Money::to_f64(v), f64::from_str(&v.to_string()).unwrap());
            // the estimate: two roundings and an inexact power of ten, well inside 1e-15
            let exact = Money::to_f64(v);
            prop_assert!((v.approx_f64() - exact).abs() <= exact.abs() * 1e-15, "{} {}", v, v.approx_f64());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The fused target (one integer division, no decimal built) is the generic path's
        /// share count: `round_order_amount(value.checked_div_q(price) − held)`.
        #[test]
        fn integer_target_shares_equal_the_generic_path(
            mv in prop_oneof![-1_000_000_000_000i128..1_000_000_000_000, -(1i128 << 95)..(1i128 << 95)],
            sv in 0u32..=28,
            mp in prop_oneof![-10_000_000i128..10_000_000, -(1i128 << 95)..(1i128 << 95)],
            sp in 0u32..=28,
            held in prop_oneof![-10_000i64..10_000, i64::MIN..i64::MAX],
            whole: bool,
        ) {
            let price = decimal(mp, sp);
            prop_assume!(!price.is_zero());
            // half the cases: a whole number of shares' worth, near ties of the 0.0001 band
            let value = if whole {
                price.checked_mul(decimal(mv % 1_000_000, sv % 5)).unwrap_or(decimal(mv, sv))
            } else {
                decimal(mv, sv)
            };
            let generic = value
                .checked_div_q(price)
                .and_then(|q| q.checked_sub(Decimal::from(held)))
                .map(round_order_amount);
            if let Some(fast) = target_shares_integer(value, price, held) {
                prop_assert_eq!(Some(fast), generic);
            }
            if let Some(g) = generic {
                prop_assert_eq!(value.target_shares(price, held), Some(g));
            }
        }
    }

    proptest! {
        #[test]
        fn limb_division_equals_u128_division(
            n in prop_oneof![any::<u128>(), 0u128..(1u128 << 64)],
            d in prop_oneof![1u128..(1u128 << 33), 1u128..(1u128 << 64), 1u128..u128::MAX],
        ) {
            prop_assert_eq!(div_rem(n, d), (n / d, n % d));
        }

        /// The shortcuts past rust_decimal's own calls give its values, places and sign.
        #[test]
        fn from_mantissa_and_quantize_are_rust_decimal_s(
            m: i64,
            s in 0u32..=28,
            wide in -(1i128 << 95)..(1i128 << 95),
        ) {
            prop_assert_eq!(Decimal::from_mantissa(m, s).serialize(), Decimal::new(m, s).serialize());
            for v in [Decimal::new(m, s), decimal(wide, s)] {
                let want = v.round_dp_with_strategy(DIV_SCALE, RoundingStrategy::MidpointNearestEven);
                prop_assert_eq!(Money::quantize(v).serialize(), want.serialize());
            }
        }

        /// Dividends whose quotient just fits 64 bits (the one-instruction path on x86-64).
        #[test]
        fn wide_dividends_by_64_bit_divisors(
            d in prop_oneof![1u128..(1u128 << 33), 1u128..(1u128 << 64)],
            hi: u64,
            lo: u64,
        ) {
            let n = ((u128::from(hi) % d) << 64) | u128::from(lo);
            prop_assert_eq!(div_rem(n, d), (n / d, n % d));
        }
    }

    #[test]
    fn ledger_shaped_quotients_take_the_integer_path() {
        // value (12 places) / price (2-4 places), cost / shares, pnl / value: a
        // deterministic spread of the quotients a backtest makes
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut fast = 0;
        for _ in 0..2000 {
            let a = decimal(i128::from(next() % 10_000_000_000_000_000) + 1, 12);
            let b = decimal(i128::from(next() % 10_000_000) + 1, (next() % 5) as u32);
            let slow = general_div_q(a, b).unwrap();
            if let Some(q) = div_q_integer(a, b) {
                fast += 1;
                assert_eq!(q.to_string(), slow.to_string(), "{a} / {b}");
            }
            assert_eq!(a.checked_div_q(b).unwrap().to_string(), slow.to_string());
        }
        assert!(fast > 1900, "only {fast} of 2000 took the integer path");
    }

    #[test]
    fn integer_paths_on_known_values() {
        let q = |a: &str, b: &str| {
            div_q_integer(Decimal::from_str(a).unwrap(), Decimal::from_str(b).unwrap())
                .map(|d| d.to_string())
        };
        assert_eq!(q("13252.00", "100"), None); // exact: the general path
        assert_eq!(q("13252.01", "100.3").as_deref(), Some("132.123728813559"));
        assert_eq!(q("1", "3").as_deref(), Some("0.333333333333"));
        assert_eq!(q("-2", "3").as_deref(), Some("-0.666666666667"));
        // true ties at the 13th place go to even
        assert_eq!(q("0.0000000000025", "1").as_deref(), Some("0.000000000002"));
        assert_eq!(q("0.0000000000035", "1").as_deref(), Some("0.000000000004"));
        assert_eq!(
            q("-0.0000000000035", "1").as_deref(),
            Some("-0.000000000004")
        );
        assert_eq!(q("0", "3"), None);
        // zero divided: rust_decimal's own zero, whatever the dividend's places or sign
        for zero in ["0", "0.000", "-0.00"] {
            let z = Decimal::from_str(zero).unwrap();
            let general = general_div_q(z, Decimal::from(7)).unwrap();
            assert_eq!(z.div_q(Decimal::from(7)).to_string(), general.to_string());
            assert_eq!(
                z.checked_div_q(Decimal::from(-7)).unwrap().to_string(),
                general_div_q(z, Decimal::from(-7)).unwrap().to_string()
            );
        }
        let r = |x: &str| Decimal::from_str(x).unwrap().round_shares();
        assert_eq!(
            (r("10.99995"), r("10.9999"), r("10.99989"), r("-10.99995")),
            (11, 11, 10, -11)
        );
        assert_eq!(
            (r("10.0001"), r("10.00011"), r("10.5"), r("-0.00001")),
            (10, 10, 10, 0)
        );
    }

    #[test]
    fn float_parameters_enter_through_their_repr_digits() {
        let third = <Decimal as Money>::from_f64(1.0 / 3.0).unwrap();
        assert_eq!(third.to_string(), "0.3333333333333333");
        assert_eq!(
            <Decimal as Money>::from_f64(0.1).unwrap().to_string(),
            "0.1"
        );
        assert_eq!(
            <Decimal as Money>::from_f64(1e-10).unwrap().to_string(),
            "0.0000000001"
        );
        assert!(<Decimal as Money>::from_f64(f64::NAN).is_none());
        assert!(<Decimal as Money>::from_f64(f64::INFINITY).is_none());
        assert!(<Decimal as Money>::from_f64(1e-30).is_none());
        assert!(<Decimal as Money>::from_f64(6e-29).is_none());
        assert!(<Decimal as Money>::from_f64(1.234_567_890_123_456_7e-13).is_none());
        assert_eq!(
            <Decimal as Money>::from_f64(1e-28).unwrap().to_string(),
            "0.0000000000000000000000000001"
        );
        // the cache and the integer fast path give the same values as the slow path
        for v in [0.02, 0.02, -0.0, 3.0, -12.0, 1.5e300, 0.1, 0.02] {
            let slow = Decimal::from_str(&format!("{v}"))
                .ok()
                .map(|d| d.normalize());
            assert_eq!(<Decimal as Money>::from_f64(v), slow, "{v}");
        }
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the doubles' exact values are the point
    fn float_ties_take_the_even_digits_as_python_repr() {
        // exactly halfway between ...32812 and ...32813: repr (and we) take the even one
        let x = 218_682_591_476.328_125_f64;
        assert_eq!(format!("{x}"), "218682591476.32813");
        assert_eq!(
            <Decimal as Money>::from_f64(x).unwrap().to_string(),
            "218682591476.32812"
        );
        let y = 108_695_552_336.953_125_f64;
        assert_eq!(
            <Decimal as Money>::from_f64(-y).unwrap().to_string(),
            "-108695552336.95312"
        );
        // not ties: unchanged
        for v in [0.1, 0.3, 1.0 / 3.0, 2.675, 1e-7, 123.456] {
            let display = Decimal::from_str(&format!("{v}")).unwrap().normalize();
            assert_eq!(<Decimal as Money>::from_f64(v).unwrap(), display, "{v}");
        }
        assert!(decimal_equals_f64(Decimal::from_str("0.5").unwrap(), 0.5));
        assert!(decimal_equals_f64(
            Decimal::from_str("-3.25").unwrap(),
            -3.25
        ));
        assert!(!decimal_equals_f64(Decimal::from_str("0.1").unwrap(), 0.1));
        assert!(decimal_equals_f64(Decimal::from(1u64 << 60), 2f64.powi(60)));
    }

    #[test]
    fn to_f64_is_correctly_rounded_on_both_paths() {
        for text in [
            "0.1",
            "1234567.8901",
            "-0.3333333333333333",
            "99984.8825",
            "1e-12",
            "0.000000000001",
            "79228162514264337593543950335",
            "123456789012345678.9012345678",
            "-7.000000000000000000000000001",
        ] {
            let d = Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .unwrap();
            let expected = f64::from_str(&d.to_string()).unwrap();
            assert_eq!(d.to_f64().to_bits(), expected.to_bits(), "{text}");
        }
    }

    #[test]
    fn division_is_quantized_half_even() {
        let one = Decimal::ONE;
        let three = Decimal::from(3);
        assert_eq!(one.div_q(three).to_string(), "0.333333333333");
        assert_eq!(Decimal::from(2).div_q(three).to_string(), "0.666666666667");
        // exact ties go to even
        let tie = Decimal::new(5, DIV_SCALE + 1); // 0.0000000000005
        assert_eq!(tie.div_q(Decimal::ONE), Decimal::ZERO);
        let tie2 = Decimal::new(15, DIV_SCALE + 1);
        assert_eq!(tie2.div_q(Decimal::ONE), Decimal::new(2, DIV_SCALE));
        assert_eq!((-one).div_q(three).to_string(), "-0.333333333333");
    }

    #[test]
    fn order_amounts_round_like_zipline() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(round_order_amount(d("9.99995")), 10);
        assert_eq!(round_order_amount(d("9.9998")), 9);
        assert_eq!(round_order_amount(d("-9.9998")), -9);
        assert_eq!(round_order_amount(d("-3.00009")), -3);
        assert_eq!(round_order_amount(10.7_f64), 10);
        assert_eq!(round_order_amount(-0.5_f64), 0);
    }
}
