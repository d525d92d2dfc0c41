"""ONNX export of decoders and encoders: onnxruntime against torch per family, the digest-keyed cache, failures."""

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.onnx import export as onnx_export
from explorer.checkpoint import from_pretrained
from explorer.models import build_model
from explorer.onnx.export import (
    DEFAULT_OPSET,
    CachedExport,
    ExportFailure,
    OnnxExportError,
    check_file,
    export_decoder,
    export_encoder,
    exported_decoder,
    exported_encoder,
)

PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained"
SHIPPED = sorted(p.name for p in PRETRAINED.iterdir() if (p / "config.json").is_file()) if PRETRAINED.is_dir() else []


def weights_digest(model: torch.nn.Module) -> str:
    """Stand-in for explorer.cache.weights_digest: sha256 over the state dict's names and bytes."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode() + t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def tiny(kind: str):
    torch.manual_seed(0)
    if kind == "mlp":
        return build_model("mlp", input_shape=(1, 12, 12), latent_dim=3, hidden_sizes=(32, 16)).eval()
    if kind == "conv-bernoulli":
        return build_model("conv", input_shape=(1, 12, 12), latent_dim=4, channels=(8, 16), hidden_dim=32).eval()
    if kind == "conv-gaussian":
        return build_model("conv", input_shape=(3, 10, 10), latent_dim=4, channels=(8, 16), hidden_dim=0,
                           likelihood="gaussian").eval()
    if kind == "vaegan":  # the conv family's decoder inside the VAE/GAN, a discriminator beside it (not exported)
        return build_model("vaegan", input_shape=(1, 12, 12), latent_dim=4, channels=(8, 16), hidden_dim=32,
                           dis_channels=(4, 8), dis_hidden=8).eval()
    pu = dict(input_shape=(3, 10, 11), channels=(3, 4), kernel_sizes=(3, 3), pool_sizes=(3,), dec_kernel_sizes=(3, 3),
              location_scale_init=0.5)  # 10x11 with 3x3 blocks: padded edge blocks
    if kind == "pu":
        return build_model("pu", **pu).eval()
    if kind == "pu-fixed-seed":  # one-hot display locations from a seed, mlp location logits
        return build_model("pu", **pu, display_unpool="fixed-seed", display_seed=3, location_logits="mlp").eval()
    raise ValueError(kind)


FAMILIES = ["mlp", "conv-bernoulli", "conv-gaussian", "pu", "pu-fixed-seed", "vaegan"]


def session(path):
    return check_file(path)


def assert_parity(got: np.ndarray, want: torch.Tensor) -> float:
    want = want.numpy()
    assert got.shape == want.shape and got.dtype == np.float32
    diff = float(np.abs(got - want).max())
    assert diff <= 1e-5, diff
    as_bytes = lambda a: np.round(255 * np.clip(a, 0, 1)).astype(np.int16)  # noqa: E731
    assert np.abs(as_bytes(got) - as_bytes(want)).max() <= 1
    return diff


def decoder_parity(model, path: Path, batches=(1, 5), scale=1.5) -> float:
    sess = session(path)
    gen = torch.Generator().manual_seed(1)
    worst = 0.0
    for b in batches:
        code = scale * torch.randn(b, math.prod(model.latent_shape), generator=gen)
        with torch.no_grad():
            want = model.decode_code(code.view(b, *model.latent_shape))
        (got,) = sess.run(["image"], {"code": code.numpy()})
        assert got.min() >= 0 and got.max() <= 1
        worst = max(worst, assert_parity(got, want))
    return worst


def encoder_parity(model, path: Path, batches=(1, 5), images=None) -> float:
    sess = session(path)
    gen = torch.Generator().manual_seed(2)
    worst = 0.0
    for b in batches:
        x = torch.rand(b, *model.config.input_shape, generator=gen) if images is None else images[:b]
        with torch.no_grad():
            want = model.encode_code(x).flatten(1)
        (got,) = sess.run(["code"], {"image": x.numpy()})
        diff = float(np.abs(got - want.numpy()).max())
        assert got.shape == tuple(want.shape) and diff <= 1e-5, diff
        worst = max(worst, diff)
    return worst


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Each tiny family's decoder and encoder, exported once for the module."""
    root = tmp_path_factory.mktemp("onnx")
    out = {}
    for kind in FAMILIES:
        model = tiny(kind)
        out[kind] = (model, export_decoder(model, root / f"{kind}-decoder.onnx"),
                     export_encoder(model, root / f"{kind}-encoder.onnx"), root)
    return out


@pytest.mark.parametrize("kind", FAMILIES)
def test_decoder_matches_torch(exports, kind):
    model, info, _, root = exports[kind]
    assert info.exporter == "dynamo" and info.opset == DEFAULT_OPSET and not info.errors
    assert info.input_names == ["code"] and info.output_names == ["image"]
    assert info.input_shapes["code"] == ["batch", math.prod(model.latent_shape)]
    assert info.output_shapes["image"] == ["batch", *model.config.input_shape]
    decoder_parity(model, root / info.file)


@pytest.mark.parametrize("kind", FAMILIES)
def test_encoder_matches_torch(exports, kind):
    model, _, info, root = exports[kind]
    assert info.exporter == "dynamo" and info.input_names == ["image"] and info.output_names == ["code"]
    encoder_parity(model, root / info.file)


def test_export_is_one_self_contained_file(exports):
    import onnx

    model, info, _, root = exports["conv-gaussian"]
    files = sorted(p.name for p in root.iterdir() if p.name.startswith("conv-gaussian-decoder"))
    assert files == ["conv-gaussian-decoder.onnx"]  # no .data file beside it
    proto = onnx.load(str(root / info.file), load_external_data=False)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    assert info.size_bytes == (root / info.file).stat().st_size


def test_pu_fixed_seed_draws_are_frozen_constants(exports):
    model, dec, enc, _ = exports["pu-fixed-seed"]
    assert dec.frozen_draws >= 1  # the display locations' seeded draw
    assert enc.frozen_draws >= 1  # the fixed-seed pooling noise


def test_encoder_with_logvar(tmp_path):
    model = tiny("conv-bernoulli")
    info = export_encoder(model, tmp_path / "enc.onnx", with_logvar=True)
    assert info.output_names == ["code", "logvar"]
    x = torch.rand(3, *model.config.input_shape)
    code, logvar = session(tmp_path / "enc.onnx").run(None, {"image": x.numpy()})
    with torch.no_grad():
        post = model.encode(x)
    assert np.abs(code - post.mean.numpy()).max() <= 1e-5
    assert np.abs(logvar - post.logvar.numpy()).max() <= 1e-5


def test_torchscript_exporter_alone(tmp_path):
    model = tiny("mlp")
    info = export_decoder(model, tmp_path / "dec.onnx", exporters=("torchscript",))
    assert info.exporter == "torchscript"
    decoder_parity(model, tmp_path / "dec.onnx")


def test_fallback_records_the_first_exporters_error(tmp_path, monkeypatch):
    real = onnx_export._run_exporter

    def broken_dynamo(exporter, *args, **kwargs):
        if exporter == "dynamo":
            raise RuntimeError("simulated torch.export failure")
        return real(exporter, *args, **kwargs)

    monkeypatch.setattr(onnx_export, "_run_exporter", broken_dynamo)
    model = tiny("mlp")
    info = export_decoder(model, tmp_path / "dec.onnx")
    assert info.exporter == "torchscript"
    assert "simulated torch.export failure" in info.errors["dynamo"]


class NoisyDecoder(torch.nn.Module):
    """A decoder that draws from torch's global generator: hidden randomness, which no export may bake in."""

    def __init__(self, model):
        super().__init__()
        self.inner = model
        self.family = "noisy"
        self.config = model.config
        self.latent_shape = model.latent_shape

    @property
    def device(self):
        return self.inner.device

    def native_onnx(self, part):
        return None  # the VAE interface's default: exported from torch

    def decode_code(self, code, seed=0):
        out = self.inner.decode_code(code)
        return (out + 0.1 * torch.rand_like(out)).clamp(0, 1)


def test_undeterministic_decoder_gives_a_failure(tmp_path):
    model = NoisyDecoder(tiny("mlp"))
    with pytest.raises(OnnxExportError) as caught:
        export_decoder(model, tmp_path / "dec.onnx")
    assert set(caught.value.failure.errors) == {"dynamo", "torchscript"}
    assert not (tmp_path / "dec.onnx").exists() and not list(tmp_path.glob(".*tmp"))
    result = exported_decoder(model, "d1", tmp_path / "cache")
    assert isinstance(result, ExportFailure) and "probe" in result.message
    again = exported_decoder(model, "d1", tmp_path / "cache")  # remembered: no second attempt
    assert isinstance(again, ExportFailure) and again.errors == result.errors


# -- the cache -------------------------------------------------------------------------------------
FAST = ("torchscript",)  # the cache logic is the same for every exporter; this one takes a tenth of the time
def test_cache_exports_once_then_reuses(tmp_path):
    model = tiny("mlp")
    digest = weights_digest(model)
    first = exported_decoder(model, digest, tmp_path, exporters=FAST)
    assert isinstance(first, CachedExport) and first.status == "exported" and first.reason == "missing"
    assert first.path == tmp_path / digest / "decoder.onnx"
    meta = json.loads((tmp_path / digest / "decoder.json").read_text())
    assert meta["digest"] == digest and meta["opset"] == DEFAULT_OPSET and meta["exporter"] == "torchscript"
    assert meta["torch_version"] == torch.__version__ and meta["input_names"] == ["code"]
    onnx_export._VERIFIED.clear()  # a fresh process: the file is checked again, not re-exported
    second = exported_decoder(model, digest, tmp_path, exporters=FAST)
    assert second.status == "cached" and second.info == first.info
    assert not list((tmp_path / digest).glob(".*tmp"))


def test_two_exporters_sharing_a_cache_export_once(tmp_path):
    """Two callers at once (as two app servers on one cache folder): one exports under the part's lock, the other
    waits and then reads that file as cached, so neither removes the file the other is making."""
    from concurrent.futures import ThreadPoolExecutor

    model = tiny("mlp")
    digest = weights_digest(model)
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda _: exported_decoder(model, digest, tmp_path, exporters=FAST), range(2)))
    assert sorted(g.status for g in got) == ["cached", "exported"]
    assert got[0].path == got[1].path and got[0].info == got[1].info
    decoder_parity(model, got[0].path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "json"])
def test_corrupt_cached_file_is_reexported(tmp_path, damage):
    model = tiny("conv-bernoulli")
    digest = weights_digest(model)
    made = exported_decoder(model, digest, tmp_path, exporters=FAST)
    path = made.path
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(Exception):
            check_file(path)
    elif damage == "flip":  # same size, still parses: only the recorded sha256 tells
        i = len(data) - 100
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    else:
        (path.parent / "decoder.json").write_text("{ not json")
    again = exported_decoder(model, digest, tmp_path, exporters=FAST)
    assert again.status == "exported" and again.reason.startswith("corrupt"), again.reason
    if damage == "truncate":  # the damaged file was opened in a child process only (explorer.onnx.trust)
        assert "(checker: is not a valid ONNX model" in again.reason, again.reason
    decoder_parity(model, again.path)


def test_changed_weights_digest_reexports(tmp_path):
    model = tiny("mlp")
    old = weights_digest(model)
    first = exported_decoder(model, old, tmp_path, exporters=FAST)
    with torch.no_grad():
        model.to_pixels.bias.add_(0.5)
    new = weights_digest(model)
    assert new != old
    second = exported_decoder(model, new, tmp_path, exporters=FAST)
    assert second.status == "exported" and second.path == tmp_path / new / "decoder.onnx"
    decoder_parity(model, second.path)  # the new weights, not the old file
    assert first.path.is_file()  # the old digest's export stays for its own weights
    # a folder whose JSON names other weights (copied, renamed) is stale
    (tmp_path / "renamed").mkdir()
    for name in ("decoder.onnx", "decoder.json"):
        (tmp_path / "renamed" / name).write_bytes((tmp_path / old / name).read_bytes())
    third = exported_decoder(model, "renamed", tmp_path, exporters=FAST)
    assert third.status == "exported" and third.reason.startswith("stale")


def test_cached_encoder(tmp_path):
    model = tiny("pu")
    made = exported_encoder(model, "e1", tmp_path)
    assert made.path == tmp_path / "e1" / "encoder.onnx" and made.info.output_names == ["code"]
    encoder_parity(model, made.path)
    assert exported_encoder(model, "e1", tmp_path).status == "cached"


def test_bad_digest_is_refused(tmp_path):
    with pytest.raises(ValueError, match="plain folder name"):
        exported_decoder(tiny("mlp"), "../x", tmp_path)


# -- shipped models --------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_match_torch(tmp_path, name):
    model = from_pretrained(PRETRAINED / name)
    if model.capabilities().condition_classes:  # the page exports a conditional model under the sidebar's class
        from explorer.models.blocks.conditioning import with_default_condition

        model = with_default_condition(model, 3)
    dec = export_decoder(model, tmp_path / "decoder.onnx")
    enc = export_encoder(model, tmp_path / "encoder.onnx")
    # the class-conditional view, and the VQ encoder's nearest-code search, trace with TorchScript (dynamo fails on
    # them); every other family with dynamo
    expected = ("dynamo", "torchscript") if name.startswith(("cvae", "vq-")) else ("dynamo",)
    assert dec.exporter in expected and enc.exporter in expected
    # a batch of 16 for the small models; 2 for a model of large images (the student: 512 px, a 4x128x128 latent),
    # whose batch dimension is just as dynamic and whose parity checks would otherwise take most of the suite's minute
    batch = 16 if math.prod(model.config.input_shape) <= 3 * 64 * 64 else 2
    decoder_parity(model, tmp_path / "decoder.onnx", batches=(1, batch), scale=1.0)
    decoder_parity(model, tmp_path / "decoder.onnx", batches=(1,), scale=3.0)
    encoder_parity(model, tmp_path / "encoder.onnx", batches=(1, batch))
