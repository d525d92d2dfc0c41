"""Inference gaps of a k = 0 model on mnist5k test items (Cremer et al. 2018): amortised ELBO, the ELBO of a Gaussian
optimised per item, IWAE-1000 with each as proposal. Usage: .venv/bin/python scripts/inference_gaps.py FOLDER [N]"""
import sys, torch
from explorer.checkpoint import from_pretrained
from explorer.data import load_dataset
from explorer.data.base import stack_images
from explorer.analysis.evaluation import scoring_inputs, iwae_bound
from explorer.distributions import standard_normal_log_prob
torch.set_num_threads(1); torch.manual_seed(0)
model = from_pretrained(sys.argv[1]).eval()
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
for p in model.parameters(): p.requires_grad_(False)
split = load_dataset("mnist5k")
images, _ = stack_images(split.test, n)
x = scoring_inputs(images, "bernoulli")
def elbo(mu, logvar, draws):
    eps = torch.randn(draws, *mu.shape)
    z = mu + (0.5 * logvar).exp() * eps          # (S, B, D)
    log_q = (-0.5 * (eps ** 2 + logvar + torch.log(torch.tensor(2 * torch.pi)))).sum(-1)
    lik = model.decode(z.flatten(0, 1))
    log_px = lik.log_prob(x.repeat(draws, 1, 1, 1)).flatten(1).sum(1).view(draws, -1)
    return (log_px + standard_normal_log_prob(z).sum(-1) - log_q).mean(0)  # (B,)
with torch.no_grad():
    post = model.encode(x)
    mu0, lv0 = post.mean.clone(), post.logvar.clone()
    amortised = elbo(mu0, lv0, 200).mean()
    iw = iwae_bound(model, x, 1000, torch.Generator().manual_seed(0)).mean()
mu, lv = mu0.clone().requires_grad_(), lv0.clone().requires_grad_()
opt = torch.optim.Adam([mu, lv], lr=3e-3)
for step in range(1500):
    opt.zero_grad(); loss = -elbo(mu, lv, 8).sum(); loss.backward(); opt.step()
    if step % 300 == 0: print(step, float(-loss) / n, flush=True)
with torch.no_grad():
    optimised = elbo(mu, lv, 200).mean()
print(f"amortised ELBO {amortised:.2f}  optimised-Gaussian ELBO {optimised:.2f}  IWAE-1000 {iw:.2f}")
print(f"amortisation gap {optimised - amortised:.2f}  Gaussian approximation gap {iw - optimised:.2f}")
with torch.no_grad():
    parts = []
    for _ in range(10):  # 10 x 100 draws = IWAE-1000 under the optimised Gaussian
        eps = torch.randn(100, *mu.shape); z = mu + (0.5 * lv).exp() * eps
        log_q = (-0.5 * (eps ** 2 + lv + torch.log(torch.tensor(2 * torch.pi)))).sum(-1)
        log_px = model.decode(z.flatten(0, 1)).log_prob(x.repeat(100, 1, 1, 1)).flatten(1).sum(1).view(100, -1)
        parts.append(log_px + standard_normal_log_prob(z).sum(-1) - log_q)
    w = torch.cat(parts, 0)
    iw_opt = (torch.logsumexp(w, 0) - torch.log(torch.tensor(1000.0))).mean()
print(f"IWAE-1000 with the optimised Gaussian as proposal {iw_opt:.2f}")
