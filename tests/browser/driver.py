"""Small Playwright helpers for driving the Streamlit app like a person does."""

from __future__ import annotations

import re

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def wait_idle(pg, settle_ms: int = 400) -> None:
    """Let a rerun start, then wait until the script has finished."""
    pg.wait_for_timeout(settle_ms)
    pg.wait_for_selector(IDLE, state="attached", timeout=120_000)


def open_app(pg, url: str, path: str = "") -> None:
    pg.goto(f"{url}/{path}")
    pg.wait_for_selector(IDLE, state="attached", timeout=120_000)
    pg.locator("h1").first.wait_for()


def choose(pg, label: str, option_text: str) -> None:
    """Pick the option whose text starts with option_text in the selectbox labelled `label`."""
    box = pg.get_by_role("combobox", name=label)
    box.click()
    pg.get_by_role("option").filter(has_text=re.compile("^" + re.escape(option_text))).first.click()
    wait_idle(pg)


def choose_model(pg, name: str) -> None:
    choose(pg, "Checkpoint", f"{name}")
    pg.get_by_role("combobox", name="Checkpoint").filter(has_text=re.compile("")).first.wait_for()
    assert pg.get_by_role("combobox", name="Checkpoint").input_value().startswith(name)


def go(pg, title: str) -> None:
    """In-app navigation by the sidebar link."""
    pg.locator("[data-testid='stSidebarNav'] a").filter(has_text=title).first.click()
    pg.locator("h1").filter(has_text=title).first.wait_for()
    wait_idle(pg, 200)


def image_src(pg, caption: str) -> str:
    """src of the image whose caption starts with `caption` (waits for it)."""
    img = pg.locator("[data-testid='stImageContainer']").filter(
        has=pg.locator("[data-testid='stImageCaption']", has_text=re.compile("^" + re.escape(caption)))).locator("img").first
    img.wait_for()
    return img.get_attribute("src")


def upload(pg, files: list[tuple[str, bytes, str]]) -> None:
    payload = [{"name": n, "mimeType": m, "buffer": b} for n, b, m in files]
    pg.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(payload)
    wait_idle(pg, 800)


def shot(pg, path) -> None:
    pg.screenshot(path=str(path), full_page=True)
