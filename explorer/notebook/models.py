"""A model for a notebook widget from whatever the user holds: a folder or file (any route of
explorer.checkpoint.from_pretrained: native, diffusers, ONNX pair) or a model object, with its weights digest; and
its ONNX decoder and encoder for the page (explorer.onnx.export, cached by that digest)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from safetensors.torch import save

from explorer.cache import weights_digest
from explorer.checkpoint import from_pretrained
from explorer.models.base import VAE
from explorer.onnx.export import ExportFailure, OnnxExportError, exported_decoder, exported_encoder

PAGE_EXPORTERS = ("torchscript", "dynamo")  # the exporters tried for a widget's page, fastest first


def object_digest(model: VAE) -> str:
    """sha256 hex of a model object's weights (its state dict as safetensors bytes): a model built or trained in
    the notebook has no file to hash, and its export cache must still follow its weights."""
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    return hashlib.sha256(save(tensors)).hexdigest()


def resolve_model(model: VAE | str | Path, device: str = "cpu") -> tuple[VAE, str]:
    """(model in eval mode, weights digest) from a VAE object or a path that from_pretrained loads.
    TypeError naming what is accepted for anything else."""
    if isinstance(model, VAE):
        return model.eval(), object_digest(model)
    if isinstance(model, (str, Path)):
        return from_pretrained(model, device=device), weights_digest(model)
    raise TypeError(f"model must be an explorer VAE (explorer.models.base.VAE: a native model, or a foreign "
                    f"one's adapter) or a folder or file that explorer.checkpoint.from_pretrained loads; "
                    f"got {type(model).__name__}")


def decoder_file(model: VAE, digest: str, cache_dir: str | Path) -> Path:
    """The model's ONNX decoder (code (B, D) -> image (B, C, H, W)), exported on first use into cache_dir;
    OnnxExportError with the exporter's message when it cannot be exported."""
    made = exported_decoder(model, digest, cache_dir, exporters=PAGE_EXPORTERS)
    if isinstance(made, ExportFailure):
        raise OnnxExportError(made.message)
    return Path(made.path)


def decoder_bytes(model: VAE, digest: str, cache_dir: str | Path) -> bytes:
    """The bytes of decoder_file."""
    return decoder_file(model, digest, cache_dir).read_bytes()


def encoder_bytes(model: VAE, digest: str, cache_dir: str | Path) -> bytes:
    """As decoder_bytes, for the encoder (image (B, C, H, W) -> code (B, D), the posterior mean)."""
    made = exported_encoder(model, digest, cache_dir, exporters=PAGE_EXPORTERS)
    if isinstance(made, ExportFailure):
        raise OnnxExportError(made.message)
    return Path(made.path).read_bytes()
