"""Per-block progress and cancellation (explorer.runtime.progress) on a stand-in decoder whose blocks sleep."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch import nn

from explorer.runtime.progress import (
    Cancelled, CancelToken, Progress, diffusers_tile_count, find_blocks, format_progress, run_watched, watch)

SLEEP = 0.2  # seconds a stand-in block takes


class SleepyBlock(nn.Module):
    """A 1x1 conv that sleeps, and logs when it starts and ends (monotonic clock)."""

    def __init__(self, channels: int, log: list[tuple[str, float, float]], name: str):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)
        self.log, self.name = log, name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = time.monotonic()
        time.sleep(SLEEP)
        out = self.conv(x)
        self.log.append((self.name, start, time.monotonic()))
        return out


class StandInDecoder(nn.Module):
    """The shape of a diffusers Decoder: conv_in, a mid block with resnets, up blocks with resnets, conv_out."""

    def __init__(self, log: list, channels: int = 4, ups: int = 2, layers: int = 2):
        super().__init__()
        self.conv_in = nn.Conv2d(channels, channels, 1)
        self.mid_block = nn.Module()
        self.mid_block.resnets = nn.ModuleList([SleepyBlock(channels, log, f"mid{i}") for i in range(2)])
        self.up_blocks = nn.ModuleList()
        for u in range(ups):
            block = nn.Module()
            block.resnets = nn.ModuleList([SleepyBlock(channels, log, f"up{u}.{i}") for i in range(layers)])
            self.up_blocks.append(block)
        self.conv_out = nn.Conv2d(channels, 3, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(z)
        for resnet in self.mid_block.resnets:
            x = resnet(x)
        for block in self.up_blocks:
            for resnet in block.resnets:
                x = resnet(x)
        return self.conv_out(x)


def _hooks(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def test_find_blocks_lists_the_parts_of_mid_and_up_blocks():
    decoder = StandInDecoder([])
    names = [name for name, _ in find_blocks(decoder)]
    assert names == ["mid_block.resnets.0", "mid_block.resnets.1", "up_blocks.0.resnets.0", "up_blocks.0.resnets.1",
                     "up_blocks.1.resnets.0", "up_blocks.1.resnets.1"]


def test_find_blocks_of_a_diffusers_decoder_counts_resnets_attention_and_upsamplers():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                                  down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    names = [name for name, _ in find_blocks(vae.decoder)]
    # mid: 2 resnets + 1 attention; 2 up blocks of layers_per_block + 1 = 2 resnets; 1 upsampler (not the last)
    assert sorted(names) == sorted(["mid_block.attentions.0", "mid_block.resnets.0", "mid_block.resnets.1",
                                    "up_blocks.0.resnets.0", "up_blocks.0.resnets.1", "up_blocks.0.upsamplers.0",
                                    "up_blocks.1.resnets.0", "up_blocks.1.resnets.1"])
    seen: list[Progress] = []
    with torch.no_grad(), watch(vae.decoder, seen.append):
        vae.decode(torch.randn(1, 4, 4, 4))
    assert [p.done for p in seen] == list(range(len(names) + 1))
    assert seen[-1].done == seen[-1].total == len(names)


def test_tiled_decode_progresses_per_tile():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, sample_size=16,
                                  down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    vae.enable_tiling()
    z = torch.randn(1, 4, 16, 16)  # tiles of 8 latent cells with stride 6: 3 x 3 tiles
    calls = diffusers_tile_count(vae, z.shape)
    assert calls == 9
    seen: list[Progress] = []
    with torch.no_grad(), watch(vae.decoder, seen.append, calls=calls):
        vae.decode(z)
    blocks = len(find_blocks(vae.decoder))
    assert seen[-1].done == seen[-1].total == blocks * calls
    assert diffusers_tile_count(vae, (1, 4, 8, 8)) == 1  # fits one tile: untiled


def test_progress_arrives_in_order_after_every_block_with_an_eta():
    log: list = []
    decoder = StandInDecoder(log)
    seen: list[Progress] = []
    with torch.no_grad():
        run_watched(lambda: decoder(torch.zeros(1, 4, 2, 2)), decoder, seen.append)
    assert [p.done for p in seen] == list(range(7))
    assert all(p.total == 6 for p in seen)
    assert [p.block for p in seen[1:]] == [name for name, _ in find_blocks(decoder)]
    elapsed = [p.elapsed_s for p in seen]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 6 * SLEEP
    assert seen[0].eta_s is None and seen[-1].eta_s == 0
    assert seen[3].eta_s == pytest.approx(3 * SLEEP, rel=0.5)  # half done after 3 sleeps: about 3 more
    assert "6/6 blocks" in format_progress(seen[-1])


def test_cancel_stops_within_one_block_and_removes_the_hooks():
    log: list = []
    decoder = StandInDecoder(log, ups=3)  # 8 blocks, 1.6 s
    token = CancelToken()
    outcome: dict = {}

    def work() -> None:
        try:
            with torch.no_grad():
                run_watched(lambda: decoder(torch.zeros(1, 4, 2, 2)), decoder, token=token)
        except Cancelled as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(2.5 * SLEEP)  # the third block is running
    cancelled_at = time.monotonic()
    token.cancel("a newer decode")
    thread.join(5)
    assert isinstance(outcome.get("error"), Cancelled) and "a newer decode" in str(outcome["error"])
    started_after = [name for name, start, _ in log if start > cancelled_at]
    running = [name for name, start, end in log if start <= cancelled_at < end]
    assert started_after == []  # no block starts after the cancel
    assert len(running) <= 1 and len(log) <= 3  # only the block that was running finished
    assert _hooks(decoder) == 0


def test_a_cancelled_token_stops_before_the_first_block():
    log: list = []
    decoder = StandInDecoder(log)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_watched(lambda: decoder(torch.zeros(1, 4, 2, 2)), decoder, token=token)
    assert log == [] and _hooks(decoder) == 0


def test_hooks_are_removed_when_the_call_raises():
    decoder = StandInDecoder([])
    with pytest.raises(RuntimeError):
        run_watched(lambda: decoder(torch.zeros(1, 5, 2, 2)), decoder)  # wrong channel count
    assert _hooks(decoder) == 0


def test_another_threads_call_through_the_same_model_is_not_counted_or_cancelled():
    log: list = []
    decoder = StandInDecoder(log, ups=1)
    token = CancelToken()
    token_seen: list[Progress] = []
    other: dict = {}

    def other_thread() -> None:
        with torch.no_grad():
            other["out"] = decoder(torch.zeros(1, 4, 2, 2))

    with watch(decoder, token_seen.append, token=token):
        token.cancel()  # cancels this thread's watched calls only
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(5)
    assert other["out"].shape == (1, 3, 2, 2)
    assert [p.done for p in token_seen] == [0]


def test_calls_must_be_positive():
    with pytest.raises(ValueError, match="calls"):
        with watch(StandInDecoder([]), calls=0):
            pass


def test_a_finished_call_completes_the_bar_and_teaches_the_next_its_total():
    from tests.support.slow_model import SlowConfig, SlowVAE

    from explorer.runtime.calls import watched_decode, watched_encode

    torch.manual_seed(0)
    model = SlowVAE(SlowConfig(seconds_per_block=0.0, blocks=3))
    model.enc_blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])  # blocks a decode never runs
    first: list[Progress] = []
    watched_decode(model, torch.zeros(1, 8), first.append)
    assert first[0].total == 5 and (first[-1].done, first[-1].total) == (3, 3)  # the bar completes
    second: list[Progress] = []
    watched_decode(model, torch.zeros(1, 8), second.append)
    assert [p.total for p in second] == [3] * 4  # learned from the first call at this shape
    assert watched_encode(model, torch.zeros(1, 3, 32, 32)).shape == (1, 8)


def test_watched_decode_of_a_diffusers_model_counts_decoder_blocks(tmp_path):
    pytest.importorskip("diffusers")
    from tests.support.foreign_models import make_autoencoder_kl

    from explorer.models.foreign.diffusers_kl import load_diffusers_kl
    from explorer.runtime.calls import watched_decode

    model = load_diffusers_kl(make_autoencoder_kl(tmp_path / "kl"))
    seen: list[Progress] = []
    image = watched_decode(model, torch.zeros(1, 3, 8, 8), seen.append)
    assert image.shape == (1, 3, 16, 16)
    assert seen[0].total == len(find_blocks(model.vae.decoder)) == seen[-1].done


def test_eta_follows_the_block_costs_of_the_last_call_with_the_same_key():
    log: list = []
    decoder = StandInDecoder(log, ups=1)  # 4 blocks; the last one made 4x slower below
    slow = decoder.up_blocks[0].resnets[1]
    original = slow.forward
    slow.forward = lambda x: (time.sleep(3 * SLEEP), original(x))[1]
    with torch.no_grad():
        run_watched(lambda: decoder(torch.zeros(1, 4, 2, 2)), decoder, key="k")  # learns: 0.2, 0.2, 0.2, 0.8 s
        seen: list[Progress] = []
        run_watched(lambda: decoder(torch.zeros(1, 4, 2, 2)), decoder, seen.append, key="k")
    after_three = seen[3]
    assert after_three.done == 3 and after_three.eta_s == pytest.approx(4 * SLEEP, rel=0.3)  # not 1/3 of 0.6 s
