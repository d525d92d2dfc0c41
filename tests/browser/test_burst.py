"""No lost input (bench/bench_burst.py at the suite's size): 3 sessions on the Latent walk press its first slider 30
times each, in 3 bursts, at once, against one `streamlit run app.py` (server decoding, the shipped conv-mnist5k).
Every session must end where its own presses lead (slider, URL and the image a fresh page at that URL shows), and no
burst may leave the URL behind the slider once the app has settled. The 8 x 100 run, quiet and beside busy loops, is
the benchmark's (docs/reliability.md)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.bench_burst import run_bursts, serve_app
from tests.browser.conftest import find_chromium
from tests.support.serve import stop

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_three_sessions_pressing_at_once_lose_nothing(tmp_path):
    chromium = os.environ.get("CHROMIUM") or find_chromium()
    proc, url = serve_app(tmp_path)
    try:
        # the async driver in a thread of its own: this worker's sync Playwright (the browser fixture) owns the main one
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(run_bursts, chromium, url, 3, 30, 3, 80).result()
    finally:
        stop(proc)
    print(f"lost {result.lost} of {len(result.ends)}, stale {result.stale} of {len(result.bursts)}, unpainted "
          f"{result.unpainted} of {len(result.presses)}, press -> paint p50 {result.p50():.0f} ms, p99 {result.p99():.0f} ms")
    assert len(result.ends) == 3 and len(result.bursts) == 9 and len(result.presses) == 90
    assert result.lost == 0, [end.problems() for end in result.ends]
    assert result.stale == 0, result.bursts
