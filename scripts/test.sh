#!/usr/bin/env bash
# Set up everything on a fresh machine and run every test (browser tests included). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CHROMIUM=$(bash scripts/ensure-chromium.sh) || { echo "browser tests need Chromium: failing" >&2; exit 1; }
export CHROMIUM
exec .venv/bin/python -m pytest --durations=30 "$@"  # the 30 slowest tests, to keep the suite inside its time budget
