#!/usr/bin/env bash
# Create .venv, install requirements.txt into it and the project itself, editable (its console scripts vae-explorer,
# vae-train, vae-evaluate; `import explorer, ui` from anywhere). Again only when requirements.txt or the packaging
# (pyproject.toml, setup.py, frontend/assets/pyproject.toml) changes. Also the browser components' one asset folder
# frontend/assets/, its own small distribution (vae-explorer-frontend), editable: Streamlit serves a v2 component's
# files only for an installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt pyproject.toml setup.py frontend/assets/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/python" -m pip install --upgrade pip >/dev/null
  # --no-compile: pip would compile all 22,000 installed modules (52 s on 2 cores) where a run imports about 6,000;
  # scripts/app.sh and scripts/test.sh let Python write each module's bytecode when it is first imported instead
  "$VENV/bin/python" -m pip install --no-compile -r requirements.txt
  # the dependencies (extras included) came from requirements.txt, setuptools among them: no build isolation needed
  "$VENV/bin/python" -m pip install --no-compile --no-deps --no-build-isolation -e ".[diffusers,onnx]"
  "$VENV/bin/python" -m pip uninstall -y -q vae-live-latent 2>/dev/null || true  # the old asset distribution
  "$VENV/bin/python" -m pip install --no-compile --no-deps --no-build-isolation -e frontend/assets
  echo "$want" > "$stamp"
fi
