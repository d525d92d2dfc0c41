"""The shared interface, exercised on every built-in vector family."""

import pytest
import torch

from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.models import available_families, build_model, interpolate_codes

VECTOR_FAMILIES = ["mlp", "conv"]
SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 8, 8)]


def tiny(family: str, shape=(1, 28, 28), likelihood="bernoulli", **kw):
    extra = {"mlp": {"hidden_sizes": (32, 16)}, "conv": {"channels": (8, 16), "hidden_dim": 32}}[family]
    return build_model(family, input_shape=shape, latent_dim=4, likelihood=likelihood, **extra, **kw).eval()


def test_registry_lists_families():
    assert set(VECTOR_FAMILIES) <= set(available_families())
    with pytest.raises(ValueError, match="unknown model family"):
        build_model("nope")


@pytest.mark.parametrize("family", VECTOR_FAMILIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_round_trip(family, shape):
    model = tiny(family, shape)
    x = torch.rand(3, *shape)
    post = model.encode(x)
    assert post.mean.shape == (3, 4) and post.kl().shape == (3, 4)
    lik = model.decode(post.mean)
    assert lik.mean.shape == (3, *shape) and lik.log_prob(x).shape == (3, *shape)
    assert model.reconstruct(x).shape == (3, *shape)
    assert model.sample(5, torch.Generator().manual_seed(0)).shape == (5, *shape)


@pytest.mark.parametrize("family", VECTOR_FAMILIES)
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_deterministic_given_generator(family, likelihood):
    model = tiny(family, (3, 32, 32), likelihood)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model.reconstruct(x), model.reconstruct(x))
    s1 = model.sample(4, torch.Generator().manual_seed(7), temperature=0.5)
    s2 = model.sample(4, torch.Generator().manual_seed(7), temperature=0.5)
    assert torch.equal(s1, s2)
    o1 = model(x, torch.Generator().manual_seed(1))
    o2 = model(x, torch.Generator().manual_seed(1))
    assert torch.equal(o1.z, o2.z)
    assert 0 <= s1.min() and s1.max() <= 1


def test_gaussian_scale_is_learned_or_fixed():
    learned = tiny("conv", (3, 32, 32), "gaussian")
    fixed = tiny("conv", (3, 32, 32), "gaussian", learn_scale=False)
    assert any(n == "log_scale" for n, _ in learned.named_parameters())
    assert not any(n == "log_scale" for n, _ in fixed.named_parameters())
    assert "log_scale" in dict(fixed.named_buffers())


@pytest.mark.parametrize("family", VECTOR_FAMILIES)
def test_interpolate_uses_posterior_means(family):
    model = tiny(family)
    x0, x1 = torch.rand(1, 28, 28), torch.rand(1, 28, 28)
    path = model.interpolate(x0, x1, steps=5)
    assert path.shape == (5, 1, 28, 28)
    torch.testing.assert_close(path[0], model.reconstruct(x0[None])[0])
    torch.testing.assert_close(path[-1], model.reconstruct(x1[None])[0])
    assert model.interpolate(x0, x1, steps=5, spherical=True).shape == (5, 1, 28, 28)


def test_slerp_keeps_end_points_and_norm_of_orthogonal_unit_codes():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = interpolate_codes(z0, z1, 5, spherical=True)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    torch.testing.assert_close(path.norm(dim=1), torch.ones(5))


def test_mlp_options_selu_and_weight_norm():
    model = tiny("mlp", activation="selu", weight_norm=True)
    assert any("parametrizations" in n for n, _ in model.named_parameters())
    assert isinstance(model.encoder[1], torch.nn.SELU)


def test_conv_batch_norm_option():
    model = tiny("conv", batch_norm=True)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("family", VECTOR_FAMILIES)
def test_save_load_identical(family, tmp_path):
    model = tiny(family, (3, 32, 32), "gaussian")
    save_pretrained(model, tmp_path / "ckpt")
    loaded = from_pretrained(tmp_path / "ckpt", device="cpu")
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model.reconstruct(x), loaded.reconstruct(x))
    assert loaded.config == model.config
    assert not loaded.training


def test_invalid_configs_raise():
    with pytest.raises(ValueError, match="likelihood"):
        build_model("conv", likelihood="poisson")
    with pytest.raises(ValueError, match="activation"):
        build_model("mlp", activation="swish")
    with pytest.raises(ValueError, match="does not know"):
        build_model("conv", colour="red")
