"""train.py end to end: --help, 1-epoch runs of each family on each embedded data set, and its error messages."""

import json
import shutil
import subprocess
import sys

import pytest

from explorer.analysis.store import load_analysis
from explorer.checkpoint import from_pretrained

TRAIN = [sys.executable, "train.py"]


def run(*args, check=True):
    proc = subprocess.run([*TRAIN, *args], capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_help_lists_every_option():
    out = run("--help").stdout
    for flag in ("--model", "--dataset", "--data-root", "--download", "--latent-dim", "--epochs", "--out", "--device",
                 "--seed", "--resume", "--iwae-k", "--maps", "--beta", "--kl-schedule", "--warmup-epochs", "--free-bits",
                 "--free-bits-mode", "--hidden-sizes", "--channels", "--batch-norm", "--weight-norm", "--activation",
                 "--likelihood", "--set", "--labeled-fraction", "--captioned-fraction", "--image-size", "--compile"):
        assert flag in out, flag


@pytest.mark.slow
@pytest.mark.parametrize("family", ["mlp", "conv"])
@pytest.mark.parametrize("dataset", ["mnist5k", "digits", "patches"])
def test_one_epoch_gives_a_loadable_checkpoint(tmp_path, family, dataset):
    out = tmp_path / f"{family}-{dataset}"
    size = {"mlp": ["--hidden-sizes", "64"], "conv": ["--channels", "8,16", "--hidden-dim", "32"]}[family]
    run("--model", family, "--dataset", dataset, "--latent-dim", "4", *size, "--epochs", "1", "--maps", "none",
        "--iwae-k", "10", "--out", str(out), "--no-progress", "--device", "cpu")
    for name in ("config.json", "model.safetensors", "metrics.json", "README.md", "analysis.safetensors"):
        assert (out / name).is_file(), name
    model = from_pretrained(out, device="cpu")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iwae_k"] == 10 and metrics["latent_dims"] == 4
    assert "python train.py" in (out / "README.md").read_text()
    arrays = load_analysis(out)
    assert arrays["pca_coords"].shape == (metrics["test_items"], 2)
    assert model.config.likelihood == ("gaussian" if dataset == "patches" else "bernoulli")


@pytest.mark.slow
def test_resume_and_refusing_to_overwrite(tmp_path):
    out = tmp_path / "run"
    args = ["--model", "mlp", "--dataset", "digits", "--latent-dim", "2", "--hidden-sizes", "16", "--maps", "none",
            "--iwae-k", "5", "--out", str(out), "--no-progress", "--no-tensorboard"]
    run(*args, "--epochs", "1")
    again = run(*args, "--epochs", "1", check=False)
    assert again.returncode == 2 and "--resume" in again.stderr
    run(*args, "--epochs", "2", "--resume")
    assert json.loads((out / "config.json").read_text())["training"]["epochs"] == 2
    other_latent = [a if i != args.index("--latent-dim") + 1 else "3" for i, a in enumerate(args)]
    wrong = run(*other_latent, "--epochs", "3", "--resume", check=False)
    assert wrong.returncode == 2 and "different model config" in wrong.stderr


def test_clear_errors(tmp_path):
    missing = run("--model", "conv", "--dataset", "mnist", "--data-root", str(tmp_path / "nowhere"), "--out",
                  str(tmp_path / "o"), check=False)
    assert missing.returncode == 2 and "nowhere" in missing.stderr and "--download" in missing.stderr
    bad = run("--model", "mlp", "--dataset", "digits", "--channels", "8", "--out", str(tmp_path / "o"), check=False)
    assert bad.returncode == 2 and "does not apply" in bad.stderr
    bad_set = run("--model", "mlp", "--dataset", "digits", "--set", "wings=2", "--out", str(tmp_path / "o"), check=False)
    assert bad_set.returncode == 2 and "no such field" in bad_set.stderr
    bad_map = run("--model", "mlp", "--dataset", "digits", "--maps", "isomap", "--out", str(tmp_path / "o"), check=False)
    assert bad_map.returncode == 2 and "unknown map" in bad_map.stderr


@pytest.mark.slow
def test_compile_flag(tmp_path):
    pu = run("--model", "pu", "--dataset", "shapes", "--channels", "4,6", "--epochs", "1", "--batch-size", "256",
             "--maps", "none", "--iwae-k", "5", "--out", str(tmp_path / "pu"), "--no-progress", "--no-tensorboard",
             "--compile")
    if shutil.which("g++") or shutil.which("c++") or shutil.which("clang++"):
        assert "compiled: relaxed stochastic pooling" in pu.stdout
    else:  # no compiler: said so, and trained eagerly
        assert "torch.compile failed" in pu.stderr
    assert from_pretrained(tmp_path / "pu", device="cpu").config.channels == (4, 6)
    mlp = run("--model", "mlp", "--dataset", "digits", "--latent-dim", "2", "--hidden-sizes", "16", "--epochs", "1",
              "--maps", "none", "--iwae-k", "5", "--out", str(tmp_path / "mlp"), "--no-progress", "--no-tensorboard",
              "--compile")
    assert "nothing compiled for the 'mlp' family" in mlp.stdout
