import math

import pytest
import torch

from explorer.models import build_model
from explorer.training import STATE_DIR, Trainer, TrainConfig

from tinydata import make_split


def run(tmp_path, epochs, resume=False, stop_after=None, **cfg):
    torch.manual_seed(0)
    data = make_split()
    model = build_model("mlp", input_shape=data.image_shape, latent_dim=3, hidden_sizes=(16,))
    config = TrainConfig(epochs=epochs, batch_size=16, progress=False, tensorboard=False, **cfg)
    trainer = Trainer(model, data, config, tmp_path, torch.device("cpu"))

    def interrupt(record):
        if stop_after is not None and record.epoch == stop_after:
            raise KeyboardInterrupt

    try:
        return trainer, trainer.fit(resume=resume, on_epoch=interrupt)
    except KeyboardInterrupt:
        return trainer, None


def test_loss_goes_down_and_history_is_complete(tmp_path):
    _, history = run(tmp_path, 4, lr=3e-3)
    assert [r.epoch for r in history] == [1, 2, 3, 4]
    # the fixed test binarisation scores learning; the training loss of 4 steps per epoch on random blobs moves
    # by the draw of each epoch's binarisation as much as by learning
    assert history[-1].test_elbo > history[0].test_elbo
    assert all(math.isfinite(r.test_elbo) for r in history)
    assert (tmp_path / STATE_DIR / "model.safetensors").is_file()


def test_interrupted_run_resumes_exactly(tmp_path):
    _, straight = run(tmp_path / "a", 3)
    _, partial = run(tmp_path / "b", 3, stop_after=1)  # Ctrl-C after the first epoch's checkpoint
    assert partial is None
    trainer, resumed = run(tmp_path / "b", 3, resume=True)
    assert trainer.epoch == 3 and len(resumed) == 3
    for a, b in zip(straight, resumed):
        assert a.loss == pytest.approx(b.loss, rel=1e-6)
        assert a.test_elbo == pytest.approx(b.test_elbo, rel=1e-6)
        assert a.step == b.step


def test_no_torn_checkpoint_after_interrupt(tmp_path, monkeypatch):
    run(tmp_path, 1)
    # an interrupt between the two renames leaves only the previous checkpoint: resume still finds it
    (tmp_path / STATE_DIR).rename(tmp_path / f".{STATE_DIR}.old")
    trainer2, history = run(tmp_path, 1, resume=True)
    assert trainer2.epoch == 1 and len(history) == 1


def test_kl_warmup_and_free_bits_are_used(tmp_path):
    _, history = run(tmp_path, 2, kl_schedule="linear", warmup_epochs=2, free_bits=0.1)
    assert history[0].beta < history[1].beta <= 1.0


def test_default_warmup_reaches_beta_in_a_one_epoch_run(tmp_path):
    # the defaults warm the KL weight up over a third of the run: a 1-epoch run ends at beta = 1
    trainer, history = run(tmp_path, 1)
    assert trainer.cfg.kl_schedule == "linear" and trainer.beta_at.warmup_steps >= 1
    assert trainer.beta_at(0) == 0.0 and history[-1].beta == 1.0
