"""The one frontend tree (frontend/): its committed build matches its sources, and shared code is written once.

frontend/build.mjs writes frontend/assets/build-stamp.json: the sha256 of every file under frontend/src/, of the
lockfile and of the build script ("inputs"), and of each built file ("outputs"). A source edited without a
rebuild, or a bundle edited by hand, fails here; rebuild with `cd frontend && npm ci && node build.mjs`.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from explorer.files import file_sha256

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
ASSETS = FRONTEND / "assets"
REBUILD = "rebuild with `cd frontend && npm ci && node build.mjs` and commit frontend/assets/"


def _inputs(root: Path = FRONTEND) -> dict[str, str]:
    """What the build under `root` reads, as build.mjs lists it: relative path (from root) -> sha256."""
    files = [p for p in (root / "src").rglob("*") if p.is_file()]
    files += [root / "package-lock.json", root / "build.mjs"]
    return {p.relative_to(root).as_posix(): file_sha256(p) for p in sorted(files)}


def _stamp() -> dict:
    return json.loads((ASSETS / "build-stamp.json").read_text())


def test_build_stamp_matches_the_sources():
    recorded, now = _stamp()["inputs"], _inputs()
    changed = sorted(k for k in recorded.keys() & now.keys() if recorded[k] != now[k])
    assert not changed, f"changed since the last build: {changed}; {REBUILD}"
    assert now.keys() == recorded.keys(), (f"added: {sorted(now.keys() - recorded.keys())}, "
                                           f"removed: {sorted(recorded.keys() - now.keys())}; {REBUILD}")


def test_built_files_are_the_ones_the_build_wrote():
    outputs = _stamp()["outputs"]
    assert {"live_latent.js", "big_map.js", "live_latent.css", "big_map.css", "ort.wasm.bundle.min.mjs",
            "ort-wasm-simd-threaded.wasm"} <= outputs.keys()
    edited = sorted(name for name, sha in outputs.items() if file_sha256(ASSETS / name) != sha)
    assert not edited, f"built files differ from the build's own record: {edited}; {REBUILD}"


def test_the_stamp_notices_a_changed_source(tmp_path):
    # the check itself, on a copy: one byte more in a source makes the recorded hashes disagree
    copy = tmp_path / "frontend"
    for rel in _inputs():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes((FRONTEND / rel).read_bytes())
    assert _inputs(copy) == _stamp()["inputs"]
    dom = copy / "src" / "common" / "dom.js"
    dom.write_text(dom.read_text() + "\n")
    assert _inputs(copy)["src/common/dom.js"] != _stamp()["inputs"]["src/common/dom.js"]


SHARED = {  # each defined once, in this module under frontend/src/
    "loadOrt": "common/ort.js", "sessionFor": "common/ort.js", "el": "common/dom.js", "report": "common/telemetry.js",
    "paintCHW": "common/paint.js", "unitByte": "common/paint.js", "linearBase": "common/linear.js",
}


def _sources() -> dict[str, str]:
    return {p.relative_to(FRONTEND / "src").as_posix(): p.read_text() for p in (FRONTEND / "src").rglob("*.js")}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_functions_are_defined_once_under_common(name):
    definition = re.compile(rf"^\s*(?:export\s+)?(?:(?:async\s+)?function\s*\*?\s*{name}\s*\(|(?:const|let|var)\s+{name}\s*=)",
                            re.M)
    where = [path for path, text in _sources().items() for _ in definition.finditer(text)]
    assert where == [SHARED[name]], f"{name} defined in {where}"


def test_the_chw_to_rgba_loop_is_written_once():
    # the painters' clamp-and-scale, common/paint.js's unitByte: a second copy of the loop would repeat it
    clamp = re.compile(r"Math\.round\(Math\.min\(1, Math\.max\(0, ")
    where = {path: len(clamp.findall(text)) for path, text in _sources().items() if clamp.search(text)}
    assert where == {"common/paint.js": 1}, where


def test_only_the_host_adapter_touches_the_streamlit_api():
    api = re.compile(r"setStateValue|setTriggerValue|parentElement")
    where = sorted(path for path, text in _sources().items() if api.search(re.sub(r"//.*", "", text)))
    assert where == ["hosts/streamlit.js"], where


def test_one_package_json_and_one_lockfile():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    names = ("package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml")
    found = sorted(p for p in tracked if Path(p).name in names and "node_modules" not in Path(p).parts)
    assert found == ["frontend/package-lock.json", "frontend/package.json"], found
