"""The component files of this checkout, installed for the Streamlit servers that tests and benchmarks start, and
the wait until such a server answers.

Streamlit serves a component's files only from an installed distribution (frontend/assets/, `vae-explorer-frontend`).
`install_assets(target)` installs this checkout's copy into a plain folder (pip --target, no venv touched); a
server started with that folder as a site directory (tests.support.serve.spawn_streamlit) imports and serves that
copy, even where another checkout's copy is installed editable (an editable install's finder comes after the
path-based one). `cached_assets()` keeps one such install per content of frontend/assets in the cache folder, for
the benchmarks that start a server each run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from explorer.cache import default_cache_dir
from explorer.files import exclusive_lock

ROOT = Path(__file__).resolve().parents[2]  # the checkout (ui/components/ -> ui/ -> .)
ASSETS = ROOT / "frontend" / "assets"


def install_assets(target: str | Path) -> Path:
    """pip-install frontend/assets (no dependencies, no build isolation) into the folder `target`; returns it."""
    target = Path(target)
    # pip builds the package inside frontend/assets (build/, *.egg-info): two installs at once (test workers, app
    # servers) would write the same build folder, so they take turns
    lock = Path(tempfile.gettempdir()) / f"vae-explorer-assets-{hashlib.sha256(str(ASSETS).encode()).hexdigest()[:12]}.lock"
    with exclusive_lock(lock):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                        str(target), str(ASSETS)], check=True, cwd=str(ROOT))
    return target


def assets_digest() -> str:
    """sha256 (16 hex characters) over the names and bytes of the files at frontend/assets' top level: what the
    installed package is made of (its build/ and egg-info folders are pip's leftovers, not inputs)."""
    h = hashlib.sha256()
    for path in sorted(p for p in ASSETS.iterdir() if p.is_file()):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def cached_assets(cache_dir: str | Path | None = None) -> Path:
    """`install_assets` once per content of frontend/assets: `<cache_dir>/frontend-assets/<assets_digest()>`
    (cache_dir: default $VAE_EXPLORER_CACHE or ~/.cache/vae-explorer), installed on first use and reused after,
    so that a benchmark's start does not pay pip (about 2 s). Two processes installing at once each install into
    their own folder and the first rename wins."""
    final = Path(cache_dir or default_cache_dir()) / "frontend-assets" / assets_digest()
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    own = Path(tempfile.mkdtemp(prefix=".install-", dir=final.parent))
    try:
        install_assets(own)
        os.rename(own, final)  # atomic: a folder at `final` is always a complete install
    except OSError:  # another process got there first
        pass
    finally:
        shutil.rmtree(own, ignore_errors=True)  # nothing left there once renamed
    return final


def wait_healthy(proc: subprocess.Popen, port: int, log: Path, timeout: float = 180.0, *,
                 health: str = "/_stcore/health") -> subprocess.Popen:
    """Wait until the server `proc` answers `health` (Streamlit's by default; marimo's is /health) on
    127.0.0.1:port; raises RuntimeError with the log's tail if it exits or is not healthy within `timeout` s (and
    is then killed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{health}", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the server did not answer {health} on port {port}:\n{log.read_text()[-3000:]}")
