"""Scale figures: PCA of 1M 16-D and 200,000 968-D codes, UMAP of 100,000 codes (--umap), and encoding
generated shapes with a small conv model trained one epoch on shapes (images/s, peak memory).

    python -m bench.bench_scale                      # PCA figures and a 1,000,000-item encode
    python -m bench.bench_scale --encode-items 50000 --no-pca
    python -m bench.bench_scale --umap               # adds UMAP of 100,000 codes (minutes)
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke


def peak_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def codes(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d), dtype=np.float32) * np.linspace(2, 0.1, d, dtype=np.float32))


def bench_pca(sizes: tuple[tuple[int, int], ...] = ((1_000_000, 16), (200_000, 968))) -> None:
    from explorer.pca import fit_pca

    for n, d in sizes:
        x = codes(n, d)
        t = time.perf_counter()
        pca = fit_pca(x)
        print(f"PCA of {n:,} x {d} codes: {time.perf_counter() - t:.2f} s "
              f"(explained {pca.explained_variance_ratio.round(3).tolist()})", flush=True)


def bench_umap(n: int, fit_size: int | None) -> None:
    from explorer.analysis.maps import compute_umap, umap_backend

    x = codes(n, 16)
    t = time.perf_counter()
    compute_umap(x, fit_size=fit_size)
    print(f"UMAP ({umap_backend()}) of {n:,} x 16 codes, fit_size {fit_size}: {time.perf_counter() - t:.1f} s", flush=True)


def bench_encode(n: int, batch_size: int, device: str, train_items: int = 10_000) -> None:
    import torch

    from explorer.analysis.encode_dataset import encode_dataset
    from explorer.data.shapes import ShapesStream
    from explorer.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("conv", input_shape=(3, 32, 32), latent_dim=16, channels=(16, 32), hidden_dim=64).to(device)
    train_set = ShapesStream(train_items, seed=1)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    t = time.perf_counter()
    loader = torch.utils.data.DataLoader(train_set, batch_size=128, shuffle=True)
    model.train()
    for x, _ in loader:  # one epoch of plain ELBO on train_items shapes
        terms = model.loss_terms((x.to(device),))
        loss = (terms["nll"] + terms["kl_dims"].sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"trained 1 epoch on {train_items:,} shapes in {time.perf_counter() - t:.1f} s (last loss {loss.item():.1f})", flush=True)
    base = peak_mib()
    t = time.perf_counter()
    out = encode_dataset(model, ShapesStream(n, seed=0), tempfile.mkdtemp(), batch_size=batch_size)
    seconds = time.perf_counter() - t
    print(f"encoded {len(out):,} shapes on {device}: {seconds:.1f} s, {len(out) / seconds:,.0f} images/s, "
          f"peak {peak_mib():.0f} MiB ({peak_mib() - base:.0f} MiB above the {base:.0f} MiB before encoding)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-pca", action="store_true")
    p.add_argument("--umap", action="store_true", help="also UMAP of --umap-items codes (minutes)")
    p.add_argument("--umap-items", type=int, default=100_000)
    p.add_argument("--umap-fit-size", type=int, default=None)
    p.add_argument("--encode-items", type=int, default=1_000_000, help="0 to skip")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--device", default="cuda" if __import__("torch").cuda.is_available() else "cpu")
    p.add_argument("--train-items", type=int, default=10_000, help="shapes the encoder is trained on first")
    add_smoke_option(p)
    args = apply_smoke(p.parse_args(), umap_items=500, encode_items=512, batch_size=128, train_items=256)
    if not args.no_pca:
        bench_pca(((2_000, 16), (500, 96)) if args.smoke else ((1_000_000, 16), (200_000, 968)))
    if args.umap:
        bench_umap(args.umap_items, args.umap_fit_size)
    if args.encode_items:
        bench_encode(args.encode_items, args.batch_size, args.device, args.train_items)


if __name__ == "__main__":
    main()
