"""Settings of one app process, from `streamlit run app.py -- [options]` and environment variables.

    streamlit run app.py -- --models runs/ --models ~/more-models --cache-dir /tmp/vae-cache

Environment: VAE_EXPLORER_MODELS (folders separated by os.pathsep), VAE_EXPLORER_CACHE,
VAE_EXPLORER_MAX_UPLOAD_MB, VAE_EXPLORER_MAX_PIXELS, VAE_EXPLORER_THREADS (torch threads, default 1),
VAE_EXPLORER_DEFAULT_MODEL, VAE_EXPLORER_MAP_RENDERER (webgl or svg), VAE_EXPLORER_LIVE (on or off: decode
the walk's sliders in the browser where the decoder exports to ONNX, default on), VAE_EXPLORER_ONNX_CACHE (where
the browser components' ONNX exports are kept, default the cache folder: several app processes may share one, e.g.
the test suite's servers, which then export each shipped decoder once).

`--trust-code FILE` is the only way an adapter file (Python code of the user's, see explorer.models.foreign)
runs: it is never taken from the environment or from a folder picked in the browser.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from explorer.images import ImageLimits

UI_DIR = Path(__file__).resolve().parents[1]  # ui/
ROOT = UI_DIR.parent  # the checkout in a repository or editable install; site-packages when installed


def shipped(name: str) -> Path:
    """A folder shipped with the app: inside the package when installed from a wheel (setup.py maps the checkout's
    top-level folder there), else at the top of the checkout (plain or editable)."""
    packaged = UI_DIR / name
    return packaged if packaged.is_dir() else ROOT / name


PRETRAINED = shipped("pretrained")
MAP_LIMIT = 2000  # test items encoded and mapped per data set
DATA_BUDGET_S = 20.0  # seconds a page may spend encoding its data set (the sidebar raises it); items are cut to fit
BATCH_MEMORY_GB = 0.5  # GB of activations a batch made only for speed may take (the sidebar raises it)


@dataclass(frozen=True)
class AppConfig:
    model_dirs: tuple[Path, ...]
    cache_dir: Path
    limits: ImageLimits = field(default_factory=ImageLimits)
    threads: int | None = None
    default_model: str = "conv-mnist5k"  # folder name chosen first when present
    map_renderer: str = "webgl"  # "webgl" (Scattergl) or "svg" (Scatter: faster to mount without a GPU, < ~5k points)
    trusted_code: tuple[Path, ...] = ()  # adapter files the user trusted on the command line (also offered in the picker)
    image_size: int | None = None  # image size for models trained elsewhere whose config gives none (diffusers)
    live: bool = True  # the walk decodes in the browser (frontend/src/live_latent) where the model's decoder exports to ONNX
    data_root: Path | None = None  # folder of folder-based data sets (folder, captions, torchvision sets), as train.py's
    onnx_cache_dir: Path | None = None  # the browser components' ONNX exports (None: cache_dir); shareable by processes

    def exports_dir(self) -> Path:
        """The cache folder that the browser components' ONNX exports go to (models/<digest>/<part>.onnx in it)."""
        return self.onnx_cache_dir or self.cache_dir


def app_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="app.py", add_help=False)
    p.add_argument("--models", action="append", default=[], help="another folder of checkpoints (repeatable)")
    p.add_argument("--cache-dir", help="where computed maps are cached (default ~/.cache/vae-explorer)")
    p.add_argument("--max-upload-mb", type=float, help="largest accepted image file, in MB")
    p.add_argument("--max-pixels", type=int, help="largest accepted image, width x height")
    p.add_argument("--threads", type=int, help="torch CPU threads for this process (default 1)")
    p.add_argument("--default-model", help="name of the checkpoint folder chosen first (default conv-mnist5k)")
    p.add_argument("--map-renderer", choices=["webgl", "svg"], help="scatter of the latent map (default webgl)")
    p.add_argument("--trust-code", action="append", default=[], metavar="FILE",
                   help="run this adapter file (Python) to load a model trained elsewhere (repeatable)")
    p.add_argument("--image-size", type=int, help="image size for foreign models whose config gives none")
    p.add_argument("--live", choices=["on", "off"], help="decode the walk's sliders in the browser (default on)")
    p.add_argument("--data-root", metavar="DIR",
                   help="folder of folder-based data sets (as train.py's --data-root), so their images show")
    return p


@functools.lru_cache(maxsize=8)
def _load(argv: tuple[str, ...], env_key: tuple[tuple[str, str], ...]) -> AppConfig:
    args, _ = app_parser().parse_known_args(list(argv))
    env = dict(env_key)
    dirs = [PRETRAINED]
    dirs += [Path(p).expanduser() for p in env.get("VAE_EXPLORER_MODELS", "").split(os.pathsep) if p]
    dirs += [Path(p).expanduser() for p in args.models]
    seen, unique = set(), []
    for d in dirs:
        key = str(d.resolve()) if d.exists() else str(d)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    cache = args.cache_dir or env.get("VAE_EXPLORER_CACHE") or str(Path.home() / ".cache" / "vae-explorer")
    mb = args.max_upload_mb or float(env.get("VAE_EXPLORER_MAX_UPLOAD_MB", 0) or 0) or 16.0
    pixels = args.max_pixels or int(env.get("VAE_EXPLORER_MAX_PIXELS", 0) or 0) or 16_000_000
    threads = args.threads or int(env.get("VAE_EXPLORER_THREADS", 0) or 0) or None
    default = args.default_model or env.get("VAE_EXPLORER_DEFAULT_MODEL") or "conv-mnist5k"
    renderer = args.map_renderer or env.get("VAE_EXPLORER_MAP_RENDERER") or "webgl"
    trusted = tuple(Path(p).expanduser().resolve() for p in args.trust_code)
    live = (args.live or env.get("VAE_EXPLORER_LIVE") or "on").lower() not in ("off", "0", "no", "false")
    data_root = args.data_root or env.get("VAE_EXPLORER_DATA_ROOT") or None
    onnx_cache = env.get("VAE_EXPLORER_ONNX_CACHE") or None
    return AppConfig(tuple(unique), Path(cache).expanduser(), ImageLimits(int(mb * 1024 * 1024), pixels), threads, default,
                     renderer if renderer in ("webgl", "svg") else "webgl", trusted, args.image_size, live,
                     Path(data_root).expanduser() if data_root else None,
                     Path(onnx_cache).expanduser() if onnx_cache else None)


def app_config() -> AppConfig:
    """The current settings (re-read when the command line or the environment changes, e.g. in tests)."""
    keys = ("VAE_EXPLORER_MODELS", "VAE_EXPLORER_CACHE", "VAE_EXPLORER_MAX_UPLOAD_MB", "VAE_EXPLORER_MAX_PIXELS",
            "VAE_EXPLORER_THREADS", "VAE_EXPLORER_DEFAULT_MODEL", "VAE_EXPLORER_MAP_RENDERER", "VAE_EXPLORER_LIVE",
            "VAE_EXPLORER_DATA_ROOT", "VAE_EXPLORER_ONNX_CACHE")
    return _load(tuple(sys.argv[1:]), tuple((k, os.environ.get(k, "")) for k in keys))
