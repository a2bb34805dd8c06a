//! One backtest's state: the bar clock position, the ledger, and the per-session
//! performance it produces. Drivers (the Python binding, the batch runner) call
//! [`Simulation::start_session`], [`Simulation::process_bar`] and
//! [`Simulation::end_session`] in clock order and run the strategy between them; the
//! simulation never calls out, so no borrow of it is held across strategy code.

use std::ops::Range;
use std::sync::Arc;

use rustybt_data::calendar::format_timestamp;
use rustybt_data::{BarStore, Field};
use rustybt_ledger::{Exposure, Ledger, Money, Order, OrderId, OrderStyle, Quote};

use crate::error::EngineError;

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
        if capital_base <= N::zero() {
            return Err(EngineError::BadParameter {
                name: "capital_base",
                value: capital_base.to_string(),
                reason: "must be positive".into(),
            });
        }
        let first_bar = store.session_first_bar[first_session] as usize;
        let n = store.n_assets();
        Ok(Simulation {
            store,
            ledger: Ledger::new(n, capital_base),
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
        })
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

    fn price_of(&self, mantissa: i64) -> N {
        N::from_mantissa(mantissa, self.store.price_scale())
    }

    /// The forward-filled close of `sid` at the current bar.
    pub fn price(&self, sid: u32) -> Option<N> {
        self.store
            .last_close_mantissa(self.bar, sid)
            .map(|m| self.price_of(m))
    }

    /// Begin session `s`: remember where its accounting starts.
    pub fn start_session(&mut self, s: usize) {
        self.session = s;
        self.bar = self.session_bars(s).start;
        self.starting_cash = self.ledger.cash();
        self.starting_value = self.ledger.positions_value();
        self.starting_pv = self.ledger.portfolio_value();
        self.txn_mark = self.ledger.transactions().len();
    }

    /// Fill open orders against bar `bar` and mark positions to its closes. Orders placed
    /// while handling bar `t` meet bar `t + 1` here first: no fill sees the bar it was placed on.
    pub fn process_bar(&mut self, bar: usize) {
        self.bar = bar;
        let store = &self.store;
        let scale = store.price_scale();
        if !self.ledger.assets_with_open_orders().is_empty() {
            let before = self.ledger.transactions().len();
            self.ledger.fill_open_orders(bar, |sid| {
                store.close_mantissa(bar, sid).map(|m| Quote {
                    close: N::from_mantissa(m, scale),
                    volume: store.volume_at(bar, sid),
                })
            });
            let new = &self.ledger.transactions()[before..];
            self.touched.extend(new.iter().map(|t| t.order_id));
        }
        self.ledger.mark_to_market(bar, |sid| {
            store
                .close_mantissa(bar, sid)
                .map(|m| N::from_mantissa(m, scale))
        });
    }

    /// Close the current session's books and append its [`SessionPerf`].
    pub fn end_session(&mut self) {
        if self.ledger.cancel_policy == rustybt_ledger::CancelPolicy::EndOfDay {
            for &sid in self.ledger.assets_with_open_orders() {
                self.touched
                    .extend(self.ledger.open_orders(sid).map(|o| o.id));
            }
            self.ledger.cancel_all_open(self.bar);
        }
        let txns = self.txn_mark..self.ledger.transactions().len();
        let capital_used = self.ledger.transactions()[txns.clone()]
            .iter()
            .fold(N::zero(), |acc, t| {
                acc - N::from_i64(t.amount) * t.price - t.commission
            });
        let pv = self.ledger.portfolio_value();
        let pnl = pv - self.starting_pv;
        let returns = if self.starting_pv.is_zero() {
            N::zero()
        } else {
            pnl.div_q(self.starting_pv)
        };
        self.touched.sort_unstable();
        self.touched.dedup();
        let orders = self
            .touched
            .drain(..)
            .map(|id| self.ledger.orders()[id as usize].clone())
            .collect();
        let positions = self
            .ledger
            .held()
            .iter()
            .map(|&sid| {
                let p = self.ledger.position(sid);
                (sid, p.amount, p.cost_basis, p.last_sale_price)
            })
            .collect();
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
            exposure: self.ledger.exposure(),
        });
    }

    fn when(&self) -> String {
        format_timestamp(self.store.timestamps[self.bar])
    }

    fn require_price(&self, sid: u32) -> Result<N, EngineError> {
        self.check_sid(sid)?;
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

    /// Place an order for `amount` shares (already rounded).
    pub fn order(
        &mut self,
        sid: u32,
        amount: i64,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_sid(sid)?;
        let id = self.ledger.place_order(sid, amount, style, self.bar)?;
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
        let price = self.require_price(sid)?;
        let amount = rustybt_ledger::round_order_amount(value.div_q(price));
        self.order(sid, amount, style)
    }

    /// zipline's `order_percent`: a fraction of portfolio value.
    pub fn order_percent(
        &mut self,
        sid: u32,
        percent: N,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        let value = self.ledger.portfolio_value() * percent;
        self.order_value(sid, value, style)
    }

    /// zipline's `order_target`: shares to reach `target` shares.
    pub fn order_target(
        &mut self,
        sid: u32,
        target: i64,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
        self.check_sid(sid)?;
        let amount = target - self.ledger.position(sid).amount;
        self.order(sid, amount, style)
    }

    pub fn order_target_value(
        &mut self,
        sid: u32,
        target: N,
        style: OrderStyle<N>,
    ) -> Result<Option<OrderId>, EngineError> {
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
        let price = self.require_price(sid)?;
        let amount = self.ledger.target_percent_amount(sid, percent, price);
        self.order(sid, amount, style)
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

/// A strategy written in Rust, driven by [`run`]. Python strategies are driven by the
/// binding's loop, which calls the same simulation steps.
pub trait Strategy<N: Money> {
    fn before_trading_start(&mut self, _sim: &mut Simulation<N>) -> Result<(), EngineError> {
        Ok(())
    }
    fn handle_data(&mut self, sim: &mut Simulation<N>) -> Result<(), EngineError>;
}

/// Run `strategy` over the whole span in clock order.
pub fn run<N: Money, S: Strategy<N>>(
    sim: &mut Simulation<N>,
    strategy: &mut S,
) -> Result<(), EngineError> {
    for s in sim.sessions() {
        sim.start_session(s);
        strategy.before_trading_start(sim)?;
        for bar in sim.session_bars(s) {
            sim.process_bar(bar);
            strategy.handle_data(sim)?;
        }
        sim.end_session();
    }
    Ok(())
}
