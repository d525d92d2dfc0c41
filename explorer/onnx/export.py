"""A model's decoder and encoder as self-contained ONNX files, for decoding in the page with onnxruntime-web.

- `export_decoder(model, path)`: input `code` (B, D) float32, the FLAT code in the page's code space (reshaped
  to `latent_shape` inside), output `image` (B, C, H, W) float32 in [0, 1]: exactly `model.decode_code(code)`.
- `export_encoder(model, path)`: input `image` (B, C, H, W) in [0, 1], output `code` (B, D): `encode_code(x)`
  flattened (and `logvar` (B, D) when asked for).
- `exported_decoder(model, digest, cache_dir)` / `exported_encoder(...)`: the same, made on first use and kept
  as `<cache_dir>/<digest>/decoder.onnx` + `decoder.json`; a missing, stale or corrupt file is re-made.
- `exported_indices_decoder(model, digest, cache_dir)`: a discrete model's decode from indices
  (explorer.onnx.discrete.IndexImageGraph: `indices` (B, N) int64 in, `image` out), cached as `indices.onnx`.
- `export_optimum(model, folder, digest)`: Optimum's layout for diffusers VAEs, `vae_encoder/model.onnx` and
  `vae_decoder/model.onnx` (+ `vae_decoder/model_fp16.onnx`, onnxruntime's float16 conversion), with Optimum's inputs
  and outputs (unscaled `latent_sample` -> `sample` in [-1, 1]; `sample` -> `latent_parameters`, mean and log-variance
  concatenated on axis 1) and `metadata_props` naming the latent shape, scaling, shift, ranges and weights digest.

Every file holds its weights (no external data), states its opset, has a dynamic batch axis (batch 1 is the
main case), passes `onnx.checker` and opens in onnxruntime, and agrees with torch on two probe batches before it
is accepted: the one it was exported with, and one the exporter never saw (a forward that leaves torch, such as a
model run by onnxruntime, is traced as constants and agrees on the first only). The torch.export-based exporter (`dynamo`) is tried first, then the TorchScript one; the JSON
beside the file says which one made it and why the first one failed, if it did.

Randomness: a draw from an explicit `torch.Generator` made inside the exported call (pu's fixed-seed pooling
noise, fixed-seed display locations) is made once at export time and stored as a constant, which is what
the eager code computes on every call too (it seeds a fresh generator each time). A draw from torch's global
generator is hidden randomness: its export disagrees with torch on the probe and is refused.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from contextlib import redirect_stdout
from dataclasses import asdict, dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from explorer.files import atomic_write_bytes, atomic_write_with, exclusive_lock, file_sha256
from explorer.models.base import VAE, eval_mode
from explorer.models.blocks.conditioning import with_default_condition
from explorer.models.foreign.detect import OPTIMUM_DECODER, OPTIMUM_ENCODER, OPTIMUM_FORMAT, read_onnx_metadata
from explorer.onnx.discrete import IndexImageGraph, probe_indices
from explorer.onnx.torchlib_registry import reuse_torchlib_registry
from explorer.onnx.trust import vet_onnx_file
from explorer.onnx.wrap import wrap_for_page

DEFAULT_OPSET = 18  # the torch.export exporter's native opset; onnxruntime(-web) runs it from 1.14 on
EXPORTERS = ("dynamo", "torchscript")  # tried in this order
WRAPPED = "wrapped"  # not an exporter: a model's own ONNX graph, wrapped to the page's contract (explorer.onnx.wrap)
PARTS = ("decoder", "encoder", "indices")  # "indices": a discrete model's decode from code indices
PROBE_ATOL = 1e-4  # an export whose output differs more from torch on a probe batch is refused
PROBE_BATCH = 2  # example batch for export: torch.export specialises sizes 0 and 1, which would fix the batch
METADATA_VERSION = 1
# Optimum's layout for a diffusers VAE (optimum-cli export onnx): one folder per part, model.onnx in each
OPTIMUM_FILES = {"encoder": OPTIMUM_ENCODER, "decoder": OPTIMUM_DECODER}
OPTIMUM_FP16 = "vae_decoder/model_fp16.onnx"
OPTIMUM_NAMES = {"decoder": (["latent_sample"], ["sample"]), "encoder": (["sample"], ["latent_parameters"])}
FP16_TOLERANCE = 2 / 255  # the fp16 decoder's images may differ from fp32's by at most this, in [0, 1]


@dataclass(frozen=True)
class ExportInfo:
    """What an export produced; also the content of the JSON beside a cached file."""

    part: str  # "decoder" or "encoder"
    file: str  # file name (beside the JSON)
    opset: int  # ai.onnx opset the file declares
    exporter: str  # "dynamo" (torch.export), "torchscript", or "wrapped" (the model's own ONNX graph)
    input_names: list[str]
    output_names: list[str]
    input_shapes: dict[str, list[int | str]]  # "batch" marks the dynamic axis
    output_shapes: dict[str, list[int | str]]
    latent_shape: list[int]  # the model's code shape; inputs and outputs use the flat code
    family: str
    torch_version: str
    onnx_version: str
    onnxruntime_version: str
    sha256: str  # of the .onnx file: a file that no longer matches is corrupt
    size_bytes: int
    probe_max_abs_diff: float  # onnxruntime vs torch on the probe batches
    frozen_draws: int  # generator draws stored as constants (see the module docstring)
    export_seconds: float
    digest: str = ""  # weights digest of the cached export ("" outside the cache)
    errors: dict[str, str] = field(default_factory=dict)  # exporters tried before the one that worked, with their errors
    metadata_version: int = METADATA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ExportInfo":
        return cls(**values)


@dataclass(frozen=True)
class ExportFailure:
    """A part that could not be exported: every exporter's error. The page then decodes on the server."""

    part: str
    family: str
    errors: dict[str, str]  # exporter name -> error message
    torch_version: str = torch.__version__

    @property
    def message(self) -> str:
        tried = "; ".join(f"{name}: {err}" for name, err in self.errors.items())
        return f"the {self.family!r} {self.part} could not be exported to ONNX ({tried})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class OnnxExportError(RuntimeError):
    """Raised by `export_decoder` / `export_encoder` when no exporter succeeded; `.failure` says why."""

    def __init__(self, failure: ExportFailure):
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class CachedExport:
    """A usable cached export: the file, its metadata, and what happened to get it."""

    path: Path
    info: ExportInfo
    status: str  # "cached" (reused as it was) or "exported" (made now)
    reason: str = ""  # why it was made now: "missing", "stale: ...", "corrupt: ..." ("" when cached)


# -- the modules that are exported -----------------------------------------------------------------
class DecoderGraph(nn.Module):
    """Flat codes (B, D) -> displayed images (B, C, H, W) in [0, 1]: `decode_code` as the page calls it."""

    def __init__(self, model: VAE, seed: int = 0):
        super().__init__()
        self.model = model
        self.latent_shape = tuple(model.latent_shape)
        self.seed = seed

    def forward(self, code: Tensor) -> Tensor:
        return self.model.decode_code(code.reshape(-1, *self.latent_shape), seed=self.seed)


class EncoderGraph(nn.Module):
    """Images (B, C, H, W) in [0, 1] -> flat codes (B, D) (and the posterior's flat log-variance)."""

    def __init__(self, model: VAE, with_logvar: bool = False):
        super().__init__()
        if with_logvar and type(model).code_from_latent is not VAE.code_from_latent:
            raise ValueError(f"the {model.family!r} family maps its latent to the code, so the posterior's logvar is not the code's")
        self.model = model
        self.with_logvar = with_logvar

    def forward(self, image: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if not self.with_logvar:
            return self.model.encode_code(image).flatten(1)
        posterior = self.model.encode(image)
        return self.model.code_from_latent(posterior.mean).flatten(1), posterior.logvar.flatten(1)


class OptimumDecoderGraph(nn.Module):
    """Optimum's vae_decoder: unscaled latents `latent_sample` (B, *latent_shape) -> `sample` (B, C, H, W) in [-1, 1]
    (a pipeline scales its latents by 1 / scaling_factor (+ shift) first, and shows (sample + 1) / 2)."""

    def __init__(self, model: VAE, seed: int = 0):
        super().__init__()
        self.model = model
        self.seed = seed

    def forward(self, latent_sample: Tensor) -> Tensor:
        return self.model.decode_code(self.model.code_from_latent(latent_sample), seed=self.seed) * 2.0 - 1.0


class OptimumEncoderGraph(nn.Module):
    """Optimum's vae_encoder: `sample` (B, C, H, W) in [-1, 1] -> `latent_parameters` (B, 2 * C_latent, ...): the
    posterior's mean and log-variance over unscaled latents, concatenated on axis 1."""

    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def forward(self, sample: Tensor) -> Tensor:
        posterior = self.model.encode((sample + 1.0) / 2.0)
        return torch.cat([posterior.mean, posterior.logvar], dim=1)


class _FreezeGeneratorDraws(torch.overrides.TorchFunctionMode):
    """During export, run calls that draw from an explicit torch.Generator on real tensors outside the trace,
    so that their result enters the graph as a constant (torch.export cannot trace the generator's state)."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if isinstance(kwargs.get("generator"), torch.Generator):
            from torch._subclasses.fake_tensor import unset_fake_temporarily
            from torch.fx.experimental.proxy_tensor import disable_proxy_modes_tracing

            self.frozen += 1
            with unset_fake_temporarily(), disable_proxy_modes_tracing():
                return func(*args, **kwargs)
        return func(*args, **kwargs)


# -- export ----------------------------------------------------------------------------------------
def _probe_inputs(model: VAE, part: str, batch: int = PROBE_BATCH, seed: int = 0, layout: str = "page") -> Tensor:
    if part == "indices":
        return probe_indices(model, batch, seed)
    gen = torch.Generator().manual_seed(seed)
    if layout == "optimum":  # unscaled latents of prior codes; images in [-1, 1]
        if part == "decoder":
            return model.latent_from_code(torch.randn(batch, *model.latent_shape, generator=gen)).detach()
        return torch.rand(batch, *model.config.input_shape, generator=gen) * 2.0 - 1.0
    if part == "decoder":
        return torch.randn(batch, math.prod(model.latent_shape), generator=gen)  # codes drawn from the prior
    return torch.rand(batch, *model.config.input_shape, generator=gen)


def _names(part: str, with_logvar: bool) -> tuple[list[str], list[str]]:
    if part == "indices":
        return ["indices"], ["image"]
    if part == "decoder":
        return ["code"], ["image"]
    return ["image"], ["code", "logvar"] if with_logvar else ["code"]


def _run_exporter(exporter: str, graph: nn.Module, example: Tensor, path: Path, opset: int,
                  input_names: list[str], output_names: list[str]) -> int:
    """Write graph to path with one exporter; returns the number of frozen generator draws."""
    freeze = _FreezeGeneratorDraws()
    with warnings.catch_warnings(), redirect_stdout(StringIO()), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            reuse_torchlib_registry()  # torch.onnx would rebuild its ATen -> ONNX table (1.2 s) for every export
            with freeze:
                torch.onnx.export(graph, (example,), str(path), input_names=input_names, output_names=output_names,
                                  opset_version=opset, dynamo=True, external_data=False, verbose=False,
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
        elif exporter == "torchscript":
            axes = {name: {0: "batch"} for name in (*input_names, *output_names)}
            torch.onnx.export(graph, (example,), str(path), input_names=input_names, output_names=output_names,
                              opset_version=opset, dynamo=False, dynamic_axes=axes)
        elif exporter == WRAPPED:
            _wrap_native(graph, path)
        else:
            raise ValueError(f"unknown exporter {exporter!r}; choose from {EXPORTERS}")
    return freeze.frozen


def _wrap_native(graph: nn.Module, path: Path) -> None:
    """The model's own ONNX file for the graph's part, wrapped to the page's contract (explorer.onnx.wrap)."""
    model: VAE = graph.model
    part = ("decoder" if isinstance(graph, DecoderGraph) else "indices" if isinstance(graph, IndexImageGraph)
            else "encoder")
    native = model.native_onnx(part)
    if native is None:
        raise ValueError(f"the {model.family!r} family runs no ONNX {part} of its own")
    wrap_for_page(native.path, path, part, latent_shape=tuple(model.latent_shape), graph_input_shape=native.input_shape,
                  image_shape=tuple(model.config.input_shape), likelihood=model.config.likelihood,
                  value_range=native.value_range, with_logvar=part == "encoder" and graph.with_logvar)


def _session(path: Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _shape(value_info) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


# A part goes to a page only when the page can run it per frame: onnxruntime-web's single-threaded wasm must decode a
# frame within FRAME_BUDGET_S. Speeds are measured here natively on one thread; WASM_SLOWDOWN is an assumed ratio of
# onnxruntime-web's wasm (SIMD, one thread) to that, not measured here.
FRAME_BUDGET_S = 0.100
WASM_SLOWDOWN = 2.0


def frame_seconds(path: Path, info: ExportInfo, repeats: int = 2) -> float:
    """Seconds one item takes through an exported part on one CPU thread (the best of `repeats` runs after a warm-up
    run; the first run alone when it is already slow): what decides whether the page can decode it per frame."""
    import time

    import numpy as np

    session = _session(path, threads=1)
    name = info.input_names[0]
    shape = [1 if d == "batch" or not isinstance(d, int) else d for d in info.input_shapes[name]]
    dtype = np.int64 if "int64" in session.get_inputs()[0].type else np.float32  # the indices part: code 0 everywhere
    feed = {name: np.zeros(shape, dtype=dtype)}
    start = time.perf_counter()
    session.run(None, feed)  # warm-up (allocations); it is also the answer for a part too slow to time twice
    first = time.perf_counter() - start
    if first > 1.0:
        return first
    best = first
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        best = min(best, time.perf_counter() - start)
    return best


def check_file(path: Path) -> Any:
    """onnx.checker on the file, then an onnxruntime session on it (CPU, one thread); returns the session.
    Raises whatever either of them raises for a broken file."""
    import onnx

    onnx.checker.check_model(str(path), full_check=True)
    return _session(path)


def _export(model: VAE, part: str, path: str | Path, opset: int, exporters: tuple[str, ...],
            with_logvar: bool = False, layout: str = "page", metadata: dict[str, str] | None = None) -> ExportInfo:
    import onnx
    import onnxruntime

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout == "optimum":
        graph = OptimumDecoderGraph(model) if part == "decoder" else OptimumEncoderGraph(model)
        input_names, output_names = OPTIMUM_NAMES[part]
    elif part == "indices":
        if not model.capabilities().discrete_code:
            raise ValueError(f"the {model.family!r} model has no discrete code to decode from indices")
        graph = IndexImageGraph(model)
        input_names, output_names = _names(part, with_logvar)
    else:
        graph = DecoderGraph(model) if part == "decoder" else EncoderGraph(model, with_logvar)
        input_names, output_names = _names(part, with_logvar)
    device = model.device
    errors: dict[str, str] = {}
    if model.native_onnx(part) is not None:  # its own graph, as it is: no re-export through torch
        exporters = (WRAPPED, *(e for e in exporters if e != WRAPPED))
    with eval_mode(model):
        try:
            if device.type != "cpu":
                model.cpu()
            example = _probe_inputs(model, part, layout=layout)
            # a second probe the exporter never saw: a graph that traced the model's outputs as constants (a model
            # whose forward leaves torch, such as one run by onnxruntime) agrees with torch on `example` only
            fresh = _probe_inputs(model, part, seed=1, layout=layout)
            try:
                with torch.no_grad():
                    expected, expected_fresh = graph(example), graph(fresh)
            except Exception as exc:  # noqa: BLE001  (a model torch cannot run this way: a failure of this part)
                if layout != "optimum":
                    raise
                raise OnnxExportError(ExportFailure(part, model.family, {"torch": f"{type(exc).__name__}: {exc}"})) from None
            probes = [(x, [t.numpy() for t in (y if isinstance(y, tuple) else (y,))])
                      for x, y in ((example, expected), (fresh, expected_fresh))]
            for exporter in exporters:
                start = time.perf_counter()
                checked: dict[str, Any] = {}

                def export_checked(tmp: Path) -> None:
                    """Export into tmp and check it there: explorer.files swaps it in only when this returns."""
                    checked["frozen"] = _run_exporter(exporter, graph, example, tmp, opset, input_names, output_names)
                    if metadata:
                        _set_metadata(tmp, metadata)
                    session = check_file(tmp)
                    checked["diff"] = max(float(abs(g - e).max()) for x, want in probes
                                          for g, e in zip(session.run(output_names, {input_names[0]: x.numpy()}), want))
                    if not checked["diff"] <= PROBE_ATOL:  # also refuses NaN
                        raise ValueError(f"onnxruntime differs from torch by {checked['diff']:.3g} on the probe "
                                         "batches (a draw from torch's global generator, an operator exported wrongly, or a "
                                         "forward outside torch traced as constants)")
                    checked["proto"] = onnx.load(str(tmp), load_external_data=False)

                try:
                    atomic_write_with(path, export_checked)
                except Exception as exc:  # noqa: BLE001  (every exporter failure is reported, not raised)
                    errors[exporter] = f"{type(exc).__name__}: {_first_lines(str(exc))}"
                    continue
                frozen, diff, proto = checked["frozen"], checked["diff"], checked["proto"]
                declared = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
                return ExportInfo(
                    part=part, file=path.name, opset=int(declared), exporter=exporter,
                    input_names=input_names, output_names=output_names,
                    input_shapes={i.name: _shape(i) for i in proto.graph.input},
                    output_shapes={o.name: _shape(o) for o in proto.graph.output},
                    latent_shape=list(model.latent_shape), family=model.family,
                    torch_version=torch.__version__, onnx_version=onnx.__version__,
                    onnxruntime_version=onnxruntime.__version__, sha256=file_sha256(path),
                    size_bytes=path.stat().st_size, probe_max_abs_diff=diff, frozen_draws=frozen,
                    export_seconds=round(time.perf_counter() - start, 3), errors=dict(errors),
                )
        finally:
            model.to(device)
    raise OnnxExportError(ExportFailure(part, model.family, errors))


def _first_lines(text: str, limit: int = 1200) -> str:
    """The useful head of an exporter's message (torch.export's run to pages); ANSI colours removed."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def export_decoder(model: VAE, path: str | Path, opset: int = DEFAULT_OPSET,
                   exporters: tuple[str, ...] = EXPORTERS) -> ExportInfo:
    """Write `model.decode_code` as one ONNX file: input `code` (B, D) float32 flat, output `image`
    (B, C, H, W) float32 in [0, 1], dynamic batch. Tries `exporters` in order; raises OnnxExportError
    (with `.failure`) when none works. The file is replaced atomically."""
    return _export(model, "decoder", path, opset, tuple(exporters))


def export_encoder(model: VAE, path: str | Path, opset: int = DEFAULT_OPSET,
                   exporters: tuple[str, ...] = EXPORTERS, with_logvar: bool = False) -> ExportInfo:
    """Write `model.encode_code` as one ONNX file: input `image` (B, C, H, W) float32 in [0, 1], output
    `code` (B, D) flat (and `logvar` (B, D) with with_logvar). As `export_decoder` otherwise."""
    return _export(model, "encoder", path, opset, tuple(exporters), with_logvar)


# -- the cache -------------------------------------------------------------------------------------
_VERIFIED: dict[Path, tuple[int, int, str]] = {}  # files checked in this process: (mtime_ns, size, sha256)


def _verify_cached(onnx_path: Path, info_path: Path, digest: str, opset: int, with_logvar: bool) -> tuple[ExportInfo | None, str]:
    """(info, "") for a usable cached file, else (None, why it must be made again)."""
    if not onnx_path.is_file() or not info_path.is_file():
        return None, "missing"
    try:
        info = ExportInfo.from_dict(json.loads(info_path.read_text()))
    except (ValueError, TypeError) as exc:
        return None, f"corrupt: {info_path.name} is unreadable ({exc})"
    if info.digest != digest:
        return None, f"stale: exported for weights {info.digest[:12]}, not {digest[:12]}"
    if (info.opset != opset and info.exporter != WRAPPED) or info.torch_version != torch.__version__ or info.metadata_version != METADATA_VERSION:
        return None, f"stale: opset {info.opset} with torch {info.torch_version}, wanted opset {opset} with torch {torch.__version__}"
    if info.part == "encoder" and ("logvar" in info.output_names) != with_logvar:
        return None, "stale: logvar output " + ("missing" if with_logvar else "not wanted")
    stat = onnx_path.stat()
    if _VERIFIED.get(onnx_path) == (stat.st_mtime_ns, stat.st_size, info.sha256):
        return info, ""
    if stat.st_size != info.size_bytes or file_sha256(onnx_path) != info.sha256:
        reason = "corrupt: the file does not match its recorded sha256"
        # Say what a runtime makes of it, for the report: in a child process, since a damaged file may crash
        # onnxruntime in native code (explorer.onnx.trust); not kept, the file is exported again now.

        verdict = vet_onnx_file(onnx_path, keep=False)
        if not verdict.ok:
            reason += f" ({verdict.stage}: {_first_lines(verdict.problem, 300)})"
        return None, reason
    try:  # the bytes this process (or an earlier run) exported and ran: opened in-process
        check_file(onnx_path)
    except Exception as exc:  # noqa: BLE001
        return None, f"corrupt: {type(exc).__name__}: {_first_lines(str(exc), 300)}"
    _VERIFIED[onnx_path] = (stat.st_mtime_ns, stat.st_size, info.sha256)
    return info, ""


def _exported(model: VAE, part: str, digest: str, cache_dir: str | Path, opset: int,
              exporters: tuple[str, ...], with_logvar: bool = False) -> CachedExport | ExportFailure:
    if not digest or any(c in digest for c in "/\\") or digest in (".", ".."):
        raise ValueError(f"digest must be a plain folder name, got {digest!r}")
    folder = Path(cache_dir) / digest
    folder.mkdir(parents=True, exist_ok=True)
    # under a lock on the part, so that processes sharing the cache (several app servers) export it once and none
    # deletes a file that another is making; a cache it cannot lock (read-only, a finished export) is read as it is
    with exclusive_lock(folder / f"{part}.lock"):
        info, reason = _verify_cached(folder / f"{part}.onnx", folder / f"{part}.json", digest, opset, with_logvar)
        if info is not None:
            return CachedExport(folder / f"{part}.onnx", info, "cached")
        return _export_into_cache(model, part, digest, folder, opset, exporters, with_logvar, reason)


def _export_into_cache(model: VAE, part: str, digest: str, folder: Path, opset: int, exporters: tuple[str, ...],
                       with_logvar: bool, reason: str) -> CachedExport | ExportFailure:
    """`_exported`'s work once the cached file is unusable (`reason`: why), with the part's lock held."""
    onnx_path, info_path = folder / f"{part}.onnx", folder / f"{part}.json"
    failure_path = folder / f"{part}.failure.json"
    if reason == "missing" and failure_path.is_file():  # these weights failed before with this torch: no retry
        try:
            known = json.loads(failure_path.read_text())
            if known.get("torch_version") == torch.__version__ and known.get("opset") == opset:
                return ExportFailure(part, known["family"], dict(known["errors"]), known["torch_version"])
        except (ValueError, TypeError, KeyError):
            pass
    for stale in (onnx_path, info_path, failure_path):
        stale.unlink(missing_ok=True)
    _VERIFIED.pop(onnx_path, None)
    try:
        made = _export(model, part, onnx_path, opset, exporters, with_logvar)
    except OnnxExportError as exc:
        payload = {**exc.failure.to_dict(), "opset": opset, "digest": digest}
        atomic_write_bytes(failure_path, (json.dumps(payload, indent=2) + "\n").encode())
        return exc.failure
    made = ExportInfo.from_dict({**made.to_dict(), "digest": digest})
    atomic_write_bytes(info_path, (json.dumps(made.to_dict(), indent=2) + "\n").encode())
    stat = onnx_path.stat()
    _VERIFIED[onnx_path] = (stat.st_mtime_ns, stat.st_size, made.sha256)
    return CachedExport(onnx_path, made, "exported", reason)


def exported_decoder(model: VAE, digest: str, cache_dir: str | Path, opset: int = DEFAULT_OPSET,
                     exporters: tuple[str, ...] = EXPORTERS) -> CachedExport | ExportFailure:
    """The decoder's ONNX file `<cache_dir>/<digest>/decoder.onnx` (+ decoder.json), exported on first use.

    digest: a digest of the model's weights (explorer.cache.weights_digest once it lands); cache_dir: the
    model's cache folder. A cached file is reused when its JSON names this digest, opset and torch version and
    the file matches its recorded sha256, passes onnx.checker and opens in onnxruntime; otherwise it is deleted
    and exported again (`CachedExport.reason` says why). A model that cannot be exported gives an
    ExportFailure (remembered in decoder.failure.json for these weights and this torch version)."""
    return _exported(model, "decoder", digest, cache_dir, opset, tuple(exporters))


def exported_encoder(model: VAE, digest: str, cache_dir: str | Path, opset: int = DEFAULT_OPSET,
                     exporters: tuple[str, ...] = EXPORTERS, with_logvar: bool = False) -> CachedExport | ExportFailure:
    """As `exported_decoder`, for the encoder (`<cache_dir>/<digest>/encoder.onnx`)."""
    return _exported(model, "encoder", digest, cache_dir, opset, tuple(exporters), with_logvar)


def exported_indices_decoder(model: VAE, digest: str, cache_dir: str | Path, opset: int = DEFAULT_OPSET,
                             exporters: tuple[str, ...] = ("torchscript", "dynamo")) -> CachedExport | ExportFailure:
    """As `exported_decoder`, for a discrete model's decode from indices (`<cache_dir>/<digest>/indices.onnx`, the
    page's contract in explorer.onnx.discrete.IndexImageGraph). TorchScript first: torch.export cannot trace
    vector-quantize-pytorch's quantiser."""
    return _exported(model, "indices", digest, cache_dir, opset, tuple(exporters))


# -- Optimum's layout ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimumExport:
    """What `export_optimum` wrote into its folder."""

    folder: Path
    metadata: dict[str, str]  # the metadata_props of every file
    parts: dict[str, ExportInfo | ExportFailure]  # "encoder", "decoder"
    fp16: Path | None  # vae_decoder/model_fp16.onnx, or None (fp16_problem says why)
    fp16_max_abs_diff: float | None  # fp16 vs fp32 decoder on the check codes, images in [0, 1]
    fp16_problem: str = ""


def _set_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Write metadata_props (string keys and values) into an ONNX file, in place."""
    import onnx

    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {str(k): str(v) for k, v in metadata.items()})
    onnx.save(proto, str(path))


read_metadata = read_onnx_metadata  # the metadata_props of an ONNX file (explorer.models.foreign.detect's)


def optimum_metadata(model: VAE, digest: str) -> dict[str, str]:
    """What every file of the Optimum layout records: latent shape, scaling and shift (latent = code / scaling_factor
    + shift_factor), and for a model with per-channel statistics `latents_mean` / `latents_std` (JSON lists, one per
    latent channel: latent[c] = code[c] * latents_std[c] / scaling_factor + latents_mean[c], as SDXL's pipeline
    reads its config), the images' range at both ends, the weights digest."""
    scaling = model.latent_scaling()
    return {"format": OPTIMUM_FORMAT, "latent_shape": json.dumps(list(model.latent_shape)), **scaling.metadata(),
            "input_range": "[-1, 1]", "output_range": "[-1, 1]",
            "image_shape": json.dumps(list(model.config.input_shape)), "weights_digest": digest,
            "family": model.family}


def fp16_decoder(fp32_path: str | Path, out: str | Path, latents: np.ndarray) -> float:
    """onnxruntime's float16 conversion of a decoder (inputs and outputs kept float32, metadata kept) into `out`;
    returns the largest difference from the fp32 decoder over `latents` (N, ...) float32, on [0, 1] images. Raises
    whatever the conversion or onnxruntime raises for an op without fp16 support."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    half = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    atomic_write_with(out, lambda tmp: onnx.save(half, str(tmp)))
    full, reduced = _session(Path(fp32_path)), _session(Path(out))
    name = full.get_inputs()[0].name
    worst = 0.0
    for i in range(0, len(latents), 25):
        feed = {name: latents[i:i + 25].astype(np.float32)}
        a, b = full.run(None, feed)[0], reduced.run(None, feed)[0]
        worst = max(worst, float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) / 2.0)  # [-1, 1] -> [0, 1]
    return worst


def export_optimum(model: VAE, folder: str | Path, digest: str, opset: int = DEFAULT_OPSET,
                   exporters: tuple[str, ...] = EXPORTERS, fp16: bool = True,
                   check_codes: np.ndarray | None = None, condition: int | None = None) -> OptimumExport:
    """Write Optimum's layout into folder: vae_encoder/model.onnx and vae_decoder/model.onnx (Optimum's inputs and
    outputs, see OptimumDecoderGraph / OptimumEncoderGraph; dynamic batch), each with `optimum_metadata` in its
    metadata_props, and with fp16 an fp16 decoder vae_decoder/model_fp16.onnx checked against the fp32 one on
    check_codes (N, *latent_shape) in the model's code space (default: 100 prior draws, seed 0). A part no exporter
    manages is an ExportFailure in `.parts`; an fp16 conversion that fails or differs by more than FP16_TOLERANCE
    leaves no fp16 file and says why in `.fp16_problem`. A conditional model is exported under class `condition`
    (default 0), recorded in the metadata as `condition`: Optimum's graphs take no class."""
    folder = Path(folder)
    metadata = optimum_metadata(model, digest)
    if model.capabilities().condition_classes:
        metadata["condition"] = str(0 if condition is None else int(condition))
        model = with_default_condition(model, int(metadata["condition"]))
    parts: dict[str, ExportInfo | ExportFailure] = {}
    for part, name in OPTIMUM_FILES.items():
        try:
            parts[part] = _export(model, part, folder / name, opset, tuple(exporters), layout="optimum",
                                  metadata=metadata)
        except OnnxExportError as exc:
            parts[part] = exc.failure
    if not fp16 or not isinstance(parts["decoder"], ExportInfo):
        return OptimumExport(folder, metadata, parts, None, None, "" if not fp16 else "no fp32 decoder")
    if check_codes is None:
        check_codes = torch.randn(100, *model.latent_shape, generator=torch.Generator().manual_seed(0)).numpy()
    with torch.no_grad():
        codes = torch.as_tensor(np.asarray(check_codes, dtype=np.float32)).reshape(-1, *model.latent_shape)
        latents = model.latent_from_code(codes).numpy()
    target = folder / OPTIMUM_FP16
    try:
        diff = fp16_decoder(folder / OPTIMUM_FILES["decoder"], target, latents)
    except Exception as exc:  # noqa: BLE001  (the op that blocks fp16 is reported, not raised)
        target.unlink(missing_ok=True)
        return OptimumExport(folder, metadata, parts, None, None, f"{type(exc).__name__}: {_first_lines(str(exc), 400)}")
    if not diff <= FP16_TOLERANCE:
        target.unlink(missing_ok=True)
        return OptimumExport(folder, metadata, parts, None, diff,
                             f"the fp16 decoder differs from fp32 by {diff:.4f} (over {FP16_TOLERANCE:.4f}) on [0, 1]")
    return OptimumExport(folder, metadata, parts, target, diff)


__all__ = [
    "CachedExport", "DEFAULT_OPSET", "EXPORTERS", "ExportFailure", "ExportInfo", "FP16_TOLERANCE", "OPTIMUM_FILES",
    "OPTIMUM_FORMAT", "OPTIMUM_FP16", "OnnxExportError", "OptimumExport", "export_optimum", "fp16_decoder",
    "optimum_metadata", "read_metadata",
    "check_file", "export_decoder", "frame_seconds", "export_encoder", "exported_decoder", "exported_encoder",
    "exported_indices_decoder",
]
