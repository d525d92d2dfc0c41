"""A single-file AutoencoderKL checkpoint in the original (CompVis / ldm) layout, as A1111 and ComfyUI keep them in
`models/vae/*.safetensors`, or a full checkpoint whose VAE keys start with `first_stage_model.` (or `vae.`).

The file carries weights but no config, so:
- the architecture comes from the tensor shapes (`ldm_layout.infer_layout`): latent channels from
  `encoder.conv_out`, whether `quant_conv` is present, block channels and resnets per block;
- the rest (scaling, shift, force_upcast) comes from a shipped config folder, `configs/<preset>/config.json`
  (config.json only, no weights): "sd1", "sdxl" (4 channels with quant_conv), "sd3", "flux" (16 channels, none).
  The weights cannot tell SD 1.x (scaling 0.18215) from SDXL (0.13025), nor SD3 from FLUX: `preset` chooses,
  defaulting to "sd1" (4 channels) or "flux" (16). The model's config records the preset and whether it was
  the default (`config.preset`, `config.preset_by_default`, `config.scaling_note()`), so a page can show it.

Loading goes through diffusers' own conversion, `AutoencoderKL.from_single_file(..., config=<shipped folder>,
local_files_only=True)` (without a local config diffusers fetches one from the Hub), with the shape-inferred
structure passed as keyword overrides. Only the VAE's tensors are read (a full checkpoint's UNet and text encoders
stay on disk), and the file's keys are checked first, so a file with missing keys is refused naming them
(diffusers would leave those weights random with a warning).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from explorer.models.foreign.detect import CONFIG_NAME, read_small_json
from explorer.models.foreign.errors import PICKLE_SUFFIXES, ForeignModelError, refusal
from explorer.models.foreign.ldm_layout import LdmLayout, check_keys, infer_layout, read_header
from explorer.models.foreign.presets import CONFIGS, choose_preset

def structure(layout: LdmLayout) -> dict[str, Any]:
    """The AutoencoderKL constructor arguments the tensor shapes fix (they override the shipped config's)."""
    blocks = len(layout.block_out_channels)
    return {"in_channels": layout.in_channels, "out_channels": layout.out_channels,
            "latent_channels": layout.latent_channels, "block_out_channels": list(layout.block_out_channels),
            "layers_per_block": layout.layers_per_block, "down_block_types": ["DownEncoderBlock2D"] * blocks,
            "up_block_types": ["UpDecoderBlock2D"] * blocks, "use_quant_conv": layout.use_quant_conv,
            "use_post_quant_conv": layout.use_post_quant_conv,
            "mid_block_add_attention": layout.mid_block_add_attention}


def single_file_raw_config(layout: LdmLayout, preset: str, path: str | Path) -> dict[str, Any]:
    """The shipped preset's config.json with the structure the shapes fix; ForeignModelError when the block
    channels do not divide into the preset's group-norm groups (the one structural value shapes cannot tell)."""
    raw = read_small_json(CONFIGS / preset / CONFIG_NAME)
    groups = raw.get("norm_num_groups", 32)
    if any(c % groups for c in layout.block_out_channels):
        raise ForeignModelError(f"{path}: block channels {list(layout.block_out_channels)} (from "
                                f"encoder.down.N.block.0.conv1) are not multiples of the shipped configs' "
                                f"norm_num_groups {groups}; save it as a diffusers folder with its own config.json")
    return {**raw, **structure(layout)}


def _vae_tensors(path: Path, layout: LdmLayout) -> dict[str, torch.Tensor]:
    """The VAE's tensors only, keys as in the file (diffusers' conversion strips the prefix), on the CPU."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as f:
        return {k: f.get_tensor(k) for k in f.keys() if k.startswith(layout.prefix)}


def read_single_file(path: str | Path, autoencoder_kl: Any, preset: str | None = None
                     ) -> tuple[dict[str, Any], str, bool, torch.nn.Module]:
    """(raw config, preset name, whether the preset was the default, the converted AutoencoderKL on the CPU) of
    an original-layout safetensors file; `autoencoder_kl` is diffusers' class. preset: "sd1" | "sdxl" | "sd3" |
    "flux" | None (sd1 for 4 latent channels, flux for 16). ForeignModelError for pickles, non-safetensors files,
    missing keys, shapes that do not fit, a preset that does not fit."""
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise refusal(path, f"this is {PICKLE_SUFFIXES[path.suffix.lower()]}")
    if not path.is_file():
        raise ForeignModelError(f"{path} is not a file")
    shapes = read_header(path)
    layout = infer_layout(shapes, path)
    name, by_default = choose_preset(layout, preset, path)
    raw = single_file_raw_config(layout, name, path)
    with torch.device("meta"):  # the architecture's key -> shape, with no memory allocated
        expected = {k: tuple(v.shape) for k, v in autoencoder_kl.from_config(raw).state_dict().items()}
    check_keys(shapes, expected, layout, path)
    try:
        vae = autoencoder_kl.from_single_file(_vae_tensors(path, layout), config=str(CONFIGS / name),
                                              local_files_only=True, low_cpu_mem_usage=False,  # no accelerate
                                              **structure(layout))
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise ForeignModelError(f"{path}: diffusers could not convert this original-layout checkpoint "
                                f"({type(exc).__name__}: {exc})") from None
    return raw, name, by_default, vae
