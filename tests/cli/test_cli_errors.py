"""Every console script of [project.scripts] answers bad input in one or two lines that name the option, the value
given and what is accepted, with exit status 2 and no traceback: a table in-process, one subprocess per script."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.cli import run_main

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

TRAIN = ["--model", "conv", "--dataset", "mnist5k", "--dry-run"]
# (script, argv, words the message must hold: the option's name, the value given, what is accepted)
BAD_INPUTS = [
    ("vae-train", ["--model", "conv", "--dataset", "nope", "--out", "o"], ["--dataset", "nope", "mnist5k"]),
    ("vae-train", ["--model", "nope", "--dataset", "mnist5k", "--out", "o"], ["--model", "nope", "conv"]),
    ("vae-train", [*TRAIN, "--set", "latent_dim=abc", "--out", "o"], ["--set latent_dim", "abc", "an integer"]),
    ("vae-train", [*TRAIN, "--set", "latent_dim=3.5", "--out", "o"], ["--set latent_dim", "3.5", "an integer"]),
    ("vae-train", [*TRAIN, "--set", "channels=abc", "--out", "o"], ["--set channels", "abc", "comma-separated integers"]),
    ("vae-train", [*TRAIN, "--set", "batch_norm=maybe", "--out", "o"], ["--set batch_norm", "maybe", "true or false"]),
    ("vae-train", [*TRAIN, "--set", "nosuchkey=3", "--out", "o"], ["--set nosuchkey", "latent_dim"]),
    ("vae-train", [*TRAIN, "--set", "activation=123", "--out", "o"], ["--set activation", "123", "relu"]),
    ("vae-train", [*TRAIN, "--set", "latent_dim", "--out", "o"], ["--set", "latent_dim", "KEY=VALUE"]),
    ("vae-train", [*TRAIN, "--latent-dim", "abc", "--out", "o"], ["--latent-dim", "abc", "int"]),
    ("vae-train", [*TRAIN, "--lr", "abc", "--out", "o"], ["--lr", "abc", "float"]),
    ("vae-train", [*TRAIN, "--hidden-sizes", "1,x", "--out", "o"], ["--hidden-sizes", "1,x", "comma-separated integers"]),
    ("vae-train", [*TRAIN, "--kl-schedule", "zz", "--out", "o"], ["--kl-schedule", "zz", "linear"]),
    ("vae-train", [*TRAIN, "--maps", "bogus", "--out", "o"], ["--maps", "bogus", "umap"]),
    ("vae-train", [*TRAIN, "--iwae-k", "-1", "--out", "o"], ["--iwae-k", "-1", "0 or more"]),
    ("vae-train", [*TRAIN, "--threads", "0", "--out", "o"], ["--threads", "0", "at least 1"]),
    ("vae-train", [*TRAIN, "--epochs", "0", "--out", "o"], ["--epochs", "0", "above 0"]),
    ("vae-train", [*TRAIN, "--labeled-fraction", "2", "--out", "o"], ["--labeled-fraction", "2", "between 0 and 1"]),
    ("vae-train", [*TRAIN], ["--out", "required"]),
    ("vae-evaluate", ["m", "--dataset", "mnist5k", "--maps", "bogus"], ["--maps", "bogus", "umap"]),
    ("vae-evaluate", ["m", "--dataset", "mnist5k", "--iwae-k", "-1"], ["--iwae-k", "-1", "0 or more"]),
    ("vae-evaluate", ["m", "--dataset", "mnist5k", "--limit", "0"], ["--limit", "0", "positive"]),
    ("vae-evaluate", ["m", "--dataset", "mnist5k", "--batch-size", "x"], ["--batch-size", "x", "int"]),
    ("vae-evaluate", ["m", "--dataset", "mnist5k", "--split", "nope"], ["--split", "nope", "test"]),
    ("vae-evaluate", ["m", "--dataset", "nope"], ["data set", "nope", "mnist5k"]),
    ("vae-evaluate", ["no/such/model", "--dataset", "mnist5k"], ["no/such/model", "does not exist", "model folder"]),
    ("vae-evaluate", ["m"], ["--dataset", "required"]),
    ("vae-evaluate", ["m", "--dataset", "mnist5k", "--metrics", "disentanglement"],
     ["--metrics disentanglement", "mnist5k", "no known factors", "dsprites"]),
    ("vae-evaluate", ["m", "--dataset", "dsprites", "--data-root", ".", "--metrics", "disentanglement"],
     ["dSprites", "not found", "--data-root"]),
    ("vae-evaluate", ["m", "--dataset", "dsprites", "--metrics", "disentanglement", "--metric-seeds", "0"],
     ["--metric-seeds", "0", "at least 1"]),
    ("vae-evaluate", ["m", "--dataset", "dsprites", "--metrics", "disentanglement", "--metric-names", "mig,bogus"],
     ["--metric-names", "bogus", "mig"]),
    ("vae-evaluate", ["m", "--dataset", "dsprites", "--metrics", "nope"], ["--metrics", "nope", "disentanglement"]),
    ("vae-distill", ["no/such/model", "--data", "photos"], ["MODEL no/such/model", "does not exist", "AutoencoderKL"]),
    ("vae-distill", ["m", "--data", "photos", "--border", "3"], ["--border 3", "at least 4"]),
    ("vae-distill", ["m", "--data", "photos", "--crop-cells", "8"], ["--crop-cells 8", "more than twice the border"]),
    ("vae-distill", ["m", "--data", "photos", "--minutes", "0"], ["--minutes 0", "positive"]),
    ("vae-distill", ["m", "--data", "photos", "--refresh-every", "0"], ["--refresh-every 0", "at least 1"]),
    ("vae-distill", [str(ROOT / "pretrained" / "kl-f4-photos"), "--data", "photos", "--decoder-factor", "3"],
     ["--decoder-factor 3", "f4", "half-size"]),
    ("vae-distill", ["m", "--data", "photos", "--width", "2"], ["--width 2", "4 to 256"]),
    ("vae-distill", ["m", "--data", "photos", "--batch-size", "x"], ["--batch-size", "x", "int"]),
    ("vae-distill", ["m", "--data", "photos", "--threads", "0"], ["--threads", "0", "at least 1"]),
    ("vae-distill", [str(ROOT / "pretrained" / "kl-f4-photos"), "--data", "nope"], ["--data nope", "photos"]),
    ("vae-distill", [str(ROOT / "pretrained" / "conv-mnist5k"), "--data", "photos"], ["'conv' model", "AutoencoderKL"]),
    ("vae-distill", ["m"], ["--data", "required"]),
    ("vae-explorer", ["--server.port", "abc"], ["--server.port", "abc", "integer"]),
    ("vae-explorer", ["--no-such-option"], ["--no-such-option"]),
    ("vae-explorer", ["--", "--threads", "abc"], ["--threads", "abc", "int"]),
    ("vae-explorer", ["--", "--map-renderer", "x"], ["--map-renderer", "x", "webgl"]),
    ("vae-explorer", ["--", "--no-such-option"], ["--no-such-option"]),
]


def entry_point(script: str):
    module, _, name = SCRIPTS[script].partition(":")
    return getattr(importlib.import_module(module), name)


def test_every_console_script_has_bad_inputs_in_the_table():
    assert set(SCRIPTS) <= {script for script, _, _ in BAD_INPUTS}


@pytest.mark.parametrize("script,argv,words", BAD_INPUTS, ids=[f"{s} {' '.join(a)}" for s, a, _ in BAD_INPUTS])
def test_bad_input_is_one_or_two_lines_and_exit_2(script, argv, words, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [script, *argv])  # vae-explorer rewrites sys.argv for Streamlit
    status, err = run_main(entry_point(script), argv)
    assert status == 2, err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2 and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_script_exits_2_without_a_traceback(script, tmp_path):
    argv, words = next((a, w) for s, a, w in BAD_INPUTS if s == script)  # its first bad input in the table
    module, _, name = SCRIPTS[script].partition(":")
    code = f"import sys; from {module} import {name}; sys.exit({name}())"  # what the installed script runs
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and all(word in proc.stderr for word in words), proc.stderr
    assert 1 <= len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
