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
# uv installs what pip would, from the same indexes, in about a third of the time (27 s against 68 s here, with
# uv's cache cold); pip stays the fallback. uv reads no pip configuration, so pip's index, extra indexes, wheel
# folders and constraints (pip config list: files and PIP_* variables) are passed to it as options.
uv_options() {
  local line key value item
  while IFS= read -r line; do
    key=${line%%=*}; value=${line#*=}; value=${value#\'}; value=${value%\'}
    for item in $value; do
      case "${key##*.}" in
        index-url) echo "--index-url=$item" ;;
        extra-index-url) echo "--extra-index-url=$item" ;;
        find-links) echo "--find-links=$item" ;;
        constraint) echo "--constraints=$item" ;;
      esac
    done
  done < <("$VENV/bin/python" -m pip config list 2>/dev/null)
  echo "--index-strategy=unsafe-best-match"  # pip's rule: the best version from any index
}
install() {  # install ARGS...: with uv when it is there and succeeds, else pip; neither compiles bytecode (see below)
  if [ -x "$VENV/bin/uv" ] && "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" "${UV_OPTIONS[@]}" "$@"; then
    return
  fi
  "$VENV/bin/python" -m pip install --no-compile "$@"
}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/python" -m pip install -qq --no-compile uv \
    || "$VENV/bin/python" -m pip install --upgrade pip >/dev/null
  mapfile -t UV_OPTIONS < <(uv_options)
  # no bytecode at install: pip would compile all 22,000 installed modules (52 s on 2 cores) where a run imports
  # about 6,000; scripts/app.sh and scripts/test.sh let Python write each module's bytecode when it is first
  # imported instead
  install -r requirements.txt
  # the dependencies (extras included) came from requirements.txt, setuptools among them: no build isolation needed
  install --no-deps --no-build-isolation -e ".[diffusers,onnx]"
  "$VENV/bin/python" -m pip uninstall -y -q vae-live-latent 2>/dev/null || true  # the old asset distribution
  install --no-deps --no-build-isolation -e frontend/assets
  echo "$want" > "$stamp"
fi
