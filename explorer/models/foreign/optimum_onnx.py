"""A VAE in Optimum's ONNX layout as an explorer `VAE`, run by onnxruntime on the CPU (eval only, not differentiable).

The folder holds the two parts as `optimum-cli export onnx` writes a diffusers VAE, and as
explorer.onnx.export.export_optimum writes any explorer model:

- `vae_encoder/model.onnx`: `sample`, images (B, C, H, W) in [-1, 1] -> `latent_parameters` (B, 2 * C_latent, ...),
  the posterior's mean and log-variance over the unscaled latent, concatenated on axis 1;
- `vae_decoder/model.onnx`: `latent_sample`, unscaled latents (B, *latent_shape) -> `sample`, images in [-1, 1].

The latent space is read from the files' `metadata_props`, as export_optimum records it (explorer.onnx.export
.optimum_metadata): latent_shape, scaling_factor and shift_factor (code = (latent - shift) * scaling: the explorer's
codes, sliders and latent files live in that scaled space, as for the diffusers model it came from), per-channel
latents_mean / latents_std where the model had them (SDXL-style: code[c] = (latent[c] - mean[c]) * scaling / std[c]),
image_shape, and the weights digest of the model it was exported from. A folder Optimum itself exported has no such
metadata: then scaling_factor, shift_factor and any latents_mean / latents_std come from vae_decoder/config.json
(diffusers' config, which optimum-cli copies there) and the shapes from the graphs and a trial run; a folder with
neither is refused, naming what is missing.

The decoder gives the image itself (a Bernoulli model's logits were turned into their mean by the export), so the
likelihood is a Gaussian of fixed scale on that image (ForeignConfig.sigma): decodes agree with the original model,
log-likelihoods are the Gaussian's. Both graphs are vetted in a child process before this one opens them
(explorer.onnx.trust), as an ONNX pair's are.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from explorer.distributions import DiagonalGaussian, Likelihood
from explorer.models.base import NativeOnnx
from explorer.models.foreign.common import ForeignConfig, ScaledLatentConfig, ScaledLatentVAE
from explorer.models.foreign.detect import (CONFIG_NAME, OPTIMUM_DECODER, OPTIMUM_ENCODER, OPTIMUM_FORMAT,
                                            read_onnx_metadata, read_small_json)
from explorer.models.foreign.errors import ForeignModelError
from explorer.models.foreign.onnx_pair import OnnxGraph, check_graph
from explorer.models.latent_scaling import LatentScaling, channel_stats
from explorer.onnx.trust import OnnxVetter


@dataclass
class OptimumConfig(ScaledLatentConfig):
    """A VAE in Optimum's layout as the explorer sees it: images in [-1, 1] at both ends, a scaled code."""

    exported_from: str = ""  # the weights digest of the model it was exported from (metadata), "" when unknown
    scaling_source: str = ""  # where the scaling came from: the files' metadata or vae_decoder/config.json

    def describes(self) -> str:
        return "a VAE in Optimum's layout"


class OptimumOnnxVAE(ScaledLatentVAE):
    """vae_encoder/model.onnx and vae_decoder/model.onnx; tensors cross to numpy on the CPU and come back on
    `device`."""

    family = "optimum_onnx"
    config_class = OptimumConfig
    config: OptimumConfig

    def __init__(self, config: OptimumConfig, encoder: OnnxGraph, decoder: OnnxGraph):
        super().__init__(config, vae=None)  # no torch module: onnxruntime runs both parts
        self.encoder_graph, self.decoder_graph = encoder, decoder

    @classmethod
    def from_config(cls, config: ForeignConfig, folder: Path | None = None) -> "OptimumOnnxVAE":
        if not isinstance(config, OptimumConfig):
            raise TypeError(f"{type(config).__name__} is not an OptimumConfig")
        return load_optimum(Path(folder or config.source))

    def native_onnx(self, part: str) -> NativeOnnx | None:
        """Its own decoder, for the page as it is (explorer.onnx.wrap), where the code is the latent itself (scaling
        1, shift 0); None otherwise, and for the encoder, whose one output holds mean and log-variance together:
        those are exported for the page through torch instead."""
        if part == "decoder" and self.latent_scaling() == LatentScaling():
            return NativeOnnx(self.decoder_graph.path, tuple(self.latent_shape), (-1.0, 1.0))
        return None

    @torch.no_grad()
    def encode(self, x: Tensor) -> DiagonalGaussian:
        """Images (B, C, H, W) in [0, 1] -> q(z | x) over the unscaled latent: mean and log-variance, each
        (B, *latent_shape)."""
        array = self.to_model_range(x).detach().to("cpu", torch.float32).numpy()
        params = self.encoder_graph.run(array)[0]  # (B, 2 * C_latent, ...)
        mean, logvar = np.split(params, 2, axis=1)
        shape = (x.shape[0], *self.latent_shape)
        return DiagonalGaussian(torch.from_numpy(np.ascontiguousarray(mean)).reshape(shape).to(x.device),
                                torch.from_numpy(np.ascontiguousarray(logvar)).reshape(shape).to(x.device))

    @torch.no_grad()
    def decode(self, z: Tensor) -> Likelihood:
        """Unscaled latents (B, *latent_shape) -> p(x | z) over images (B, C, H, W) in [0, 1]."""
        array = z.detach().to("cpu", torch.float32).reshape(z.shape[0], *self.latent_shape).numpy()
        return self.likelihood_from_output(torch.from_numpy(self.decoder_graph.run(array)[0]).to(z.device))


def _shape(meta: dict[str, str], key: str, path: Path) -> tuple[int, ...] | None:
    """A shape from the metadata (a JSON list of positive integers), None when it is not there."""
    if key not in meta:
        return None
    try:
        value = json.loads(meta[key])
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and v > 0 for v in value):
        raise ForeignModelError(f"{path}: metadata_props {key!r} must be a JSON list of positive integers, "
                                f"got {meta[key]!r}")
    return tuple(value)


def _scaling(meta: dict[str, str], folder: Path, latent_channels: int) -> tuple[LatentScaling, str]:
    """(the latent's scaling, where it came from): the decoder's metadata, else its config.json; per-channel
    `latents_mean` / `latents_std` (one per latent channel) where either has them."""
    decoder = folder / OPTIMUM_DECODER
    if "scaling_factor" in meta:  # as export_optimum writes it (LatentScaling.metadata)
        try:
            return (LatentScaling.from_metadata(meta, latent_channels, f"{decoder}: metadata_props"),
                    f"{OPTIMUM_DECODER} metadata")
        except ValueError as exc:
            raise ForeignModelError(str(exc)) from None
    config_path = decoder.parent / CONFIG_NAME
    if not config_path.is_file():
        raise ForeignModelError(f"{folder}: Optimum's layout without the latent's scaling: {decoder} has no "
                                f"scaling_factor in its metadata_props and there is no {config_path} (diffusers' "
                                "config, which optimum-cli copies beside the decoder)")
    raw = read_small_json(config_path)
    if not isinstance(raw, dict):
        raise ForeignModelError(f"{config_path} is not a JSON object")
    raw = {**raw, "scaling_factor": raw.get("scaling_factor", 1.0), "shift_factor": raw.get("shift_factor") or 0.0}
    where, source = str(config_path), str(config_path.relative_to(folder))
    scaling, shift = raw["scaling_factor"], raw["shift_factor"]
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in (scaling, shift)):
        raise ForeignModelError(f"{where}: scaling_factor and shift_factor must be numbers")
    try:
        mean, std = channel_stats(raw, latent_channels, where)
        return LatentScaling(float(scaling), float(shift), mean, std), source
    except ValueError as exc:
        raise ForeignModelError(str(exc)) from None


def load_optimum(folder: str | Path, device: torch.device | str = "cpu") -> OptimumOnnxVAE:
    """A folder in Optimum's layout as an `OptimumOnnxVAE` (its outputs land on device; the graphs run on the CPU).
    ForeignModelError naming the file and the problem for a missing part, missing or bad metadata, or graphs whose
    shapes disagree with it."""
    folder = Path(folder)
    enc_path, dec_path = folder / OPTIMUM_ENCODER, folder / OPTIMUM_DECODER
    for path in (enc_path, dec_path):
        if not path.is_file():
            raise ForeignModelError(f"{path} is missing: Optimum's layout needs {OPTIMUM_ENCODER} and "
                                    f"{OPTIMUM_DECODER}")
    try:
        meta = read_onnx_metadata(dec_path)
    except Exception as exc:  # noqa: BLE001  (onnx raises its own classes for a file that is not ONNX)
        raise ForeignModelError(f"{dec_path} is not a readable ONNX file: {exc}") from None
    if meta.get("format", OPTIMUM_FORMAT) != OPTIMUM_FORMAT:
        raise ForeignModelError(f"{dec_path}: metadata_props format {meta['format']!r} is not {OPTIMUM_FORMAT!r}")
    latent, image = _shape(meta, "latent_shape", dec_path), _shape(meta, "image_shape", dec_path)
    with OnnxVetter() as vetter:  # both graphs vetted in one child process before this one opens them
        enc_verdict = check_graph(enc_path, (1, *image) if image else None, vetter)
        if latent is None:  # from the encoder's trial run: half of its channels are the mean
            params = (enc_verdict.output_shapes or [[1]])[0]
            latent = (params[1] // 2, *params[2:]) if len(params) > 1 and params[1] % 2 == 0 else None
        dec_verdict = check_graph(dec_path, (1, *latent) if latent else None, vetter)
    encoder, decoder = OnnxGraph(enc_path, enc_verdict.sha256), OnnxGraph(dec_path, dec_verdict.sha256)
    if image is None:
        image = tuple(d for d in encoder.input_dims[1:] if isinstance(d, int)) or None
    if latent is None or image is None or len(image) != 3:
        raise ForeignModelError(f"{folder}: the latent shape ({latent}) or the image shape ({image}) could not be read "
                                f"from the metadata_props or the graphs; export it with explorer.onnx.export_optimum")
    if len(encoder.session.get_outputs()) != 1 or len(decoder.session.get_outputs()) != 1:
        raise ForeignModelError(f"{folder}: Optimum's encoder and decoder each give one output (latent_parameters, "
                                f"sample); these give {len(encoder.session.get_outputs())} and "
                                f"{len(decoder.session.get_outputs())}")
    # a one-item trial run checks what the metadata says against what the graphs do
    params = encoder.run(np.zeros((1, *image), np.float32))[0]
    if params.size != 2 * math.prod(latent):
        raise ForeignModelError(f"{enc_path} gives latent_parameters of shape {list(params.shape)} per image, but "
                                f"the latent shape is {list(latent)}: mean and log-variance need "
                                f"{2 * math.prod(latent)} values")
    sample = decoder.run(np.zeros((1, *latent), np.float32))[0]
    if sample.size != math.prod(image):
        raise ForeignModelError(f"{dec_path} gives images of shape {list(sample.shape)}, but the image shape is "
                                f"{list(image)}")
    scaling, source = _scaling(meta, folder, latent[0])
    config = OptimumConfig(input_shape=image, latent_shape=latent, scaling_factor=scaling.scaling_factor,
                           shift_factor=scaling.shift_factor, latents_mean=scaling.latents_mean,
                           latents_std=scaling.latents_std, exported_from=meta.get("weights_digest", ""),
                           scaling_source=source, source=str(folder))
    return OptimumOnnxVAE(config, encoder, decoder).to(torch.device(device)).eval()


__all__ = ["OptimumConfig", "OptimumOnnxVAE", "load_optimum"]
