"""detect_format and describe_model_path: file names and small JSON only; pickles refused with the way out."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

import pytest

from explorer.models.foreign import ForeignModelError, describe_model_path, detect_format
from tests.support.foreign_models import REPO

ACCEPTED = r"Accepted formats: a native explorer folder.*diffusers AutoencoderKL folder.*ONNX pair folder.*--trust-code FILE"


def test_formats(kl_folder, onnx_folder, adapter_file, tmp_path):
    assert detect_format(kl_folder) == "diffusers"
    assert detect_format(onnx_folder) == "onnx"
    assert detect_format(adapter_file) == "adapter"
    native = tmp_path / "native"
    native.mkdir()
    (native / "config.json").write_text(json.dumps({"family": "mlp", "config": {"latent_dim": 3}}))
    assert detect_format(native) == "native"


@pytest.mark.parametrize("name, what", [
    ("model.pt", "torch.save file"), ("model.pth", "torch.save file"), ("model.pkl", "a pickle"),
    ("last.ckpt", "Lightning"), ("pytorch_model.bin", ".bin weights"), ("model.pt2", "torch.export archive"),
])
def test_pickled_files_are_refused(tmp_path, name, what):
    path = tmp_path / name
    if name.endswith(".pt2"):
        with zipfile.ZipFile(path, "w") as archive:  # what torch.export.save writes: a zip with pickled parts
            archive.writestr("archive/data.pkl", b"\x80\x04.")
    else:
        path.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ForeignModelError, match=what) as info:
        detect_format(path)
    message = str(info.value)
    assert "never loaded" in message and "external_data=False" in message and "safe_serialization=True" in message
    assert re.search(ACCEPTED, message)


def test_pythae_folder_is_refused(tmp_path):
    folder = tmp_path / "pythae_model"
    folder.mkdir()
    for name in ("model.pt", "model_config.json", "encoder.pkl", "decoder.pkl"):
        (folder / name).write_bytes(b"\x80\x04.")
    with pytest.raises(ForeignModelError, match=r"pythae model folder .*encoder.pkl and decoder.pkl are pickles.*Accepted formats"):
        detect_format(folder)


def test_other_paths_are_explained(tmp_path, onnx_folder):
    with pytest.raises(ForeignModelError, match="nothing exists there"):
        detect_format(tmp_path / "missing")
    with pytest.raises(ForeignModelError, match="config.json is missing.*no onnx_vae.json"):
        detect_format(tmp_path)
    with pytest.raises(ForeignModelError, match="a single ONNX file is not a VAE"):
        detect_format(onnx_folder / "encoder.onnx")
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "encoder.onnx").write_bytes(b"")
    with pytest.raises(ForeignModelError, match="has ONNX files but no onnx_vae.json"):
        detect_format(loose)
    pipeline = tmp_path / "pipe"
    (pipeline / "vae").mkdir(parents=True)
    (pipeline / "model_index.json").write_text("{}")
    (pipeline / "vae" / "config.json").write_text("{}")
    with pytest.raises(ForeignModelError, match="diffusers pipeline; give its VAE folder"):
        detect_format(pipeline)


def test_describe(kl_folder, onnx_folder, adapter_file, tmp_path):
    assert describe_model_path(kl_folder) == {"path": str(kl_folder), "name": "tiny_kl", "kind": "diffusers",
                                              "error": None, "summary": "diffusers AutoencoderKL, latent 3x8x8, scaling 0.5, shift 0.1"}
    assert describe_model_path(onnx_folder)["summary"] == "ONNX pair, 1x28x28 bernoulli, latent from the graph"
    entry = describe_model_path(adapter_file)
    assert entry["kind"] == "adapter" and "--trust-code" in entry["summary"] and entry["name"] == "plain_pytorch_adapter"
    (tmp_path / "x.pkl").write_bytes(b"\x80\x04.")
    bad = describe_model_path(tmp_path / "x.pkl")
    assert bad["kind"] is None and "never loaded" in bad["error"]
    native = tmp_path / "native"
    native.mkdir()
    (native / "config.json").write_text(json.dumps({"family": "mlp", "config": {"input_shape": [1, 28, 28], "latent_dim": 3}}))
    entry = describe_model_path(native)
    assert entry["kind"] == "native" and entry["summary"] == "mlp, 1x28x28, latent 3" and "model.safetensors is missing" in entry["error"]


def test_detect_imports_no_torch(kl_folder):
    """The picker's path: detect and describe run with explorer.models.foreign's own modules and no torch.

    explorer.models itself imports the built-in families (torch), so the check stubs that parent package."""
    code = (
        "import sys, types\n"
        "import explorer\n"
        "pkg = types.ModuleType('explorer.models'); pkg.__path__ = [explorer.__path__[0] + '/models']\n"
        "sys.modules['explorer.models'] = pkg\n"
        "from explorer.models.foreign import describe_model_path\n"
        f"print(describe_model_path({str(kl_folder)!r})['kind'])\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules and 'diffusers' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "diffusers"
