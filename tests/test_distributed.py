"""train.py under torchrun on two CPU processes (gloo): the same run as one process at the same global batch,
resumable under DDP and at another world size, and a resume its world size cannot share refused."""

import sys

import pytest
import torch
from safetensors.torch import load_file

from explorer.cli.train import main as train_main
from explorer.training import STATE_DIR, STATE_NAME

# mlp: no batch norm, so two processes normalise nothing differently; the digits' binarisation and the
# reparameterisation noise are on (item-keyed). Constant schedules: a run stopped after epoch 1 and resumed with
# --epochs 2 is then the same run as one started with --epochs 2 (the cosine decay and KL warm-up scale with it)
RUN = ["--model", "mlp", "--dataset", "digits", "--latent-dim", "2", "--hidden-sizes", "16", "--batch-size", "64",
       "--lr", "3e-3", "--lr-schedule", "constant", "--kl-schedule", "constant", "--maps", "none", "--iwae-k", "0", "--no-progress", "--no-tensorboard", "--device", "cpu",
       "--threads", "1"]


def torchrun(*args: str, processes: int = 2):
    import subprocess

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
           "train.py", *RUN, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def one_process(*args: str) -> None:
    assert train_main([*RUN, *args]) == 0


def state(out):
    folder = out / STATE_DIR
    return torch.load(folder / STATE_NAME, map_location="cpu", weights_only=True), load_file(folder / "model.safetensors")


def assert_same_run(a, b, epochs: int) -> None:
    (state_a, weights_a), (state_b, weights_b) = a, b
    assert [r["epoch"] for r in state_a["history"]] == [r["epoch"] for r in state_b["history"]] == list(range(1, epochs + 1))
    for key in ("loss", "nll", "kl", "test_elbo"):
        torch.testing.assert_close(torch.tensor([r[key] for r in state_a["history"]], dtype=torch.float64),
                                   torch.tensor([r[key] for r in state_b["history"]], dtype=torch.float64),
                                   rtol=1e-5, atol=0)
    if weights_b is None:
        return
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        torch.testing.assert_close(weights_a[name], weights_b[name], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_two_processes_train_like_one_and_resume(tmp_path):
    one_process("--epochs", "3", "--out", str(tmp_path / "one"))
    # two processes for one epoch, interrupted there; then resumed by two processes for the second
    first = torchrun("--epochs", "1", "--out", str(tmp_path / "two"))
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = torchrun("--epochs", "2", "--resume", "--out", str(tmp_path / "two"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    two = state(tmp_path / "two")
    assert two[0]["world_size"] == 2 and two[0]["global_batch"] == 64
    assert resumed.stdout.count("epoch   2") == 1  # rank 0 alone reports
    # the one-process run's first two epochs, at rtol 1e-5
    reference = state(tmp_path / "one")
    reference[0]["history"] = reference[0]["history"][:2]
    assert_same_run(reference, (two[0], None), 2)
    # the two-process checkpoint resumed by one process (the same global batch) is the one-process run
    one_process("--epochs", "3", "--resume", "--out", str(tmp_path / "two"))
    assert_same_run(state(tmp_path / "one"), state(tmp_path / "two"), 3)


@pytest.mark.slow
def test_a_resume_whose_world_size_cannot_share_the_global_batch_is_refused(tmp_path):
    out = tmp_path / "odd"
    one_process("--epochs", "1", "--batch-size", "63", "--out", str(out))
    refused = torchrun("--epochs", "2", "--batch-size", "63", "--resume", "--out", str(out))
    assert refused.returncode != 0
    assert "trained by 1 process(es) at a global batch of 63, which 2 processes cannot share evenly" in refused.stderr
    assert "exitcode: 2" in refused.stderr + refused.stdout  # each process exits with status 2
    assert state(out)[0]["history"][-1]["epoch"] == 1  # the checkpoint is untouched
