//! Risk metrics with empyrical's definitions (252 periods a year, risk-free 0,
//! standard deviation with ddof = 1, Sortino on downside deviation, drawdown of the
//! wealth curve starting at 1), computed cumulatively: row `i` uses returns `0..=i`.

pub const PERIODS_PER_YEAR: f64 = 252.0;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RiskRow {
    pub algorithm_period_return: f64,
    pub algo_volatility: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub max_drawdown: f64,
}

/// Cumulative risk metrics after each period. Single pass, O(n).
pub fn cumulative_risk(returns: &[f64]) -> Vec<RiskRow> {
    let mut out = Vec::with_capacity(returns.len());
    let (mut n, mut mean, mut m2) = (0f64, 0f64, 0f64);
    let mut sum = 0f64;
    let mut downside_sq = 0f64;
    let mut wealth = 1f64;
    let mut peak = 1f64;
    let mut max_dd = 0f64;
    for &r in returns {
        n += 1.0;
        sum += r;
        let delta = r - mean;
        mean += delta / n;
        m2 += delta * (r - mean);
        let clipped = r.min(0.0);
        downside_sq += clipped * clipped;
        wealth *= 1.0 + r;
        peak = peak.max(wealth);
        max_dd = max_dd.min((wealth - peak) / peak);
        let std = if n > 1.0 {
            (m2 / (n - 1.0)).sqrt()
        } else {
            f64::NAN
        };
        let ann = PERIODS_PER_YEAR.sqrt();
        // 0/0 is NaN and x/0 is ±inf, as numpy's divide gives empyrical
        let sharpe = (sum / n) / std * ann;
        let downside = (downside_sq / n).sqrt() * ann;
        // empyrical: fewer than two observations give NaN
        let sortino = if n < 2.0 {
            f64::NAN
        } else {
            (sum / n) * PERIODS_PER_YEAR / downside
        };
        out.push(RiskRow {
            algorithm_period_return: wealth - 1.0,
            algo_volatility: std * ann,
            sharpe,
            sortino,
            max_drawdown: max_dd,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_values() {
        let r = [0.01, -0.02, 0.03];
        let rows = cumulative_risk(&r);
        let last = rows[2];
        let mean: f64 = 0.02 / 3.0;
        let var =
            ((0.01 - mean).powi(2) + (-0.02f64 - mean).powi(2) + (0.03f64 - mean).powi(2)) / 2.0;
        assert!((last.sharpe - mean / var.sqrt() * 252f64.sqrt()).abs() < 1e-12);
        let downside = (0.0004f64 / 3.0).sqrt() * 252f64.sqrt();
        assert!((last.sortino - mean * 252.0 / downside).abs() < 1e-12);
        assert!((last.max_drawdown - (-0.02)).abs() < 1e-15);
        assert!((last.algorithm_period_return - (1.01 * 0.98 * 1.03 - 1.0)).abs() < 1e-15);
        assert!(rows[0].sharpe.is_nan());
    }
}
