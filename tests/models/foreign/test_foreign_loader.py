"""Every foreign model behaves as an ordinary VAE, and explorer.checkpoint.from_pretrained dispatches to it."""

from __future__ import annotations

import pytest
import torch

from explorer.checkpoint import CheckpointError, from_pretrained
from explorer.models.base import VAE
from explorer.models.foreign import ForeignModelError, load_foreign

KINDS = ["kl_folder", "onnx_folder", "adapter_file"]


@pytest.fixture(params=KINDS)
def model(request) -> VAE:
    path = request.getfixturevalue(request.param)
    return from_pretrained(path, "auto" if request.param == "adapter_file" else "cpu", trusted_code=[path])


def test_base_class_behaviour(model):
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    x = torch.rand(2, *model.config.input_shape, generator=gen())
    with torch.no_grad():
        terms = model.elbo_terms(x, gen())
        weights = model.iwae_log_weights(x, 3, gen())
    assert terms["nll"].shape == (2,) and terms["kl_dims"].shape == (2, model.config.latent_dim)
    assert torch.isfinite(terms["nll"]).all() and (terms["kl_dims"] >= 0).all()
    assert weights.shape == (2, 3) and torch.isfinite(weights).all()
    samples = model.sample(3, gen())
    assert samples.shape == (3, *model.config.input_shape) and 0 <= samples.min() and samples.max() <= 1
    assert torch.equal(samples, model.sample(3, gen()))
    recon = model.reconstruct(x)
    assert recon.shape == x.shape and 0 <= recon.min() and recon.max() <= 1
    with torch.no_grad():
        code = model.encode_code(x)
        assert code.shape == (2, *model.latent_shape)
        assert model.decode_code(code).shape == x.shape
        path = model.interpolate(x[0], x[1], 4)
    assert path.shape == (4, *model.config.input_shape)
    assert not model.capabilities().trainable and model.likelihood_description()


def test_from_pretrained_refusals_are_checkpoint_errors(adapter_file, tmp_path):
    with pytest.raises(CheckpointError, match="--trust-code"):
        from_pretrained(adapter_file)
    (tmp_path / "model.pt").write_bytes(b"\x80\x04.")
    with pytest.raises(CheckpointError, match="torch.save file .*never loaded.*Accepted formats"):
        from_pretrained(tmp_path / "model.pt")


def test_load_foreign_refuses_native(tmp_path):
    (tmp_path / "config.json").write_text('{"family": "mlp", "config": {}}')
    with pytest.raises(ForeignModelError, match="native explorer checkpoint"):
        load_foreign(tmp_path)
