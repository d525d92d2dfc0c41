"""The original (CompVis / ldm) key layout of an AutoencoderKL, as A1111 and ComfyUI keep it in one safetensors file.

torch-free: the model picker reads a file's header (names and shapes, never the weights) through safetensors'
`safe_open(framework="numpy")`, infers the architecture from the shapes (`infer_layout`) and names the keys a
diffusers model of that architecture would need (`ldm_key`), so that a file with missing keys is refused naming them.

`ldm_key` maps one diffusers key to its original name: the inverse of what diffusers' single-file conversion
(`diffusers.loaders.single_file_utils.convert_ldm_vae_checkpoint`) does. The original attention projections are
1x1 convolutions (C, C, 1, 1) where diffusers has Linear weights (C, C): `ldm_shape` adds the two unit dimensions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from explorer.models.foreign.errors import ForeignModelError

# prefixes of the VAE inside a full checkpoint (the same ones diffusers' conversion strips: LDM_VAE_KEYS)
FULL_CHECKPOINT_PREFIXES = ("first_stage_model.", "vae.")
ATTENTION_NAMES = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
# the keys that shape inference reads; a file without them is not an original-layout VAE
CORE_KEYS = ("encoder.conv_in.weight", "encoder.conv_out.weight", "decoder.conv_in.weight", "decoder.conv_out.weight")


@dataclass(frozen=True)
class LdmLayout:
    """The architecture an original-layout VAE checkpoint's tensor shapes imply."""

    prefix: str  # "" for a VAE file, "first_stage_model." (or "vae.") inside a full checkpoint
    in_channels: int  # image channels (encoder.conv_in.weight: (C0, in, 3, 3))
    out_channels: int  # decoder.conv_out.weight: (out, C0, 3, 3)
    latent_channels: int  # encoder.conv_out.weight: (2 * latent, C_top, 3, 3): mean and log-variance
    block_out_channels: tuple[int, ...]  # encoder.down.{i}.block.0.conv1.weight: (C_i, ., 3, 3)
    layers_per_block: int  # resnets per encoder block (the decoder has one more)
    use_quant_conv: bool  # quant_conv.weight present (SD 1.x / SDXL); SD3 and FLUX have none
    use_post_quant_conv: bool
    mid_block_add_attention: bool  # encoder.mid.attn_1 present

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


def read_header(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Every tensor name of a safetensors file -> its shape, read from the header only (no weights).

    ForeignModelError when the file is not safetensors (a renamed pickle, a torn file)."""
    try:
        from safetensors import safe_open
    except ImportError as exc:
        raise ForeignModelError(f"reading {path} needs safetensors: pip install safetensors ({exc})") from None
    try:
        with safe_open(str(path), framework="numpy") as f:
            return {key: tuple(int(s) for s in f.get_slice(key).get_shape()) for key in f.keys()}
    except Exception as exc:  # safetensors raises its own SafetensorError, OSError or ValueError
        raise ForeignModelError(f"{path} is not a valid safetensors file ({type(exc).__name__}: {exc}); "
                                "single-file checkpoints are read only as safetensors, never as pickles") from None


def vae_prefix(keys: list[str] | set[str]) -> str:
    """The prefix of the VAE's keys: "" unless the file is a full checkpoint ("first_stage_model.", "vae.")."""
    if any(k.startswith(CORE_KEYS[0]) for k in keys):
        return ""
    for prefix in FULL_CHECKPOINT_PREFIXES:
        if any(k.startswith(prefix + "encoder.") for k in keys):
            return prefix
    return ""


def _missing(path: Path, prefix: str, names: list[str], found: int) -> ForeignModelError:
    shown = ", ".join(prefix + n for n in names[:5]) + (" ..." if len(names) > 5 else "")
    return ForeignModelError(f"{path}: not a complete original-layout (CompVis/ldm) VAE checkpoint: {len(names)} "
                             f"key(s) missing, e.g. {shown} ({found} VAE keys found)")


def infer_layout(shapes: dict[str, tuple[int, ...]], path: str | Path) -> LdmLayout:
    """The architecture implied by a checkpoint's tensor shapes (see `read_header`); ForeignModelError naming the
    missing keys when the file is not an original-layout VAE."""
    path = Path(path)
    prefix = vae_prefix(set(shapes))
    vae = {k[len(prefix):]: s for k, s in shapes.items() if k.startswith(prefix)}
    if any(k.startswith(("encoder.down_blocks.", "decoder.up_blocks.")) for k in vae):
        raise ForeignModelError(f"{path}: its keys are in diffusers' layout (encoder.down_blocks.*), not the original "
                                "one (encoder.down.*): give the folder with the config.json that save_pretrained wrote")
    missing = [k for k in CORE_KEYS if k not in vae]
    if missing:
        raise _missing(path, prefix, missing, len(vae))
    blocks = sorted({int(m.group(1)) for k in vae if (m := re.match(r"encoder\.down\.(\d+)\.", k))})
    if not blocks or blocks != list(range(len(blocks))):
        raise ForeignModelError(f"{path}: encoder.down.N blocks {blocks} are not numbered 0 to N-1")
    first = [f"encoder.down.{i}.block.0.conv1.weight" for i in blocks]
    if any(k not in vae for k in first):
        raise _missing(path, prefix, [k for k in first if k not in vae], len(vae))
    layers = len({int(m.group(1)) for k in vae if (m := re.match(r"encoder\.down\.0\.block\.(\d+)\.", k))})
    conv_out = vae["encoder.conv_out.weight"]
    if len(conv_out) != 4 or conv_out[0] % 2:
        raise ForeignModelError(f"{path}: encoder.conv_out.weight has shape {list(conv_out)}; an AutoencoderKL's has "
                                "(2 x latent channels, C, 3, 3): mean and log-variance")
    return LdmLayout(prefix=prefix, in_channels=vae["encoder.conv_in.weight"][1],
                     out_channels=vae["decoder.conv_out.weight"][0], latent_channels=conv_out[0] // 2,
                     block_out_channels=tuple(vae[k][0] for k in first), layers_per_block=layers,
                     # any one tensor of a part says it is there; check_keys then names what it lacks
                     use_quant_conv=any(k.startswith("quant_conv.") for k in vae),
                     use_post_quant_conv=any(k.startswith("post_quant_conv.") for k in vae),
                     mid_block_add_attention=any(k.startswith("encoder.mid.attn_1.") for k in vae))


def _resnet(name: str) -> str:
    return name.replace("conv_shortcut", "nin_shortcut")


def ldm_key(key: str, num_up_blocks: int) -> str:
    """One diffusers AutoencoderKL key -> its original-layout name (num_up_blocks = len(block_out_channels):
    the original numbers the decoder's blocks from the bottom, diffusers from the top)."""
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{_resnet(m[3])}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"decoder.up.{num_up_blocks - 1 - int(m[1])}.block.{m[2]}.{_resnet(m[3])}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        return f"decoder.up.{num_up_blocks - 1 - int(m[1])}.upsample.conv.{m[2]}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{_resnet(m[3])}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(.+)", key):
        return f"{m[1]}.mid.attn_1.{ATTENTION_NAMES[m[2]]}.{m[3]}"
    if m := re.fullmatch(r"(encoder|decoder)\.conv_norm_out\.(.+)", key):
        return f"{m[1]}.norm_out.{m[2]}"
    return key  # conv_in, conv_out, quant_conv, post_quant_conv keep their names


def ldm_shape(key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The original-layout shape of a diffusers tensor: attention projections (C, C) become 1x1 convs (C, C, 1, 1)."""
    if re.search(r"\.mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$", key) and len(shape) == 2:
        return (*shape, 1, 1)
    return tuple(shape)


def check_keys(shapes: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]], layout: LdmLayout,
               path: str | Path) -> None:
    """Refuse a file that lacks keys a model of `layout` needs, or holds them in other shapes, naming a few.

    shapes: the file's header (see `read_header`); expected: the diffusers model's key -> shape."""
    path = Path(path)
    need = {layout.prefix + ldm_key(k, len(layout.block_out_channels)): ldm_shape(k, s) for k, s in expected.items()}
    missing = sorted(k for k in need if k not in shapes)
    if missing:
        raise _missing(path, "", missing, sum(k.startswith(layout.prefix) for k in shapes))
    wrong = sorted(k for k in need if math.prod(need[k]) != math.prod(shapes[k])
                   or (shapes[k] != need[k] and shapes[k] != need[k][:2]))
    if wrong:
        shown = "; ".join(f"{k}: {list(shapes[k])}, expected {list(need[k])}" for k in wrong[:4])
        raise ForeignModelError(f"{path}: {len(wrong)} tensor(s) have shapes that do not fit the architecture "
                                f"inferred from encoder.conv_out and the block channels: {shown}")


__all__ = ["CORE_KEYS", "FULL_CHECKPOINT_PREFIXES", "LdmLayout", "check_keys", "infer_layout", "ldm_key", "ldm_shape",
           "read_header", "vae_prefix"]
