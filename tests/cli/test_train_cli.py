"""train.py end to end: --help, 1-epoch runs of each family on each embedded data set, and its error messages."""

import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.analysis.store import load_analysis
from explorer.checkpoint import from_pretrained
from tests.support.cli import run_main

TRAIN = [sys.executable, "train.py"]


def run(*args, check=True):
    proc = subprocess.run([*TRAIN, *args], capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def refused(argv: list[str]) -> str:
    """train.py's main(argv) in this process (a refusal comes before any training): exit status 2; its stderr."""
    from explorer.cli.train import main

    status, err = run_main(main, argv)
    assert status == 2, err
    return err


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
    assert "--resume" in refused([*args, "--epochs", "1"])  # the refusals in this process, the runs not
    run(*args, "--epochs", "2", "--resume")
    assert json.loads((out / "config.json").read_text())["training"]["epochs"] == 2
    other_latent = [a if i != args.index("--latent-dim") + 1 else "3" for i, a in enumerate(args)]
    assert "different model config" in refused([*other_latent, "--epochs", "3", "--resume"])
    assert json.loads((out / "config.json").read_text())["training"]["epochs"] == 2  # untouched


def test_clear_errors(tmp_path):
    err = refused(["--model", "conv", "--dataset", "mnist", "--data-root", str(tmp_path / "nowhere"), "--out",
                   str(tmp_path / "o")])
    assert "nowhere" in err and "--download" in err
    assert "does not apply" in refused(["--model", "mlp", "--dataset", "digits", "--channels", "8", "--out",
                                        str(tmp_path / "o")])
    assert "no such field" in refused(["--model", "mlp", "--dataset", "digits", "--set", "wings=2", "--out",
                                       str(tmp_path / "o")])
    assert "unknown map" in refused(["--model", "mlp", "--dataset", "digits", "--maps", "isomap", "--out",
                                     str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


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
    # a family with no compiled kernels: train.py then says "nothing compiled" and trains eagerly (no second run)
    from explorer.models import get_model_class
    from explorer.models.mlp import MLPConfig

    assert get_model_class("mlp")(MLPConfig(input_shape=(1, 8, 8), latent_dim=2)).compile_training_kernels() == []


def generated_fields(families):
    """(flag, help or None) of every field train.py must offer: TrainConfig's, and each family's that it reads."""
    from dataclasses import fields

    from explorer.models import get_model_class
    from explorer.training import TrainConfig

    out = [(f, TrainConfig) for f in fields(TrainConfig)]
    for family in families:
        config_class = get_model_class(family).config_class
        out += [(f, config_class) for f in fields(config_class)
                if f.name not in config_class.ignored_fields and f.name != "input_shape"]  # input_shape: from the data
    return [("--" + f.name.replace("_", "-"), f.metadata.get("help")) for f, _ in out]


def test_options_are_generated_from_the_config_dataclasses():
    proc = subprocess.run([*TRAIN, "--help"], capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "2000"})
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    # the families train.py registers (tests in this process may have registered more)
    families = re.search(r"--model \{([^}]*)\}", out).group(1).split(",")
    assert {"mlp", "conv", "pu"} <= set(families)
    for flag, help_text in generated_fields(families):
        assert flag in out, flag
        if help_text:
            assert " ".join(help_text.split()) in out, (flag, help_text)
    # the documented fields carry their help text, not a repetition by hand
    from explorer.models.conv import ConvConfig
    from explorer.models.mlp import MLPConfig
    from explorer.training import TrainConfig

    for config_class in (TrainConfig, MLPConfig, ConvConfig):
        assert all(f.metadata.get("help") for f in dataclasses.fields(config_class)), config_class
    assert "--no-tensorboard" in out and "--no-progress" in out and "--no-weight-norm" in out
    assert "default: a third of --epochs" in out and "(default: 64)" in out


def test_unknown_and_ignored_options_are_refused(tmp_path):
    unknown = run("--model", "conv", "--dataset", "mnist5k", "--set", "nonexistent=1", "--out", str(tmp_path / "o"), check=False)
    assert unknown.returncode == 2 and "--set nonexistent" in unknown.stderr and "no such field" in unknown.stderr
    # pu's code shape comes from latent_channels and its layers: latent_dim would be silently ignored
    ignored = run("--model", "pu", "--dataset", "shapes", "--latent-dim", "32", "--out", str(tmp_path / "o"), check=False)
    assert ignored.returncode == 2 and "--latent-dim does not apply" in ignored.stderr and "ignores latent_dim" in ignored.stderr
    via_set = run("--model", "pu", "--dataset", "shapes", "--set", "latent_dim=32", "--out", str(tmp_path / "o"), check=False)
    assert via_set.returncode == 2 and "ignores latent_dim" in via_set.stderr
    assert not (tmp_path / "o").exists()


def shipped_recipes() -> dict[str, list[str]]:
    """The train.py arguments of each shipped run in scripts/train-pretrained.sh, as its run() helper passes them:
    its top-level variables ($VQ, $DSPRITES) expanded, a per-seed loop read at seed 0 (the shipped one), runs into
    runs/ left out (not shipped) unless a script exports them into pretrained/."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "train-pretrained.sh"
    text = script.read_text().replace("\\\n", " ")
    variables = dict(re.findall(r'^([A-Z_]+)="([^"]*)"$', text, flags=re.M))
    recipes = {}
    for line in text.splitlines():
        line = re.sub(r'"?\$([A-Z_]+)"?', lambda m: variables.get(m.group(1), m.group(0)), line)
        seeded = re.search(r'run\s+"\$\(seed_dir\s+(\S+)\s+"\$s"\)"\s+(.*?);\s*done', line)
        match = seeded or re.search(r"\)\s*run\s+(\S+)\s+(.*?)\s*(;;&?)?\s*$", line)  # a case may go on after its run
        if match:
            out, rest = match.group(1), match.group(2)
            out = f"pretrained/{out}" if seeded else out
            rest = rest.replace('"$s"', "0")
            recipes[out] = ["--threads", "1", *shlex.split(rest), "--out", out, "--no-progress"]
    # a run trained into runs/ and exported into pretrained/ by a script (the diffusers teacher) ships as the export
    for run_dir, shipped in re.findall(r"scripts/export_\w+\.py\s+(\S+)\s+(pretrained/\S+)", text):
        recipes[shipped] = recipes.pop(run_dir)
    return {out: args for out, args in recipes.items() if out.startswith("pretrained/")}


def distilled_recipes() -> set[str]:
    """The shipped students that scripts/train-pretrained.sh makes with vae-distill (not train.py)."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "train-pretrained.sh"
    text = script.read_text().replace("\\\n", " ")
    return set(re.findall(r"explorer\.cli\.distill\s+\S+.*?--out\s+(pretrained/\S+)", text))


def test_shipped_recipes_still_parse(capsys):
    from explorer.cli import train as train_cli

    recipes = shipped_recipes()
    shipped = {f"pretrained/{p.name}" for p in (Path(__file__).resolve().parents[2] / "pretrained").iterdir() if p.is_dir()}
    assert shipped <= set(recipes) | distilled_recipes()  # every shipped model has its recipe (a recipe may be training)
    # the IAF model and its twin: the same command but for --iaf-steps (and --out)
    iaf, twin = recipes["pretrained/conv-iaf-mnist5k"], recipes["pretrained/conv-iaf0-mnist5k"]
    steps = iaf.index("--iaf-steps")
    assert int(iaf[steps + 1]) > 0 and twin[steps + 1] == "0"
    assert [a for i, a in enumerate(iaf) if i != steps + 1 and "conv-iaf" not in a] == [
        a for i, a in enumerate(twin) if i != steps + 1 and "conv-iaf" not in a]
    for out, args in recipes.items():
        # in this process (the dry run parses and prints only): a subprocess each would import torch ~20 times
        assert train_cli.run([*args, "--dry-run"]) == 0
        settings = json.loads(capsys.readouterr().out)
        assert settings["training"]["progress"] is False
        if out.endswith("conv-mnist5k"):
            assert settings["model_options"] == {"latent_dim": 16}
            # the README's example (30 epochs, defaults) trains as this recipe does over its first 30 epochs
            from explorer.training import TrainConfig

            default = TrainConfig(epochs=30, progress=False)
            assert default.effective_warmup_epochs == 10
            assert settings["training"] | {"epochs": 30} == dataclasses.asdict(default) | {"warmup_epochs": 10}


@pytest.mark.parametrize("epochs", [1, 2, 3, 30])
@pytest.mark.parametrize("steps_per_epoch", [1, 2, 3, 7, 70])
def test_default_warmup_scales_with_the_run_and_ends_at_beta(epochs, steps_per_epoch):
    from explorer.training import TrainConfig

    config = TrainConfig(epochs=epochs)
    schedule = config.beta_schedule(steps_per_epoch)
    total = epochs * steps_per_epoch
    assert config.kl_schedule == "linear" and config.effective_warmup_epochs == pytest.approx(epochs / 3)
    assert schedule(total - 1) == 1.0  # the last step of the run, even of a 1-epoch run, has the full KL weight
    if schedule.warmup_steps:
        assert schedule(0) == 0.0 and schedule.warmup_steps <= total / 3
    # explicit values win
    assert TrainConfig(epochs=epochs, warmup_epochs=10).beta_schedule(steps_per_epoch).warmup_steps == 10 * steps_per_epoch
    assert TrainConfig(epochs=epochs, beta=0.5).beta_schedule(steps_per_epoch)(total - 1) == 0.5


@pytest.mark.slow
def test_no_active_unit_warns_with_the_remedies(tmp_path):
    """In this process (the warning is train.py's main's own output; a subprocess would add only its imports)."""
    import torch

    from explorer.cli.train import main

    threads = torch.get_num_threads()
    try:  # a KL weight of 1000 from the first step pushes every posterior onto the prior
        status, err = run_main(main, ["--model", "mlp", "--dataset", "digits", "--latent-dim", "2", "--hidden-sizes",
                                      "16", "--epochs", "1", "--beta", "1000", "--kl-schedule", "constant", "--maps",
                                      "none", "--iwae-k", "5", "--out", str(tmp_path / "o"), "--no-progress",
                                      "--no-tensorboard", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)  # --threads 1 set this process's
    assert status == 0, err
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["active_units"] == 0
    assert "posterior collapse" in err and "no unit is active" in err
    for remedy in ("--kl-schedule linear --warmup-epochs", "--free-bits 0.1", "--beta", "--epochs"):
        assert remedy in err, remedy
