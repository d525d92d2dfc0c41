"""Builders of tiny foreign models (diffusers AutoencoderKL, ONNX pair) for the foreign-model and app tests.

Each builder writes a folder the explorer loads with `explorer.models.foreign.load_foreign` and returns its path.
They are seeded, so the same call writes the same weights.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_ADAPTER = REPO / "examples" / "plain_pytorch_adapter.py"
ONNX_OPSET = 18  # torch 2.14's dynamo exporter targets opset 18 by default; stated explicitly here

KL_SCALING, KL_SHIFT = 0.5, 0.1


# the SD 1.x VAE config (83.7M parameters, a 4 x 32 x 32 latent at 256 px) and a FLUX-like one (16 channels, no quant
# convs, scaling and shift), at full size: for the slow tests, with random seeded weights (make_kl)
SD1_CONFIG = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, scaling_factor=0.18215,
                  sample_size=256)
FLUX_LIKE_CONFIG = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=16,
                        use_quant_conv=False, use_post_quant_conv=False, scaling_factor=0.3611, shift_factor=0.1159,
                        sample_size=256)


def make_autoencoder_kl(folder: Path, sample_size: int = 16, seed: int = 0) -> Path:
    """A tiny random diffusers AutoencoderKL (3x16x16 images, latent 3x8x8, scaling 0.5, shift 0.1), saved with
    `save_pretrained(safe_serialization=True)` into folder."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4, latent_channels=3,
        sample_size=sample_size, scaling_factor=KL_SCALING, shift_factor=KL_SHIFT)
    vae.save_pretrained(str(folder), safe_serialization=True)
    return Path(folder)


class TinyVAE(nn.Module):
    """A small conv encoder + MLP decoder on 1x28x28 with a vector latent, to export as an ONNX pair."""

    def __init__(self, latent_dim: int = 4):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(4 * 14 * 14, 2 * latent_dim))
        self.dec = nn.Sequential(nn.Linear(latent_dim, 32), nn.Tanh(), nn.Linear(32, 28 * 28))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.enc(x).chunk(2, dim=1)  # (B, D) each
        return mean, logvar

    def decode(self, z: Tensor) -> Tensor:
        return self.dec(z).view(-1, 1, 28, 28)  # logits


class _Half(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor):
        return self.fn(x)


def export_pair(net: TinyVAE, folder: Path, latent_dim: int) -> None:
    """The tested PyTorch -> ONNX export: two graphs with a dynamic batch, weights inside each file."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.onnx.export(_Half(net.encode).eval(), (torch.rand(2, 1, 28, 28),), str(folder / "encoder.onnx"),
                      input_names=["image"], output_names=["mean", "logvar"], opset_version=ONNX_OPSET,
                      dynamic_shapes=({0: batch},), external_data=False, verbose=False)
    torch.onnx.export(_Half(net.decode).eval(), (torch.randn(2, latent_dim),), str(folder / "decoder.onnx"),
                      input_names=["code"], output_names=["logits"], opset_version=ONNX_OPSET,
                      dynamic_shapes=({0: batch},), external_data=False, verbose=False)


def torchscript_onnx_export(module: nn.Module, example: Tensor, path: str | Path, **options) -> None:
    """`torch.onnx.export` with the TorchScript exporter (dynamo=False: fast on a small stand-in, and the exporter the
    project's own export tries first), without the deprecation warnings torch gives for it; `options` go to
    torch.onnx.export (input_names, output_names, opset_version, dynamic_axes, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (example,), str(path), dynamo=False, **options)


PAIR_FILES = ("encoder.onnx", "decoder.onnx", "torch_reference.safetensors")


@functools.lru_cache(maxsize=4)
def _exported_pair(latent_dim: int, seed: int) -> Path:
    """The pair's files for (latent_dim, seed), exported once per process into a temporary folder (removed at
    exit): an export takes seconds, and the suite asks for the same pair in several fixtures."""
    from safetensors.torch import save_file

    folder = Path(tempfile.mkdtemp(prefix="onnx-pair-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    torch.manual_seed(seed)
    net = TinyVAE(latent_dim).eval()
    export_pair(net, folder, latent_dim)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "torch_reference.safetensors"))
    return folder


def make_onnx_pair(folder: Path, latent_dim: int = 4, seed: int = 0, spec: dict | None = None) -> Path:
    """A tiny Bernoulli VAE on 1x28x28 exported as encoder.onnx + decoder.onnx + onnx_vae.json into folder.

    The torch module it came from is saved beside it as `torch_reference.safetensors` (state dict) so tests can
    rebuild it with `onnx_reference(folder)`. The files are copies of this process's one export per
    (latent_dim, seed) (the network is seeded, so a second export would be the same model)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = _exported_pair(latent_dim, seed)
    for name in PAIR_FILES:
        shutil.copyfile(made / name, folder / name)
    payload = {"input_shape": [1, 28, 28], "value_range": [0, 1], "likelihood": "bernoulli",
               "class_names": [str(i) for i in range(10)]}
    payload.update(spec or {})
    (folder / "onnx_vae.json").write_text(json.dumps(payload, indent=2))
    return folder


def onnx_reference(folder: Path, latent_dim: int = 4) -> TinyVAE:
    """The torch module an ONNX pair from `make_onnx_pair` was exported from."""
    from safetensors.torch import load_file

    net = TinyVAE(latent_dim)
    net.load_state_dict(load_file(str(Path(folder) / "torch_reference.safetensors")))
    return net.eval()


def make_kl(folder: Path | None, seed: int = 0, **config) -> "torch.nn.Module":
    """A random diffusers AutoencoderKL of this config (seeded), saved with save_pretrained into folder if given."""
    from diffusers import AutoencoderKL

    blocks = len(config.get("block_out_channels", (64,)))
    config = {"down_block_types": ("DownEncoderBlock2D",) * blocks, "up_block_types": ("UpDecoderBlock2D",) * blocks,
              **config}
    torch.manual_seed(seed)
    vae = AutoencoderKL(**config).eval()
    if folder is not None:
        vae.save_pretrained(str(folder), safe_serialization=True)
    return vae


def write_ldm_file(vae: nn.Module, path: Path, prefix: str = "", extra: dict[str, Tensor] | None = None) -> Path:
    """vae's weights as one safetensors file in the original (CompVis / ldm) layout, as A1111 and ComfyUI keep them:
    names from `explorer.models.foreign.ldm_layout.ldm_key` (the inverse of diffusers' single-file conversion),
    attention projections as 1x1 convs, each key prefixed (e.g. "first_stage_model." in a full checkpoint), plus
    `extra` tensors (a full checkpoint's other parts) written as they are."""
    from safetensors.torch import save_file

    from explorer.models.foreign.ldm_layout import ldm_key, ldm_shape

    blocks = len(vae.config.block_out_channels)
    state = {prefix + ldm_key(k, blocks): v.detach().reshape(ldm_shape(k, tuple(v.shape))).contiguous()
             for k, v in vae.state_dict().items()}
    save_file({**state, **(extra or {})}, str(path))
    return Path(path)


def copy_pair(onnx_folder: Path, tmp_path: Path, **spec) -> Path:
    """A copy of an ONNX pair folder in tmp_path/pair, its onnx_vae.json updated with `spec`."""
    import json
    import shutil

    folder = tmp_path / "pair"
    shutil.copytree(onnx_folder, folder)
    payload = json.loads((folder / "onnx_vae.json").read_text())
    payload.update(spec)
    (folder / "onnx_vae.json").write_text(json.dumps(payload))
    return folder
