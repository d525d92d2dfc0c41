#!/usr/bin/env bash
# Re-train every shipped model of pretrained/ with the commands written in their cards.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
run() { local out=$1; shift; rm -rf "$out"; "$PY" train.py "$@" --out "$out" --no-progress --threads 1; }
case "${1:-all}" in
  conv-mnist5k|all) run pretrained/conv-mnist5k --model conv --dataset mnist5k --latent-dim 16 --epochs 60 --batch-size 64 \
      --kl-schedule linear --warmup-epochs 10 --maps pca,umap,tsne ;;&
  mlp-mnist5k-2d|all) run pretrained/mlp-mnist5k-2d --model mlp --dataset mnist5k --latent-dim 2 --hidden-sizes 512,256 \
      --epochs 60 --batch-size 64 --kl-schedule linear --warmup-epochs 5 --maps pca,umap ;;&
  conv-digits|all) run pretrained/conv-digits --model conv --dataset digits --latent-dim 8 --channels 32,64 --hidden-dim 128 \
      --epochs 150 --batch-size 32 --kl-schedule linear --warmup-epochs 20 --maps pca,umap,tsne ;;&
  conv-patches|all) run pretrained/conv-patches --model conv --dataset patches --latent-dim 32 --channels 32,64,128 \
      --hidden-dim 256 --epochs 40 --batch-size 64 --kl-schedule linear --warmup-epochs 5 --maps pca,umap ;;
esac
