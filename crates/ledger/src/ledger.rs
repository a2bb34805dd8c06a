//! Cash, positions, the order book and its fills: one account, generic over its number type.

use crate::error::LedgerError;
use crate::models::{Commission, Quote, Slippage, SlippageOutcome};
use crate::num::{beyond_notional, qty_text, saturated_shares, Money, MAX_NOTIONAL};
use crate::order::{Order, OrderId, OrderStatus, OrderStyle};
use crate::position::{python_round, Position};

/// When unfilled orders are cancelled by the ledger itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CancelPolicy {
    /// zipline's default: orders stay open until filled or cancelled by the strategy.
    #[default]
    Never,
    /// Cancel whatever is still open at the end of each session.
    EndOfDay,
}

impl std::str::FromStr for CancelPolicy {
    type Err = LedgerError;

    /// zipline's names: `never` (`NeverCancel`) or `eod` / `end_of_day` (`EODCancel`).
    fn from_str(s: &str) -> Result<Self, LedgerError> {
        match s {
            "never" => Ok(CancelPolicy::Never),
            "eod" | "end_of_day" => Ok(CancelPolicy::EndOfDay),
            other => Err(LedgerError::UnknownName {
                what: "cancel policy",
                name: other.to_string(),
                known: "'never' or 'eod'",
            }),
        }
    }
}

/// One execution of (part of) an order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transaction<N> {
    /// The order filled; `None` for a close-out of an asset whose data ended.
    pub order_id: Option<OrderId>,
    pub sid: u32,
    pub amount: i64,
    pub price: N,
    pub commission: N,
    pub bar: usize,
}

/// Gross/net exposure of the book at its last marks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure<N> {
    pub long_value: N,
    pub short_value: N,
    pub long_count: u32,
    pub short_count: u32,
}

impl<N: Money> Exposure<N> {
    /// No positions: zero values and counts.
    pub fn zero() -> Self {
        Exposure {
            long_value: N::zero(),
            short_value: N::zero(),
            long_count: 0,
            short_count: 0,
        }
    }
    pub fn gross(&self) -> N {
        self.long_value - self.short_value
    }
    pub fn net(&self) -> N {
        self.long_value + self.short_value
    }
}

/// A strategy's own cost models (zipline's `SlippageModel` / `CommissionModel`
/// subclasses), asked by [`Ledger::fill_open_orders_with`] in the ledger's place.
pub trait CostHook<N> {
    /// Whether fills are sized and priced here (else by the ledger's slippage model).
    fn has_slippage(&self) -> bool;
    /// Whether commissions are charged here (else by the ledger's commission model).
    fn has_commission(&self) -> bool;
    /// zipline's `process_order` for a triggered open order on `bar`, with the shares
    /// already filled on this bar for the same asset (`volume_for_bar`).
    fn slippage(&mut self, order: &Order<N>, bar: usize, volume_for_bar: i64)
        -> SlippageOutcome<N>;
    /// zipline's `calculate` for a fill of `amount` shares at `price`.
    fn commission(&mut self, order: &Order<N>, price: N, amount: i64, bar: usize) -> N;
    /// Whether a model failed (raised): filling stops, and the caller reports the error.
    fn failed(&self) -> bool;
}

#[derive(Debug, Clone)]
pub struct Ledger<N> {
    starting_cash: N,
    cash: N,
    positions: Vec<Position<N>>,
    /// sids with a non-zero position, in the order they were first opened.
    held: Vec<u32>,
    /// The orders from id `first_id` on, in placement order (every order, unless the
    /// ledger keeps no history: see [`Ledger::keep_history`]).
    orders: Vec<Order<N>>,
    /// Id of `orders[0]`.
    first_id: OrderId,
    /// Open order ids per asset, in placement order (the order zipline fills them in).
    open_by_asset: Vec<Vec<OrderId>>,
    /// sids that have open orders, in the order their first open order was placed.
    assets_with_orders: Vec<u32>,
    /// Every transaction, unless the ledger keeps no history.
    transactions: Vec<Transaction<N>>,
    /// Transactions made, kept or not.
    n_transactions: usize,
    /// Whether closed orders and transactions are kept ([`Ledger::keep_history`]).
    history: bool,
    /// Value of held positions at their last marks; refreshed whenever positions or marks
    /// change (fills, marks, close-outs), so reading it is O(1) however many orders ask.
    positions_value: N,
    /// Whether any asset trades in lots finer than a share.
    fractional: bool,
    /// Orders the ledger itself rejected (a split, a fill beyond the bounds) since the
    /// last [`Ledger::take_rejections`]: the driver reports them in the session's orders.
    rejections: Vec<OrderId>,
    /// The fill loop's copies of the assets with open orders and of one asset's open
    /// orders (the loop changes both as orders fill): kept, so a bar allocates nothing.
    scratch_assets: Vec<u32>,
    scratch_ids: Vec<OrderId>,
    pub slippage: Slippage<N>,
    pub commission: Commission<N>,
    pub cancel_policy: CancelPolicy,
}

impl<N: Money> Ledger<N> {
    pub fn new(n_assets: usize, capital_base: N) -> Self {
        Ledger {
            starting_cash: capital_base,
            cash: capital_base,
            positions: vec![Position::default(); n_assets],
            held: Vec::new(),
            orders: Vec::new(),
            first_id: 0,
            open_by_asset: vec![Vec::new(); n_assets],
            assets_with_orders: Vec::new(),
            transactions: Vec::new(),
            n_transactions: 0,
            history: true,
            positions_value: N::zero(),
            fractional: false,
            rejections: Vec::new(),
            scratch_assets: Vec::new(),
            scratch_ids: Vec::new(),
            slippage: Slippage::zipline_default(),
            commission: Commission::zipline_default(),
            cancel_policy: CancelPolicy::Never,
        }
    }

    /// Set each asset's lot scale (amounts of asset `sid` count lots of
    /// `10^-scales[sid]`; 0, whole shares, is the default). Refused above
    /// [`crate::MAX_LOT_SCALE`] or once the ledger has orders.
    pub fn set_lot_scales(&mut self, scales: &[u32]) -> Result<(), LedgerError> {
        if let Some((sid, &scale)) = scales
            .iter()
            .enumerate()
            .find(|(_, &s)| s > crate::num::MAX_LOT_SCALE)
        {
            return Err(LedgerError::BadLot(format!(
                "asset sid {sid}: a lot of 10^-{scale} is finer than the finest the ledger \
                 keeps exactly (10^-{})",
                crate::num::MAX_LOT_SCALE
            )));
        }
        if scales.len() != self.positions.len() {
            return Err(LedgerError::BadLot(format!(
                "{} lot scales for a ledger of {} assets",
                scales.len(),
                self.positions.len()
            )));
        }
        if self.next_order_id() > 0 {
            return Err(LedgerError::BadLot(
                "lot scales are set before the first order".to_string(),
            ));
        }
        for (p, &s) in self.positions.iter_mut().zip(scales) {
            p.scale = s;
        }
        self.fractional = scales.iter().any(|&s| s > 0);
        Ok(())
    }

    /// The lot scale of `sid` (amounts count lots of `10^-scale`).
    pub fn lot_scale(&self, sid: u32) -> u32 {
        self.positions.get(sid as usize).map_or(0, |p| p.scale)
    }

    pub fn n_assets(&self) -> usize {
        self.positions.len()
    }
    pub fn starting_cash(&self) -> N {
        self.starting_cash
    }
    pub fn cash(&self) -> N {
        self.cash
    }
    pub fn position(&self, sid: u32) -> &Position<N> {
        &self.positions[sid as usize]
    }
    /// sids with a non-zero position.
    pub fn held(&self) -> &[u32] {
        &self.held
    }
    /// Keep (the default) or drop, from now on, what only a reader of the run's history
    /// needs: without history the ledger forgets its closed orders (at the next placement
    /// once none is open) and counts its transactions without keeping them. Cash,
    /// positions, open orders and every fill are the same either way; a dropped order's
    /// id is then unknown to [`Ledger::order`]. For a caller that reads only the books
    /// and their values, as the batch runner does: its runs place an order per asset per
    /// bar, and keeping them cost more than simulating them.
    pub fn keep_history(&mut self, keep: bool) {
        self.history = keep;
    }

    /// The orders kept, in placement order: every order the ledger has placed unless it
    /// keeps no history ([`Ledger::keep_history`]).
    pub fn orders(&self) -> &[Order<N>] {
        &self.orders
    }
    /// The id the next order will have (the number of orders ever placed).
    pub fn next_order_id(&self) -> OrderId {
        self.first_id + self.orders.len() as OrderId
    }
    pub fn order(&self, id: OrderId) -> Result<&Order<N>, LedgerError> {
        id.checked_sub(self.first_id)
            .and_then(|i| self.orders.get(usize::try_from(i).ok()?))
            .ok_or(LedgerError::UnknownOrder(id))
    }
    fn order_mut(&mut self, id: OrderId) -> Result<&mut Order<N>, LedgerError> {
        id.checked_sub(self.first_id)
            .and_then(|i| self.orders.get_mut(usize::try_from(i).ok()?))
            .ok_or(LedgerError::UnknownOrder(id))
    }
    /// Where open order `id` is in `orders` (open orders are always kept).
    #[inline]
    fn slot(&self, id: OrderId) -> usize {
        (id - self.first_id) as usize
    }
    /// The transactions kept: every one unless the ledger keeps no history.
    pub fn transactions(&self) -> &[Transaction<N>] {
        &self.transactions
    }
    /// The number of transactions made, kept or not.
    pub fn transaction_count(&self) -> usize {
        self.n_transactions
    }
    fn record(&mut self, t: Transaction<N>) {
        self.n_transactions += 1;
        if self.history {
            self.transactions.push(t);
        }
    }
    pub fn open_orders(&self, sid: u32) -> impl Iterator<Item = &Order<N>> {
        self.open_by_asset[sid as usize]
            .iter()
            .map(move |&id| &self.orders[self.slot(id)])
    }
    pub fn assets_with_open_orders(&self) -> &[u32] {
        &self.assets_with_orders
    }

    fn check_sid(&self, sid: u32) -> Result<(), LedgerError> {
        if (sid as usize) < self.positions.len() {
            Ok(())
        } else {
            Err(LedgerError::UnknownAsset {
                sid,
                n_assets: self.positions.len(),
            })
        }
    }

    /// Value of all positions at their last marks.
    pub fn positions_value(&self) -> N {
        self.positions_value
    }

    fn refresh_positions_value(&mut self) {
        let positions = &self.positions;
        if self.fractional {
            self.positions_value = self.held.iter().fold(N::zero(), |acc, &sid| {
                acc + positions[sid as usize].market_value()
            });
            return;
        }
        self.positions_value = N::sum_mul_int(self.held.iter().map(|&sid| {
            let p = &positions[sid as usize];
            (p.amount, p.last_sale_price)
        }));
    }

    pub fn portfolio_value(&self) -> N {
        self.cash + self.positions_value()
    }

    /// Keep every position's open lots and realised P&L from now on, for [`Ledger::pnl`]
    /// (before the first fill: P&L counts the fills after this call). Nothing else reads
    /// them, so a ledger does not keep them unless asked.
    pub fn track_pnl(&mut self) {
        for p in &mut self.positions {
            p.track_lots();
        }
    }

    /// Realised and unrealised P&L over all assets (they sum to portfolio value − starting
    /// cash exactly, splits aside), where [`Ledger::track_pnl`] asked for them.
    pub fn pnl(&self) -> Option<(N, N)> {
        self.positions
            .iter()
            .try_fold((N::zero(), N::zero()), |(r, u), p| {
                Some((r + p.realized_pnl()?, u + p.unrealized_pnl()?))
            })
    }

    /// Fold every held position's pending fills into its cost basis
    /// ([`Position::settle`]), so that reading the bases costs nothing.
    pub fn settle_positions(&mut self) {
        for &sid in &self.held {
            self.positions[sid as usize].settle();
        }
    }

    pub fn exposure(&self) -> Exposure<N> {
        let mut e = Exposure::zero();
        for &sid in &self.held {
            let p = &self.positions[sid as usize];
            let v = p.market_value();
            if p.amount > 0 {
                e.long_value += v;
                e.long_count += 1;
            } else {
                e.short_value += v;
                e.short_count += 1;
            }
        }
        e
    }

    /// Place an order for a signed share amount, already rounded by the caller's rules.
    /// Returns `None` for a zero amount (zipline places no order then).
    pub fn place_order(
        &mut self,
        sid: u32,
        amount: i64,
        style: OrderStyle<N>,
        bar: usize,
    ) -> Result<Option<OrderId>, LedgerError> {
        self.check_sid(sid)?;
        let check = |kind: &'static str, p: N| {
            if p > N::zero() {
                Ok(())
            } else {
                Err(LedgerError::BadPrice {
                    kind,
                    value: p.to_string(),
                })
            }
        };
        match style {
            OrderStyle::Market => {}
            OrderStyle::Limit(l) => check("limit", l)?,
            OrderStyle::Stop(s) => check("stop", s)?,
            OrderStyle::StopLimit { limit, stop } => {
                check("limit", limit)?;
                check("stop", stop)?;
            }
        }
        if amount == 0 {
            return Ok(None);
        }
        if !self.history && self.assets_with_orders.is_empty() && !self.orders.is_empty() {
            // no order is open: nothing kept is needed any more
            self.first_id = self.next_order_id();
            self.orders.clear();
        }
        let id = self.next_order_id();
        let mut order = Order::new(id, sid, amount, style, bar);
        order.scale = self.positions[sid as usize].scale;
        self.orders.push(order);
        let queue = &mut self.open_by_asset[sid as usize];
        if queue.is_empty() {
            self.assets_with_orders.push(sid);
        }
        queue.push(id);
        Ok(Some(id))
    }

    /// Shares to order so the position in `sid` reaches `target_value` at `price`
    /// (zipline's `order_target_value` arithmetic: value / price − current, then rounded).
    pub fn target_value_amount(&self, sid: u32, target_value: N, price: N) -> i64 {
        if price.is_zero() {
            return 0;
        }
        let pos = &self.positions[sid as usize];
        let held = pos.amount;
        if target_value.is_zero() {
            // 0 / price - held, rounded: -held exactly, without the decimal division
            return held.saturating_neg();
        }
        // in lots: value × 10^scale / price lots (the value times a power of ten is exact)
        let Some(in_lots) = crate::num::in_lots(target_value, pos.scale) else {
            return saturated_shares(target_value, price);
        };
        in_lots
            .target_shares(price, held)
            .unwrap_or_else(|| saturated_shares(in_lots, price))
    }

    /// Shares to order so the position in `sid` is `percent` of portfolio value at `price`.
    pub fn target_percent_amount(&self, sid: u32, percent: N, price: N) -> i64 {
        match self.portfolio_value().checked_mul(percent) {
            Some(value) => self.target_value_amount(sid, value, price),
            None => saturated_shares(self.portfolio_value(), percent),
        }
    }

    pub fn cancel_order(&mut self, id: OrderId, bar: usize) -> Result<(), LedgerError> {
        let order = self.order_mut(id)?;
        if !order.is_open() {
            return Ok(());
        }
        order.status = OrderStatus::Cancelled;
        order.updated_bar = bar;
        let sid = order.sid;
        self.remove_from_queue(sid, id);
        Ok(())
    }

    /// Ids of the orders the ledger rejected on its own since the last call.
    pub fn take_rejections(&mut self) -> Vec<OrderId> {
        std::mem::take(&mut self.rejections)
    }

    /// Reject an open order, with a reason the strategy can read.
    pub fn reject_order(
        &mut self,
        id: OrderId,
        reason: String,
        bar: usize,
    ) -> Result<(), LedgerError> {
        let order = self.order_mut(id)?;
        order.status = OrderStatus::Rejected;
        order.reason = Some(reason);
        order.updated_bar = bar;
        let sid = order.sid;
        self.rejections.push(id);
        self.remove_from_queue(sid, id);
        Ok(())
    }

    fn remove_from_queue(&mut self, sid: u32, id: OrderId) {
        if self.leave_asset_queue(sid, id) {
            self.assets_with_orders.retain(|&s| s != sid);
        }
    }

    /// Take `id` out of its asset's queue of open orders; whether the queue is now empty
    /// (the asset then leaves `assets_with_orders`: the caller's part).
    fn leave_asset_queue(&mut self, sid: u32, id: OrderId) -> bool {
        let queue = &mut self.open_by_asset[sid as usize];
        queue.retain(|&o| o != id);
        queue.is_empty()
    }

    /// Cancel everything still open (end-of-day cancel policy).
    pub fn cancel_all_open(&mut self, bar: usize) {
        for sid in std::mem::take(&mut self.assets_with_orders) {
            for id in std::mem::take(&mut self.open_by_asset[sid as usize]) {
                let slot = self.slot(id);
                let o = &mut self.orders[slot];
                o.status = OrderStatus::Cancelled;
                o.updated_bar = bar;
            }
        }
    }

    /// Fill open orders against bar `bar`. `quote(sid)` is the bar's close and volume,
    /// `None` where the asset has no bar. Returns the number of transactions made.
    pub fn fill_open_orders(
        &mut self,
        bar: usize,
        quote: impl Fn(u32) -> Option<Quote<N>>,
    ) -> usize {
        let made = self.fill_open_orders_unmarked(bar, quote);
        if made > 0 {
            self.refresh_positions_value();
        }
        made
    }

    /// [`Ledger::fill_open_orders`] without revaluing the book afterwards: for a caller
    /// that calls [`Ledger::mark_to_market`] next (which revalues it), as the engine does
    /// on every bar. Until then `positions_value` is the one before the fills.
    pub fn fill_open_orders_unmarked(
        &mut self,
        bar: usize,
        quote: impl Fn(u32) -> Option<Quote<N>>,
    ) -> usize {
        self.fill_open_orders_with(bar, quote, None)
    }

    /// [`Ledger::fill_open_orders_unmarked`] with a strategy's own cost models: where
    /// `hook` has one, it sizes and prices each fill (zipline's `process_order`) or
    /// charges its commission (`calculate`) instead of the ledger's models.
    pub fn fill_open_orders_with(
        &mut self,
        bar: usize,
        quote: impl Fn(u32) -> Option<Quote<N>>,
        mut hook: Option<&mut (dyn CostHook<N> + Send + Sync + 'static)>,
    ) -> usize {
        let before = self.n_transactions;
        let mut assets = std::mem::take(&mut self.scratch_assets);
        assets.clear();
        assets.extend_from_slice(&self.assets_with_orders);
        let mut ids = std::mem::take(&mut self.scratch_ids);
        let mut emptied = false;
        let custom_slippage = hook.as_ref().is_some_and(|h| h.has_slippage());
        for &sid in &assets {
            let Some(q) = quote(sid) else { continue };
            // zipline's SlippageModel.simulate: no fills on a bar without volume, whatever
            // the model (FixedSlippage and NoSlippage too: they inherit it)
            if q.volume == 0 {
                continue;
            }
            let mut volume_for_bar = 0i64;
            ids.clear();
            ids.extend_from_slice(&self.open_by_asset[sid as usize]);
            for &id in &ids {
                let slippage = self.slippage;
                let slot = self.slot(id);
                let order = &mut self.orders[slot];
                if order.open_amount() == 0 {
                    continue;
                }
                order.check_triggers(q.close, bar);
                if !order.triggered() {
                    continue;
                }
                let outcome = match hook.as_deref_mut() {
                    Some(h) if custom_slippage => h.slippage(order, bar, volume_for_bar),
                    _ => slippage.process(order, q, volume_for_bar),
                };
                let (price, amount) = match outcome {
                    SlippageOutcome::Fill { price, amount } => (price, amount),
                    SlippageOutcome::Skip => continue,
                    SlippageOutcome::LiquidityExceeded => break,
                };
                if hook.as_ref().is_some_and(|h| h.failed()) {
                    break;
                }
                // the bounds `check_size` applies when an order is placed hold at its fill
                // too (the price may have moved): beyond them the ledger could not stay exact
                let after = self.positions[sid as usize].amount + amount;
                if beyond_notional(price, amount, after, order.scale) {
                    let reason = format!(
                        "filling {} would take the order or the position beyond \
                         {MAX_NOTIONAL} in value, where the ledger could not stay exact",
                        qty_text(amount, order.scale)
                    );
                    let _ = self.reject_order(id, reason, bar);
                    continue;
                }
                volume_for_bar += amount.abs();
                let commission = match hook.as_deref_mut() {
                    Some(h) if h.has_commission() => h.commission(order, price, amount, bar),
                    _ => self.commission.calculate(order, price, amount),
                };
                if hook.as_ref().is_some_and(|h| h.failed()) {
                    break;
                }
                order.filled += amount;
                order.commission += commission;
                order.updated_bar = bar;
                let done = order.open_amount() == 0;
                if done {
                    order.status = OrderStatus::Filled;
                }
                self.record(Transaction {
                    order_id: Some(id),
                    sid,
                    amount,
                    price,
                    commission,
                    bar,
                });
                self.apply_transaction(sid, amount, price, commission, bar);
                if done {
                    // (the asset leaves `assets_with_orders` below, in one pass for all)
                    emptied |= self.leave_asset_queue(sid, id);
                }
            }
        }
        if emptied {
            let queues = &self.open_by_asset;
            self.assets_with_orders
                .retain(|&s| !queues[s as usize].is_empty());
        }
        self.scratch_assets = assets;
        self.scratch_ids = ids;
        self.n_transactions - before
    }

    fn apply_transaction(&mut self, sid: u32, amount: i64, price: N, commission: N, bar: usize) {
        let pos = &mut self.positions[sid as usize];
        let was_held = pos.amount != 0;
        pos.apply_fill(amount, price, commission, bar);
        let is_held = pos.amount != 0;
        self.cash -= price.mul_qty(amount, self.positions[sid as usize].scale);
        self.cash -= commission;
        match (was_held, is_held) {
            (false, true) => self.held.push(sid),
            (true, false) => self.held.retain(|&s| s != sid),
            _ => {}
        }
    }

    /// Mark held positions to the bar's prices (`None`: no new price, keep the last one).
    pub fn mark_to_market(&mut self, bar: usize, price: impl Fn(u32) -> Option<N>) {
        for &sid in &self.held {
            if let Some(p) = price(sid) {
                let pos = &mut self.positions[sid as usize];
                pos.last_sale_price = p;
                pos.last_sale_bar = Some(bar);
            }
        }
        self.refresh_positions_value();
    }

    /// Close a position at `price` without costs and cancel its open orders (zipline's
    /// auto-close of an asset whose data ended). The transaction has no order id.
    pub fn close_out(&mut self, sid: u32, price: N, bar: usize) {
        let amount = self.positions[sid as usize].amount;
        let open: Vec<OrderId> = self.open_by_asset[sid as usize].clone();
        for id in open {
            let _ = self.cancel_order(id, bar);
        }
        if amount == 0 {
            return;
        }
        self.record(Transaction {
            order_id: None,
            sid,
            amount: -amount,
            price,
            commission: N::zero(),
            bar,
        });
        self.apply_transaction(sid, -amount, price, N::zero(), bar);
        self.refresh_positions_value();
    }

    /// Apply a split (`split` new shares per old one) to the position and open orders of
    /// `sid`. Open orders keep zipline's rule: amounts scale and truncate, limit and stop
    /// prices divide and round to cents (filled amounts scale too, so open amounts stay
    /// consistent — zipline leaves them in old shares). Returns the cash paid out for a
    /// fractional share.
    pub fn apply_split(&mut self, sid: u32, split: N, bar: usize) -> N {
        let cash = self.positions[sid as usize].apply_split(split);
        self.cash += cash;
        // zipline's `Order.handle_split`, in its floats (ratio 1 / split): amounts
        // truncated, limit and stop prices rounded to cents by Python's `round`
        let ratio = 1.0 / split.to_f64();
        let scale = |v: i64| (v as f64 / ratio) as i64; // in lots: whole lots are kept
        let price = |p: N| N::from_f64(python_round(p.to_f64() * ratio, 2)).unwrap_or(p);
        let mut emptied = Vec::new();
        for &id in &self.open_by_asset[sid as usize] {
            let slot = self.slot(id);
            let o = &mut self.orders[slot];
            o.amount = scale(o.amount);
            o.filled = scale(o.filled);
            o.limit = o.limit.map(price);
            o.stop = o.stop.map(price);
            // an order the split rounded away (1 share after a 1-for-2) or whose price
            // rounded to 0.00 can never fill: cancel it rather than leave it open forever
            let zero_price =
                o.limit.is_some_and(|p| p <= N::zero()) || o.stop.is_some_and(|p| p <= N::zero());
            if o.open_amount() == 0 || zero_price {
                emptied.push(id);
            }
        }
        for id in emptied {
            let _ = self.reject_order(id, "the split left nothing to fill".to_string(), bar);
        }
        if self.positions[sid as usize].amount == 0 {
            self.held.retain(|&s| s != sid);
        }
        self.refresh_positions_value();
        cash
    }

    /// Earn a cash dividend of `per_share` on the position in `sid` on its ex-date (a
    /// short owes it): booked to the position's realised P&L now and returned; the cash
    /// moves when it is paid ([`Ledger::pay_dividend`]), as zipline accrues and pays.
    pub fn earn_dividend(&mut self, sid: u32, per_share: N) -> N {
        let pos = &mut self.positions[sid as usize];
        let owed = per_share.mul_qty(pos.amount, pos.scale);
        pos.realize(owed);
        owed
    }

    /// Pay out a dividend earned earlier: `cash` into (or, owed by a short, out of) cash.
    pub fn pay_dividend(&mut self, cash: N) {
        self.cash += cash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn market_order_fills_with_default_costs() {
        let mut l = Ledger::<Decimal>::new(2, d("10000"));
        let id = l
            .place_order(1, 10, OrderStyle::Market, 0)
            .unwrap()
            .unwrap();
        let n = l.fill_open_orders(1, |_| {
            Some(Quote {
                close: d("50"),
                volume: 1000,
            })
        });
        assert_eq!(n, 1);
        // 10 @ 50.025, commission 0.01
        assert_eq!(l.cash(), d("10000") - d("500.25") - d("0.01"));
        assert_eq!(l.order(id).unwrap().status, OrderStatus::Filled);
        assert!(l.assets_with_open_orders().is_empty());
        assert_eq!(l.held(), &[1]);
        l.mark_to_market(1, |_| Some(d("51")));
        assert_eq!(l.portfolio_value(), d("10000") - d("500.26") + d("510"));
    }

    #[test]
    fn volume_limit_carries_remainder_over() {
        let mut l = Ledger::<Decimal>::new(1, d("1000000"));
        let id = l
            .place_order(0, 150, OrderStyle::Market, 0)
            .unwrap()
            .unwrap();
        l.fill_open_orders(1, |_| {
            Some(Quote {
                close: d("10"),
                volume: 1000,
            })
        });
        assert_eq!(l.order(id).unwrap().filled, 100);
        l.fill_open_orders(2, |_| {
            Some(Quote {
                close: d("10"),
                volume: 0,
            })
        });
        assert_eq!(l.order(id).unwrap().filled, 100);
        l.fill_open_orders(3, |_| {
            Some(Quote {
                close: d("10"),
                volume: 1000,
            })
        });
        assert_eq!(l.order(id).unwrap().filled, 150);
        assert_eq!(l.position(0).amount, 150);
    }

    #[test]
    fn fractional_lots_fill_and_value_exactly() {
        // sid 0 trades in 0.0001s: 5000 lots are half a coin
        let mut l = Ledger::<Decimal>::new(2, d("100000"));
        l.set_lot_scales(&[4, 0]).unwrap();
        l.track_pnl();
        assert_eq!(l.lot_scale(0), 4);
        let id = l
            .place_order(0, 5000, OrderStyle::Market, 0)
            .unwrap()
            .unwrap();
        assert_eq!(l.order(id).unwrap().scale, 4);
        // volume in lots: 10 coins, 10% of it may fill
        l.fill_open_orders(1, |_| {
            Some(Quote {
                close: d("40000.123"),
                volume: 100_000,
            })
        });
        let t = l.transactions()[0];
        assert_eq!(t.amount, 5000);
        // 5 bps worse, at 12 - 4 = 8 places: 40020.1230615 → 40020.12306150
        assert_eq!(t.price, d("40020.12306150"));
        // 0.001 per coin on half a coin
        assert_eq!(t.commission, d("0.0005"));
        assert_eq!(l.cash(), d("100000") - d("20010.06153075") - d("0.0005"));
        l.mark_to_market(2, |_| Some(d("41000.01")));
        assert_eq!(l.positions_value(), d("20500.005"));
        let (realized, unrealized) = l.pnl().unwrap();
        assert_eq!(
            realized + unrealized,
            l.portfolio_value() - l.starting_cash()
        );
        // a share-priced asset keeps whole shares beside it; scales are set once
        assert!(l.set_lot_scales(&[4, 0]).is_err());
        let mut fresh = Ledger::<Decimal>::new(1, d("1"));
        assert!(fresh.set_lot_scales(&[9]).is_err());
        assert!(fresh.set_lot_scales(&[1, 2]).is_err());
    }

    #[test]
    fn zero_amount_places_nothing_and_bad_prices_are_refused() {
        let mut l = Ledger::<f64>::new(1, 100.0);
        assert_eq!(l.place_order(0, 0, OrderStyle::Market, 0).unwrap(), None);
        assert!(l.place_order(0, 1, OrderStyle::Limit(0.0), 0).is_err());
        assert!(l.place_order(3, 1, OrderStyle::Market, 0).is_err());
    }
}
