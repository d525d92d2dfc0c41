"""`vae-distill` end to end on a tiny teacher (and, slow, on an SD 1.x-config AutoencoderKL with random weights):
it writes the student folder, says its PSNR, and --resume goes on from the checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.cli.distill import main
from explorer.models.foreign.presets import CONFIGS
from tests.support.distill import make_teacher
from tests.support.foreign_models import make_kl

TINY = ["--width", "8", "--crop-cells", "9", "--frame-cells", "10", "--bank-size", "2", "--batch-size", "2",
        "--eval-max-side", "32", "--no-onnx-timing", "--no-linear", "--threads", "1", "--no-progress"]


def test_distills_a_teacher_and_resumes(tmp_path, capsys):
    teacher = make_teacher(tmp_path / "kl")
    out = tmp_path / "student"
    assert main([str(teacher), "--data", "photos", "--out", str(out), "--steps", "2", *TINY]) == 0
    said = capsys.readouterr().out
    assert "PSNR against the teacher on full frames" in said and str(out / "onnx" / "decoder.onnx") in said
    assert json.loads((out / "student.json").read_text())["steps"] == 2
    assert main([str(teacher), "--data", "photos", "--out", str(out), "--steps", "3", "--resume", *TINY]) == 0
    info = json.loads((out / "student.json").read_text())
    assert info["steps"] == 3 and info["command"].startswith("vae-distill ")


def test_distills_a_half_size_preview_decoder(tmp_path, capsys):
    """--decoder-factor 1 on the f2 teacher: a decoder with no upsampling, scored against the pooled decode; its ONNX
    writes half the image's size, diffusers reloads it, and the explorer refuses it as a model, saying why."""
    import numpy as np
    import onnxruntime as ort
    from diffusers import AutoencoderTiny

    from explorer.checkpoint import CheckpointError, from_pretrained

    teacher = make_teacher(tmp_path / "kl")
    out = tmp_path / "half"
    assert main([str(teacher), "--data", "photos", "--out", str(out), "--steps", "1", "--decoder-factor", "1", *TINY]) == 0
    info = json.loads((out / "student.json").read_text())
    assert info["spec"]["decoder_factor"] == 1 and info["spec"]["decoder_blocks"] == [3]
    assert info["scores"]["mean_decoder_psnr_db"] > 0 and "half-size preview decoder" in (out / "README.md").read_text()
    session = ort.InferenceSession(str(out / "onnx" / "decoder.onnx"), providers=["CPUExecutionProvider"])
    image = session.run(None, {"code": np.zeros((1, 4 * 8 * 8), np.float32)})[0]
    assert image.shape == (1, 3, 8, 8)  # the teacher's 16 px, halved
    AutoencoderTiny.from_pretrained(str(out), local_files_only=True)
    with pytest.raises(CheckpointError, match="half-size preview decoder"):
        from_pretrained(out, "cpu")
    capsys.readouterr()
    assert main([str(teacher), "--data", "photos", "--out", str(out), "--steps", "1", *TINY]) == 2
    assert "another size" in capsys.readouterr().err and info == json.loads((out / "student.json").read_text())


@pytest.mark.slow
def test_distills_an_sd1_config_autoencoder(tmp_path, capsys):
    """The SD 1.x config (83.7M parameters, f8) with random weights: one step on 72 px frames."""
    torch.set_num_threads(1)
    config = json.loads((CONFIGS / "sd1" / "config.json").read_text())
    keep = ("block_out_channels", "layers_per_block", "latent_channels", "scaling_factor", "norm_num_groups")
    make_kl(tmp_path / "sd", **{k: config[k] for k in keep}, sample_size=64)
    out = tmp_path / "student"
    args = ["--crop-cells", "9", "--frame-cells", "9", "--bank-size", "1", "--refresh", "1", "--batch-size", "1", "--steps", "1",
            "--eval-max-side", "72", "--no-onnx-timing", "--no-linear", "--threads", "1", "--no-progress"]
    assert main([str(tmp_path / "sd"), "--data", "photos", "--out", str(out), *args]) == 0
    info = json.loads((out / "student.json").read_text())
    assert info["spec"]["factor"] == 8 and info["latent_shape"] == [4, 8, 8]
