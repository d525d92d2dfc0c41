#!/usr/bin/env bash
# Rebuild the live-latent component's served files in ui/live/assets/ (committed, so a fresh clone needs no npm):
#   live_latent.js               the page code, bundled by esbuild from ui/live/frontend/src/
#   live_latent.css              its styles
#   ort.wasm.bundle.min.mjs      onnxruntime-web's wasm-only ES module (the Emscripten glue inside)
#   ort-wasm-simd-threaded.wasm  its WebAssembly binary, fetched by the module from the same folder
# Versions are pinned by ui/live/frontend/package-lock.json (`npm ci`).
set -euo pipefail
cd "$(dirname "$0")/../ui/live/frontend"
[ -d node_modules/onnxruntime-web ] && [ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund
out=../assets
node_modules/.bin/esbuild src/live_latent.js --bundle --format=esm --target=es2022 --minify \
  --external:./ort.wasm.bundle.min.mjs --legal-comments=none --outfile="$out/live_latent.js"
cp src/live_latent.css "$out/live_latent.css"
cp node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs "$out/"
cp node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm "$out/"
ls -l "$out"
