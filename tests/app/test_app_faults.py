"""Faults while serving: a model folder deleted under a session gives that session a message, the others serve on."""

from __future__ import annotations

import shutil

import pytest

from tests.support.apptest_helpers import errors, open_app


@pytest.mark.slow
def test_model_folder_deleted_while_serving(app_env, tmp_path, monkeypatch):
    root = tmp_path / "models"
    root.mkdir()
    doomed = shutil.copytree(app_env["tiny-conv-mnist5k"], root / "doomed-conv")
    kept = shutil.copytree(app_env["tiny-mlp-2d"], root / "kept-mlp")
    monkeypatch.setenv("VAE_EXPLORER_MODELS", str(root))
    first, second = open_app(doomed), open_app(kept, "walk")
    assert not errors(first) and not errors(second) and second.slider
    before = second.get("image")[0].value

    shutil.rmtree(doomed)
    first.run()  # the next rerun of the session that had it open
    second.slider[0].set_value(1.0).run()  # the other session moves a slider
    assert not first.exception and not second.exception, [e.value for e in (*first.exception, *second.exception)]
    gone = [w.value for w in first.warning if "no longer there" in w.value]
    assert gone and str(doomed) in gone[0], [w.value for w in first.warning]
    assert first.selectbox(key="model_folder").value != str(doomed)
    assert not errors(second) and not [w for w in second.warning if "no longer there" in w.value]
    assert second.get("image")[0].value != before  # it decoded the new slider value
