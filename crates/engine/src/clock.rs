//! The one clock every driver uses: [`Simulation::advance`](crate::Simulation::advance)
//! moves a backtest from one strategy turn to the next, in zipline's order of events, and
//! says whose turn it is with a [`Step`].
//!
//! For each session of the run:
//!
//! 1. the session starts: splits and dividends of its ex-date apply, positions in assets
//!    whose data has ended are closed out → [`Step::BeforeTradingStart`] (data shows the
//!    bar before the session);
//! 2. for each bar: open orders fill against it and positions are marked at its closes →
//!    [`Step::Bar`]; on the next `advance` the account controls are checked first;
//! 3. the session's books close (the end-of-day cancel policy, its [`SessionPerf`]) →
//!    [`Step::SessionEnd`].
//!
//! After the last session `advance` returns `None` and the phase is
//! [`Phase::Analyze`].
//!
//! [`SessionPerf`]: crate::SessionPerf

use rustybt_data::View;

/// Where the algorithm is in its lifecycle; orders are accepted only while trading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the first `advance`: the strategy configures the run.
    Initialize,
    BeforeTradingStart,
    /// A bar's turn: `handle_data` and scheduled functions.
    Trading,
    /// Between a session's close and the next session's start.
    SessionEnd,
    /// After the last session.
    Analyze,
}

impl Phase {
    /// zipline's name of the callback that runs in this phase.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Initialize => "initialize",
            Phase::BeforeTradingStart => "before_trading_start",
            Phase::Trading => "handle_data",
            Phase::SessionEnd => "session_end",
            Phase::Analyze => "analyze",
        }
    }
}

/// Whose turn it is after an [`advance`](crate::Simulation::advance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Session `session` has started; its first bar is not visible yet: `view` is what the
    /// strategy's data shows.
    BeforeTradingStart { session: usize, view: View },
    /// Bar `bar` has been filled against and marked: the strategy handles it.
    Bar { bar: usize },
    /// Session `session` has closed; its perf is the last of
    /// [`Simulation::perf`](crate::Simulation::perf).
    SessionEnd { session: usize },
}

impl Step {
    /// What the strategy's data shows during this step.
    pub fn view(self) -> Option<View> {
        match self {
            Step::BeforeTradingStart { view, .. } => Some(view),
            Step::Bar { bar } => Some(View::at_bar(bar)),
            Step::SessionEnd { .. } => None,
        }
    }
}

/// The clock's position (private to the simulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    Initialize,
    BeforeTradingStart { session: usize },
    Bar { session: usize, bar: usize },
    SessionEnd { session: usize },
    Done,
}

impl Clock {
    pub(crate) fn phase(self) -> Phase {
        match self {
            Clock::Initialize => Phase::Initialize,
            Clock::BeforeTradingStart { .. } => Phase::BeforeTradingStart,
            Clock::Bar { .. } => Phase::Trading,
            Clock::SessionEnd { .. } => Phase::SessionEnd,
            Clock::Done => Phase::Analyze,
        }
    }
}
