"""An ONNX encoder/decoder pair as an explorer `VAE`, run by onnxruntime on the CPU (eval only, not differentiable).

The folder holds three files:

- `encoder.onnx`: one input, images (B, C, H, W) in `value_range`; two outputs, in this order: the posterior
  mean and log-variance, each (B, *latent_shape).
- `decoder.onnx`: one input, codes (B, *latent_shape) (any shape with the same number of values per item);
  one output: logits (B, C, H, W) when likelihood is "bernoulli", images in `value_range` when "gaussian".
- `onnx_vae.json`:

      {
        "input_shape": [1, 28, 28],     required: (C, H, W) of the images
        "likelihood": "bernoulli",      required: "bernoulli" (decoder gives logits) or "gaussian" (images)
        "value_range": [0, 1],          optional, [0, 1] (default) or [-1, 1]: the range both graphs use
        "sigma": 0.1,                   optional, gaussian only: fixed std of p(x | z) on [0, 1] images
        "latent_shape": [16],           optional: else read from encoder.onnx (or a trial run)
        "class_names": ["0", "1"],      optional: names of the data's classes
        "name": "my vae"                optional: shown in the model picker
        "code": {"kind": "discrete", "codebook_size": 512, "grid": [7, 7], "stride": 4}
                                        optional: a discrete code (see below)
      }

A discrete pair (`code.kind` "discrete") has an encoder giving one output, the code indices (B, h, w) (integers),
and a decoder taking integer indices (B, h, w); explorer.onnx.discrete writes such a pair for a vqvae or fsq model.

Everything is checked on load (files present, `onnx.checker`, input and output counts, shapes by a one-item
trial run), and each failure names the file and the problem. A file not yet trusted is first checked, opened
and run once in a child process (explorer.onnx.trust), so that a graph crashing onnxruntime in native code
cannot take the app down; the verdict is kept by the file's sha256. The batch axis may be dynamic or fixed; a fixed
batch is run in padded chunks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from explorer.distributions import DiagonalGaussian, Likelihood
from explorer.models.base import Capabilities, CodeLevel, NativeOnnx, VAEConfig, check_code_indices
from explorer.models.blocks.discrete import QuantisedCode
from explorer.models.foreign.common import ForeignConfig, ForeignVAE
from explorer.models.foreign.detect import ONNX_DECODER, ONNX_ENCODER, ONNX_SPEC, read_small_json
from explorer.models.foreign.errors import ForeignModelError
from explorer.onnx.trust import OnnxVetter, UntrustedOnnxError, require_trusted_onnx

SPEC_KEYS = {"input_shape", "likelihood", "value_range", "sigma", "latent_shape", "class_names", "name", "code"}
INTEGER_TYPES = ("tensor(int64)", "tensor(int32)")


def _int_list(value: Any, key: str, path: Path) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and v > 0 for v in value):
        raise ForeignModelError(f"{path}: {key!r} must be a list of positive integers, got {value!r}")
    return tuple(value)


def read_onnx_spec(folder: str | Path) -> dict[str, Any]:
    """onnx_vae.json of an ONNX pair folder, checked; ForeignModelError names the file and the bad key."""
    path = Path(folder) / ONNX_SPEC
    spec = read_small_json(path)
    if not isinstance(spec, dict):
        raise ForeignModelError(f"{path} must hold a JSON object")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ForeignModelError(f"{path}: unknown key(s) {unknown}; known: {sorted(SPEC_KEYS)}")
    for key in ("input_shape", "likelihood"):
        if key not in spec:
            raise ForeignModelError(f"{path}: {key!r} is missing")
    out: dict[str, Any] = {"input_shape": _int_list(spec["input_shape"], "input_shape", path)}
    if len(out["input_shape"]) != 3:
        raise ForeignModelError(f"{path}: 'input_shape' must be [C, H, W], got {spec['input_shape']}")
    if spec["likelihood"] not in ("bernoulli", "gaussian"):
        raise ForeignModelError(f"{path}: 'likelihood' must be \"bernoulli\" or \"gaussian\", got {spec['likelihood']!r}")
    out["likelihood"] = spec["likelihood"]
    value_range = spec.get("value_range", [0, 1])
    if value_range not in ([0, 1], [-1, 1]):
        raise ForeignModelError(f"{path}: 'value_range' must be [0, 1] or [-1, 1], got {value_range!r}")
    out["value_range"] = tuple(float(v) for v in value_range)
    sigma = spec.get("sigma", 0.1)
    if not isinstance(sigma, (int, float)) or not sigma > 0:
        raise ForeignModelError(f"{path}: 'sigma' must be a positive number, got {sigma!r}")
    out["sigma"] = float(sigma)
    if "latent_shape" in spec:
        out["latent_shape"] = _int_list(spec["latent_shape"], "latent_shape", path)
    names = spec.get("class_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ForeignModelError(f"{path}: 'class_names' must be a list of strings")
    out["class_names"] = tuple(names)
    out["name"] = str(spec.get("name", Path(folder).name))
    if "code" in spec:
        out["code"] = _code_spec(spec["code"], path)
    return out


def _code_spec(code: Any, path: Path) -> dict[str, Any]:
    """onnx_vae.json's "code" entry, checked: {"kind": "discrete", "codebook_size", "grid", "stride"}."""
    if not isinstance(code, dict) or code.get("kind") != "discrete":
        raise ForeignModelError(f"{path}: 'code' must be {{\"kind\": \"discrete\", \"codebook_size\": K, \"grid\": "
                                f"[h, w], \"stride\": s}}, got {code!r}")
    unknown = sorted(set(code) - {"kind", "codebook_size", "grid", "stride"})
    if unknown:
        raise ForeignModelError(f"{path}: unknown key(s) {unknown} in 'code'; known: codebook_size, grid, kind, stride")
    size, stride = code.get("codebook_size"), code.get("stride", 1)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ForeignModelError(f"{path}: 'code.codebook_size' must be a positive integer, got {size!r}")
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ForeignModelError(f"{path}: 'code.stride' must be a positive integer, got {stride!r}")
    grid = _int_list(code.get("grid"), "code.grid", path)
    if len(grid) != 2:
        raise ForeignModelError(f"{path}: 'code.grid' must be [h, w], got {list(grid)}")
    return {"kind": "discrete", "codebook_size": size, "grid": grid, "stride": stride}


def check_graph(path: Path, hint: tuple[int, ...] | None, vetter: Any) -> Any:
    """The file exists and was vetted in a child process (onnx.checker, an onnxruntime session, one run on
    zeros of shape hint) before this process opens it; returns the verdict (its trial run's output shapes)."""
    if not path.is_file():
        raise ForeignModelError(f"{path} is missing: an ONNX pair folder needs {ONNX_ENCODER} and {ONNX_DECODER} "
                                f"beside {ONNX_SPEC}")
    try:
        return require_trusted_onnx(path, hint, vetter=vetter)
    except UntrustedOnnxError as exc:
        raise ForeignModelError(str(exc)) from None


def _session(path: Path, sha256: str) -> Any:
    """An in-process onnxruntime session on the bytes `check_graph` vetted (sha256): read once, compared, then
    opened from memory, so a file swapped after its check is refused; external data is never read."""
    import hashlib

    import onnxruntime as ort

    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ForeignModelError(f"{path} changed after it was checked; load it again")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own pybind classes)
        raise ForeignModelError(f"{path}: onnxruntime cannot run it: {exc}") from None


def _static(dims: list[Any]) -> tuple[int, ...] | None:
    """The non-batch dims of a graph input/output when all are fixed integers, else None."""
    rest = dims[1:]
    return tuple(rest) if rest and all(isinstance(d, int) for d in rest) else None


class OnnxGraph:
    """One onnxruntime session with its input's dtype and fixed batch size (None when dynamic)."""

    def __init__(self, path: Path, sha256: str, integer_input: bool = False):
        import onnx

        self.path = path
        self.session = _session(path, sha256)  # sha256: of the bytes check_graph vetted
        node = self.session.get_inputs()[0]
        self.input_dims = list(node.shape)
        self.batch = node.shape[0] if isinstance(node.shape[0], int) and node.shape[0] > 0 else None
        if integer_input:  # a discrete decoder reads code indices
            if node.type not in INTEGER_TYPES:
                raise ForeignModelError(f"{path}: {ONNX_SPEC} declares discrete codes, but this decoder's input "
                                        f"{node.name!r} has type {node.type}: a discrete decoder takes integer code "
                                        "indices (B, h, w), tensor(int64) or tensor(int32)")
            self.dtype = np.int64 if node.type == "tensor(int64)" else np.int32
            return
        proto_type = {"tensor(float)": onnx.TensorProto.FLOAT, "tensor(float16)": onnx.TensorProto.FLOAT16,
                      "tensor(double)": onnx.TensorProto.DOUBLE}.get(node.type)
        if proto_type is None:
            raise ForeignModelError(f"{path}: its input {node.name!r} has type {node.type}; a float input is needed")
        self.dtype = onnx.helper.tensor_dtype_to_np_dtype(proto_type)

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        """Outputs for a batch (B, ...), chunked and zero-padded when the graph's batch is fixed."""
        name = self.session.get_inputs()[0].name
        array = array.astype(self.dtype, copy=False)
        try:
            if self.batch is None:
                return [np.asarray(o) if o.dtype.kind in "iu" else np.asarray(o, dtype=np.float32)
                        for o in self.session.run(None, {name: array})]
            parts = []
            for start in range(0, array.shape[0], self.batch):
                chunk = array[start:start + self.batch]
                pad = self.batch - chunk.shape[0]
                if pad:
                    chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
                parts.append([o[:self.batch - pad] for o in self.session.run(None, {name: chunk})])
            return [np.concatenate(outs) if outs[0].dtype.kind in "iu" else np.concatenate(outs).astype(np.float32)
                    for outs in zip(*parts)]
        except Exception as exc:  # noqa: BLE001
            raise ForeignModelError(f"{self.path}: onnxruntime failed on input of shape {array.shape}: {exc}") from None


class OnnxPairVAE(ForeignVAE):
    """An encoder.onnx / decoder.onnx pair; tensors cross to numpy on the CPU and come back on `device`."""

    family = "onnx_pair"
    config_class = ForeignConfig

    def __init__(self, config: ForeignConfig, encoder: OnnxGraph, decoder: OnnxGraph, decoder_input: tuple[int, ...]):
        super().__init__(config)
        self.encoder_graph, self.decoder_graph = encoder, decoder
        self.decoder_input = decoder_input  # the decoder's own per-item input shape

    @classmethod
    def from_config(cls, config: VAEConfig, folder: Path | None = None) -> "OnnxPairVAE":
        if not isinstance(config, ForeignConfig):
            raise TypeError(f"{type(config).__name__} is not a ForeignConfig")
        return load_onnx_pair(Path(folder or config.source))

    def native_onnx(self, part: str) -> NativeOnnx | None:
        """Its own encoder.onnx / decoder.onnx: the page gets these as they are (explorer.onnx.wrap)."""
        if part == "decoder":
            return NativeOnnx(self.decoder_graph.path, tuple(self.decoder_input), tuple(self.config.value_range))
        if part == "encoder":
            return NativeOnnx(self.encoder_graph.path, tuple(self.config.input_shape), tuple(self.config.value_range))
        return None

    @torch.no_grad()
    def encode(self, x: Tensor) -> DiagonalGaussian:
        """Images (B, C, H, W) in [0, 1] -> q(z | x) with mean and log-variance (B, *latent_shape)."""
        array = self.to_model_range(x).detach().to("cpu", torch.float32).numpy()
        mean, logvar = self.encoder_graph.run(array)[:2]
        shape = (x.shape[0], *self.latent_shape)
        return DiagonalGaussian(torch.from_numpy(mean).reshape(shape).to(x.device),
                                torch.from_numpy(logvar).reshape(shape).to(x.device))

    @torch.no_grad()
    def decode(self, z: Tensor) -> Likelihood:
        """Codes (B, *latent_shape) -> p(x | z) over images (B, C, H, W) in [0, 1]."""
        array = z.detach().to("cpu", torch.float32).reshape(z.shape[0], *self.decoder_input).numpy()
        out = torch.from_numpy(self.decoder_graph.run(array)[0]).to(z.device)
        return self.likelihood_from_output(out)


def _latent_shape(spec: dict[str, Any], encoder: OnnxGraph) -> tuple[int, ...]:
    """From onnx_vae.json, else the encoder's mean output, else a one-item trial run of the encoder."""
    if "latent_shape" in spec:
        return spec["latent_shape"]
    from_graph = _static(list(encoder.session.get_outputs()[0].shape))
    if from_graph is not None:
        return from_graph
    mean = encoder.run(np.zeros((1, *spec["input_shape"]), np.float32))[0]
    return tuple(mean.shape[1:])


def load_onnx_pair(folder: str | Path, device: torch.device | str = "cpu") -> OnnxPairVAE:
    """An ONNX pair folder as an `OnnxPairVAE` (its outputs land on device; the graphs always run on the CPU)."""
    folder = Path(folder)
    spec = read_onnx_spec(folder)
    if "code" in spec:
        return load_discrete_pair(folder, spec, device)
    enc_path, dec_path = folder / ONNX_ENCODER, folder / ONNX_DECODER

    # Vet both graphs in one child process before this one opens them; the decoder's trial code has the
    # latent shape the encoder's trial run gave (or onnx_vae.json's).
    with OnnxVetter() as vetter:
        enc_verdict = check_graph(enc_path, (1, *spec["input_shape"]), vetter)
        trial_latent = spec.get("latent_shape") or tuple((enc_verdict.output_shapes or [[1]])[0][1:])
        dec_verdict = check_graph(dec_path, (1, *trial_latent), vetter)
    encoder, decoder = OnnxGraph(enc_path, enc_verdict.sha256), OnnxGraph(dec_path, dec_verdict.sha256)
    if len(encoder.session.get_inputs()) != 1 or len(encoder.session.get_outputs()) < 2:
        raise ForeignModelError(f"{enc_path} must take one input (images) and give two outputs (mean, log-variance), "
                                f"it has {len(encoder.session.get_inputs())} and {len(encoder.session.get_outputs())}")
    if len(decoder.session.get_inputs()) != 1 or len(decoder.session.get_outputs()) != 1:
        raise ForeignModelError(f"{dec_path} must take one input (codes) and give one output, it has "
                                f"{len(decoder.session.get_inputs())} and {len(decoder.session.get_outputs())}")
    image_dims = _static(encoder.input_dims)
    if image_dims is not None and image_dims != spec["input_shape"]:
        raise ForeignModelError(f"{enc_path} reads images of shape {list(image_dims)}, but {ONNX_SPEC} says "
                                f"input_shape {list(spec['input_shape'])}")
    latent = _latent_shape(spec, encoder)
    source = "onnx_vae.json" if "latent_shape" in spec else "encoder.onnx"
    decoder_input = _static(decoder.input_dims) or latent
    if math.prod(decoder_input) != math.prod(latent):
        raise ForeignModelError(f"{dec_path} takes codes of size {math.prod(decoder_input)} (shape {list(decoder_input)}), "
                                f"but {source} gives latents of size {math.prod(latent)} (shape {list(latent)})")
    # A one-item trial run checks what static shapes cannot (dynamic graphs, wrong output sizes).
    mean, logvar = encoder.run(np.zeros((1, *spec["input_shape"]), np.float32))[:2]
    if mean.size != math.prod(latent) or logvar.size != math.prod(latent):
        raise ForeignModelError(f"{enc_path} gives mean / log-variance of shapes {list(mean.shape)} / "
                                f"{list(logvar.shape)} per image, but {source} gives latent shape {list(latent)}")
    image = decoder.run(np.zeros((1, *decoder_input), np.float32))[0]
    if image.size != math.prod(spec["input_shape"]):
        raise ForeignModelError(f"{dec_path} gives outputs of shape {list(image.shape)}, but {ONNX_SPEC} says "
                                f"input_shape {list(spec['input_shape'])}")
    config = ForeignConfig(input_shape=spec["input_shape"], likelihood=spec["likelihood"], latent_shape=latent,
                           value_range=spec["value_range"], sigma=spec["sigma"], class_names=spec["class_names"],
                           source=str(folder))
    model = OnnxPairVAE(config, encoder, decoder, decoder_input)
    return model.to(torch.device(device)).eval()


class OnnxDiscretePairVAE(ForeignVAE):
    """An index encoder / decoder ONNX pair: a one-level grid of code indices. Its code (`encode(x).mean`) is the
    index grid as floats (B, 1, h, w): the pair holds no code vectors, so `codebook()` refuses."""

    family = "onnx_discrete_pair"
    config_class = ForeignConfig
    code_name = "code indices"
    posterior_name = "one-hot (the encoder's index), uniform prior over the codes: KL = log K per cell"

    def __init__(self, config: ForeignConfig, encoder: OnnxGraph, decoder: OnnxGraph, level: CodeLevel):
        super().__init__(config)
        self.encoder_graph, self.decoder_graph, self.level = encoder, decoder, level

    @classmethod
    def config_capabilities(cls, config: VAEConfig) -> Capabilities:
        return Capabilities(trainable=False, spatial_code=True, discrete_code=True)

    def code_levels(self) -> tuple[CodeLevel, ...]:
        return (self.level,)

    def codebook(self, level: int = 0) -> Tensor:
        raise ValueError("an ONNX index pair holds no code vectors: its decoder reads indices only")

    def native_onnx(self, part: str) -> NativeOnnx | None:
        """Its own decoder.onnx (integer grids (B, h, w) in) for the page's decode from indices (explorer.onnx.wrap,
        part "indices"); nothing else is sent as it is."""
        if part == "indices":
            return NativeOnnx(self.decoder_graph.path, tuple(self.level.grid), tuple(self.config.value_range))
        return None

    @torch.no_grad()
    def encode_indices(self, x: Tensor) -> list[Tensor]:
        array = self.to_model_range(x).detach().to("cpu", torch.float32).numpy()
        indices = torch.from_numpy(self.encoder_graph.run(array)[0].astype(np.int64)).to(x.device)
        return [indices.reshape(x.shape[0], *self.level.grid)]

    def encode(self, x: Tensor) -> QuantisedCode:
        kl = math.prod(self.level.grid) * math.log(self.level.codebook_size)
        return QuantisedCode(self.encode_indices(x)[0].unsqueeze(1).float(), kl)

    @torch.no_grad()
    def decode(self, z: Tensor) -> Likelihood:
        """Index grids as floats (B, 1, h, w) (rounded) -> p(x | z)."""
        return self._decode_checked(check_code_indices(z.round().long().reshape(z.shape[0], *self.level.grid),
                                                       (self.level,))[0])

    def _decode_checked(self, indices: Tensor) -> Likelihood:
        out = torch.from_numpy(self.decoder_graph.run(indices.cpu().numpy())[0]).to(indices.device)
        return self.likelihood_from_output(out)

    @torch.no_grad()
    def decode_indices(self, indices: Tensor | Sequence[Tensor], levels: Sequence[int] | None = None) -> Tensor:
        if levels is not None and list(levels) != [0]:
            raise ValueError(f"levels {list(levels)} do not exist: an ONNX index pair has one level (0)")
        return self._decode_checked(check_code_indices(indices, (self.level,))[0].to(self.device)).mean

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        idx = torch.randint(0, self.level.codebook_size, (n, *self.level.grid), generator=generator)
        return self.decode_indices(idx)


def load_discrete_pair(folder: Path, spec: dict[str, Any], device: torch.device | str = "cpu") -> OnnxDiscretePairVAE:
    """A discrete ONNX pair (onnx_vae.json with "code"), checked like any pair: the encoder gives one integer output
    (B, h, w) and the decoder takes integer indices; each mismatch is named."""
    code = spec["code"]
    enc_path, dec_path = folder / ONNX_ENCODER, folder / ONNX_DECODER
    with OnnxVetter() as vetter:
        enc_verdict = check_graph(enc_path, (1, *spec["input_shape"]), vetter)
        dec_verdict = check_graph(dec_path, (1, *code["grid"]), vetter)
    encoder = OnnxGraph(enc_path, enc_verdict.sha256)
    decoder = OnnxGraph(dec_path, dec_verdict.sha256, integer_input=True)
    indices = encoder.run(np.zeros((1, *spec["input_shape"]), np.float32))[0]
    if indices.dtype.kind not in "iu" or indices.size != math.prod(code["grid"]):
        raise ForeignModelError(f"{enc_path} gives {indices.dtype} outputs of shape {list(indices.shape)} per image, but "
                                f"{ONNX_SPEC} declares a discrete code: integer indices on a {code['grid'][0]}x"
                                f"{code['grid'][1]} grid")
    image = decoder.run(np.zeros((1, *code["grid"]), decoder.dtype))[0]
    if image.size != math.prod(spec["input_shape"]):
        raise ForeignModelError(f"{dec_path} gives outputs of shape {list(image.shape)}, but {ONNX_SPEC} says "
                                f"input_shape {list(spec['input_shape'])}")
    grid = tuple(code["grid"])
    config = ForeignConfig(input_shape=spec["input_shape"], likelihood=spec["likelihood"], latent_shape=(1, *grid),
                           value_range=spec["value_range"], sigma=spec["sigma"], class_names=spec["class_names"],
                           source=str(folder))
    side = max(spec["input_shape"][1:])
    # the receptive field of a foreign encoder is unknown: the whole image (see CodeLevel)
    level = CodeLevel("code", grid, code["stride"], 2 * side, side, 1, code["codebook_size"], learned_codebook=False)
    return OnnxDiscretePairVAE(config, encoder, decoder, level).to(torch.device(device)).eval()
