"""The shipped configs for single-file checkpoints (configs/<preset>/config.json, no weights) and how one is chosen.

torch-free, so that the model picker can describe a single file from its header. The weights cannot tell SD 1.x
(scaling 0.18215) from SDXL (0.13025), nor SD3 from FLUX: the user chooses, and the default is SD 1.x for a
4-channel file and FLUX for a 16-channel one.
"""

from __future__ import annotations

from pathlib import Path

from explorer.models.foreign.errors import ForeignModelError
from explorer.models.foreign.ldm_layout import LdmLayout, infer_layout, read_header

CONFIGS = Path(__file__).parent / "configs"
PRESET_NAMES = {"sd1": "SD 1.x", "sdxl": "SDXL", "sd3": "SD3", "flux": "FLUX"}
# (latent channels, quant_conv present) of each shipped config
PRESET_LAYOUT = {"sd1": (4, True), "sdxl": (4, True), "sd3": (16, False), "flux": (16, False)}
DEFAULT_PRESET = {(4, True): "sd1", (16, False): "flux"}
# what the other preset of the same layout would use, for the note beside the image
ALTERNATIVE = {"sd1": "SDXL (scaling 0.13025)", "sdxl": "SD 1.x (scaling 0.18215)",
               "sd3": "FLUX (scaling 0.3611, shift 0.1159)", "flux": "SD3 (scaling 1.5305, shift 0.0609)"}


def layout_text(layout: LdmLayout) -> str:
    quant = "with quant_conv" if layout.use_quant_conv else "without quant_conv"
    return f"{layout.latent_channels} latent channels {quant}"


def choose_preset(layout: LdmLayout, preset: str | None, path: str | Path) -> tuple[str, bool]:
    """(preset, chosen by default) for a file of this layout; ForeignModelError naming the preset and the layout
    when they do not fit, or when no shipped config has this latent channel count."""
    key = (layout.latent_channels, layout.use_quant_conv)
    if preset is None:
        if key not in DEFAULT_PRESET:
            known = "; ".join(f"{p}: {c} channels {'with' if q else 'without'} quant_conv"
                              for p, (c, q) in PRESET_LAYOUT.items())
            raise ForeignModelError(f"{path}: {layout_text(layout)} (from encoder.conv_out and quant_conv) matches "
                                    f"none of the shipped configs ({known}); save it as a diffusers folder with its "
                                    "own config.json instead")
        return DEFAULT_PRESET[key], True
    if preset not in PRESET_LAYOUT:
        raise ForeignModelError(f"preset {preset!r} is not one of {sorted(PRESET_LAYOUT)} "
                                f"({', '.join(f'{k}: {v}' for k, v in PRESET_NAMES.items())})")
    channels, quant = PRESET_LAYOUT[preset]
    if key != PRESET_LAYOUT[preset]:
        raise ForeignModelError(f"{path}: preset {preset!r} ({PRESET_NAMES[preset]}) has {channels} latent channels "
                                f"{'with' if quant else 'without'} quant_conv, but the file has {layout_text(layout)}")
    return preset, False


def describe_single_file(path: str | Path) -> str:
    """One line for the model picker from the file's header alone, e.g. "original-layout AutoencoderKL, 4 latent
    channels with quant_conv, blocks 128-256-512-512; SD 1.x scaling by default"."""
    layout = infer_layout(read_header(path), path)
    preset, _ = choose_preset(layout, None, path)
    where = f" inside a full checkpoint ({layout.prefix}*)" if layout.prefix else ""
    return (f"original-layout AutoencoderKL{where}, {layout_text(layout)}, blocks "
            f"{'-'.join(str(c) for c in layout.block_out_channels)}; {PRESET_NAMES[preset]} scaling by default")


__all__ = ["ALTERNATIVE", "CONFIGS", "DEFAULT_PRESET", "PRESET_LAYOUT", "PRESET_NAMES", "choose_preset",
           "describe_single_file", "layout_text"]
