#!/usr/bin/env bash
# Set up everything on a fresh machine and start the app on the bundled models (http://localhost:8501).
# Extra args go to the app, e.g. scripts/app.sh --models ~/my-runs
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PORT=${PORT:-8501}
exec .venv/bin/streamlit run app.py --server.port "$PORT" --server.headless true -- "$@"
