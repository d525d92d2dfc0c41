import math

import pytest
import torch

from explorer.models import build_model
from explorer.training import STATE_DIR, TrainConfig, Trainer
from tests.support.tinydata import make_split
from tests.support.training import fit_until


def run(tmp_path, epochs, resume=False, stop_after=None, **cfg):
    torch.manual_seed(0)
    data = make_split()
    model = build_model("mlp", input_shape=data.image_shape, latent_dim=3, hidden_sizes=(16,))
    config = TrainConfig(**{"epochs": epochs, "batch_size": 16, "progress": False, "tensorboard": False, **cfg})
    trainer = Trainer(model, data, config, tmp_path, torch.device("cpu"))
    return fit_until(trainer, resume, stop_after)


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


def test_shards_of_two_processes_make_up_the_one_process_batches():
    from explorer.distributed import Distributed
    from explorer.training import shard_batches

    data = make_split(n_train=61)
    one = shard_batches(data.train, 12, Distributed(), seed=3)
    two = [shard_batches(data.train, 12, Distributed(rank=r, world_size=2), seed=3) for r in range(2)]
    for epoch in (0, 1):
        for sampler, _ in [one, *two]:
            sampler.set_epoch(epoch)
        steps = [list(batches) for _, batches in two]
        assert len(list(one[1])) == len(steps[0]) == len(steps[1]) == 61 // 12
        for j, batch in enumerate(one[1]):
            assert len(steps[0][j]) == 6 and sorted(batch) == sorted(steps[0][j] + steps[1][j])


def test_bad_distributed_and_precision_settings_are_refused(tmp_path):
    from explorer.distributed import Distributed

    data = make_split()
    model = build_model("mlp", input_shape=data.image_shape, latent_dim=3, hidden_sizes=(16,))
    config = TrainConfig(epochs=1, batch_size=16, progress=False, tensorboard=False)
    with pytest.raises(ValueError, match="must divide evenly over the 3 processes"):
        Trainer(model, data, config, tmp_path, torch.device("cpu"), context=Distributed(rank=0, world_size=3))
    with pytest.raises(ValueError, match="--amp bf16 is for CUDA devices, and this run is on cpu: pass --amp off"):
        Trainer(model, data, TrainConfig(epochs=1, amp="bf16", tensorboard=False), tmp_path, torch.device("cpu"))
    with pytest.raises(ValueError, match="--workers must be at least 0"):
        TrainConfig(workers=-1)
    run(tmp_path / "a", 1)  # batch 16, one process
    with pytest.raises(ValueError, match="global batch of 16 .*resume it with --batch-size 16"):
        run(tmp_path / "a", 2, resume=True, batch_size=8)
    with pytest.raises(ValueError, match="trained by 1 process.* global batch of 16, which 3 processes cannot share"):
        Trainer(model, data, config, tmp_path / "a", torch.device("cpu"), context=Distributed(rank=0, world_size=3))


@pytest.mark.slow
def test_loader_workers_stream_a_folder_and_change_nothing(tmp_path):
    from PIL import Image

    from explorer.data import load_dataset

    gen = torch.Generator().manual_seed(0)
    for i in range(40):  # images of several sizes, read from disk item by item
        size = 6 + i % 5
        pixels = (torch.rand(size, size, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(tmp_path / f"img{i:02d}.png")
    data = load_dataset("folder", root=str(tmp_path), image_size=8)
    histories = []
    for workers in (0, 2):
        torch.manual_seed(0)
        model = build_model("mlp", input_shape=data.image_shape, latent_dim=2, hidden_sizes=(8,))
        config = TrainConfig(epochs=2, batch_size=8, progress=False, tensorboard=False, workers=workers)
        histories.append(Trainer(model, data, config, tmp_path / f"run{workers}", torch.device("cpu")).fit())
    assert [r.loss for r in histories[0]] == [r.loss for r in histories[1]]
