#!/usr/bin/env bash
# Re-train every shipped model of pretrained/ with the commands written in their cards.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# one thread unless a model's card says otherwise (its --threads comes later and wins)
run() { local out=$1; shift; rm -rf "$out"; "$PY" train.py --threads 1 "$@" --out "$out" --no-progress; }
# seed 0 is the shipped model (pretrained/NAME); other seeds train into runs/NAME-seedS
seed_dir() { if [ "$2" = 0 ]; then echo "pretrained/$1"; else echo "runs/$1-seed$2"; fi; }
VQ="--model vqvae --codebook-size 512 --code-dim 32 --kmeans-init --channels 32,64 --res-blocks 1 --batch-size 64 --kl-schedule constant --iwae-k 0 --maps pca"
FSQ="--model fsq --levels 8,8,8 --channels 32,64 --res-blocks 1 --batch-size 64 --kl-schedule constant --iwae-k 0 --maps pca"
DSPRITES="--epochs 2 --batch-size 256 --lr 1e-3 --kl-schedule constant --iwae-k 0 --maps pca"
case "${1:-all}" in
  conv-mnist5k|all) run pretrained/conv-mnist5k --model conv --dataset mnist5k --latent-dim 16 --epochs 100 --batch-size 64 \
      --kl-schedule linear --warmup-epochs 10 --maps pca,umap,tsne --threads 2 ;;&
  # the IAF posterior and its twin: the same command but for --iaf-steps, so the gain is the flow's
  conv-iaf-mnist5k|all) run pretrained/conv-iaf-mnist5k --model conv --dataset mnist5k --latent-dim 32 --iaf-steps 2 \
      --iaf-hidden 320 --context-dim 128 --weight-decay 3e-3 --epochs 300 --batch-size 64 --kl-schedule linear \
      --warmup-epochs 30 --maps pca,umap ;;&
  conv-iaf0-mnist5k|all) run pretrained/conv-iaf0-mnist5k --model conv --dataset mnist5k --latent-dim 32 --iaf-steps 0 \
      --iaf-hidden 320 --context-dim 128 --weight-decay 3e-3 --epochs 300 --batch-size 64 --kl-schedule linear \
      --warmup-epochs 30 --maps pca,umap ;;&
  mlp-mnist5k-2d|all) run pretrained/mlp-mnist5k-2d --model mlp --dataset mnist5k --latent-dim 2 --hidden-sizes 512,256 \
      --epochs 60 --batch-size 64 --kl-schedule linear --warmup-epochs 5 --maps pca,umap ;;&
  conv-digits|all) run pretrained/conv-digits --model conv --dataset digits --latent-dim 8 --channels 32,64 --hidden-dim 128 \
      --epochs 150 --batch-size 32 --kl-schedule linear --warmup-epochs 20 --maps pca,umap,tsne ;;&
  conv-patches|all) run pretrained/conv-patches --model conv --dataset patches --latent-dim 32 --channels 32,64,128 \
      --hidden-dim 256 --epochs 40 --batch-size 64 --kl-schedule linear --warmup-epochs 5 --maps pca,umap ;;&
  cvae-mnist5k|all) run pretrained/cvae-mnist5k --model cvae --dataset mnist5k --latent-dim 16 --epochs 150 --batch-size 64 \
      --kl-schedule linear --warmup-epochs 10 --maps pca,umap,tsne
    # the plain conv model with the same command, for the comparison recorded in pretrained/cvae-mnist5k/comparison.json
    run runs/conv-mnist5k-150 --model conv --dataset mnist5k --latent-dim 16 --epochs 150 --batch-size 64 \
      --kl-schedule linear --warmup-epochs 10 --maps none
    "$PY" references/cvae_comparison.py pretrained/cvae-mnist5k runs/conv-mnist5k-150 ;;&
  # the VAE/GAN (Larsen et al. 2016): continuous (dequantised) images so the discriminator cannot tell reals by their
  # binary pixels; the equilibrium rule keeps either player from winning outright; then its pictures beside the
  # plain VAE's in its card
  vaegan-mnist5k|all) run pretrained/vaegan-mnist5k --model vaegan --dataset mnist5k --likelihood gaussian --latent-dim 16 \
      --channels 32,32 --hidden-dim 128 --dis-channels 32,64 --dis-hidden 32 --feature-layer 1 --gamma 100 --beta 1 --equilibrium 0.68 --epochs 20 --batch-size 64 --lr 1e-3 \
      --iwae-k 0 --maps pca,umap --threads 2
    "$PY" references/vaegan_comparison.py pretrained/vaegan-mnist5k pretrained/conv-mnist5k ;;&
  pu-shapes|all) run pretrained/pu-shapes --model pu --dataset shapes --channels 32,48 --set 'kernel_sizes=[7,5]' \
      --set 'dec_kernel_sizes=[5,3]' --set latent_channels=8 --set code_kernel=3 --set location_scale_init=0.1 \
      --set 'reader_channels=[32,32]' --set 'reader_strides=[1,2]' --set label_hidden=128 --set label_weight=10 \
      --set caption_weight=10 --lr 5e-3 --batch-size 64 --kl-schedule linear --warmup-epochs 5 --epochs 22 \
      --iwae-k 100 --maps pca,umap --threads 2 ;;&
  # this project's own diffusers AutoencoderKL (f4, 4 latent channels) on the photographs skimage and sklearn ship; trained
  # into runs/ (its checkpoint every epoch, ~8 min apart on 1 thread; resume with --resume), then exported with diffusers'
  # save_pretrained into pretrained/kl-f4-photos with its card and PSNR on the held-out photographs. Run niced in the
  # background: nohup nice -n 10 scripts/train-pretrained.sh kl-f4-photos > runs/kl-f4-photos.log 2>&1 &
  kl-f4-photos|all) run runs/kl-f4-photos --model autoencoder_kl --dataset photos --set 'block_out_channels=[32,64,64]' \
      --epochs 16 --batch-size 4 --lr 1e-3 --beta 0.01 --kl-schedule constant --iwae-k 0 --maps none
    "$PY" scripts/export_teacher.py runs/kl-f4-photos pretrained/kl-f4-photos ;;&
  # its distilled AutoencoderTiny student (tier b of the live preview), 30 minutes of one thread; --resume goes on
  kl-f4-photos-student|all) "$PY" -m explorer.cli.distill pretrained/kl-f4-photos --data photos --minutes 30 \
      --out pretrained/kl-f4-photos-student --threads 1 ;;&
  # discrete codes: VQ-VAE (EMA codebook of 512, k-means init, dead-code replacement) and FSQ (levels
  # 8,8,8: 512 implicit codes) on a 7x7 (mnist5k) or 8x8 (shapes, 32x32 colour) grid; the VQ twin without dead-code
  # replacement trains into runs/ for the VQ card's usage comparison. Each about 12 minutes on one busy thread.
  vq-mnist5k|discrete|all) run pretrained/vq-mnist5k $VQ --dataset mnist5k --dead-code-threshold 2 --epochs 15 ;;&
  vq-mnist5k-nodead|discrete|all) run runs/vq-mnist5k-nodead $VQ --dataset mnist5k --epochs 15
    "$PY" references/discrete_reconstruction.py pretrained/vq-mnist5k --without-replacement runs/vq-mnist5k-nodead ;;&
  # mnist5k: 3 FSQ channels (8,6,5: 240 codes, the FSQ paper's levels for 2^8); with 8,8,8 (512) it used 90.6% of them
  fsq-mnist5k|discrete|all) run pretrained/fsq-mnist5k $FSQ --dataset mnist5k --levels 8,6,5 --epochs 24 ;;&
  vq-shapes|discrete|all) run pretrained/vq-shapes $VQ --dataset shapes --dead-code-threshold 2 --epochs 6 ;;&
  # shapes: 4 FSQ channels (5,5,5,5: 625 codes) and lr 2e-3; with 8,8,8 at 1e-3 the NLL stalled near 490 nats, and
  # 8,5,5,5 (1000 codes) used 92% of them after 60 epochs (67% after 3, 81% after 20, 89% after 110)
  fsq-shapes|discrete|all) run pretrained/fsq-shapes $FSQ --dataset shapes --levels 5,5,5,5 --lr 2e-3 --epochs 60 ;;&
  # dSprites: a plain VAE, a beta-VAE and a beta-TCVAE with the MLP of Chen et al. (1200-1200, 10-D
  # code), the same budget each (2 epochs of the 663,552 training images). Seeds 0 and 1 are fixed here: seed 0 ships,
  # seed 1 (runs/) backs the seed spread in docs. SEEDS="0 1" scripts/train-pretrained.sh dsprites
  vae-dsprites|dsprites|all) for s in ${SEEDS:-0}; do run "$(seed_dir vae-dsprites "$s")" --model mlp --dataset dsprites \
      --latent-dim 10 --hidden-sizes 1200,1200 --beta 1 --seed "$s" $DSPRITES; done ;;&
  betavae-dsprites|dsprites|all) for s in ${SEEDS:-0}; do run "$(seed_dir betavae-dsprites "$s")" --model mlp \
      --dataset dsprites --latent-dim 10 --hidden-sizes 1200,1200 --beta 4 --seed "$s" $DSPRITES; done ;;&
  tcvae-dsprites|dsprites|all) for s in ${SEEDS:-0}; do run "$(seed_dir tcvae-dsprites "$s")" --model tcvae \
      --dataset dsprites --latent-dim 10 --hidden-sizes 1200,1200 --tc-weight 6 --seed "$s" $DSPRITES; done ;;&
  # single-object shapes with its factors (colour, shape, size, position), a 10-D conv VAE for the Factors page
  conv-shapes-single|all) run pretrained/conv-shapes-single --model conv --dataset shapes --single-object --latent-dim 10 \
      --epochs 8 --batch-size 64 --kl-schedule constant --iwae-k 100 --maps pca ;;&
  # softmax against Bayesian SVM label heads at 10% labels (smaller models in runs/), recorded in pu-shapes' card
  pu-label-heads|all) "$PY" references/pu_label_heads.py ;;
esac
