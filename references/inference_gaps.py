"""Inference gaps of a k = 0 model on mnist5k test items (Cremer et al. 2018): amortised ELBO, the ELBO of a Gaussian
optimised per item, IWAE-1000 with each as proposal.

    python references/inference_gaps.py FOLDER [N]      # N test items (default 100)
"""

from __future__ import annotations

import argparse
import sys

import torch
from torch import Tensor

from explorer.analysis.evaluation import iwae_bound, scoring_inputs
from explorer.checkpoint import from_pretrained
from explorer.data import load_dataset
from explorer.data.base import stack_images
from explorer.distributions import DiagonalGaussian, standard_normal_log_prob
from explorer.losses import log_mean_exp


def log_weights(model, x: Tensor, q: DiagonalGaussian, draws: int) -> Tensor:
    """log p(x, z) - log q(z) for `draws` reparameterised draws per item of x (B, C, H, W); returns (B, draws)."""
    n = len(x)
    many = q.expand_draws(draws)
    z = many.rsample()  # (B, S, D)
    log_px = model.decode(z.flatten(0, 1)).log_prob(x.repeat_interleave(draws, 0)).flatten(1).sum(1).view(n, draws)
    return log_px + standard_normal_log_prob(z).sum(-1) - many.log_prob(z).sum(-1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="a model folder (pretrained/NAME or a run's)")
    p.add_argument("n", nargs="?", type=int, default=100, help="mnist5k test items (the first N)")
    p.add_argument("--steps", type=int, default=1500, help="Adam steps of the per-item Gaussians")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = from_pretrained(args.folder).eval()
    n = args.n
    for param in model.parameters():
        param.requires_grad_(False)
    images, _ = stack_images(load_dataset("mnist5k").test, n)
    x = scoring_inputs(images, "bernoulli")

    with torch.no_grad():
        post = model.encode(x)
        mu0, lv0 = post.mean.clone(), post.logvar.clone()
        amortised = log_weights(model, x, post, 200).mean()
        iw = iwae_bound(model, x, 1000, torch.Generator().manual_seed(0)).mean()
    mu, lv = mu0.clone().requires_grad_(), lv0.clone().requires_grad_()
    opt = torch.optim.Adam([mu, lv], lr=3e-3)
    for step in range(args.steps):
        opt.zero_grad()
        loss = -log_weights(model, x, DiagonalGaussian(mu, lv), 8).mean(1).sum()
        loss.backward()
        opt.step()
        if step % 300 == 0:
            print(step, float(-loss.detach()) / n, flush=True)
    with torch.no_grad():
        optimised_q = DiagonalGaussian(mu, lv)
        optimised = log_weights(model, x, optimised_q, 200).mean()
        # 10 x 100 draws = IWAE-1000 under the optimised Gaussian
        iw_opt = log_mean_exp(torch.cat([log_weights(model, x, optimised_q, 100) for _ in range(10)], 1), dim=1).mean()
    print(f"amortised ELBO {amortised:.2f}  optimised-Gaussian ELBO {optimised:.2f}  IWAE-1000 {iw:.2f}")
    print(f"amortisation gap {optimised - amortised:.2f}  Gaussian approximation gap {iw - optimised:.2f}")
    print(f"IWAE-1000 with the optimised Gaussian as proposal {iw_opt:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
