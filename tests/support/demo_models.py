"""The shipped checkpoints that the browser demo apps serve (tests/browser/*_app.py, bench/), the folder where their
ONNX exports are kept between runs, so that only the first run of a demo exports, and a model's decode of one code
as the page paints it (torch_pixels).

    model, digest, folder = shipped_model("conv-mnist5k")
    export = exported_decoder(model, digest, export_cache("LIVE_DEMO_CACHE", "live-demo-cache"), exporters=EXPORTERS)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from explorer.checkpoint import from_pretrained
from explorer.files import file_sha256
from explorer.images import to_uint8
from explorer.models.base import VAE

ROOT = Path(__file__).resolve().parents[2]
EXPORTERS = ("torchscript", "dynamo")  # the fast exporter first; the demos' models all take it


def shipped_model(name: str) -> tuple[VAE, str, Path]:
    """(model, its weights digest (16 hex characters, the export cache's key), its folder) of pretrained/<name>."""
    folder = ROOT / "pretrained" / name
    return from_pretrained(folder), file_sha256(folder / "model.safetensors")[:16], folder


def export_cache(env: str, default: str) -> Path:
    """The export cache a demo names in the environment variable `env`; else the app's (VAE_EXPLORER_ONNX_CACHE: the
    test session sets one for every server it starts, so a demo's decoder is exported once a session); else
    <system temp>/<default>."""
    return Path(os.environ.get(env) or os.environ.get("VAE_EXPLORER_ONNX_CACHE") or Path(tempfile.gettempdir()) / default)


def torch_pixels(model, code) -> np.ndarray:
    """The model's torch decode of one code, as the page paints it: (H, W) uint8."""
    z = torch.as_tensor(np.asarray(code, dtype=np.float32).reshape(1, *model.latent_shape))
    with torch.inference_mode():
        return to_uint8(model.decode_code(z)[0])


__all__ = ["EXPORTERS", "ROOT", "export_cache", "shipped_model", "torch_pixels"]
