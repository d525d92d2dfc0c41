#!/usr/bin/env bash
# Set up everything on a fresh machine and run every test (browser tests included). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Python writes its bytecode caches (__pycache__/, git-ignored) during the run, whatever the machine's
# PYTHONDONTWRITEBYTECODE says: the set-up compiles nothing (pip --no-compile), and the suite starts about 150
# Python processes (app servers, CLI runs, benchmarks), each of which would otherwise compile every module it
# imports again (the project's alone: 0.9 s of CPU for the app's imports)
unset PYTHONDONTWRITEBYTECODE
CHROMIUM=$(bash scripts/ensure-chromium.sh) || { echo "browser tests need Chromium: failing" >&2; exit 1; }
export CHROMIUM
# one pytest-xdist worker a core, at most 4 (each starts its own app servers and browser); worksteal evens out the
# long tests. WORKERS=0 runs in this process alone (for -s and pdb).
WORKERS=${WORKERS:-$(n=$(nproc 2>/dev/null || echo 1); [ "$n" -gt 4 ] && n=4; [ "$n" -lt 2 ] && n=0; echo "$n")}
exec .venv/bin/python -m pytest -n "$WORKERS" --dist worksteal --durations=30 "$@"  # the 30 slowest tests, to keep the suite inside its time budget
