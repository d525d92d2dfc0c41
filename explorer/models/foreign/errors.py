"""The error every foreign loader raises, and the refusal text shared by the dispatcher and the loaders.

This module imports nothing but the standard library, so the app's model picker can use it before torch.
"""

from __future__ import annotations

from pathlib import Path


class ForeignModelError(ValueError):
    """A path that is not a usable model; the message names the file and the problem (and what to do)."""


ACCEPTED_FORMATS = (
    "Accepted formats: a native explorer folder (config.json + model.safetensors); "
    "a diffusers AutoencoderKL folder (config.json + diffusion_pytorch_model.safetensors), "
    "or an AutoencoderTiny or AutoencoderDC one; "
    "an original-layout (A1111 / ComfyUI) AutoencoderKL .safetensors file; "
    "an ONNX pair folder (encoder.onnx + decoder.onnx + onnx_vae.json); "
    "an ONNX folder in Optimum's layout (vae_encoder/model.onnx + vae_decoder/model.onnx); "
    "or an adapter .py file, loaded only when passed with --trust-code FILE."
)

HOW_TO_CONVERT = (
    "To convert: export the encoder and decoder with "
    "torch.onnx.export(module, (example,), 'encoder.onnx', external_data=False) and write onnx_vae.json; "
    "a diffusers VAE is written with vae.save_pretrained(folder, safe_serialization=True); "
    "or write an adapter .py that builds your nn.Module and reads safetensors weights "
    "(see docs/bring-your-own-vae.md)."
)

# Suffixes of files that are pickles, or archives with pickled parts, by what they usually are.
PICKLE_SUFFIXES = {
    ".pt": "a torch.save file (a pickle)",
    ".pth": "a torch.save file (a pickle)",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".ckpt": "a Lightning / original Stable Diffusion checkpoint (a pickle)",
    ".bin": "a PyTorch .bin weights file (a pickle)",
    ".pt2": "a torch.export archive (a zip with pickled parts)",
    ".joblib": "a joblib file (a pickle)",
}


def refusal(path: Path, what: str) -> ForeignModelError:
    """The error for a pickled or unsupported file offered as a model: what it is, what is accepted, how to convert."""
    return ForeignModelError(
        f"{path}: {what}. Pickled files can run arbitrary code when opened, so they are never loaded. "
        f"{ACCEPTED_FORMATS} {HOW_TO_CONVERT}"
    )
