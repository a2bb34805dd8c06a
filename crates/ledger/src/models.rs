//! Slippage and commission models with zipline-reloaded's formulas.

use crate::error::LedgerError;
use crate::num::Money;
use crate::order::Order;

/// A model as configured from outside the engine: its name (zipline's class name) and its
/// parameters with zipline-reloaded's defaults. These tables are the one place where the
/// models and their defaults are written; the Python `finance` classes read them from
/// `rustybt._core`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSpec {
    pub name: &'static str,
    /// (parameter name, zipline's default), in the order [`Slippage::from_spec`] and
    /// [`Commission::from_spec`] take them.
    pub params: &'static [(&'static str, f64)],
}

/// zipline's slippage models (`zipline.finance.slippage`), the default first.
pub const SLIPPAGE_MODELS: &[ModelSpec] = &[
    ModelSpec {
        name: "FixedBasisPointsSlippage",
        params: &[("basis_points", 5.0), ("volume_limit", 0.1)],
    },
    ModelSpec {
        name: "VolumeShareSlippage",
        params: &[("volume_limit", 0.025), ("price_impact", 0.1)],
    },
    ModelSpec {
        name: "FixedSlippage",
        params: &[("spread", 0.0)],
    },
    ModelSpec {
        name: "NoSlippage",
        params: &[],
    },
];

/// zipline's commission models (`zipline.finance.commission`), the default first.
pub const COMMISSION_MODELS: &[ModelSpec] = &[
    ModelSpec {
        name: "PerShare",
        params: &[("cost", 0.001), ("min_trade_cost", 0.0)],
    },
    ModelSpec {
        name: "PerTrade",
        params: &[("cost", 0.0)],
    },
    ModelSpec {
        name: "PerDollar",
        params: &[("cost", 0.0015)],
    },
    ModelSpec {
        name: "NoCommission",
        params: &[],
    },
];

/// The spec named `name` in `table`, and `params` (one per spec parameter) checked and
/// converted to `N`: finite, non-negative and exactly representable.
fn spec_params<N: Money>(
    table: &'static [ModelSpec],
    what: &'static str,
    name: &str,
    params: &[f64],
) -> Result<(&'static ModelSpec, Vec<N>), LedgerError> {
    let spec = table
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| unknown_model(what, name, table))?;
    if params.len() != spec.params.len() {
        return Err(LedgerError::BadModelParameter {
            model: spec.name,
            name: "parameters",
            value: params.len().to_string(),
            reason: "wrong number of parameters",
        });
    }
    let values = spec
        .params
        .iter()
        .zip(params)
        .map(|(&(pname, _), &v)| match N::from_f64(v) {
            // (at the money's scale where it has room: a cost per share times a share
            // count joins cash in one addition)
            Some(x) if x >= N::zero() => Ok(x.canonical()),
            _ => Err(LedgerError::BadModelNumber {
                name: pname,
                value: v.to_string(),
            }),
        })
        .collect::<Result<Vec<N>, _>>()?;
    Ok((spec, values))
}

fn unknown_model(what: &'static str, name: &str, table: &[ModelSpec]) -> LedgerError {
    LedgerError::UnknownModel {
        what,
        name: name.to_string(),
        known: table.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
    }
}

fn defaults(spec: &ModelSpec) -> Vec<f64> {
    spec.params.iter().map(|&(_, v)| v).collect()
}

/// What a model sees of the bar an order fills against.
#[derive(Debug, Clone, Copy)]
pub struct Quote<N> {
    pub close: N,
    /// The bar's volume in the asset's lots (shares where the lot is one share).
    pub volume: i64,
}

/// How much of an order fills at what price on one bar. Prices are quantized to
/// [`crate::DIV_SCALE`] places (half-even), fewer for assets traded in fractional lots
/// ([`Money::quantize_fill`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SlippageOutcome<N> {
    /// Fill `amount` (signed) shares at `price`.
    Fill { price: N, amount: i64 },
    /// Nothing fills for this order on this bar; later orders may.
    Skip,
    /// The bar's volume is used up: no further order for this asset fills on this bar.
    LiquidityExceeded,
}

/// zipline's slippage models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slippage<N> {
    /// Fill everything at the close.
    NoSlippage,
    /// Fill everything at close ± spread / 2.
    Fixed { spread: N },
    /// close × (1 ± bps / 10 000), at most `volume_limit` × bar volume per bar (zipline's default).
    FixedBasisPoints { basis_points: N, volume_limit: N },
    /// Quadratic price impact: close × (1 ± impact × share²), share = filled / volume ≤ `volume_limit`.
    VolumeShare { volume_limit: N, price_impact: N },
}

impl<N: Money> Slippage<N> {
    /// zipline's equity default, the first of [`SLIPPAGE_MODELS`] with its defaults:
    /// `FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1)`.
    pub fn zipline_default() -> Self {
        let spec = &SLIPPAGE_MODELS[0];
        Self::from_spec(spec.name, &defaults(spec)).expect("the default model is valid")
    }

    /// The model named `name` (a [`SLIPPAGE_MODELS`] name) with `params` in its spec's order.
    pub fn from_spec(name: &str, params: &[f64]) -> Result<Self, LedgerError> {
        let (spec, p) = spec_params::<N>(SLIPPAGE_MODELS, "slippage", name, params)?;
        Ok(match spec.name {
            "FixedBasisPointsSlippage" => Slippage::FixedBasisPoints {
                basis_points: p[0],
                volume_limit: p[1],
            },
            "VolumeShareSlippage" => Slippage::VolumeShare {
                volume_limit: p[0],
                price_impact: p[1],
            },
            "FixedSlippage" => Slippage::Fixed { spread: p[0] },
            "NoSlippage" => Slippage::NoSlippage,
            // a table entry without an arm here: refused, never a silent "no cost"
            other => return Err(unknown_model("slippage", other, SLIPPAGE_MODELS)),
        })
    }

    /// The fill for `order` given this bar's `quote` and the shares already filled
    /// for the same asset on this bar.
    pub fn process(
        &self,
        order: &Order<N>,
        quote: Quote<N>,
        volume_for_bar: i64,
    ) -> SlippageOutcome<N> {
        let direction = N::from_i64(order.direction());
        let open = order.open_amount();
        match *self {
            Slippage::NoSlippage => SlippageOutcome::Fill {
                price: quote.close,
                amount: open,
            },
            Slippage::Fixed { spread } => {
                // no spread: close + 0 is the close itself, in both number types
                let price = if spread.is_zero() {
                    quote.close.quantize_fill(order.scale)
                } else {
                    quote
                        .close
                        .add_quantize_fill(spread.div_q(N::from_i64(2)) * direction, order.scale)
                };
                SlippageOutcome::Fill {
                    price,
                    amount: open,
                }
            }
            Slippage::FixedBasisPoints {
                basis_points,
                volume_limit,
            } => {
                let max_volume = (volume_limit * N::from_i64(quote.volume)).trunc().to_i64();
                let shares = open.abs().min(max_volume - volume_for_bar);
                if shares <= 0 {
                    return SlippageOutcome::LiquidityExceeded;
                }
                let pct = basis_points.div_q(N::from_i64(10_000));
                let price = quote
                    .close
                    .add_quantize_fill(quote.close * (pct * direction), order.scale);
                SlippageOutcome::Fill {
                    price,
                    amount: shares * order.direction(),
                }
            }
            Slippage::VolumeShare {
                volume_limit,
                price_impact,
            } => {
                let volume = N::from_i64(quote.volume);
                let remaining = volume_limit * volume - N::from_i64(volume_for_bar);
                if remaining < N::one() {
                    return SlippageOutcome::LiquidityExceeded;
                }
                let cur = remaining.min(N::from_i64(open.abs())).trunc().to_i64();
                if cur < 1 {
                    return SlippageOutcome::Skip;
                }
                let total = N::from_i64(volume_for_bar + cur);
                let share = total.div_q(volume).min(volume_limit);
                let impact = share * share * price_impact * direction * quote.close;
                let price = quote.close.add_quantize_fill(impact, order.scale);
                if order.fill_worse_than_limit(price) {
                    return SlippageOutcome::Skip;
                }
                SlippageOutcome::Fill {
                    price,
                    amount: cur * order.direction(),
                }
            }
        }
    }
}

/// zipline's commission models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Commission<N> {
    NoCommission,
    /// `cost` per share, at least `min_trade_cost` per order (zipline default: 0.001, 0).
    PerShare {
        cost: N,
        min_trade_cost: N,
    },
    /// A flat `cost` charged on an order's first fill.
    PerTrade {
        cost: N,
    },
    /// `cost` × traded notional.
    PerDollar {
        cost: N,
    },
}

impl<N: Money> Commission<N> {
    /// zipline's equity default, the first of [`COMMISSION_MODELS`] with its defaults:
    /// `PerShare(cost=0.001, min_trade_cost=0)`.
    pub fn zipline_default() -> Self {
        let spec = &COMMISSION_MODELS[0];
        Self::from_spec(spec.name, &defaults(spec)).expect("the default model is valid")
    }

    /// The model named `name` (a [`COMMISSION_MODELS`] name) with `params` in its spec's order.
    pub fn from_spec(name: &str, params: &[f64]) -> Result<Self, LedgerError> {
        let (spec, p) = spec_params::<N>(COMMISSION_MODELS, "commission", name, params)?;
        Ok(match spec.name {
            "PerShare" => Commission::PerShare {
                cost: p[0],
                min_trade_cost: p[1],
            },
            "PerTrade" => Commission::PerTrade { cost: p[0] },
            "PerDollar" => Commission::PerDollar { cost: p[0] },
            "NoCommission" => Commission::NoCommission,
            other => return Err(unknown_model("commission", other, COMMISSION_MODELS)),
        })
    }

    /// Commission for a fill of `amount` shares at `price`, given what `order` paid so far
    /// (`order.filled` and `order.commission` exclude this fill).
    pub fn calculate(&self, order: &Order<N>, price: N, amount: i64) -> N {
        self.raw(order, price, amount).quantize()
    }

    fn raw(&self, order: &Order<N>, price: N, amount: i64) -> N {
        match *self {
            Commission::NoCommission => N::zero(),
            Commission::PerShare {
                cost,
                min_trade_cost,
            } => {
                let additional = cost.mul_qty(amount, order.scale).abs();
                if order.commission.is_zero() {
                    min_trade_cost.max(additional)
                } else {
                    let per_unit_total = cost.mul_qty(order.filled, order.scale).abs() + additional;
                    if per_unit_total < min_trade_cost {
                        N::zero()
                    } else {
                        per_unit_total - order.commission
                    }
                }
            }
            Commission::PerTrade { cost } => {
                if order.commission.is_zero() {
                    cost
                } else {
                    N::zero()
                }
            }
            Commission::PerDollar { cost } => {
                N::from_mantissa(amount, order.scale).abs() * (price * cost)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderStyle;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn fixed_basis_points_caps_volume_and_moves_price_against_the_order() {
        let model = Slippage::<Decimal>::zipline_default();
        let buy = Order::new(0, 0, 500, OrderStyle::Market, 0);
        let q = Quote {
            close: d("100"),
            volume: 1234,
        };
        // 10% of 1234 = 123.4 -> 123 shares at 100 * 1.0005
        assert_eq!(
            model.process(&buy, q, 0),
            SlippageOutcome::Fill {
                price: d("100.0500"),
                amount: 123
            }
        );
        assert_eq!(
            model.process(&buy, q, 123),
            SlippageOutcome::LiquidityExceeded
        );
        let sell = Order::new(1, 0, -10, OrderStyle::Market, 0);
        assert_eq!(
            model.process(&sell, q, 0),
            SlippageOutcome::Fill {
                price: d("99.9500"),
                amount: -10
            }
        );
    }

    #[test]
    fn zero_fixed_spread_fills_at_the_formula_s_price_to_the_bit() {
        // close + (0 / 2) · direction, quantized: the close, places and sign included
        let closes = [
            "132.5200",
            "0.0001",
            "7",
            "123456789012.345678",
            "0.1234567890123456",
            "18446744073709.551617",
        ];
        for close in closes {
            for amount in [100, -100] {
                let order = Order::new(0, 0, amount, OrderStyle::Market, 0);
                let direction = Decimal::from(order.direction());
                let q = Quote {
                    close: d(close),
                    volume: 10,
                };
                let zero = Decimal::ZERO;
                let formula = (q.close + zero.div_q(Decimal::from(2)) * direction).quantize();
                let SlippageOutcome::Fill { price, .. } =
                    Slippage::Fixed { spread: zero }.process(&order, q, 0)
                else {
                    panic!("a fixed spread always fills");
                };
                assert_eq!(price.serialize(), formula.serialize(), "{close} {amount}");
                let qf = Quote {
                    close: q.close.to_f64(),
                    volume: 10,
                };
                let formula = qf.close + 0.0f64.div_q(2.0) * (order.direction() as f64);
                let SlippageOutcome::Fill { price, .. } = Slippage::Fixed { spread: 0.0 }.process(
                    &Order::new(0, 0, amount, OrderStyle::Market, 0),
                    qf,
                    0,
                ) else {
                    panic!("a fixed spread always fills");
                };
                assert_eq!(price.to_bits(), formula.to_bits(), "{close} {amount}");
            }
        }
    }

    #[test]
    fn volume_share_matches_zipline_formula() {
        let model = Slippage::VolumeShare {
            volume_limit: d("0.025"),
            price_impact: d("0.1"),
        };
        let buy = Order::new(0, 0, 100, OrderStyle::Market, 0);
        let q = Quote {
            close: d("10"),
            volume: 2000,
        };
        // remaining = 50, fill 50, share = 0.025, impact = 0.025^2*0.1*10 = 0.000625
        assert_eq!(
            model.process(&buy, q, 0),
            SlippageOutcome::Fill {
                price: d("10.000625"),
                amount: 50
            }
        );
    }

    #[test]
    fn every_table_entry_builds_its_own_model() {
        for spec in SLIPPAGE_MODELS {
            let params: Vec<f64> = spec.params.iter().map(|&(_, v)| v).collect();
            let model = Slippage::<f64>::from_spec(spec.name, &params).unwrap();
            let want = match spec.name {
                "FixedBasisPointsSlippage" => matches!(model, Slippage::FixedBasisPoints { .. }),
                "VolumeShareSlippage" => matches!(model, Slippage::VolumeShare { .. }),
                "FixedSlippage" => matches!(model, Slippage::Fixed { .. }),
                "NoSlippage" => matches!(model, Slippage::NoSlippage),
                _ => false,
            };
            assert!(want, "{}", spec.name);
        }
        for spec in COMMISSION_MODELS {
            let params: Vec<f64> = spec.params.iter().map(|&(_, v)| v).collect();
            let model = Commission::<f64>::from_spec(spec.name, &params).unwrap();
            let want = match spec.name {
                "PerShare" => matches!(model, Commission::PerShare { .. }),
                "PerTrade" => matches!(model, Commission::PerTrade { .. }),
                "PerDollar" => matches!(model, Commission::PerDollar { .. }),
                "NoCommission" => matches!(model, Commission::NoCommission),
                _ => false,
            };
            assert!(want, "{}", spec.name);
        }
        assert!(Slippage::<f64>::from_spec("Bogus", &[]).is_err());
        assert!(Commission::<f64>::from_spec("PerShare", &[0.1]).is_err());
        assert!(Commission::<f64>::from_spec("PerShare", &[-0.1, 0.0]).is_err());
    }

    #[test]
    fn per_share_minimum_is_paid_once_then_topped_up() {
        let model = Commission::PerShare {
            cost: d("0.01"),
            min_trade_cost: d("1"),
        };
        let mut o = Order::new(0, 0, 300, OrderStyle::Market, 0);
        assert_eq!(model.calculate(&o, d("10"), 50), d("1"));
        o.filled = 50;
        o.commission = d("1");
        assert_eq!(model.calculate(&o, d("10"), 40), d("0")); // 0.9 < 1
        o.filled = 90;
        assert_eq!(model.calculate(&o, d("10"), 60), d("0.5")); // 1.5 - 1
    }
}
