//! A whole backtest with a Rust strategy through the engine's clock (`engine::run`),
//! against the values the same strategy written in Python produced through
//! `rustybt._core` (`tests/golden/clock.json`, made by `scripts/engine_golden.py`; read
//! that script for the strategy and the bundle). Equal values mean one clock: the same
//! phases, the same order of events, the same account controls.

use std::sync::Arc;

use rustybt_data::calendar::{NANOS_PER_DAY, NANOS_PER_MINUTE};
use rustybt_data::{generate, write_bundle, BarSize, BarStore, Field, Session, SyntheticSpec};
use rustybt_engine::{run, EngineError, ExactValues, Simulation, Step, Strategy};
use rustybt_ledger::{Fixed, Money, OrderStyle};
use serde_json::Value;

const N_ASSETS: u32 = 3;
const WEIGHT: &str = "0.3";

/// The golden bundle's sessions: 30 weekdays from 2022-01-03, 14:30-21:00 UTC.
fn sessions() -> Vec<Session> {
    (18_995..18_995 + 60)
        .filter(|d| (d + 3) % 7 < 5)
        .take(30)
        .map(|date| {
            let open_ns = i64::from(date) * NANOS_PER_DAY + 870 * NANOS_PER_MINUTE;
            Session {
                date,
                open_ns,
                close_ns: open_ns + 390 * NANOS_PER_MINUTE,
            }
        })
        .collect()
}

fn store(dir: &std::path::Path) -> Arc<BarStore> {
    let content = generate(&SyntheticSpec {
        n_assets: N_ASSETS as usize,
        seed: 7,
        frequency: BarSize::Daily,
        calendar: "XNYS".into(),
        price_scale: 4,
        sessions: sessions(),
    })
    .unwrap();
    write_bundle(dir, "golden", &content).unwrap();
    Arc::new(BarStore::open(&dir.join("golden")).unwrap())
}

/// Hold 30% of the portfolio in each asset whose close rose since the previous bar.
struct Golden {
    weight: Fixed,
}

impl Strategy<Fixed> for Golden {
    fn handle_data(&mut self, sim: &mut Simulation<Fixed>) -> Result<(), EngineError> {
        let bar = sim.current_bar();
        for sid in 0..N_ASSETS {
            let now = sim.current(Field::Close, sid)?;
            // the first bar's previous close is before the bundle: NaN, not a rise
            let prev = bar
                .checked_sub(1)
                .map_or(f64::NAN, |b| sim.store().current(Field::Close, b, sid));
            let target = if now > prev {
                self.weight
            } else {
                Fixed::zero()
            };
            sim.order_target_percent(sid, target, OrderStyle::Market)?;
        }
        Ok(())
    }
}

fn golden() -> Value {
    let text = include_str!("golden/clock.json");
    serde_json::from_str(text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn simulation(store: &Arc<BarStore>) -> Simulation<Fixed> {
    let last = store.sessions.len() - 1;
    Simulation::new(store.clone(), 0, last, Fixed::from_i64(1_000_000)).unwrap()
}

#[test]
fn a_rust_strategy_through_the_clock_matches_the_python_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let want = golden();
    let mut sim = simulation(&store);
    let weight = WEIGHT.parse().unwrap();
    run(&mut sim, &mut Golden { weight }).unwrap();
    let (columns, exact_fills) = ExactValues::new(&sim).texts();
    let exact = |name: &str| columns.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    assert_eq!(sim.perf().len() as u64, want["sessions"].as_u64().unwrap());
    for name in ["portfolio_value", "ending_cash", "returns"] {
        assert_eq!(exact(name), strings(&want[name]), "{name}");
    }
    let fills: Vec<Value> = exact_fills
        .iter()
        .map(|(_, sid, (amount, _scale), price, fee, bar)| {
            serde_json::json!({"bar": bar, "sid": sid, "amount": amount, "price": price, "commission": fee})
        })
        .collect();
    assert_eq!(&Value::Array(fills), &want["fills"]);
    assert!(!exact_fills.is_empty());
}

#[test]
fn breaking_an_account_control_stops_the_run_as_in_python() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut sim = simulation(&store);
    sim.set_max_leverage_f64(0.5).unwrap();
    let weight = WEIGHT.parse().unwrap();
    let err = run(&mut sim, &mut Golden { weight }).unwrap_err();
    assert!(matches!(err, EngineError::AccountControl(_)));
    assert_eq!(
        Some(err.to_string().as_str()),
        golden()["max_leverage_violation"].as_str()
    );
    // the clock stopped there: nothing after the violation is simulated
    assert_eq!(sim.advance().unwrap(), None);
}

#[test]
fn the_clock_steps_in_zipline_order_and_refuses_orders_outside_bars() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let mut sim = Simulation::<Fixed>::new(store.clone(), 1, 2, Fixed::from_i64(1000)).unwrap();
    let refused = |sim: &mut Simulation<Fixed>| {
        matches!(
            sim.order(0, 1, OrderStyle::Market),
            Err(EngineError::WrongPhase(_))
        )
    };
    assert_eq!(sim.phase().name(), "initialize");
    assert!(refused(&mut sim));
    let mut steps = Vec::new();
    while let Some(step) = sim.advance().unwrap() {
        if !matches!(step, Step::Bar { .. }) {
            assert!(refused(&mut sim), "{step:?}");
        }
        steps.push(step);
    }
    assert_eq!(sim.phase().name(), "analyze");
    assert!(refused(&mut sim));
    let view = |bar| rustybt_data::View {
        bar,
        before_first: false,
    };
    assert_eq!(
        steps,
        vec![
            Step::BeforeTradingStart {
                session: 1,
                view: view(0)
            },
            Step::Bar { bar: 1 },
            Step::SessionEnd { session: 1 },
            Step::BeforeTradingStart {
                session: 2,
                view: view(1)
            },
            Step::Bar { bar: 2 },
            Step::SessionEnd { session: 2 },
        ]
    );
    assert_eq!(sim.perf().len(), 2);
    assert!(sim
        .perf()
        .iter()
        .all(|p| p.portfolio_value.to_f64() == 1000.0));
}
