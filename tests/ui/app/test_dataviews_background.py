"""The colour a model's images sit on (ui.app.dataviews.background): from its own data set where it has one,
else from what its zero code decodes to, decoded small where the decoder takes any size."""

from __future__ import annotations

import numpy as np

from explorer.checkpoint import from_pretrained
from explorer.images import estimate_background
from explorer.latent import decode_zero_code
from tests.support.foreign_models import make_autoencoder_kl
from ui.app import dataviews


def test_a_model_without_its_own_data_takes_its_small_zero_code_decode(tmp_path, monkeypatch):
    model = from_pretrained(make_autoencoder_kl(tmp_path / "kl", sample_size=64))  # a 3 x 32 x 32 code
    shapes = []
    real = decode_zero_code

    def watched(m, *args):
        out = real(m, *args)
        shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr("explorer.latent.decode_zero_code", watched)
    got = dataviews.background(model, "kl-under-test", "", "{}")  # no data set of its own
    assert np.allclose(got, estimate_background(real(model)))
    assert shapes == [(1, 3, 16, 16)]  # 8 x 8 cells, not the whole 32 x 32 code (64 x 64 px)
