"""diffusers `VQModel` folders (VQGAN-style and MoVQ-style tokenizers) as discrete-code explorer models.

What diffusers does, and how the adapter follows it:
- `vae.encode(x).latents` is the code *before* quantisation (after quant_conv); `vae.quantize(h)` gives the
  nearest code vectors and their indices (flat, B * h * w, unless the quantiser was built with sane_index_shape).
- `vae.decode(h)` quantises again unless `force_not_quantize=True`; the adapter decodes code vectors with
  `force_not_quantize=True` so that an edited grid is decoded as given.
- `vae.quantize.get_codebook_entry(indices, shape)` takes shape (B, h, w, C) and returns (B, C, h, w).
- a MoVQ-style decoder (`norm_type="spatial"`) also reads the quantised code (its spatial norm); diffusers' own
  `decode` passes it, and so does this adapter, which calls that `decode`.

Images are read in [-1, 1]; p(x | z) is Gaussian on [0, 1] with the stated sigma. As for the native discrete
families, q(k | x) is one-hot and the prior uniform over the codebook: KL = log K per cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from explorer.distributions import GaussianLikelihood
from explorer.models.base import Capabilities, CodeLevel, VAEConfig, check_code_indices
from explorer.models.blocks.discrete import QuantisedCode
from explorer.models.foreign.common import ForeignConfig, ForeignVAE
from explorer.models.foreign.detect import CONFIG_NAME, read_small_json
from explorer.models.foreign.diffusers_loading import image_channels, image_hw, load_diffusers_module
from explorer.models.foreign.errors import ForeignModelError

VQ_CLASS = "VQModel"


@dataclass
class VQModelConfig(ForeignConfig):
    """A diffusers VQModel as the explorer sees it: latent_shape (vq_embed_dim, h, w), value_range [-1, 1]."""

    likelihood: str = "gaussian"
    value_range: tuple[float, float] = (-1.0, 1.0)
    codebook_size: int = 256  # diffusers' num_vq_embeddings
    downsampling: int = 1  # image side / grid side: 2 ** (len(block_out_channels) - 1)
    norm_type: str = "group"  # "spatial": a MoVQ-style decoder that also reads the quantised code
    lookup_from_codebook: bool = False  # diffusers' flag: its decode(force_not_quantize=True) then takes indices

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.codebook_size < 1 or self.downsampling < 1:
            raise ValueError(f"codebook_size and downsampling must be positive, got {self.codebook_size}, "
                             f"{self.downsampling}")


def vq_config(folder: Path, image_size: int | tuple[int, int] | None = None, sigma: float = 0.1) -> VQModelConfig:
    """The explorer config of a VQModel folder, read from its config.json; ForeignModelError names what is wrong."""
    where = folder / CONFIG_NAME
    raw = read_small_json(where)
    if not isinstance(raw, dict) or raw.get("_class_name") != VQ_CLASS:
        raise ForeignModelError(f"{where} does not describe a diffusers {VQ_CLASS}")
    blocks = raw.get("block_out_channels", (64,))
    if not isinstance(blocks, (list, tuple)) or not blocks:
        raise ForeignModelError(f"{where}: 'block_out_channels' must be a non-empty list, got {blocks!r}")
    factor = 2 ** (len(blocks) - 1)
    height, width = image_hw(image_size if image_size is not None else raw.get("sample_size", 32), factor, where)
    channels = image_channels(raw, where)
    embed_dim = raw.get("vq_embed_dim") or raw.get("latent_channels", 3)
    try:
        return VQModelConfig(input_shape=(channels, height, width),
                             latent_shape=(int(embed_dim), height // factor, width // factor),
                             codebook_size=int(raw.get("num_vq_embeddings", 256)), downsampling=factor,
                             norm_type=str(raw.get("norm_type", "group")),
                             lookup_from_codebook=bool(raw.get("lookup_from_codebook", False)),
                             sigma=sigma, source=str(folder))
    except (TypeError, ValueError) as exc:
        raise ForeignModelError(f"{where}: {exc}") from None


class DiffusersVQVAE(ForeignVAE):
    """A wrapped `diffusers.VQModel` (held as `self.vae`): a grid of codebook indices."""

    family = "diffusers_vq"
    config_class = VQModelConfig
    code_name = "quantised code vectors"
    posterior_name = "one-hot (the nearest code), uniform prior over the codes: KL = log K per cell"
    config: VQModelConfig

    def __init__(self, config: VQModelConfig, vae: torch.nn.Module):
        super().__init__(config)
        self.vae = vae
        side = max(config.input_shape[1:])
        # the encoder's receptive field is not computed for foreign networks (diffusers' mid block attends over
        # the whole image): the box is the whole image, offset so that it clips to it from any cell
        self.levels = (CodeLevel("code", tuple(config.latent_shape[1:]), config.downsampling, 2 * side, side,
                                 config.latent_shape[0], config.codebook_size),)

    @classmethod
    def config_capabilities(cls, config: VAEConfig) -> Capabilities:
        return Capabilities(trainable=False, spatial_code=True, discrete_code=True)

    @classmethod
    def from_config(cls, config: VAEConfig, folder: Path | None = None) -> "DiffusersVQVAE":
        if not isinstance(config, VQModelConfig):
            raise TypeError(f"{type(config).__name__} is not a VQModelConfig")
        return cls(config, load_diffusers_module(Path(folder or config.source), VQ_CLASS))

    def code_levels(self) -> tuple[CodeLevel, ...]:
        return self.levels

    def codebook(self, level: int = 0) -> Tensor:
        return self.vae.quantize.embedding.weight.detach()  # (K, vq_embed_dim)

    def kl_per_item(self) -> float:
        return math.prod(self.levels[0].grid) * math.log(self.config.codebook_size)

    def _quantise(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images [0, 1] -> (code vectors (B, C, h, w), indices (B, h, w))."""
        h = self.vae.encode(self.to_model_range(x)).latents  # before quantisation
        z_q, _, (_, _, indices) = self.vae.quantize(h)
        return z_q, indices.reshape(h.shape[0], *h.shape[2:])

    def encode(self, x: Tensor) -> QuantisedCode:
        return QuantisedCode(self._quantise(x)[0], self.kl_per_item())

    def decode(self, z: Tensor) -> GaussianLikelihood:
        """Code vectors (B, C, h, w) -> Gaussian over images in [0, 1], decoded as given (no re-quantisation)."""
        if self.config.lookup_from_codebook:  # diffusers' force_not_quantize path would read z as indices
            sample = self.vae.decoder(self.vae.post_quant_conv(z), z if self.config.norm_type == "spatial" else None)
        else:
            sample = self.vae.decode(z, force_not_quantize=True).sample
        return GaussianLikelihood(self.from_model_range(sample), self.log_scale)

    @torch.no_grad()
    def encode_indices(self, x: Tensor) -> list[Tensor]:
        return [self._quantise(x)[1].long()]

    @torch.no_grad()
    def decode_indices(self, indices: Tensor | Sequence[Tensor], levels: Sequence[int] | None = None) -> Tensor:
        (idx,) = check_code_indices(indices, self.levels)
        idx = idx.to(self.device)
        if levels is not None and list(levels) != [0]:
            raise ValueError(f"levels {list(levels)} do not exist: a VQModel has one level (0)")
        z = self.vae.quantize.get_codebook_entry(idx.reshape(-1), (*idx.shape, self.config.latent_shape[0]))
        return self.decode(z).mean

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """n images decoded from indices drawn uniformly (the model's prior here; it has no learned prior)."""
        level = self.levels[0]
        idx = torch.randint(0, level.codebook_size, (n, *level.grid), generator=generator,
                            device=generator.device if generator is not None else self.device)
        return self.decode_indices(idx.to(self.device))

    def likelihood_description(self) -> str:
        return super().likelihood_description() + " (the VQModel decoder's sample)"


def load_vq(folder: str | Path, device: torch.device | str = "cpu", image_size: int | tuple[int, int] | None = None,
            sigma: float = 0.1) -> DiffusersVQVAE:
    """A diffusers VQModel folder (config.json + diffusion_pytorch_model.safetensors) as a `DiffusersVQVAE` on
    device, in eval mode (image_size: an int or (H, W), default the config's sample_size)."""
    folder = Path(folder)
    return DiffusersVQVAE.from_config(vq_config(folder, image_size, sigma), folder).to(torch.device(device)).eval()


__all__ = ["DiffusersVQVAE", "VQModelConfig", "load_vq", "vq_config"]
