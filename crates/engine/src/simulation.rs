//! One backtest's state: the clock's position, the ledger, and the per-session
//! performance it produces. Every driver (the Python binding, the batch runner, a Rust
//! [`Strategy`] through [`run`]) moves it with [`Simulation::advance`] and runs its
//! strategy on the [`Step`] it returns; the simulation never calls out, so no borrow of it
//! is held across strategy code.

use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

use rustybt_data::calendar::format_timestamp;
use rustybt_data::{BarStore, Field, View};

use rustybt_ledger::{Exposure, Ledger, Money, Order, OrderId, OrderStyle, Quote};

use crate::clock::{Clock, Phase, Step};
use crate::controls::{Control, OnError};
use crate::error::EngineError;

/// A configuration number (a model parameter, a limit) as `N`: finite, non-negative and
/// exactly representable.
pub(crate) fn param<N: Money>(name: &'static str, v: f64) -> Result<N, EngineError> {
    match N::from_f64(v) {
        Some(x) if x >= N::zero() => Ok(x),
        _ => Err(EngineError::BadConfig(format!(
            "{name} must be a finite, non-negative number, got {v}"
        ))),
    }
}

/// The ledger's number type, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LedgerKind {
    /// `rust_decimal`: exact books (the default).
    #[default]
    Decimal,
    /// `f64`: the same ledger code on floats.
    Float,
}

impl FromStr for LedgerKind {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "decimal" => Ok(LedgerKind::Decimal),
            "float" => Ok(LedgerKind::Float),
            other => Err(EngineError::BadConfig(format!(
                "ledger must be 'decimal' or 'float', got '{other}'"
            ))),
        }
    }
}

impl LedgerKind {
    pub fn name(self) -> &'static str {
        match self {
            LedgerKind::Decimal => "decimal",
            LedgerKind::Float => "float",
        }
    }
}

/// zipline's order functions: what the number given to an order means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// `order`: shares.
    Shares,
    /// `order_value`: a value, in shares at the current price.
    Value,
    /// `order_percent`: a fraction of the portfolio value.
    Percent,
    /// `order_target`: shares to hold.
    Target,
    /// `order_target_value`: a value to hold.
    TargetValue,
    /// `order_target_percent`: a fraction of the portfolio value to hold.
    TargetPercent,
}

impl FromStr for OrderKind {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        Ok(match s {
            "shares" => OrderKind::Shares,
            "value" => OrderKind::Value,
            "percent" => OrderKind::Percent,
            "target" => OrderKind::Target,
            "target_value" => OrderKind::TargetValue,
            "target_percent" => OrderKind::TargetPercent,
            other => {
                return Err(EngineError::BadOrder(format!(
                    "unknown order kind '{other}'"
                )))
            }
        })
    }
}

/// A limit / stop price: positive, finite and exactly representable.
fn trigger_price<N: Money>(kind: &'static str, v: f64) -> Result<N, EngineError> {
    if !(v.is_finite() && v > 0.0) {
        return Err(rustybt_ledger::LedgerError::BadPrice {
            kind,
            value: v.to_string(),
        }
        .into());
    }
    N::from_f64(v).ok_or_else(|| unrepresentable(kind, v))
}

/// An order number no decimal with at most 28 places holds exactly (e.g. `1e-30`).
fn unrepresentable(name: &str, v: f64) -> EngineError {
    EngineError::BadOrder(format!(
        "{name} must be a finite number that a decimal with at most 28 places can hold \
         exactly, got {v}"
    ))
}

/// The order style of zipline's `limit_price` / `stop_price` arguments.
pub fn order_style<N: Money>(
    limit: Option<f64>,
    stop: Option<f64>,
) -> Result<OrderStyle<N>, EngineError> {
    Ok(match (limit, stop) {
        (None, None) => OrderStyle::Market,
        (Some(l), None) => OrderStyle::Limit(trigger_price("limit", l)?),
        (None, Some(s)) => OrderStyle::Stop(trigger_price("stop", s)?),
        (Some(l), Some(s)) => OrderStyle::StopLimit {
            limit: trigger_price("limit", l)?,
            stop: trigger_price("stop", s)?,
        },
    })
}

pub use crate::controls::ControlKind;

/// Which price of the next bar an order fills at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FillModel {
    /// zipline's rule: the next bar's close (the default).
    #[default]
    NextClose,
    /// backtrader's rule: the next bar's open. Triggers and slippage use the open too;
    /// positions are still marked at the close.
    NextOpen,
}

impl FromStr for FillModel {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "next_close" => Ok(FillModel::NextClose),
            "next_open" => Ok(FillModel::NextOpen),
            other => Err(EngineError::BadConfig(format!(
                "fill model must be 'next_close' or 'next_open', got '{other}'"
            ))),
        }
    }
}

/// A bundle adjustment in the ledger's number type.
#[derive(Debug, Clone, Copy)]
enum Adjust<N> {
    Split {
        sid: u32,
        split: N,
    },
    /// Earned on its session (the ex-date), paid on `pay_session` (`None`: past the bundle's
    /// last session, never paid within it).
    Dividend {
        sid: u32,
        per_share: N,
        pay_session: Option<usize>,
    },
}

/// What happened in one session, in exact numbers.
#[derive(Debug, Clone)]
pub struct SessionPerf<N> {
    pub session: usize,
    pub starting_cash: N,
    pub ending_cash: N,
    /// Value of positions at the start and end of the session.
    pub starting_value: N,
    pub ending_value: N,
    pub portfolio_value: N,
    pub pnl: N,
    /// pnl / portfolio value at the start of the session, quantized like every division.
    pub returns: N,
    /// Net cash flow of the session's transactions and commissions (negative when buying).
    pub capital_used: N,
    /// The session's transactions, as a range into the ledger's transaction log.
    pub transactions: Range<usize>,
    /// Orders placed or changed during the session, as they stood at its end.
    pub orders: Vec<Order<N>>,
    /// (sid, amount, cost basis, last sale price) of every open position at the end.
    pub positions: Vec<(u32, i64, N, N)>,
    pub exposure: Exposure<N>,
}

pub struct Simulation<N: Money> {
    store: Arc<BarStore>,
    clock: Clock,
    ledger: Ledger<N>,
    first_session: usize,
    last_session: usize,
    bar: usize,
    session: usize,
    starting_cash: N,
    starting_value: N,
    starting_pv: N,
    txn_mark: usize,
    touched: Vec<OrderId>,
    perf: Vec<SessionPerf<N>>,
    controls: Vec<Control<N>>,
    max_leverage: Option<N>,
    /// zipline's `MinLeverage`: (minimum gross leverage, deadline ns) checked after bars
    /// later than the deadline.
    min_leverage: Option<(N, i64)>,
    orders_today: u32,
    warnings: Vec<String>,
    /// The last float order parameter and its value as `N` (strategies repeat weights).
    last_param: (u64, N),
    /// The last [`Simulation::percent_of_portfolio`]: (cash, positions value, percent),
    /// and the product. Within a bar nothing moves the book, so a strategy weighting
    /// asset after asset by the same percent multiplies once.
    last_percent_value: Option<([N; 3], N)>,
    /// Periods a year the risk metrics annualise with (the calendar's nominal count:
    /// [`crate::metrics::periods_per_year`]), unless set.
    periods_per_year: f64,
    /// Adjustments by session index.
    adjustments: Vec<Vec<Adjust<N>>>,
    /// Cash moved by splits and dividends this session (part of capital_used).
    adjustment_cash: N,
    /// Dividends earned and not yet paid: (pay session, cash).
    unpaid_dividends: Vec<(usize, N)>,
    /// Whether each session's [`SessionPerf`] keeps its detail: capital used, the orders
    /// placed or changed, the positions and the exposure. A run read only for its returns
    /// and values (the batch runner) leaves them empty and default.
    session_detail: bool,
    /// A strategy's own slippage / commission models, asked in the ledger's place.
    cost_hook: Option<Box<dyn rustybt_ledger::CostHook<N> + Send + Sync>>,
    pub fill_model: FillModel,
}

impl<N: Money> Simulation<N> {
    /// A simulation over sessions `first_session..=last_session` of `store`.
    pub fn new(
        store: Arc<BarStore>,
        first_session: usize,
        last_session: usize,
        capital_base: N,
    ) -> Result<Self, EngineError> {
        if first_session > last_session || last_session >= store.sessions.len() {
            return Err(EngineError::BadRun(format!(
                "session range {first_session}..={last_session} is not inside the bundle's {} sessions",
                store.sessions.len()
            )));
        }
        if capital_base > N::from_i64(rustybt_ledger::MAX_NOTIONAL) {
            return Err(EngineError::BadParameter {
                name: "capital_base",
                value: capital_base.to_string(),
                reason: format!(
                    "above {} the ledger could not stay exact",
                    rustybt_ledger::MAX_NOTIONAL
                ),
            });
        }
        if capital_base <= N::zero() {
            return Err(EngineError::BadParameter {
                name: "capital_base",
                value: capital_base.to_string(),
                reason: "must be positive".into(),
            });
        }
        let first_bar = store.session_first_bar[first_session] as usize;
        let n = store.n_assets();
        let mut adjustments = vec![Vec::new(); store.sessions.len()];
        for adj in &store.adjustments {
            let (sid, date, value, pay_date) = match adj {
                rustybt_data::Adjustment::Split { sid, date, ratio } => (*sid, *date, ratio, None),
                rustybt_data::Adjustment::Dividend {
                    sid,
                    date,
                    amount,
                    pay_date,
                } => (*sid, *date, amount, Some(pay_date.unwrap_or(*date))),
            };
            let parsed = N::from_decimal_str(value).ok_or_else(|| {
                EngineError::BadRun(format!(
                    "bundle adjustment for sid {sid} has an unreadable value '{value}'"
                ))
            })?;
            let s = store.session_at_or_after(date);
            if s < store.sessions.len() && store.sessions[s].date == date {
                adjustments[s].push(match pay_date {
                    None => Adjust::Split { sid, split: parsed },
                    Some(pay) => Adjust::Dividend {
                        sid,
                        per_share: parsed,
                        // the first session on or after the pay date
                        pay_session: Some(store.session_at_or_after(pay))
                            .filter(|&p| p < store.sessions.len()),
                    },
                });
            }
        }
        let periods_per_year = crate::metrics::periods_per_year(&store.manifest.calendar);
        let mut ledger = Ledger::new(n, capital_base);
        if store.assets.iter().any(|a| a.lot_scale != 0) {
            let scales: Vec<u32> = store.assets.iter().map(|a| a.lot_scale).collect();
            ledger.set_lot_scales(&scales)?;
        }
        Ok(Simulation {
            store,
            clock: Clock::Initialize,
            ledger,
            first_session,
            last_session,
            bar: first_bar,
            session: first_session,
            starting_cash: capital_base,
            starting_value: N::zero(),
            starting_pv: capital_base,
            txn_mark: 0,
            touched: Vec::new(),
            perf: Vec::new(),
            controls: Vec::new(),
            max_leverage: None,
            min_leverage: None,
            orders_today: 0,
            warnings: Vec::new(),
            last_param: (0f64.to_bits(), N::zero()),
            last_percent_value: None,
            periods_per_year,
            adjustments,
            adjustment_cash: N::zero(),
            unpaid_dividends: Vec::new(),
            cost_hook: None,
            fill_model: FillModel::NextClose,
            session_detail: true,
        })
    }

    /// Keep (the default) or leave out each session's detail in [`Simulation::perf`]:
    /// without it a [`SessionPerf`] holds the session's cash, values, pnl, returns and its
    /// transactions' range, and its capital used, orders, positions and exposure are
    /// zero, empty and default, and the ledger keeps no history either
    /// ([`rustybt_ledger::Ledger::keep_history`]: its closed orders are dropped and its
    /// transactions counted, so the ranges are empty). Nothing else about the run changes.
    pub fn keep_session_detail(&mut self, keep: bool) {
        self.session_detail = keep;
        self.ledger.keep_history(keep);
    }

    /// Move the clock to the strategy's next turn (see [`crate::clock`]): `None` once the
    /// last session has closed. An account control broken by the bar just handled is an
    /// error, and the run stops there (further calls return `None`).
    pub fn advance(&mut self) -> Result<Option<Step>, EngineError> {
        let step = match self.clock {
            Clock::Initialize => Some(self.begin_session(self.first_session)),
            Clock::BeforeTradingStart { session } => {
                Some(self.next_bar_or_close(session, self.session_bars(session).start)?)
            }
            Clock::Bar { session, bar } => {
                if let Err(e) = self.check_account_controls() {
                    self.clock = Clock::Done;
                    return Err(e);
                }
                Some(self.next_bar_or_close(session, bar + 1)?)
            }
            Clock::SessionEnd { session } if session < self.last_session => {
                Some(self.begin_session(session + 1))
            }
            Clock::SessionEnd { .. } | Clock::Done => {
                self.clock = Clock::Done;
                None
            }
        };
        Ok(step)
    }

    fn begin_session(&mut self, session: usize) -> Step {
        self.start_session(session);
        self.clock = Clock::BeforeTradingStart { session };
        Step::BeforeTradingStart {
            session,
            view: View::before_session(self.session_bars(session).start),
        }
    }

    fn next_bar_or_close(&mut self, session: usize, bar: usize) -> Result<Step, EngineError> {
        Ok(if bar < self.session_bars(session).end {
            self.process_bar(bar);
            self.clock = Clock::Bar { session, bar };
            if let Err(e) = self.check_exact_range() {
                self.clock = Clock::Done;
                return Err(e);
            }
            Step::Bar { bar }
        } else {
            self.end_session();
            self.clock = Clock::SessionEnd { session };
            Step::SessionEnd { session }
        })
    }

    /// After a bar's marks: a position worth more than [`rustybt_ledger::MAX_NOTIONAL`]
    /// (its price rose after the order that the same limit let through) would take the
    /// exact ledger's sums past what a decimal holds with 12 places, and it would round.
    /// The run stops instead, before the strategy sees any such value.
    fn check_exact_range(&self) -> Result<(), EngineError> {
        for &sid in self.ledger.held() {
            let p = self.ledger.position(sid);
            if rustybt_ledger::beyond_notional(p.last_sale_price, p.amount, p.amount, p.scale) {
                return Err(EngineError::BeyondExactRange(format!(
                    "the position of {} of {} is worth more than {} at {}, beyond what \
                     the exact ledger holds without rounding: the run stops here",
                    rustybt_ledger::qty_text(p.amount, p.scale),
                    self.store.assets[sid as usize].symbol,
                    rustybt_ledger::MAX_NOTIONAL,
                    self.when()
                )));
            }
        }
        Ok(())
    }

    /// Where the clock is in the algorithm's lifecycle.
    pub fn phase(&self) -> Phase {
        self.clock.phase()
    }

    /// [`Simulation::new`] with `capital_base` as the strategy gave it (a float, read as
    /// [`Money::from_f64`] reads it).
    pub fn with_capital(
        store: Arc<BarStore>,
        first_session: usize,
        last_session: usize,
        capital_base: f64,
    ) -> Result<Self, EngineError> {
        Self::new(
            store,
            first_session,
            last_session,
            param("capital_base", capital_base)?,
        )
    }

    /// [`Simulation::set_max_leverage`] of a float limit (finite, non-negative).
    pub fn set_max_leverage_f64(&mut self, max: f64) -> Result<(), EngineError> {
        self.set_max_leverage(param("max_leverage", max)?);
        Ok(())
    }

    /// Ask `hook` (a strategy's own slippage and/or commission models) for fills and
    /// commissions in the ledger's place, from the next bar on (`None`: the ledger's own
    /// models again).
    pub fn set_cost_hook(
        &mut self,
        hook: Option<Box<dyn rustybt_ledger::CostHook<N> + Send + Sync>>,
    ) {
        self.cost_hook = hook;
    }

    /// zipline's `set_min_leverage`: after `deadline_ns` (the first session plus the grace
    /// period), gross leverage below `min` fails the run after any bar.
    pub fn set_min_leverage_f64(&mut self, min: f64, deadline_ns: i64) -> Result<(), EngineError> {
        self.min_leverage = Some((param("min_leverage", min)?, deadline_ns));
        Ok(())
    }

    /// (sid, order id) of the open orders of `sid`, or of every asset.
    pub fn open_order_ids(&self, sid: Option<u32>) -> Vec<(u32, OrderId)> {
        let l = &self.ledger;
        let sids: Vec<u32> = match sid {
            Some(x) if (x as usize) < l.n_assets() => vec![x],
            Some(_) => vec![],
            None => l.assets_with_open_orders().to_vec(),
        };
        sids.iter()
            .flat_map(|&x| l.open_orders(x).map(move |o| (x, o.id)))
            .collect()
    }

    /// Add a trading control (before the first bar).
    pub fn add_control(&mut self, control: Control<N>) {
        self.controls.push(control);
    }

    /// zipline's `set_max_leverage`: gross leverage checked after every bar.
    pub fn set_max_leverage(&mut self, max: N) {
        self.max_leverage = Some(max);
    }

    /// Warnings from controls set to log rather than fail, since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Check account controls (max leverage); the clock calls it after the strategy
    /// handles a bar.
    fn check_account_controls(&self) -> Result<(), EngineError> {
        if let Some((min, deadline)) = self.min_leverage {
            let pv = self.ledger.portfolio_value();
            let now = self.store.timestamps[self.bar];
            // zipline's account.leverage: gross exposure over net liquidation (0 when the
            // book is empty or worth nothing)
            let gross = self.ledger.exposure().gross();
            let below = if pv > N::zero() {
                gross < min * pv
            } else {
                min > N::zero()
            };
            if now > deadline && below {
                let leverage = if pv > N::zero() {
                    gross.to_f64() / pv.to_f64()
                } else {
                    0.0
                };
                return Err(EngineError::AccountControl(format!(
                    "account violates account constraint MinLeverage(min_leverage={min}, deadline={}) at {}: gross leverage {leverage:.6}",
                    format_timestamp(deadline),
                    self.when(),
                )));
            }
        }
        let Some(max) = self.max_leverage else {
            return Ok(());
        };
        let pv = self.ledger.portfolio_value();
        if pv <= N::zero() {
            return Ok(());
        }
        let gross = self.ledger.exposure().gross();
        if gross > max * pv {
            return Err(EngineError::AccountControl(format!(
                "account violates account constraint MaxLeverage(max_leverage={max}) at {}: gross leverage {:.6}",
                self.when(),
                gross.to_f64() / pv.to_f64()
            )));
        }
        Ok(())
    }

    pub fn store(&self) -> &Arc<BarStore> {
        &self.store
    }
    pub fn ledger(&self) -> &Ledger<N> {
        &self.ledger
    }
    /// Configure costs and policies (before the first bar).
    pub fn ledger_mut(&mut self) -> &mut Ledger<N> {
        &mut self.ledger
    }
    pub fn sessions(&self) -> Range<usize> {
        self.first_session..self.last_session + 1
    }
    /// Bars of session `s`.
    pub fn session_bars(&self, s: usize) -> Range<usize> {
        self.store.session_first_bar[s] as usize..self.store.session_first_bar[s + 1] as usize
    }
    pub fn current_bar(&self) -> usize {
        self.bar
    }
    pub fn current_session(&self) -> usize {
        self.session
    }
    pub fn perf(&self) -> &[SessionPerf<N>] {
        &self.perf
    }

    #[inline(always)]
    #[allow(clippy::inline_always)] // an Option<N> returned through memory stalls the caller's load
    fn price_of(&self, mantissa: i64) -> N {
        N::from_mantissa(mantissa, self.store.price_scale())
    }

    /// The forward-filled close of `sid` at the current bar.
    #[inline(always)]
    #[allow(clippy::inline_always)] // an Option<N> returned through memory stalls the caller's load
    pub fn price(&self, sid: u32) -> Option<N> {
        self.store
            .last_close_mantissa(self.bar, sid)
            .map(|m| self.price_of(m))
    }

    /// Begin session `s`: remember where its accounting starts.
    fn start_session(&mut self, s: usize) {
        self.session = s;
        self.bar = self.session_bars(s).start;
        self.starting_cash = self.ledger.cash();
        self.starting_value = self.ledger.positions_value();
        self.starting_pv = self.ledger.portfolio_value();
        self.txn_mark = self.ledger.transactions().len();
        self.orders_today = 0;
        self.adjustment_cash = N::zero();
        let adjustments = std::mem::take(&mut self.adjustments[s]);
        for adj in &adjustments {
            match *adj {
                Adjust::Split { sid, split } => {
                    self.adjustment_cash += self.ledger.apply_split(sid, split, self.bar);
                }
                Adjust::Dividend {
                    sid,
                    per_share,
                    pay_session,
                } => {
                    let owed = self.ledger.earn_dividend(sid, per_share);
                    if let (Some(pay), false) = (pay_session, owed.is_zero()) {
                        self.unpaid_dividends.push((pay, owed));
                    }
                }
            }
        }
        self.adjustments[s] = adjustments;
        // zipline: dividends earned on their ex-dates are paid at the start of the first
        // session on or after their pay dates (the ex-date's own, without a pay date)
        if self.unpaid_dividends.iter().any(|&(pay, _)| pay <= s) {
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unpaid_dividends)
                .into_iter()
                .partition(|&(pay, _)| pay <= s);
            self.unpaid_dividends = later;
            for (_, cash) in due {
                self.ledger.pay_dividend(cash);
                self.adjustment_cash += cash;
            }
        }
        self.touched.extend(self.ledger.take_rejections());
        self.close_out_ended_assets();
    }

    /// zipline's auto-close: positions in assets whose data ended before this session are
    /// closed at their last price, and their open orders cancelled.
    fn close_out_ended_assets(&mut self) {
        let today = self.store.sessions[self.session].date;
        let ended: Vec<u32> = self
            .ledger
            .held()
            .iter()
            .chain(self.ledger.assets_with_open_orders())
            .copied()
            .filter(|&sid| self.store.assets[sid as usize].end_date < today)
            .collect();
        for sid in ended {
            let price = self
                .price(sid)
                .unwrap_or(self.ledger.position(sid).last_sale_price);
            self.touched
                .extend(self.ledger.open_orders(sid).map(|o| o.id));
            self.ledger.close_out(sid, price, self.bar);
        }
    }

    /// Fill open orders against bar `bar` and mark positions to its closes. Orders placed
    /// while handling bar `t` meet bar `t + 1` here first: no fill sees the bar it was placed on.
    fn process_bar(&mut self, bar: usize) {
        self.bar = bar;
        let store = &self.store;
        let scale = store.price_scale();
        if !self.ledger.assets_with_open_orders().is_empty() {
            let before = self.ledger.transactions().len();
            let at_open = self.fill_model == FillModel::NextOpen;
            // the mark below revalues the book once for both
            let quote = |sid| {
                let price = if at_open {
                    store.open_mantissa(bar, sid)
                } else {
                    store.close_mantissa(bar, sid)
                };
                price.map(|m| Quote {
                    close: N::from_mantissa(m, scale),
                    volume: lots_of_volume(store, bar, sid),
                })
            };
            self.ledger
                .fill_open_orders_with(bar, quote, self.cost_hook.as_deref_mut());
            let new = &self.ledger.transactions()[before..];
            self.touched.extend(new.iter().filter_map(|t| t.order_id));
            self.touched.extend(self.ledger.take_rejections());
        }
        self.ledger.mark_to_market(bar, |sid| {
            store
                .close_mantissa(bar, sid)
                .map(|m| N::from_mantissa(m, scale))
        });
    }

    /// Close the current session's books and append its [`SessionPerf`].
    fn end_session(&mut self) {
        // zipline applies the end-of-day cancel policy in minute simulations only: on
        // daily bars every order would be cancelled before the bar it fills on
        let intraday = self.store.bar_size != rustybt_data::BarSize::Daily;
        if intraday && self.ledger.cancel_policy == rustybt_ledger::CancelPolicy::EndOfDay {
            for &sid in self.ledger.assets_with_open_orders() {
                self.touched
                    .extend(self.ledger.open_orders(sid).map(|o| o.id));
            }
            self.ledger.cancel_all_open(self.bar);
        }
        let txns = self.txn_mark..self.ledger.transactions().len();
        let pv = self.ledger.portfolio_value();
        let pnl = pv - self.starting_pv;
        let returns = if self.starting_pv.is_zero() {
            N::zero()
        } else {
            pnl.div_q(self.starting_pv)
        };
        let (capital_used, orders, positions, exposure) = if self.session_detail {
            self.closing_detail(txns.clone())
        } else {
            // the session's scalars alone (see `keep_session_detail`)
            self.touched.clear();
            (N::zero(), Vec::new(), Vec::new(), Exposure::zero())
        };
        self.perf.push(SessionPerf {
            session: self.session,
            starting_cash: self.starting_cash,
            ending_cash: self.ledger.cash(),
            starting_value: self.starting_value,
            ending_value: self.ledger.positions_value(),
            portfolio_value: pv,
            pnl,
            returns,
            capital_used,
            transactions: txns,
            orders,
            positions,
            exposure,
        });
    }

    /// The detail of the session closing now: capital used by the transactions `txns`,
    /// the orders placed or changed (as they stand), the open positions, the exposure.
    #[allow(clippy::type_complexity)]
    fn closing_detail(
        &mut self,
        txns: Range<usize>,
    ) -> (N, Vec<Order<N>>, Vec<(u32, i64, N, N)>, Exposure<N>) {
        let capital_used = self.ledger.transactions()[txns]
            .iter()
            .fold(self.adjustment_cash, |acc, t| {
                acc - t.price.mul_qty(t.amount, self.ledger.lot_scale(t.sid)) - t.commission
            });
        self.touched.sort_unstable();
        self.touched.dedup();
        let orders = self
            .touched
            .drain(..)
            .filter_map(|id| self.ledger.order(id).ok().cloned())
            .collect();
        self.ledger.settle_positions();
        let positions = self
            .ledger
            .held()
            .iter()
            .map(|&sid| {
                let p = self.ledger.position(sid);
                (sid, p.amount, p.cost_basis(), p.last_sale_price)
            })
            .collect();
        (capital_used, orders, positions, self.ledger.exposure())
    }

    fn check_not_ended(&self, sid: u32) -> Result<(), EngineError> {
        let asset = &self.store.assets[sid as usize];
        let today = self.store.sessions[self.store.bar_session[self.bar] as usize].date;
        if today > asset.end_date {
            return Err(EngineError::Delisted {
                symbol: asset.symbol.clone(),
                when: self.when(),
                end_date: rustybt_data::calendar::format_date(asset.end_date),
            });
        }
        Ok(())
    }

    /// Refuse orders the exact ledger could not book without rounding (see `MAX_SHARES`).
    fn check_size(&self, sid: u32, amount: i64) -> Result<(), EngineError> {
        let scale = self.ledger.lot_scale(sid);
        let after = self.ledger.position(sid).amount.checked_add(amount);
        let too_many = |n: i64| n.unsigned_abs() > rustybt_ledger::MAX_SHARES as u64;
        let bad = |what: String| {
            EngineError::OrderTooLarge(format!(
                "order for {}: {what}",
                rustybt_ledger::qty_text(amount, scale)
            ))
        };
        if too_many(amount) || after.is_none_or(too_many) {
            return Err(bad(format!(
                "orders and positions are limited to {}",
                rustybt_ledger::qty_text(rustybt_ledger::MAX_SHARES, scale)
            )));
        }
        if let Some(price) = self.price(sid) {
            if rustybt_ledger::beyond_notional(price, amount, after.unwrap_or(amount), scale) {
                return Err(bad(format!(
                    "order and position values are limited to {}",
                    rustybt_ledger::MAX_NOTIONAL
                )));
            }
        }
        Ok(())
    }

    fn check_controls(&mut self, sid: u32, amount: i64) -> Result<(), EngineError> {
        if self.controls.is_empty() {
            return Ok(());
        }
        let current = self.ledger.position(sid).amount;
        let scale = self.ledger.lot_scale(sid);
        let price = self.price(sid);
        let now = self.store.timestamps[self.bar];
        for c in &self.controls {
            if c.violated(sid, amount, current, scale, price, self.orders_today, now) {
                let msg = format!(
                    "order for {} of {} at {} violates trading constraint {}",
                    rustybt_ledger::qty_text(amount, scale),
                    self.store.assets[sid as usize].symbol,
                    self.when(),
                    c.describe(&self.store)
                );
                match c.on_error() {
                    OnError::Fail => return Err(EngineError::TradingControl(msg)),
                    OnError::Log => self.warnings.push(msg),
                }
            }
        }
        Ok(())
    }

    fn when(&self) -> String {
        format_timestamp(self.store.timestamps[self.bar])
    }

    /// The price a value or percent order is sized at; refused before the asset's first
    /// session, as zipline refuses it "before it started trading" (share orders queue).
    #[inline]
    fn require_price(&self, sid: u32) -> Result<N, EngineError> {
        self.check_sid(sid)?;
        let asset = &self.store.assets[sid as usize];
        let today = self.store.sessions[self.store.bar_session[self.bar] as usize].date;
        if today < asset.start_date {
            return Err(EngineError::NotStarted {
                symbol: asset.symbol.clone(),
                when: self.when(),
                start_date: rustybt_data::calendar::format_date(asset.start_date),
            });
        }
        self.price(sid).ok_or_else(|| EngineError::NoPrice {
            symbol: self.store.assets[sid as usize].symbol.clone(),
            when: self.when(),
        })
    }

    fn check_sid(&self, sid: u32) -> Result<(), EngineError> {
        if (sid as usize) < self.store.n_assets() {
            Ok(())
        } else {
            Err(rustybt_ledger::LedgerError::UnknownAsset {
                sid,
                n_assets: self.store.n_assets(),
            }
            .into())
        }
    }

    /// A float order parameter as `N` ([`Money::from_f64`]); the last one is remembered
    /// (a strategy, or a batch matrix row, passes the same weight for asset after asset;
    /// the decimal conversion goes through the shortest digits and is not cheap).
    pub fn param(&mut self, v: f64) -> Option<N> {
        if v.to_bits() == self.last_param.0 {
            return Some(self.last_param.1);
        }
        if v.to_bits() == 0 {
            return Some(N::zero()); // +0.0 (the "hold none" weight) is zero in both types
        }
        let x = N::from_f64(v)?;
        // whole numbers convert cheaply: keep the fraction (a weight alternating with 0)
        if v.fract() != 0.0 {
            self.last_param = (v.to_bits(), x);
        }
        Some(x)
    }

    /// Place an order of `kind` for `value` (a float as the strategy gave it: shares,
    /// a value or a fraction; it enters the ledger as [`Money::from_f64`] reads it, and
    /// share counts are rounded as zipline rounds them).
    /// `limit` / `stop` make it a limit, stop or stop-limit order ([`order_style`]).
    /// `kind` is an [`OrderKind`] name; the phase, then the style, then the kind are
    /// checked, in that order.
    pub fn place(
        &mut self,
        kind: &str,
        sid: u32,
        value: f64,
        limit: Option<f64>,
        stop: Option<f64>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_trading()?;
        let style = order_style(limit, stop)?;
        let kind: OrderKind = kind.parse()?;
        let name = match kind {
            OrderKind::Shares => "amount",
            OrderKind::Value => "value",
            OrderKind::Percent => "percent",
            _ => "target",
        };
        let lot_scale = self.ledger.lot_scale(sid); // 0 for a sid not in the bundle
        #[allow(clippy::cast_precision_loss)] // a bound, far from 2^53's last digits
        let max_units =
            rustybt_ledger::MAX_SHARES as f64 / rustybt_ledger::lots_per_unit(lot_scale) as f64;
        if matches!(kind, OrderKind::Shares | OrderKind::Target)
            && value.is_finite()
            && value.abs() > max_units
        {
            // before rounding: a saturated i64 would name 9223372036854775807 shares
            let what = if matches!(kind, OrderKind::Target) {
                "target of"
            } else {
                "order for"
            };
            let unit = if lot_scale == 0 { " shares" } else { "" };
            return Err(EngineError::OrderTooLarge(format!(
                "{what} {value}{unit}: orders and positions are limited to {}",
                rustybt_ledger::qty_text(rustybt_ledger::MAX_SHARES, lot_scale)
            )));
        }
        let x = self
            .param(value)
            .ok_or_else(|| unrepresentable(name, value))?;
        match kind {
            OrderKind::Shares => self.order(sid, lots_of(x, lot_scale), style),
            OrderKind::Value => self.order_value(sid, x, style),
            OrderKind::Percent => self.order_percent(sid, x, style),
            OrderKind::Target => self.order_target(sid, lots_of(x, lot_scale), style),
            OrderKind::TargetValue => self.order_target_value(sid, x, style),
            OrderKind::TargetPercent => self.order_target_percent(sid, x, style),
        }
    }

    /// Periods a year the risk metrics annualise with: 252 on an exchange calendar, 365
    /// on a 24/7 one, or what [`Simulation::set_periods_per_year`] set.
    pub fn periods_per_year(&self) -> f64 {
        self.periods_per_year
    }

    /// Annualise the risk metrics with `periods` a year instead of the calendar's count.
    pub fn set_periods_per_year(&mut self, periods: f64) -> Result<(), EngineError> {
        self.periods_per_year = crate::metrics::check_periods(periods)?;
        Ok(())
    }

    /// [`Simulation::place`] for each `(sid, value)` in turn, with `kind` and no limit or
    /// stop: a whole rebalance in one call, with the same outcome as the calls one by one
    /// (each sees the orders before it). Stops at the first refusal and returns it; the
    /// orders placed before it stay placed, as in the loop.
    pub fn place_many(
        &mut self,
        kind: &str,
        orders: impl IntoIterator<Item = (u32, f64)>,
    ) -> Result<Vec<Option<OrderId>>, EngineError> {
        orders
            .into_iter()
            .map(|(sid, value)| self.place(kind, sid, value, None, None))
            .collect()
    }

    /// Orders are accepted only on a bar's turn (`handle_data`, scheduled functions).
    fn check_trading(&self) -> Result<(), EngineError> {
        match self.clock {
            Clock::Bar { .. } => Ok(()),
            other => Err(EngineError::WrongPhase(other.phase())),
        }
    }

    /// Place an order for `amount` lots (shares where the asset's lot is one share),
    /// already rounded.
    pub fn order(
        &mut self,
        sid: u32,
        amount: i64,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_trading()?;
        self.check_sid(sid)?;
        self.check_not_ended(sid)?;
        if amount != 0 {
            self.check_size(sid, amount)?;
        }
        // as zipline: every order call is validated by the controls and counted toward
        // max_order_count, one for zero shares too (it places nothing)
        self.check_controls(sid, amount)?;
        let id = self.ledger.place_order(sid, amount, style, self.bar)?;
        self.orders_today += 1;
        if let Some(id) = id {
            self.touched.push(id);
        }
        Ok(id)
    }

    /// zipline's `order_value`: `value / price` shares, rounded.
    pub fn order_value(
        &mut self,
        sid: u32,
        value: N,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_trading()?;
        let price = self.require_price(sid)?;
        let amount = shares_for_value(value, price, self.ledger.lot_scale(sid));
        self.order(sid, amount, style)
    }

    /// zipline's `order_percent`: a fraction of portfolio value.
    pub fn order_percent(
        &mut self,
        sid: u32,
        percent: N,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_trading()?;
        let value = self.percent_of_portfolio(percent)?;
        self.order_value(sid, value, style)
    }

    /// zipline's `order_target`: lots to reach `target` lots.
    pub fn order_target(
        &mut self,
        sid: u32,
        target: i64,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_trading()?;
        self.check_sid(sid)?;
        let amount = target.saturating_sub(self.ledger.position(sid).amount);
        self.order(sid, amount, style)
    }

    pub fn order_target_value(
        &mut self,
        sid: u32,
        target: N,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_trading()?;
        let price = self.require_price(sid)?;
        let amount = self.ledger.target_value_amount(sid, target, price);
        self.order(sid, amount, style)
    }

    pub fn order_target_percent(
        &mut self,
        sid: u32,
        percent: N,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_trading()?;
        let price = self.require_price(sid)?;
        // the common "hold none": 0 × portfolio value is 0, no multiplication needed
        let value = if percent.is_zero() {
            N::zero()
        } else {
            self.percent_of_portfolio(percent)?
        };
        let amount = self.ledger.target_value_amount(sid, value, price);
        self.order(sid, amount, style)
    }

    /// `percent` of the portfolio value: refused where the product is beyond the number
    /// type's range (a decimal's 2^96), which no order could be placed for anyway.
    fn percent_of_portfolio(&mut self, percent: N) -> Result<N, EngineError> {
        let key = [self.ledger.cash(), self.ledger.positions_value(), percent];
        if let Some((k, value)) = self.last_percent_value {
            if k.iter().zip(&key).all(|(a, b)| a.same(*b)) {
                return Ok(value);
            }
        }
        let value = self
            .ledger
            .portfolio_value()
            .checked_mul(percent)
            .ok_or_else(|| {
                EngineError::OrderTooLarge(format!(
                    "an order for {percent} of the portfolio value: the value is beyond what \
                     the ledger can hold exactly"
                ))
            })?;
        self.last_percent_value = Some((key, value));
        Ok(value)
    }

    pub fn cancel_order(&mut self, id: OrderId) -> Result<(), EngineError> {
        self.ledger.cancel_order(id, self.bar)?;
        self.touched.push(id);
        Ok(())
    }

    /// `field` of `sid` at the current bar as f64.
    pub fn current(&self, field: Field, sid: u32) -> Result<f64, EngineError> {
        self.check_sid(sid)?;
        Ok(self.store.current(field, self.bar, sid))
    }
}

/// zipline's `value / price` shares, rounded; a quotient beyond the number type's range
/// saturates (it is far beyond [`rustybt_ledger::MAX_SHARES`] either way).
/// Lots of `10^-scale` for `value` at `price` (shares where `scale` is 0), rounded as
/// zipline rounds share counts.
fn shares_for_value<N: Money>(value: N, price: N, scale: u32) -> i64 {
    let Some(value) = rustybt_ledger::in_lots(value, scale) else {
        return rustybt_ledger::saturated_shares(value, price);
    };
    value
        .target_shares(price, 0)
        .unwrap_or_else(|| rustybt_ledger::saturated_shares(value, price))
}

/// A quantity `x` of an asset traded in lots of `10^-scale`, as a whole number of lots
/// rounded by zipline's share rule (within 0.0001 of a lot means that lot, otherwise
/// toward zero). `x × 10^scale` is exact for the decimal ledger.
pub(crate) fn lots_of<N: Money>(x: N, scale: u32) -> i64 {
    match rustybt_ledger::in_lots(x, scale) {
        Some(lots) => rustybt_ledger::round_order_amount(lots),
        // beyond a decimal's range: saturated, for the size check to refuse
        None => rustybt_ledger::saturated_shares(x, N::one()),
    }
}

/// Bar `bar`'s volume of `sid` in the asset's lots (whole units times `10^lot_scale`).
pub(crate) fn lots_of_volume(store: &BarStore, bar: usize, sid: u32) -> i64 {
    let volume = store.volume_at(bar, sid);
    match store.assets[sid as usize].lot_scale {
        0 => volume,
        scale => volume.saturating_mul(rustybt_ledger::lots_per_unit(scale)),
    }
}

const _: () = assert!(rustybt_data::MAX_LOT_SCALE == rustybt_ledger::MAX_LOT_SCALE);

/// A strategy written in Rust, driven by [`run`]. Python strategies are driven by the
/// binding, which advances the same clock.
pub trait Strategy<N: Money> {
    fn before_trading_start(&mut self, _sim: &mut Simulation<N>) -> Result<(), EngineError> {
        Ok(())
    }
    fn handle_data(&mut self, sim: &mut Simulation<N>) -> Result<(), EngineError>;
    /// After a session's books close (its perf is the last of [`Simulation::perf`]).
    fn session_end(&mut self, _sim: &mut Simulation<N>) -> Result<(), EngineError> {
        Ok(())
    }
}

/// Run `strategy` over the whole span: the clock's steps, each handed to the strategy.
pub fn run<N: Money, S: Strategy<N>>(
    sim: &mut Simulation<N>,
    strategy: &mut S,
) -> Result<(), EngineError> {
    while let Some(step) = sim.advance()? {
        match step {
            Step::BeforeTradingStart { .. } => strategy.before_trading_start(sim)?,
            Step::Bar { .. } => strategy.handle_data(sim)?,
            Step::SessionEnd { .. } => strategy.session_end(sim)?,
        }
    }
    Ok(())
}
