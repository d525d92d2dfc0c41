"""ui.components.devserver.cached_assets: one pip install per content of frontend/assets, reused after."""

from __future__ import annotations

import shutil

import pytest

from ui.components import devserver


@pytest.mark.slow  # two pip installs
def test_cached_assets_installs_once_per_content(tmp_path, monkeypatch):
    source = tmp_path / "assets"
    source.mkdir()
    for path in devserver.ASSETS.iterdir():
        if path.is_file():
            shutil.copy2(path, source / path.name)
    monkeypatch.setattr(devserver, "ASSETS", source)

    first = devserver.cached_assets(tmp_path / "cache")
    assert first.name == devserver.assets_digest()
    assert (first / "vae_explorer_frontend" / "pyproject.toml").is_file()

    def no_install(target):
        raise AssertionError(f"installed again into {target}")

    real_install = devserver.install_assets
    monkeypatch.setattr(devserver, "install_assets", no_install)
    assert devserver.cached_assets(tmp_path / "cache") == first  # the same content: the same install

    with (source / "live_latent.css").open("a") as f:
        f.write("\n/* changed */\n")
    monkeypatch.setattr(devserver, "install_assets", real_install)
    changed = devserver.cached_assets(tmp_path / "cache")
    assert changed != first and changed.name == devserver.assets_digest()
    assert (changed / "vae_explorer_frontend" / "live_latent.css").read_text().endswith("/* changed */\n")
    # no half-made install left behind: only the two complete folders
    assert sorted(p.name for p in (tmp_path / "cache" / "frontend-assets").iterdir()) == sorted([first.name, changed.name])
