#!/usr/bin/env bash
# The whole test suite: Rust tests, Python tests, format and lint.
# Installs what it needs (into .venv) and builds the extension once.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate

echo "== installing test dependencies and building rustybt._core (release)"
python -m pip install --quiet --upgrade "pip>=24"
python -m pip install --quiet "maturin>=1.9.4,<2"
python -m pip install --quiet -e ".[test]"

# Headless Chromium for the tear-sheet rendering test: Debian's package, never a download.
if ! command -v chromium >/dev/null 2>&1; then
    echo "== installing chromium (Debian package) for the tear-sheet test"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
        || { $SUDO apt-get update -q >/dev/null && \
             $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== ruff check"
ruff check .
echo "== ruff format --check"
ruff format --check .
echo "== import layering (lint-imports)"
# the contracts are in pyproject.toml; PYTHONPATH: check this checkout's package
PYTHONPATH="$PWD/python" lint-imports --no-cache
echo "== stubtest (python/rustybt/_core.pyi matches the native module)"
python -m mypy.stubtest rustybt._core
echo "== pytest"
python -m pytest

# zipline users are still on pandas 2.x; the main environment has the newest pandas. The
# API and results tests run again on pandas 2.2 (its own virtualenv, the same build of
# rustybt._core from this checkout).
echo "== pytest on pandas 2.2 (API and results tests)"
if [ ! -x .venv-pandas22/bin/python ]; then
    "$PYTHON" -m venv .venv-pandas22
fi
.venv-pandas22/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv-pandas22/bin/python -m pip install --quiet "pandas>=2.2,<2.3" "numpy>=1.26,<2.3" \
    "pyarrow>=15" "exchange_calendars>=4.5" "rich>=13" "cloudpickle>=3" "scipy>=1.11" \
    "matplotlib>=3.8" "pytest>=8" "hypothesis>=6.100" "empyrical-reloaded>=0.5.10"
.venv-pandas22/bin/python -c 'import pandas; assert pandas.__version__.startswith("2.2"), pandas.__version__'
PYTHONPATH="$PWD/python" .venv-pandas22/bin/python -m pytest -p no:cacheprovider \
    tests/test_api_functions.py tests/test_api_styles.py tests/test_results.py \
    tests/test_zipline_semantics.py tests/test_benchmark.py tests/test_vertical_slice.py \
    tests/test_records.py tests/test_history_floor.py
