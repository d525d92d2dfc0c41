"""The background count of code indices (ui/services/codebook_jobs.py): it runs on the inference thread, reports the
items done, writes the indices to the model cache keyed by weights digest + data set + images, and reads them back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.models import build_model
from ui.services import codebook_jobs


@pytest.fixture
def vq():
    torch.manual_seed(0)
    return build_model("vqvae", input_shape=(1, 16, 16), channels=(8, 16), res_blocks=1, codebook_size=16,
                       code_dim=4).eval()


def test_a_job_encodes_every_item_and_caches_its_indices(vq, tmp_path):
    images = np.random.default_rng(0).random((70, 1, 16, 16), dtype=np.float32)  # more than one batch of 64
    key = codebook_jobs.usage_key("ab" * 32, "tiny set", len(images), images)
    assert codebook_jobs.load_cached(tmp_path, key) is None
    job = codebook_jobs.request_indices(tmp_path, key, vq, images)
    assert codebook_jobs.request_indices(tmp_path, key, vq, images) is job  # at most one job per key
    result = job.future.result(timeout=60)
    assert job.done and job.error is None and job.items_done == 70 and job.fraction == 1.0
    with torch.no_grad():
        expected = vq.encode_indices(torch.from_numpy(images))[0].numpy()  # one call, not batched
    assert np.array_equal(result[0], expected)
    cached = codebook_jobs.load_cached(tmp_path, key)
    assert cached is not None and np.array_equal(cached[0], expected)
    other = codebook_jobs.usage_key("ab" * 32, "tiny set", len(images), images[::-1].copy())
    assert other != key  # other images under the same name are counted again
    codebook_jobs.forget(key)
    assert codebook_jobs.peek(key) is None


def test_a_failed_job_keeps_its_reason(vq, tmp_path):
    images = np.zeros((3, 3, 16, 16), dtype=np.float32)  # three channels for a one-channel model
    key = codebook_jobs.usage_key("cd" * 32, "wrong shape", 3, images)
    job = codebook_jobs.request_indices(tmp_path, key, vq, images)
    with pytest.raises(RuntimeError):  # the conv refuses three channels
        job.future.result(timeout=60)
    assert job.done and job.error and codebook_jobs.load_cached(tmp_path, key) is None
