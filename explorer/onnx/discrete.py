"""A one-level discrete model (vqvae, fsq) as an ONNX pair of index graphs, the folder `load_foreign` reads:

- `encoder.onnx`: input `image` (B, C, H, W) float32 in [0, 1], output `indices` (B, h, w) int64;
- `decoder.onnx`: input `indices` (B, h, w) int64, output the likelihood's parameters (B, C, H, W): logits for a
  Bernoulli model, the image in [0, 1] for a Gaussian one;
- `onnx_vae.json`: input_shape, likelihood, value_range [0, 1], and `code` = {"kind": "discrete",
  "codebook_size": K, "grid": [h, w], "stride": s}.

`IndexImageGraph` is the page's form of "decode from indices" (explorer.onnx.export's part "indices", cached beside
the model's decoder.onnx as indices.onnx): input `indices` (B, N) int64, every level's grid flattened row-major and
concatenated (N = sum of h_l * w_l, finest level first, as `code_levels()` orders them), output the displayed image
(B, C, H, W) in [0, 1], exactly `decode_indices`. The codebook lookup is inside the graph (a Gather), so the page
sends indices only.

The TorchScript exporter is used: torch.export cannot trace vector-quantize-pytorch's quantiser (its
data-dependent `initted` branch). Each graph is checked against torch on a probe batch before it is kept.
"""

from __future__ import annotations

import json
import warnings
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from explorer.files import atomic_write_bytes, atomic_write_with
from explorer.models.base import VAE, eval_mode

OPSET = 18
SPEC_NAME, ENCODER_NAME, DECODER_NAME = "onnx_vae.json", "encoder.onnx", "decoder.onnx"


class IndexEncoder(nn.Module):
    """Images (B, C, H, W) in [0, 1] -> code indices (B, h, w) int64."""

    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model.quantise(x).indices[0].long()


class IndexDecoder(nn.Module):
    """Code indices (B, h, w) int64 -> the decoder's raw output (B, C, H, W): logits, or the mean image in [0, 1]."""

    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def forward(self, indices: Tensor) -> Tensor:
        raw = self.model.decoder(self.model.vectors_from_indices([indices], [0]))
        return raw if self.model.config.likelihood == "bernoulli" else torch.sigmoid(raw)


class IndexImageGraph(nn.Module):
    """Flat indices (B, N) int64 of every level -> images (B, C, H, W) in [0, 1]: `decode_indices` as the page calls
    it (the codebook lookup inside the graph)."""

    def __init__(self, model: VAE):
        super().__init__()
        self.model = model
        self.grids = [tuple(level.grid) for level in model.code_levels()]

    def forward(self, indices: Tensor) -> Tensor:
        parts, start = [], 0
        for h, w in self.grids:  # (B, h * w) slice of each level -> (B, h, w)
            parts.append(indices[:, start:start + h * w].reshape(-1, h, w))
            start += h * w
        return self.model.decode_indices(parts)


def flat_indices(indices: list[Tensor] | list[np.ndarray]) -> np.ndarray:
    """Index grids per level, each (B, h, w), as the page's one input (B, N) int64 (see IndexImageGraph)."""
    return np.concatenate([np.asarray(i, dtype=np.int64).reshape(len(i), -1) for i in indices], axis=1)


def probe_indices(model: VAE, batch: int, seed: int) -> Tensor:
    """Random indices (batch, N) int64 in every level's codebook, flattened as IndexImageGraph reads them."""
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randint(0, level.codebook_size, (batch, level.grid[0] * level.grid[1]), generator=gen)
                      for level in model.code_levels()], dim=1)


def _export_checked(graph: nn.Module, example: Tensor, path: Path, input_name: str, output_name: str) -> None:
    import onnxruntime as ort

    # a fresh wrapper is in training mode, and the exporter restores that mode on the whole tree after tracing:
    # set eval first, or the check below would run the quantiser's EMA update and move the codebook
    graph.eval()

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), redirect_stdout(StringIO()), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (example,), str(tmp), input_names=[input_name], output_names=[output_name],
                              opset_version=OPSET, dynamo=False,
                              dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}})
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = session.run(None, {input_name: example.numpy()})[0]
        with torch.no_grad():
            expected = graph(example).numpy()
        if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-4):
            raise ValueError(f"{path.name}: onnxruntime differs from torch on the probe batch")

    atomic_write_with(path, write)


def export_discrete_pair(model: VAE, folder: str | Path, seed: int = 0) -> Path:
    """Write encoder.onnx, decoder.onnx and onnx_vae.json of a one-level discrete model into folder (made if
    needed); returns the folder. ValueError for a model without a discrete code or with more than one level."""
    if not model.capabilities().discrete_code:
        raise ValueError(f"the {model.family!r} model has no discrete code to export as an index pair")
    levels = model.code_levels()
    if len(levels) != 1:
        raise ValueError(f"an ONNX index pair holds one level; this model has {len(levels)} "
                         f"({', '.join(level.name for level in levels)})")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    device = model.device
    with eval_mode(model):
        try:
            model.cpu()
            x = torch.rand(2, *model.config.input_shape, generator=torch.Generator().manual_seed(seed))
            _export_checked(IndexEncoder(model), x, folder / ENCODER_NAME, "image", "indices")
            _export_checked(IndexDecoder(model), model.encode_indices(x)[0], folder / DECODER_NAME, "indices", "image")
        finally:
            model.to(device)
    level = levels[0]
    spec = {"input_shape": list(model.config.input_shape), "likelihood": model.config.likelihood,
            "value_range": [0, 1], "name": f"{model.family} index pair",
            "code": {"kind": "discrete", "codebook_size": level.codebook_size, "grid": list(level.grid),
                     "stride": level.stride}}
    atomic_write_bytes(folder / SPEC_NAME, (json.dumps(spec, indent=2) + "\n").encode())
    return folder
