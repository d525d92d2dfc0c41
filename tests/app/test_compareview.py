"""The Compare page's pure helpers (ui/pages/compare/view.py): the image-shape check, the metrics table, where the loss
lab ranks a reconstruction (checked against explorer.analysis.losslab's own ranking), and aligned maps."""

from __future__ import annotations

import numpy as np

from explorer.analysis import losslab
from ui.pages.compare.view import ModelMetrics, aligned_maps, metrics_table, reconstruction_ranking, shape_refusals


def test_models_of_another_image_shape_are_refused_naming_both_shapes():
    kept, refused = shape_refusals([(1, 28, 28), (3, 32, 32), (1, 28, 28)], ["a", "b", "c"])
    assert kept == [0, 2]
    assert len(refused) == 1 and "b takes 3 x 32 x 32" in refused[0] and "a takes 1 x 28 x 28" in refused[0]


def test_metrics_table_keeps_the_columns_some_model_has():
    stored = ModelMetrics({"elbo_nats": -98.0, "active_units": 14, "iwae_nll_nats": None}, None, "metrics.json")
    table = metrics_table(["a", "b"], ["conv", "onnx"], [16, 4], [stored, "no labels"])
    assert table["ELBO (nats)"] == [-98.0, None] and table["active units"] == [14.0, None]
    assert "IWAE NLL (nats)" not in table and "KL (nats)" not in table
    assert table["figures from"] == ["metrics.json", "not scored: no labels"]


def test_reconstruction_ranking_agrees_with_the_loss_lab():
    rng = np.random.default_rng(0)
    image = (rng.random((1, 12, 12)) > 0.7).astype(np.float64)
    recon = np.clip(image * 0.8 + 0.1, 0, 1)
    variants = losslab.make_variants(image, recon, (-1, 0), 1.0, 0.0)
    codes = {name: v.reshape(-1)[:4] for name, v in variants.items()}
    result = losslab.score_variants(variants, losslab.DEFAULT_EPS, codes)
    out = reconstruction_ranking(result)
    by_mse = losslab.rank(result, "mse")
    assert out["rank by MSE"] == f"{by_mse.index('reconstruction') + 1} of 4"
    assert out["rank by SSIM"] == f"{losslab.rank(result, 'ssim').index('reconstruction') + 1} of 4"
    assert out["order by MSE"] == " < ".join(by_mse)
    assert out["MSE of the reconstruction"] == result.score("reconstruction").mse


def test_aligned_maps_leave_the_first_as_it_is():
    rng = np.random.default_rng(2)
    first = rng.normal(size=(50, 2))
    out = aligned_maps([first, first @ np.array([[0.0, -1.0], [1.0, 0.0]]) * 3.0])
    assert out[0] is None
    np.testing.assert_allclose(out[1].aligned, first, atol=1e-9)
