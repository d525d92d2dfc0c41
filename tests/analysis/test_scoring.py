"""The Reconstruct page's per-pixel map is the model's own -log p(x | z), and it sums to the reconstruction term."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.analysis.evaluation import scoring_inputs
from explorer.checkpoint import from_pretrained
from explorer.data.embedded import load_mnist5k


@pytest.mark.parametrize("name", ["tiny-conv-mnist5k", "tiny-conv-patches", "tiny-captioner", "tiny-pu"])
def test_pixel_map_sums_to_the_reconstruction_term_of_the_same_decode(models, name):
    from explorer.analysis.scoring import pixel_nll, score_image

    if name not in models:
        pytest.skip(f"{name} was not built here")
    model = from_pretrained(models[name]).eval()
    shape = model.config.input_shape
    if name == "tiny-conv-mnist5k":
        image = load_mnist5k().test[3][0].numpy()
    else:
        image = torch.rand(shape, generator=torch.Generator().manual_seed(0)).numpy()
    x = torch.from_numpy(image)[None]
    xs = scoring_inputs(x, model.config.likelihood)
    with torch.inference_mode():
        per_pixel = pixel_nll(model, xs)
        z = model.encode(xs).mean  # the posterior mean, by hand
        reference = -model.decode(z).log_prob(xs).sum()
    assert per_pixel.shape == (1, *shape[1:])
    assert float(per_pixel.sum()) == pytest.approx(float(reference), rel=1e-5, abs=1e-3)
    score = score_image(model, image, iwae_k=0, seed=0, n_samples=2)
    assert score.nll_map.shape == shape[1:]
    assert score.nll_map_total == pytest.approx(float(reference), rel=1e-5, abs=1e-3)
    if model.config.likelihood == "bernoulli":  # scored on the fixed binarisation, as the ELBO is
        assert set(np.unique(score.scored)) <= {0.0, 1.0}
        assert (score.nll_map >= 0).all()
    assert score.samples.shape == (2, *shape)
    assert np.isfinite(score.elbo) and np.isnan(score.iwae)
