"""The README's start command as users run it: `vae-explorer` (here `python -m ui.app.launch`, what the console script
and scripts/app.sh run), which serves the dashboard inside st.App (ui/entry/serve.py) rather than a plain
`streamlit run`. An upload is reconstructed, the walk decodes in the page, and the item route is there."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

import pytest
from PIL import Image

from tests.support.bad_files import digit_like, encode
from driver import go, image_src, open_app, upload
from tests.support.ports import free_port
from tests.support.serve import start, stop

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(VAE_EXPLORER_CACHE=str(tmp / "cache"), VAE_EXPLORER_LIVE="on")
    log = tmp / "log.txt"
    proc = start([sys.executable, "-m", "ui.app.launch", "--server.port", str(port), "--server.headless", "true",
                  "--browser.gatherUsageStats", "false"], port, log, tmp, env, timeout=150)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def test_the_served_app_reconstructs_an_upload_and_decodes_the_walk_in_the_page(page, served_url):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_app(page, served_url)
    upload(page, [("ring.png", encode(Image.fromarray(digit_like(40, dark_on_light=True))), "image/png")])
    page.get_by_role("heading", name="ring.png").wait_for()
    assert image_src(page, "as the model sees it") != image_src(page, "reconstruction")
    go(page, "Latent walk")
    page.wait_for_function("() => (window.__liveLatent?.frames ?? []).length > 0", timeout=120_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert errors == [], errors
    with pytest.raises(urllib.error.HTTPError) as info:  # the item route answers (an unknown token: its 404)
        urllib.request.urlopen(f"{served_url}/api/vae/item/none/0", timeout=10)
    assert info.value.code == 404 and info.value.read() == b"unknown or expired item token"
