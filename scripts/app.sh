#!/usr/bin/env bash
# Set up everything on a fresh machine and start the app on the bundled models (http://127.0.0.1:8501).
# Extra args go to the app, e.g. scripts/app.sh --models ~/my-runs; PORT=8600 and ADDRESS=0.0.0.0 change where it serves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
unset PYTHONDONTWRITEBYTECODE  # the set-up compiles nothing: each module's bytecode is written when first imported
PORT=${PORT:-8501}
ADDRESS=${ADDRESS:-127.0.0.1}
exec .venv/bin/vae-explorer --server.port "$PORT" --server.address "$ADDRESS" -- "$@"
