"""The linear latent -> RGB preview (explorer.preview.linear): exact on a decoder that is linear per cell,
at least as good as a constant on a diffusers decoder, cached by digest, and usable as plain lists."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.distributions import DiagonalGaussian
from explorer.models.base import VAE, Capabilities, VAEConfig
from explorer.preview import linear
from explorer.preview.linear import LinearPreview, cached_linear_preview, fit_linear_preview, photo_crops, psnr
from explorer.runtime.progress import Cancelled, CancelToken

FACTOR = 4


@dataclass
class CellConfig(VAEConfig):
    input_shape: tuple[int, int, int] = (3, 32, 32)
    likelihood: str = "gaussian"
    channels: int = 4


class CellLinearVAE(VAE):
    """A spatial-code VAE whose decoder is linear per cell: image = nearest-upsampled (code . W + b)."""

    family = "cell-linear-test"
    config_class = CellConfig

    def __init__(self, config: CellConfig):
        super().__init__(config)
        self.enc = nn.Conv2d(3, config.channels, FACTOR, stride=FACTOR)
        self.dec = nn.Conv2d(config.channels, 3, 1)
        with torch.no_grad():  # small weights keep every decoded value inside [0, 1], so nothing clamps
            self.enc.weight.mul_(0.5)
            self.dec.weight.mul_(0.1)
            self.dec.bias.fill_(0.5)

    @classmethod
    def config_capabilities(cls, config: VAEConfig) -> Capabilities:
        return Capabilities(spatial_code=True)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        _c, h, w = self.config.input_shape
        return (self.config.channels, h // FACTOR, w // FACTOR)

    def encode(self, x: Tensor) -> DiagonalGaussian:
        mean = torch.tanh(2 * self.enc(x))  # non-linear: 64 channels from 48 pixel values still span 64 dimensions
        return DiagonalGaussian(mean, torch.zeros_like(mean))

    def decode(self, z: Tensor):
        image = F.interpolate(self.dec(z), scale_factor=FACTOR, mode="nearest")
        return self.make_likelihood(torch.logit(image.clamp(1e-6, 1 - 1e-6)))


def _cell_model(channels: int) -> CellLinearVAE:
    torch.manual_seed(0)
    return CellLinearVAE(CellConfig(channels=channels)).eval()


@pytest.mark.parametrize("channels", [4, 16, 64])
def test_recovers_a_per_cell_linear_decoder_exactly(channels):
    model = _cell_model(channels)
    preview = fit_linear_preview(model, tiles=24, border=0)  # 24 whole 8x8 codes: 1,536 cells
    truth_w = model.dec.weight[:, :, 0, 0].T  # (C, 3)
    assert preview.factor == FACTOR and preview.channels == channels
    assert torch.allclose(preview.weights, truth_w, atol=1e-4)
    assert torch.allclose(preview.bias, model.dec.bias, atol=1e-4)
    with torch.no_grad():
        code = model.encode_code(photo_crops(2, (3, 32, 32), torch.Generator().manual_seed(1)))
        full = model.decode_code(code)
    shown = F.interpolate(preview.apply(code), scale_factor=preview.factor, mode="nearest")
    assert psnr(shown, full) > 60


def _tiny_kl(tmp_path, channels: int):
    diffusers = pytest.importorskip("diffusers")
    from explorer.models.foreign.diffusers_kl import load_diffusers_kl

    torch.manual_seed(0)
    diffusers.AutoencoderKL(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, sample_size=64,
                            latent_channels=channels, down_block_types=("DownEncoderBlock2D",) * 2,
                            up_block_types=("UpDecoderBlock2D",) * 2).save_pretrained(tmp_path / f"kl{channels}")
    return load_diffusers_kl(tmp_path / f"kl{channels}")


@pytest.mark.slow
def test_fits_diffusers_tiles_better_than_a_constant(tmp_path):
    model = _tiny_kl(tmp_path, 4)  # factor 2: a 64 px crop is a 4x32x32 code, 16 tiles of 8x8
    calls = []
    original = model.decode_code
    model.decode_code = lambda code, *a, **k: calls.append(tuple(code.shape)) or original(code, *a, **k)
    preview = fit_linear_preview(model, tiles=64, batch=16)
    assert calls == [(16, 4, 8, 8)] * 4  # 8x8 tiles decoded on their own, 16 at a time
    assert preview.factor == 2 and preview.samples == 64 * 6 * 6  # a border of 1 cell dropped
    # held-out tiles decoded the same way: the preview beats their own mean colour (an oracle constant)
    with torch.no_grad():
        code = model.encode_code(photo_crops(4, (3, 64, 64), torch.Generator().manual_seed(3)))
        tiles = code.unfold(2, 8, 8).unfold(3, 8, 8).permute(0, 2, 3, 1, 4, 5).reshape(-1, 4, 8, 8)
        cells = F.avg_pool2d(model.decode_code(tiles), 2)[:, :, 1:-1, 1:-1]
    constant = cells.mean(dim=(0, 2, 3), keepdim=True).expand_as(cells)
    assert psnr(preview.apply(tiles)[:, :, 1:-1, 1:-1], cells) > psnr(constant, cells)


def test_batches_stay_under_the_batch_memory_budget(monkeypatch):
    model = _cell_model(4)
    encodes, decodes = [], []
    encode, decode = model.encode_code, model.decode_code
    model.encode_code = lambda x, *a, **k: encodes.append(len(x)) or encode(x, *a, **k)
    model.decode_code = lambda z, *a, **k: decodes.append(len(z)) or decode(z, *a, **k)
    per_item = {"encode": 10, "decode": 4}  # bytes an item, as the estimator says
    monkeypatch.setattr(linear, "estimate_peak", lambda m, part, n, hw=None: SimpleNamespace(
        activation_bytes=per_item[part] * n))
    fit_linear_preview(model, tiles=8, batch=4, batch_bytes=12)
    assert encodes == [1] * 8  # 10 bytes a crop: one a batch under 12
    assert decodes == [3, 3, 2]  # 4 bytes a code: 3 a batch (4 asked)
    encodes.clear()
    fit_linear_preview(model, tiles=8, batch=4, batch_bytes=1)  # below one item: one at a time, never refused
    assert encodes == [1] * 8
    encodes.clear()
    fit_linear_preview(model, tiles=8, batch=4)  # the default budget (512 MB): the batch asked for
    assert encodes == [4, 4]


def test_progress_and_cancel(tmp_path):
    model = _cell_model(4)
    seen = []
    fit_linear_preview(model, tiles=16, batch=4, on_progress=seen.append)
    assert [p.done for p in seen] == list(range(1, 9)) and seen[-1].total == 8  # 4 encode + 4 decode batches
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        fit_linear_preview(model, tiles=16, token=token)


def test_cached_by_weights_digest(tmp_path, monkeypatch):
    model = _cell_model(4)
    first = cached_linear_preview(model, "ab" * 8, cache_dir=tmp_path, tiles=16)
    assert (tmp_path / "models" / ("ab" * 8) / "preview" / "linear-v1.safetensors").is_file()

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again")

    monkeypatch.setattr(linear, "fit_linear_preview", no_fit)
    again = cached_linear_preview(model, "ab" * 8, cache_dir=tmp_path)
    assert torch.equal(first.weights, again.weights) and torch.equal(first.bias, again.bias)
    assert again.fit_psnr == first.fit_psnr and again.factor == first.factor
    with pytest.raises(AssertionError, match="fitted again"):  # other weights: another digest, a new fit
        cached_linear_preview(model, "cd" * 8, cache_dir=tmp_path)


def test_plain_lists_and_comfy_factors_give_the_same_image():
    model = _cell_model(4)
    preview = fit_linear_preview(model, tiles=8)
    code = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    lists = preview.as_lists()
    w, b = np.array(lists["weights"]), np.array(lists["bias"])  # (C, 3), (3,)
    by_hand = np.clip(np.einsum("bchw,co->bohw", code.numpy(), w) + b[None, :, None, None], 0, 1)
    assert np.allclose(preview.apply_numpy(code.numpy()), by_hand, atol=1e-6)
    comfy = preview.comfy_factors()
    wc, bc = np.array(comfy["latent_rgb_factors"]), np.array(comfy["latent_rgb_factors_bias"])
    comfy_image = np.clip((np.einsum("bchw,co->bohw", code.numpy(), wc) + bc[None, :, None, None] + 1) / 2, 0, 1)
    assert np.allclose(comfy_image, by_hand, atol=1e-6)
    assert preview.apply(code[0]).shape == (3, 8, 8)


def test_bad_inputs_name_the_problem():
    import tests.support.minimal_family  # noqa: F401  (a vector-code family)
    from explorer.models.registry import build_model

    with pytest.raises(ValueError, match="needs a spatial"):
        fit_linear_preview(build_model("minimal-test"))
    with pytest.raises(ValueError, match="takes codes"):
        LinearPreview(torch.zeros(4, 3), torch.zeros(3), 8, 0.0, 0, 0.0).apply(torch.zeros(1, 5, 2, 2))
    with pytest.raises(ValueError, match="tile_cells"):
        fit_linear_preview(_cell_model(4), tile_cells=2, border=1)
