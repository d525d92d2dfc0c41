"""The fsq family: the implicit codebook of prod(levels) lattice points, indices and decode_indices."""

from __future__ import annotations

import itertools

import pytest
import torch

from explorer.models import build_model


def test_codebook_is_the_lattice_and_indices_round_trip():
    torch.manual_seed(0)
    model = build_model("fsq", input_shape=(3, 32, 32), channels=(8, 16), res_blocks=1, levels=(8, 5, 5, 5)).eval()
    (level,) = model.code_levels()
    assert (level.grid, level.codebook_size, level.code_size, level.learned_codebook) == ((8, 8), 1000, 4, False)
    book = model.codebook()
    assert book.shape == (1000, 4) and len(torch.unique(book, dim=0)) == 1000
    # each channel takes exactly its number of levels, in [-1, 1]
    assert [len(torch.unique(book[:, c])) for c in range(4)] == [8, 5, 5, 5] and book.abs().max() <= 1
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    (indices,) = model.encode_indices(x)
    assert indices.shape == (2, 8, 8)
    assert torch.allclose(model.encode(x).mean, book[indices].permute(0, 3, 1, 2), atol=1e-6)
    assert torch.allclose(model.decode_indices(indices), model.reconstruct(x), atol=1e-6)
    assert "commitment" not in model.loss_terms(x)


def test_levels_of_two_are_refused():
    with pytest.raises(ValueError, match="levels must be integers of 3 or more"):
        build_model("fsq", input_shape=(1, 16, 16), levels=(2, 8))


def test_every_lattice_point_has_its_own_index():
    model = build_model("fsq", input_shape=(1, 16, 16), channels=(8, 16), levels=(3, 4))
    points = {tuple(round(float(v), 4) for v in row) for row in model.codebook()}
    assert len(points) == 12 and len(list(itertools.product(range(3), range(4)))) == 12
