"""Which kind of model a path holds, read from file names and small JSON files only.

`detect_format` and `describe_model_path` import no torch, onnx or diffusers and never open weights, so the
app's model picker can call them for every folder it lists. Pickled files are refused here with the list of
accepted formats (see `errors.refusal`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from explorer.models.foreign.errors import ACCEPTED_FORMATS, PICKLE_SUFFIXES, ForeignModelError, refusal

CONFIG_NAME = "config.json"  # native and diffusers folders
NATIVE_WEIGHTS = "model.safetensors"
DIFFUSERS_CLASS = "AutoencoderKL"
# diffusers autoencoders the explorer loads from a folder (AutoencoderTiny and AutoencoderDC have no posterior)
DIFFUSERS_CLASSES = ("AutoencoderKL", "AutoencoderTiny", "AutoencoderDC", "VQModel")
DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"
# beside a diffusers folder this project trained (explorer.analysis.teacher): its scores and the crop size it was
# trained on ("tile", px), which the explorer then encodes and decodes larger images in (diffusers' tiling)
TRAINING_RECORD = "teacher.json"
DIFFUSERS_BIN = "diffusion_pytorch_model.bin"
ONNX_SPEC = "onnx_vae.json"
ONNX_ENCODER = "encoder.onnx"
ONNX_DECODER = "decoder.onnx"
# Optimum's layout of a VAE (optimum-cli export onnx; explorer.onnx.export.export_optimum): one folder per part
OPTIMUM_ENCODER = "vae_encoder/model.onnx"
OPTIMUM_DECODER = "vae_decoder/model.onnx"
OPTIMUM_FORMAT = "vae-latent-explorer/optimum-vae"  # metadata_props["format"] of the files export_optimum writes


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """The metadata_props of an ONNX file (the graph is not loaded into a session): how the Optimum loader learns
    what explorer.onnx.export.export_optimum recorded."""
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
FORMATS = ("native", "diffusers", "onnx", "optimum", "adapter", "single_file")


def read_small_json(path: Path, limit: int = 1 << 20) -> Any:
    """A small JSON file's content; ForeignModelError names the file when it is too big or not JSON."""
    try:
        if path.stat().st_size > limit:
            raise ForeignModelError(f"{path} is over {limit} bytes: not a model description")
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ForeignModelError(f"{path} is not valid JSON: {exc}") from None


def _detect_file(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".py":
        return "adapter"
    if suffix in PICKLE_SUFFIXES:
        raise refusal(path, f"this is {PICKLE_SUFFIXES[suffix]}")
    if suffix == ".onnx":
        raise ForeignModelError(
            f"{path}: a single ONNX file is not a VAE; give the folder holding {ONNX_ENCODER}, {ONNX_DECODER} "
            f"and {ONNX_SPEC}. {ACCEPTED_FORMATS}")
    if suffix == ".safetensors":
        if path.name in (NATIVE_WEIGHTS, DIFFUSERS_WEIGHTS) and (path.parent / CONFIG_NAME).is_file():
            raise ForeignModelError(f"{path} is the weights of the folder {path.parent}: give the folder, whose "
                                    f"{CONFIG_NAME} says what they are")
        return "single_file"  # an original-layout (A1111 / ComfyUI) VAE; its header is checked when it loads
    raise refusal(path, f"files of type {suffix or '(no suffix)'!r} are not models")


def _detect_diffusers(folder: Path, config: dict[str, Any]) -> str:
    name = config.get("_class_name")
    if name not in DIFFUSERS_CLASSES:
        raise ForeignModelError(f"{folder / CONFIG_NAME} describes a diffusers {name!r}; only "
                                f"{', '.join(DIFFUSERS_CLASSES)} folders are supported")
    if (folder / DIFFUSERS_WEIGHTS).is_file():
        return "diffusers"
    if (folder / DIFFUSERS_BIN).is_file():
        raise refusal(folder / DIFFUSERS_BIN, "this diffusers folder has only pickled .bin weights, no "
                      f"{DIFFUSERS_WEIGHTS}; re-save it with vae.save_pretrained(folder, safe_serialization=True)")
    others = sorted(p.name for p in folder.glob("*.safetensors"))
    found = f" (found {others}; variants such as fp16 are not loaded)" if others else ""
    raise ForeignModelError(
        f"{folder} is a diffusers {name} folder without weights: {DIFFUSERS_WEIGHTS} is missing{found}")


def _detect_folder(folder: Path) -> str:
    config_path = folder / CONFIG_NAME
    if config_path.is_file():
        try:
            config = read_small_json(config_path)
        except ForeignModelError:
            return "native"  # the native reader reports the broken config.json in its own words
        if isinstance(config, dict) and "_class_name" in config:
            return _detect_diffusers(folder, config)
        return "native"
    if (folder / ONNX_SPEC).is_file():
        return "onnx"
    if (folder / OPTIMUM_DECODER).is_file() and (folder / OPTIMUM_ENCODER).is_file():
        return "optimum"  # before the pipeline check: an Optimum pipeline folder holds its VAE's two parts at its top
    if (folder / OPTIMUM_DECODER).is_file() or (folder / OPTIMUM_ENCODER).is_file():
        have, lack = ((OPTIMUM_DECODER, OPTIMUM_ENCODER) if (folder / OPTIMUM_DECODER).is_file()
                      else (OPTIMUM_ENCODER, OPTIMUM_DECODER))
        raise ForeignModelError(f"{folder} has Optimum's {have} but not {lack}: the explorer needs both parts of "
                                "the VAE (optimum-cli export onnx writes both)")
    names = {p.name for p in folder.iterdir()}
    if ONNX_ENCODER in names or ONNX_DECODER in names:
        raise ForeignModelError(f"{folder} has ONNX files but no {ONNX_SPEC}: write it beside them "
                                "(input_shape, value_range, likelihood; see docs/bring-your-own-vae.md)")
    if "model_index.json" in names and (folder / "vae" / CONFIG_NAME).is_file():
        raise ForeignModelError(f"{folder} is a diffusers pipeline; give its VAE folder {folder / 'vae'}")
    if {"encoder.pkl", "decoder.pkl"} & names or "model_config.json" in names:
        raise refusal(folder, "this is a pythae model folder (model.pt, encoder.pkl and decoder.pkl are pickles)")
    pickles = sorted(n for n in names if Path(n).suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise refusal(folder / pickles[0], f"this folder holds only pickled files {pickles[:5]}")
    raise ForeignModelError(f"{folder} is not a checkpoint: {CONFIG_NAME} is missing, and it holds no {ONNX_SPEC} "
                            f"either. {ACCEPTED_FORMATS}")


def detect_format(path: str | Path) -> str:
    """"native", "diffusers" (AutoencoderKL, AutoencoderTiny or AutoencoderDC folders), "onnx" (an ONNX pair),
    "optimum" (Optimum's vae_encoder/ + vae_decoder/ layout), "adapter" or
    "single_file" (an original-layout .safetensors VAE) for a model path; ForeignModelError (naming the path, the
    problem and the accepted formats) for anything else, pickles included. Reads file names and small JSON only."""
    path = Path(path)
    if path.is_dir():
        return _detect_folder(path)
    if path.is_file():
        return _detect_file(path)
    raise ForeignModelError(f"{path} is not a folder or a file: nothing exists there")


def _shape_text(shape: Any) -> str:
    return "x".join(str(int(s)) for s in shape)


def trained_tile_px(folder: Path) -> int:
    """The crop size (px a side) the diffusers folder's training record says it was trained on, or 0 (no record:
    a folder trained elsewhere, decoded whole as diffusers does). ForeignModelError names a record that is not
    JSON or whose tile is not a positive integer."""
    record = folder / TRAINING_RECORD
    if not record.is_file():
        return 0
    data = read_small_json(record)
    tile = data.get("tile", 0) if isinstance(data, dict) else None
    if not isinstance(tile, int) or isinstance(tile, bool) or tile < 0:
        raise ForeignModelError(f"{record}: tile must be a whole number of pixels, got {tile!r}")
    return tile


def _diffusers_summary(config: dict[str, Any], tile_px: int = 0) -> str:
    name = config.get("_class_name", DIFFUSERS_CLASS)
    if name == "VQModel":
        return (f"diffusers VQModel, {config.get('num_vq_embeddings', 256)} codes, grid "
                f"1/{2 ** (len(config.get('block_out_channels', (64,))) - 1)} of the image side")
    if name != DIFFUSERS_CLASS:
        channels = config.get("latent_channels", "?")
        return f"diffusers {name}, {channels} latent channels, no posterior (a plain latent)"
    factor = 2 ** (len(config.get("block_out_channels", (64,))) - 1)
    size = config.get("sample_size", 32)
    height, width = (size, size) if isinstance(size, int) else size
    latent = (config.get("latent_channels", 4), height // factor, width // factor)
    text = f"diffusers {DIFFUSERS_CLASS}, latent {_shape_text(latent)}, scaling {config.get('scaling_factor', 0.18215):g}"
    if config.get("shift_factor") is not None:
        text += f", shift {config['shift_factor']:g}"
    if tile_px:
        text += f", in {tile_px} px tiles (its training crops)"
    return text


def _onnx_summary(spec: dict[str, Any]) -> str:
    latent = spec.get("latent_shape")
    latent_text = f"latent {_shape_text(latent)}" if latent else "latent from the graph"
    return f"ONNX pair, {_shape_text(spec.get('input_shape', ()))} {spec.get('likelihood', '?')}, {latent_text}"


def _native_summary(payload: Any) -> str:
    if not isinstance(payload, dict) or "family" not in payload or not isinstance(payload.get("config"), dict):
        raise ForeignModelError("config.json does not describe a model: it needs 'family' and 'config' keys")
    config = payload["config"]
    text = f"{payload['family']}, {_shape_text(config.get('input_shape', ()))}, latent {config.get('latent_dim', '?')}"
    return text + (f" ({payload['summary']})" if payload.get("summary") else "")


def describe_model_path(path: str | Path) -> dict[str, Any]:
    """What the model picker shows for a path, torch-free: {"path", "name", "kind", "error", "summary"}.

    `kind` is a `detect_format` result or None; `error` is None or the message saying why it cannot load;
    `summary` is one short line such as "diffusers AutoencoderKL, latent 3x4x4, scaling 0.5".
    """
    path = Path(path)
    entry: dict[str, Any] = {"path": str(path), "name": path.stem if path.is_file() else path.name,
                             "kind": None, "error": None, "summary": ""}
    try:
        kind = entry["kind"] = detect_format(path)
        if kind == "native":
            entry["summary"] = _native_summary(read_small_json(path / CONFIG_NAME))
            if not (path / NATIVE_WEIGHTS).is_file():
                raise ForeignModelError(f"{path} is not a checkpoint: {NATIVE_WEIGHTS} is missing")
        elif kind == "diffusers":
            entry["summary"] = _diffusers_summary(read_small_json(path / CONFIG_NAME), trained_tile_px(path))
        elif kind == "onnx":
            entry["summary"] = _onnx_summary(read_small_json(path / ONNX_SPEC))
        elif kind == "optimum":
            # its latent shape and scaling are in the ONNX files' metadata, read only when it loads
            entry["summary"] = f"ONNX in Optimum's layout ({OPTIMUM_ENCODER} + {OPTIMUM_DECODER})"
        elif kind == "single_file":
            from explorer.models.foreign.presets import describe_single_file  # lazy: needs safetensors

            entry["summary"] = describe_single_file(path)
        else:
            entry["summary"] = "Python adapter (runs its own code: loads only with --trust-code)"
    except (ForeignModelError, OSError, TypeError, ValueError) as exc:
        entry["error"] = str(exc)
    return entry

