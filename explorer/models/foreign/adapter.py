"""Any other PyTorch VAE, through a small Python adapter file that the user writes and explicitly trusts.

An adapter file defines one function:

    def load_vae(device: torch.device) -> AdapterSpec:
        net = MyVAE().to(device)                     # build the network, read safetensors weights (no pickles)
        return AdapterSpec(
            encode=net.encode,                       # images (B, C, H, W) in value_range -> (mean, logvar),
                                                     #   each (B, *latent_shape)
            decode=net.decode,                       # codes (B, *latent_shape) -> logits (bernoulli) or
                                                     #   images in value_range (gaussian), (B, C, H, W)
            input_shape=(1, 28, 28), latent_shape=(8,),
            likelihood="bernoulli",                  # or "gaussian", with sigma (std on [0, 1] images)
            value_range=(0.0, 1.0),                  # or (-1.0, 1.0)
            module=net,                              # optional: lets .to(device) and .parameters() see the weights
        )

It may return a plain dict with the same keys instead. Loading the file runs its code, so `load_adapter` does
so only for files listed in `trusted_code` (on the command line: `--trust-code FILE`). The wrapped model is
differentiable when the user's functions are.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from explorer.distributions import DiagonalGaussian, Likelihood
from explorer.models.foreign.common import ForeignConfig, ForeignVAE
from explorer.models.foreign.errors import ForeignModelError

ADAPTER_FUNCTION = "load_vae"


@dataclass
class AdapterSpec:
    """What an adapter's `load_vae(device)` returns: two functions and the shapes and ranges they use."""

    encode: Callable[[Tensor], tuple[Tensor, Tensor]]  # (B, C, H, W) in value_range -> mean, logvar (B, *latent_shape)
    decode: Callable[[Tensor], Tensor]  # (B, *latent_shape) -> logits or images in value_range (B, C, H, W)
    input_shape: tuple[int, int, int]
    latent_shape: tuple[int, ...]
    likelihood: str = "bernoulli"  # "bernoulli" (decode gives logits) or "gaussian" (decode gives images)
    value_range: tuple[float, float] = (0.0, 1.0)  # (0, 1) or (-1, 1)
    sigma: float = 0.1  # gaussian only: fixed std of p(x | z) on [0, 1] images
    module: nn.Module | None = None  # the network, registered so that .to() and .parameters() reach it
    class_names: tuple[str, ...] = ()


class AdapterVAE(ForeignVAE):
    """The user's network behind an `AdapterSpec`."""

    family = "adapter"
    config_class = ForeignConfig

    def __init__(self, config: ForeignConfig, spec: AdapterSpec):
        super().__init__(config)
        self.spec = spec
        self.net = spec.module  # a submodule when given (None registers nothing)

    def encode(self, x: Tensor) -> DiagonalGaussian:
        """Images (B, C, H, W) in [0, 1] -> q(z | x) (B, *latent_shape)."""
        mean, logvar = self.spec.encode(self.to_model_range(x))
        shape = (x.shape[0], *self.latent_shape)
        return DiagonalGaussian(mean.reshape(shape), logvar.reshape(shape))

    def decode(self, z: Tensor) -> Likelihood:
        """Codes (B, *latent_shape) -> p(x | z) over images (B, C, H, W) in [0, 1]."""
        return self.likelihood_from_output(self.spec.decode(z))


def _run_file(path: Path) -> Any:
    """Import the file as a fresh module (registered in sys.modules so its dataclasses work)."""
    name = "explorer_adapter_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ForeignModelError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ForeignModelError(f"{path} raised {type(exc).__name__} while being imported: {exc}") from exc
    return module


def _as_spec(value: Any, path: Path) -> AdapterSpec:
    if isinstance(value, dict):
        known = {f.name for f in fields(AdapterSpec)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ForeignModelError(f"{path}: {ADAPTER_FUNCTION}() returned unknown key(s) {unknown}; known: {sorted(known)}")
        try:
            value = AdapterSpec(**value)
        except TypeError as exc:
            raise ForeignModelError(f"{path}: {ADAPTER_FUNCTION}() returned an incomplete spec: {exc}") from None
    if not isinstance(value, AdapterSpec):
        raise ForeignModelError(f"{path}: {ADAPTER_FUNCTION}() must return an AdapterSpec or a dict, got {type(value).__name__}")
    return value


def is_trusted(path: Path, trusted_code: Collection[str | Path]) -> bool:
    """Whether path is one of the files the user trusted (compared after resolving links and '..')."""
    return Path(path).resolve() in {Path(p).resolve() for p in trusted_code}


def load_adapter(path: str | Path, device: torch.device | str = "cpu", trusted_code: Collection[str | Path] = ()) -> AdapterVAE:
    """Run a trusted adapter file's `load_vae(device)` and wrap what it returns as an `AdapterVAE` on device.

    Refused (ForeignModelError) unless path is in trusted_code: loading it runs arbitrary code.
    """
    path = Path(path)
    if not is_trusted(path, trusted_code):
        raise ForeignModelError(f"{path} is Python code, and loading it runs that code; it is loaded only when you "
                                f"trust it: pass `--trust-code {path}` on the command line (trusted_code=[path] in Python)")
    if not path.is_file():
        raise ForeignModelError(f"{path} is not a file")
    device = torch.device(device)
    module = _run_file(path)
    function = module.__dict__.get(ADAPTER_FUNCTION)
    if not callable(function):
        raise ForeignModelError(f"{path} does not define {ADAPTER_FUNCTION}(device) -> AdapterSpec")
    try:
        spec = _as_spec(function(device), path)
    except ForeignModelError:
        raise
    except Exception as exc:
        raise ForeignModelError(f"{path}: {ADAPTER_FUNCTION}(device) raised {type(exc).__name__}: {exc}") from exc
    try:
        config = ForeignConfig(input_shape=spec.input_shape, likelihood=spec.likelihood, latent_shape=spec.latent_shape,
                               value_range=spec.value_range, sigma=spec.sigma, class_names=spec.class_names,
                               source=str(path))
    except (TypeError, ValueError) as exc:
        raise ForeignModelError(f"{path}: {ADAPTER_FUNCTION}() returned an invalid spec: {exc}") from None
    return AdapterVAE(config, spec).to(device).eval()
