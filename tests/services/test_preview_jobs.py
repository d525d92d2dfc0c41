"""The linear preview's fit as a job on the inference thread (ui/services/preview_jobs.py): one job per model and
cache folder, its progress as the fit reports it, its result kept, and a failed fit started again when asked."""

from __future__ import annotations

import threading

import pytest

from explorer.runtime.progress import Progress
from ui.services import inference, preview_jobs


@pytest.fixture
def fake_fit(monkeypatch):
    """cached_linear_preview replaced by a fit that reports half its steps, then waits for `release`."""
    calls: list[str] = []
    release = threading.Event()

    def fit(model, digest, cache_dir, on_progress):
        calls.append(digest)
        assert inference.on_inference_thread()  # the one thread that calls models
        on_progress(Progress(done=1, total=2, elapsed_s=0.1, eta_s=0.1, block=""))
        assert release.wait(30)
        if model == "broken":
            raise ValueError("no spatial code")
        return f"preview of {digest}"

    monkeypatch.setattr(preview_jobs, "cached_linear_preview", fit)
    monkeypatch.setattr(preview_jobs, "_JOBS", {})
    return calls, release


def test_one_fit_per_model_whose_progress_and_result_a_later_visit_reads(fake_fit, tmp_path):
    calls, release = fake_fit
    job = preview_jobs.request_linear_preview("model", "d1", tmp_path)
    assert preview_jobs.request_linear_preview("model", "d1", tmp_path) is job  # a second visit: the same fit
    while job.fraction == 0.0:
        threading.Event().wait(0.01)
    assert job.fraction == 0.5 and not job.done
    release.set()
    assert job.future.result(timeout=30) == "preview of d1" and job.done
    assert preview_jobs.request_linear_preview("model", "d1", tmp_path) is job and calls == ["d1"]
    other = preview_jobs.request_linear_preview("model", "d1", tmp_path / "other")
    assert other is not job  # another cache
    # finished here: left running, it would call the next test's fake fit (the inference thread outlives the test)
    assert other.future.result(timeout=30) == "preview of d1"


def test_a_failed_fit_is_started_again_on_the_next_request(fake_fit, tmp_path):
    calls, release = fake_fit
    release.set()
    failed = preview_jobs.request_linear_preview("broken", "d2", tmp_path)
    with pytest.raises(ValueError, match="no spatial code"):
        failed.future.result(timeout=30)
    again = preview_jobs.request_linear_preview("broken", "d2", tmp_path)
    assert again is not failed
    with pytest.raises(ValueError):
        again.future.result(timeout=30)
    assert calls == ["d2", "d2"]
