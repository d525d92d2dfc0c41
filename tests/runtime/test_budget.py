"""Budgets: IWAE chunk and sample counts, encode batch sizes (explorer.runtime.budget)."""

from __future__ import annotations

import pytest
import torch

from explorer.models.registry import build_model
from explorer.runtime.budget import Budget, plan_encode, plan_iwae, time_per_item
from explorer.runtime.memory import MemoryRefused, estimate_peak
from tests.support.slow_model import GB


def _slow(**kw):
    torch.manual_seed(0)
    return build_model("slow-test", **{"seconds_per_block": 0.0, **kw})


def test_iwae_samples_are_chunked_to_the_memory_budget():
    model = _slow()  # 6 GB a decoded code
    plan = plan_iwae(model, k=100, seconds_per_decode=0.01,
                     budget=Budget(seconds=60, memory_bytes=20 * GB, batch_bytes=20 * GB))
    assert plan.k == 100 and plan.chunk == 3  # 3 x 6 GB fit 20 GB, 4 do not
    assert plan.peak_bytes == 18 * GB
    assert any("3 at a time" in note for note in plan.notes)


def test_batches_made_for_speed_stay_under_the_batch_budget_but_one_item_over_it_runs():
    big = _slow()  # 6 GB a decoded code: over the default 512 MB batch budget, under 20 GB of memory
    plan = plan_iwae(big, k=100, seconds_per_decode=0.01, budget=Budget(seconds=60, memory_bytes=20 * GB))
    assert plan.chunk == 1 and plan.k == 100
    assert any("1 at a time" in note and "512 MB" in note for note in plan.notes)
    small = _slow(peak_gb=0.1)
    plan = plan_iwae(small, k=100, seconds_per_decode=0.0, budget=Budget(memory_bytes=100 * GB))
    assert plan.chunk == 5 and plan.peak_bytes <= GB // 2  # the default batch budget, not the 100 GB free
    plan = plan_iwae(small, k=100, seconds_per_decode=0.0, budget=Budget(memory_bytes=100 * GB, batch_bytes=4 * GB))
    assert plan.chunk == 40  # a raised batch budget: bigger chunks
    per_image = estimate_peak(small, "encode", 1).activation_bytes
    plan = plan_encode(small, items=500, seconds_per_item=0.0, budget=Budget(memory_bytes=100 * GB,
                                                                           batch_bytes=5 * per_image))
    assert plan.batch == 5
    with pytest.raises(ValueError, match="batch memory budget must be positive"):
        Budget(batch_bytes=0)


def test_iwae_samples_are_cut_to_the_time_budget():
    model = _slow()
    plan = plan_iwae(model, k=100, seconds_per_decode=8.0,
                     budget=Budget(seconds=20, memory_bytes=100 * GB, batch_bytes=100 * GB))
    assert plan.k == 2 and plan.chunk == 2 and plan.seconds == 16.0
    assert "cut from 100 to 2" in plan.notes[0]


def test_everything_fits_a_generous_budget():
    model = _slow(peak_gb=0.001)
    plan = plan_iwae(model, k=100, seconds_per_decode=0.01, budget=Budget(seconds=60, memory_bytes=1 * GB))
    assert (plan.k, plan.chunk, plan.notes) == (100, 100, ())


def test_a_budget_not_even_one_decode_fits_is_refused_with_the_size():
    with pytest.raises(MemoryRefused, match="needs about 6.0 GB"):
        plan_iwae(_slow(), k=10, seconds_per_decode=1.0, budget=Budget(memory_bytes=4 * GB))


def test_encode_batches_follow_the_memory_budget_and_items_the_time_budget():
    model = _slow()
    per_image = estimate_peak(model, "encode", 1).activation_bytes
    plan = plan_encode(model, items=500, seconds_per_item=0.1, budget=Budget(seconds=10, memory_bytes=7 * per_image))
    assert plan.batch == 7 and plan.items == 100
    assert "cut from 500 to 100" in plan.notes[0]
    plan = plan_encode(model, items=5, seconds_per_item=0.1, budget=Budget(seconds=10, memory_bytes=GB))
    assert (plan.items, plan.batch) == (5, 5)


def test_time_per_item_and_bad_budgets():
    model = _slow(seconds_per_block=0.01, blocks=2)
    seconds = time_per_item(lambda n: model.decode(torch.zeros(n, 8)), batch=2)
    assert 0.01 <= seconds < 1.0  # 2 blocks of 10 ms for the whole batch of 2
    with pytest.raises(ValueError, match="positive number of seconds"):
        Budget(seconds=0)
    with pytest.raises(ValueError, match="k must be at least 1"):
        plan_iwae(model, k=0, seconds_per_decode=1.0, budget=Budget())


def test_decode_seconds_times_a_small_code_and_scales_by_area(tmp_path, monkeypatch):
    """A decoder that takes codes of any size is timed on 8 x 8 cells, the time scaled by the whole code's area
    (16 for a 32 x 32 code); a fixed-size model decodes its whole code."""
    import time as time_module

    from explorer.checkpoint import from_pretrained
    from explorer.latent import ZERO_CODE_CELLS
    from explorer.runtime.budget import decode_seconds
    from tests.support.foreign_models import make_autoencoder_kl

    model = from_pretrained(make_autoencoder_kl(tmp_path / "kl", sample_size=64))  # a 3 x 32 x 32 code
    shapes = []

    def slow_decode(code):
        shapes.append(tuple(code.shape))
        time_module.sleep(0.02)
        return code

    monkeypatch.setattr(model, "decode_code", slow_decode)
    seconds = decode_seconds(model)
    assert shapes == [(1, 3, ZERO_CODE_CELLS, ZERO_CODE_CELLS)] * 2  # the best of two calls
    assert 16 * 0.02 <= seconds < 16 * 0.1
