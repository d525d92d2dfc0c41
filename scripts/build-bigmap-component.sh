#!/usr/bin/env bash
# Rebuild the big-map component's served files in ui/live/assets/bigmap/ (committed, so a fresh clone needs no npm):
#   big_map.js   the page code, bundled by esbuild from ui/bigmap/frontend/src/
#   big_map.css  its styles
# onnxruntime-web is NOT copied: the page loads the live component's copy (ui/live/assets/ort.wasm.bundle.min.mjs
# and its .wasm) by URL, /_stcore/bidi-components/vae-live-latent.live_latent/...
# esbuild's version is pinned by ui/bigmap/frontend/package-lock.json (`npm ci`).
set -euo pipefail
cd "$(dirname "$0")/../ui/bigmap/frontend"
[ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund
out=../../live/assets/bigmap
mkdir -p "$out"
node_modules/.bin/esbuild src/big_map.js --bundle --format=esm --target=es2022 --minify --legal-comments=none \
  --outfile="$out/big_map.js"
cp src/big_map.css "$out/big_map.css"
ls -l "$out"
