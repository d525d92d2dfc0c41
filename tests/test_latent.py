"""explorer.latent: axes, walks, traversals and interpolation, checked against direct computations."""

from __future__ import annotations

import numpy as np
import torch

from explorer import latent


def test_dimension_axes_sorted_by_kl_with_collapsed_marked():
    kl = np.array([0.5, 0.001, 2.0, 0.02])
    axes = latent.dimension_axes(kl, (4,))
    assert [int(np.argmax(v)) for v in axes.vectors] == [2, 0, 3, 1]
    assert axes.collapsed.tolist() == [False, False, False, True]
    assert axes.labels[0].startswith("z2 ") and np.all(axes.scales == 1)
    tensor_axes = latent.dimension_axes(np.arange(12.0), (3, 2, 2))
    assert tensor_axes.labels[0].startswith("z[2,1,1]")


def test_principal_axes_units_are_the_spread_of_the_means():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(400, 3)) * np.array([3.0, 1.0, 0.1]) + 5.0
    axes = latent.principal_axes(means, 2)
    assert np.allclose(np.linalg.norm(axes.vectors, axis=1), 1.0)
    assert abs(abs(axes.vectors[0, 0]) - 1.0) < 0.02
    proj = (means - means.mean(0)) @ axes.vectors.T
    assert np.allclose(proj.std(0, ddof=1), axes.scales)
    tensor_means = rng.normal(size=(50, 2, 3, 3))
    assert latent.principal_axes(tensor_means, 4).vectors.shape == (4, 18)


def test_walk_and_traversal_codes():
    axes = latent.dimension_axes(np.array([1.0, 2.0, 3.0]), (3,))
    start = np.array([0.1, 0.2, 0.3])
    code = latent.walk_code(start, axes, [1.0, 0.0, -2.0])  # axes order: z2, z1, z0
    assert np.allclose(code, [0.1 - 2.0, 0.2, 0.3 + 1.0])
    grid = latent.traversal_codes(start, axes, [1.0, 0.0, -2.0], np.array([-3.0, 3.0]))
    assert grid.shape == (3, 2, 3)
    assert np.allclose(grid[0, 1], [0.1 - 2.0, 0.2, 0.3 + 3.0])  # axis z2 set to +3, the others kept
    assert np.allclose(grid[2, 0], [0.1 - 3.0, 0.2, 0.3 + 1.0])


def test_interpolation_and_prior_draw():
    z = latent.interpolation(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3, spherical=True)
    assert np.allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-6)
    lin = latent.interpolation(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3)
    assert np.allclose(lin[1], [0.5, 0.5])
    a, b = latent.prior_draw((2, 3), 7), latent.prior_draw((2, 3), 7)
    assert a.shape == (6,) and np.array_equal(a, b)
    assert np.array_equal(latent.prior_draw((4,), 7, 0.0), np.zeros(4))
    g = torch.Generator().manual_seed(7)
    assert np.allclose(a, torch.randn(6, generator=g).numpy())


def test_decode_and_encode_shapes(models):
    from explorer.checkpoint import from_pretrained

    model = from_pretrained(models["tiny-captioner"])  # tensor-shaped codes (2, 3, 3)
    images = latent.decode(model, np.zeros((4, 18)))
    assert images.shape == (4, 1, 28, 28)
    means = latent.encode_means(model, images, batch_size=3)
    assert means.shape == (4, 18)
    with torch.inference_mode():
        assert np.allclose(means, model.encode(images).mean.flatten(1).numpy(), atol=1e-6)
    assert np.allclose(latent.plane_grid((-1, -2), (1, 2), 3)[0], [-1, 2])


def test_dimension_axes_of_a_big_code_hold_only_the_kept_rows():
    # a 4x64x64 code: 16,384 dimensions, whose dense identity would be 2 GB in float64
    kl = np.random.default_rng(0).random(4 * 64 * 64)
    kl[:100] = 0.0
    axes = latent.dimension_axes(kl, (4, 64, 64), max_axes=8, include_collapsed=False)
    assert axes.vectors.shape == (8, kl.size)
    assert [int(np.argmax(v)) for v in axes.vectors] == np.argsort(-kl, kind="stable")[:8].tolist()
    assert not axes.collapsed.any() and np.all(axes.vectors.sum(1) == 1)
    collapsed_only = latent.dimension_axes(np.zeros(5), (5,), include_collapsed=False)
    assert len(collapsed_only) == 5 and collapsed_only.collapsed.all()  # all collapsed: all kept


def test_zero_code_decoded_small_where_the_decoder_takes_any_size(tmp_path):
    """A model whose decoder takes codes of any size (size_multiple > 0) decodes a zero code of at most
    ZERO_CODE_CELLS cells a side, with about the border colour of the whole zero code's image."""
    from explorer.checkpoint import from_pretrained
    from explorer.images import estimate_background
    from explorer.latent import ZERO_CODE_CELLS, decode_zero_code
    from tests.support.foreign_models import make_autoencoder_kl

    model = from_pretrained(make_autoencoder_kl(tmp_path / "kl", sample_size=64))  # a 3 x 32 x 32 code
    assert model.capabilities().size_multiple > 0 and model.latent_shape[1] > ZERO_CODE_CELLS
    small = decode_zero_code(model)
    factor = model.config.input_shape[1] // model.latent_shape[1]
    assert small.shape == (1, 3, ZERO_CODE_CELLS * factor, ZERO_CODE_CELLS * factor)
    full = decode_zero_code(model, cells=10_000)
    assert full.shape == (1, *model.config.input_shape)
    # the colour the pages take from it (the border's median) within 0.05 of the whole code's: 0.02 here
    assert np.allclose(estimate_background(small), estimate_background(full), atol=0.05)


def test_zero_code_of_a_fixed_size_model_is_its_own_shape(models):
    """A (2, 3, 3) code whose decoder takes that shape only is decoded whole."""
    from explorer.checkpoint import from_pretrained
    from explorer.latent import decode_zero_code

    model = from_pretrained(models["tiny-captioner"])
    assert model.capabilities().size_multiple == 0 and len(model.latent_shape) == 3
    assert torch.allclose(decode_zero_code(model, cells=1), latent.decode(model, np.zeros((1, 18))))
