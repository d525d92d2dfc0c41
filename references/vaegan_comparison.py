"""Put the VAE/GAN's pictures beside the plain VAE's in the VAE/GAN's card: the same test items reconstructed
by each, and the same prior draws (one seed, each model's own N(0, I)) decoded by each.

    python references/vaegan_comparison.py pretrained/vaegan-mnist5k pretrained/conv-mnist5k

Writes beside_plain_vae.png into the VAE/GAN's folder and (re)writes its card's "Beside the plain VAE" section.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

SECTION = "\n## Beside the plain VAE"


@torch.no_grad()
def main(argv: list[str] | None = None) -> int:
    from explorer.checkpoint import from_pretrained, read_metrics
    from explorer.data import load_dataset
    from explorer.run_folder import save_png

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("vaegan", help="the VAE/GAN's folder (gets beside_plain_vae.png and its card's section)")
    p.add_argument("plain", help="the plain VAE's folder (same image shape and code size)")
    args = p.parse_args(argv)
    gan_dir, plain_dir = Path(args.vaegan), Path(args.plain)
    gan, vae = from_pretrained(gan_dir, "cpu").eval(), from_pretrained(plain_dir, "cpu").eval()
    if tuple(gan.config.input_shape) != tuple(vae.config.input_shape) or gan.latent_shape != vae.latent_shape:
        raise SystemExit("the two models need the same image shape and code size")
    data = load_dataset("mnist5k")
    n = len(data.test)
    picks = torch.linspace(0, n - 1, 16).round().long().tolist()  # the items save_pictures shows
    x = torch.stack([data.test[i][0] for i in picks])  # (16, C, H, W)
    z = torch.randn(16, *gan.latent_shape, generator=torch.Generator().manual_seed(0))  # shared prior draws
    rows = [x, vae.reconstruct(x), gan.reconstruct(x), vae.decode(z).mean, gan.decode(z).mean]
    save_png(torch.cat(rows), gan_dir / "beside_plain_vae.png", nrow=16)
    m_gan, m_vae = read_metrics(gan_dir), read_metrics(plain_dir)
    section = "\n".join([
        SECTION, "",
        f"Rows from the top: 16 test items of mnist5k; their reconstructions by the plain VAE `{plain_dir.name}` "
        f"(posterior mean, Bernoulli pixel likelihood); by this VAE/GAN; then 16 prior draws z ~ N(0, I) (seed 0, "
        "the same z for both) decoded by the plain VAE; and by this VAE/GAN.", "",
        "![test items, plain VAE and VAE/GAN reconstructions, plain VAE and VAE/GAN prior samples](beside_plain_vae.png)",
        "",
        f"The plain VAE's test ELBO is {m_vae['elbo_nats']:.2f} nats over pixels (IWAE NLL "
        f"{m_vae.get('iwae_nll_nats') or float('nan'):.2f}); this model's {m_gan['elbo_nats']:.2f} nats bounds the "
        "density of its discriminator's features, so the two numbers do not compare. Active units: plain "
        f"{m_vae['active_units']}, VAE/GAN {m_gan['active_units']} of {m_gan['latent_dims']}.",
        "",
        "```",
        f"python references/vaegan_comparison.py {gan_dir} {plain_dir}",
        "```", ""])
    card = gan_dir / "README.md"
    text = card.read_text().split(SECTION)[0].rstrip("\n") + "\n"
    card.write_text(text + section)
    print(f"wrote {gan_dir / 'beside_plain_vae.png'} and the card section")
    return 0


if __name__ == "__main__":
    sys.exit(main())
