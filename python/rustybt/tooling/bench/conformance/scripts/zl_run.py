"""zipline-reloaded's half of the conformance suite, run by zipline's virtualenv's python::

    zl-venv/bin/python zl_run.py CONFIG.json OUT.json

It never imports rustybt. ``CONFIG["mode"]``:

- ``"ingest"``: the two bundles into ``CONFIG["zipline_root"]`` (zipline's ZIPLINE_ROOT):
  ``conformance-csvdir`` through zipline's own csvdir bundle (the exchange given the US
  country code, which zipline's csvdir leaves out and its pipeline needs),
  ``conformance-csvdir-splits`` the same way (the bars without their dividends), and
  ``conformance-paydates`` through zipline's own writers (assets, bcolz daily bars, and
  ``SQLiteAdjustmentWriter`` with each dividend's ex, record, declared and pay dates);
- ``"run"``: each strategy of ``CONFIG["strategies"]`` (a source file, run as zipline
  runs a module's functions), its perf frame as JSON (``frames.py``) or the error it
  raised.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
import types
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd
from frames import error_to_json, frame_to_json

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

from zipline import run_algorithm  # noqa: E402
from zipline.data import bundles  # noqa: E402
from zipline.data.bundles.csvdir import csvdir_equities  # noqa: E402

CSVDIR, SPLITS, PAYDATES = "conformance-csvdir", "conformance-csvdir-splits", "conformance-paydates"
BUNDLES = {"csvdir": CSVDIR, "csvdir-splits": SPLITS, "paydates": PAYDATES}


def _us_exchange(ingest_fn):
    """zipline's csvdir writes its exchange without a country; its pipeline's US_EQUITIES
    domain then finds no assets. The same ingest, the exchange written as a US one."""

    def ingest(environ, asset_db_writer, *rest):
        write = asset_db_writer.write

        def write_with_exchange(*args, **kwargs):
            if kwargs.get("equities") is not None and kwargs.get("exchanges") is None:
                kwargs["exchanges"] = pd.DataFrame(
                    {"exchange": ["CSVDIR"], "canonical_name": ["CSVDIR"], "country_code": ["US"]}
                )
            return write(*args, **kwargs)

        asset_db_writer.write = write_with_exchange
        return ingest_fn(environ, asset_db_writer, *rest)

    return ingest


def _paydates_ingest(data_dir: Path):
    """The pay-date bundle through zipline's writers: the long table's rows of each symbol
    as daily bars, splits from its split column, dividends with the dates of
    ``paydates.json``."""
    table = pd.read_csv(data_dir / "paydates.csv", parse_dates=["date"])
    dates = json.loads((data_dir / "paydates.json").read_text())
    symbols = dates["symbols"]

    def ingest(
        environ,
        asset_db_writer,
        minute_bar_writer,
        daily_bar_writer,
        adjustment_writer,
        calendar,
        start_session,
        end_session,
        cache,
        show_progress,
        output_dir,
    ):
        equities = []
        for sym in symbols:
            rows = table[table["symbol"] == sym]
            first, last = rows["date"].min(), rows["date"].max()
            equities.append(
                {
                    "symbol": sym,
                    "asset_name": sym,
                    "start_date": first,
                    "end_date": last,
                    "first_traded": first,
                    "auto_close_date": last + pd.Timedelta(days=1),
                    "exchange": "PAYDATES",
                }
            )
        asset_db_writer.write(
            equities=pd.DataFrame(equities),
            exchanges=pd.DataFrame(
                {"exchange": ["PAYDATES"], "canonical_name": ["PAYDATES"], "country_code": ["US"]}
            ),
        )

        def frames():
            for sid, sym in enumerate(symbols):
                rows = table[table["symbol"] == sym].set_index("date")
                yield sid, rows[["open", "high", "low", "close", "volume"]]

        daily_bar_writer.write(frames(), show_progress=False)
        sid_of = {s: i for i, s in enumerate(symbols)}
        splits = table[table["split"] != 1.0]
        adjustment_writer.write(
            splits=pd.DataFrame(
                {
                    "sid": [sid_of[s] for s in splits["symbol"]],
                    "effective_date": splits["date"].values,
                    "ratio": (1.0 / splits["split"]).values,
                }
            ),
            dividends=pd.DataFrame(
                {
                    "sid": [sid_of[d["symbol"]] for d in dates["dividends"]],
                    "amount": [d["amount"] for d in dates["dividends"]],
                    "ex_date": pd.to_datetime([d["ex_date"] for d in dates["dividends"]]),
                    "record_date": pd.to_datetime([d["record_date"] for d in dates["dividends"]]),
                    "declared_date": pd.to_datetime(
                        [d["declared_date"] for d in dates["dividends"]]
                    ),
                    "pay_date": pd.to_datetime([d["pay_date"] for d in dates["dividends"]]),
                }
            ),
        )

    return ingest


def _register(config: dict) -> None:
    data_dir = Path(config["data_dir"])
    span = {
        "calendar_name": "XNYS",
        "start_session": pd.Timestamp(config["first_session"]),
        "end_session": pd.Timestamp(config["last_session"]),
    }
    for kind in ("csvdir", "csvdir-splits"):
        if BUNDLES[kind] not in bundles.bundles:
            csvdir = _us_exchange(csvdir_equities(["daily"], str(data_dir / kind)))
            bundles.register(BUNDLES[kind], csvdir, **span)
    if PAYDATES not in bundles.bundles:
        bundles.register(PAYDATES, _paydates_ingest(data_dir), **span)


def _environ(config: dict) -> dict:
    return {**os.environ, "ZIPLINE_ROOT": config["zipline_root"]}


def ingest(config: dict) -> dict:
    _register(config)
    os.makedirs(config["zipline_root"], exist_ok=True)
    for name in BUNDLES.values():
        bundles.ingest(name, environ=_environ(config), show_progress=False)
    return {"ingested": list(BUNDLES.values())}


def run_one(config: dict, spec: dict) -> dict:
    source = Path(spec["source"]).read_text()
    module = types.ModuleType(f"conformance_{spec['name']}")
    module.__file__ = spec["source"]
    t = time.perf_counter()
    try:
        exec(compile(source, spec["source"], "exec"), module.__dict__)
        perf = run_algorithm(
            start=pd.Timestamp(spec["start"]),
            end=pd.Timestamp(spec["end"]),
            initialize=module.initialize,
            capital_base=spec["capital_base"],
            handle_data=getattr(module, "handle_data", None),
            before_trading_start=getattr(module, "before_trading_start", None),
            data_frequency="daily",
            bundle=BUNDLES[spec["bundle"]],
            environ=_environ(config),
        )
    except Exception as exc:
        out = {"error": error_to_json(exc), "traceback": traceback.format_exc()[-3000:]}
    else:
        out = {"perf": frame_to_json(perf)}
    seen = getattr(module, "SEEN", None)
    if seen:
        out["last_seen"] = str(pd.Timestamp(seen[-1]))
    out["wall_s"] = time.perf_counter() - t
    return out


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    if config["mode"] == "ingest":
        result = ingest(config)
    else:
        import importlib.metadata as md

        _register(config)
        result = {
            "zipline_version": md.version("zipline-reloaded"),
            "pandas_version": pd.__version__,
            "runs": {spec["name"]: run_one(config, spec) for spec in config["strategies"]},
        }
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
