"""The interface every model family implements, and the shared pieces behind it.

A family subclasses `VAE`, sets `config_class`, and implements `encode(x) -> Posterior` and
`decode(z) -> likelihood`. Sampling, reconstruction, interpolation, per-sample loss terms, importance
weights, the training step and every capability a caller may ask about then come from this base class, with
defaults that a family overrides. Callers never inspect a model to find out what it can do: they read
`capabilities()` (or `VAE.config_capabilities(config)` before any weights are loaded) and call the methods it
declares. Models never draw hidden randomness: every draw takes a generator.

Conditional models (`capabilities().condition_classes > 0`, e.g. the cvae) take `condition=` class indices
(B,) (or one int for the whole batch) in `encode` and `decode`; every method below that reaches them passes a
`condition` keyword along (default None, which an unconditional family never sees: `_encode` / `_decode` drop
it), so callers pass it only to models that declare the capability.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor, nn

from explorer.distributions import (
    BernoulliLikelihood,
    DiagonalGaussian,
    GaussianLikelihood,
    Likelihood,
    Noise,
    randn_like,
    standard_normal_log_prob,
)
from explorer.losses import regularised_kl
from explorer.models.latent_scaling import LatentScaling

LIKELIHOODS = ("bernoulli", "gaussian")
# class indices (B,) or one class index for the whole batch; None for an unconditional model
Condition = Tensor | int | None


@dataclass
class VAEConfig:
    """Fields every family shares; families add their own."""

    # inherited fields a family's model does not read (e.g. latent_dim where the code shape comes from other
    # fields): train.py refuses options that set them instead of ignoring them silently
    ignored_fields: ClassVar[tuple[str, ...]] = ()

    input_shape: tuple[int, int, int] = field(default=(1, 28, 28), metadata={"help": "(C, H, W) of the data"})
    latent_dim: int = field(default=16, metadata={
        "help": "size of a vector code (tensor-shaped codes define their own shape)"})
    likelihood: str = field(default="bernoulli", metadata={
        "help": "output likelihood: bernoulli (logits, data in [0, 1]) or gaussian (dequantised 8-bit)",
        "choices": LIKELIHOODS})
    learn_scale: bool = field(default=True, metadata={
        "help": "gaussian only: learn one log standard deviation per channel"})
    init_log_scale: float = field(default=-2.0, metadata={"help": "gaussian only: initial (or fixed) log standard deviation"})

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)  # JSON gives lists
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {self.input_shape}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "VAEConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} does not know the field(s) {unknown}")
        return cls(**values)

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> "VAEConfig":
        """The config of a saved checkpoint (its config.json): as from_dict, where a family may fill the fields
        that older checkpoints predate with the value that built them."""
        return cls.from_dict(values)


class Posterior(Protocol):
    """q(z | x) as the interface sees it; DiagonalGaussian is the built-in one.

    Shapes: `mean` (B, *latent_shape); `rsample` returns the same shape; `log_prob(z)` and `kl()` are
    element-wise (B, *latent_shape). `kl()` is only called when `has_analytic_kl` is True; otherwise the ELBO
    uses `kl_at(z)`, a one-draw estimate at the draw z (an IAF posterior's).
    """

    mean: Tensor
    has_analytic_kl: bool

    def rsample(self, generator: Noise = None) -> Tensor: ...

    def log_prob(self, z: Tensor) -> Tensor: ...

    def kl(self) -> Tensor: ...

    def kl_at(self, z: Tensor) -> Tensor: ...

    def expand_draws(self, k: int) -> "Posterior": ...


@dataclass(frozen=True)
class Capabilities:
    """What a model offers beyond encode / decode. Pages and commands read this instead of probing the model."""

    captions: bool = False  # `captions(code, ...)` and `vocabulary()` work
    labels: bool = False  # `label_probabilities(code, ...)` works
    condition_classes: int = 0  # > 0: encode and decode take `condition=` (B,) class indices (conditional VAE)
    trainable: bool = True  # train.py can train it (models trained elsewhere are evaluated, not trained)
    spatial_code: bool = False  # the code is a (C, H, W) map rather than a vector
    discrete_code: bool = False  # the code is a grid of codebook indices (VQ-VAE, FSQ)
    # posterior draws whose label and caption predictions evaluation averages (1: the mean); a model declaring
    # more takes codes (B, M, *latent_shape) in `captions` and `label_probabilities` and averages over the M
    prediction_draws: int = 1
    # every draw of its training step goes through explorer.distributions' helpers (randn_like, rand_like,
    # Posterior.rsample), so the trainer may pass an ItemNoise as `generator`: each item's noise then depends on
    # (seed, epoch, index) only, and a distributed run draws exactly the noise of a one-process run. The base
    # class's step does; a family that calls torch's samplers itself leaves it False and gets a torch generator.
    item_keyed_noise: bool = False
    # False: the ELBO's reconstruction term is not a density over pixels (the VAE/GAN scores its reconstruction
    # in its discriminator's feature space); evaluation then reports no bits per dimension and labels the ELBO
    pixel_likelihood: bool = True
    # `similarity_features(x)` gives the features a learned similarity compares (the VAE/GAN's Dis_l)
    learned_similarity: bool = False
    # False: `encode` gives a plain latent, not q(z | x) (diffusers' AutoencoderTiny / TAESD and AutoencoderDC): its
    # `.mean` is the latent, and there is no ELBO, IWAE bound, KL or posterior sample; `loss_terms`, `elbo_terms`
    # and `iwae_log_weights` refuse with a message saying so, and pages show why they show none
    posterior: bool = True
    # > 0: encode and decode take images of any height and width that are multiples of this (a convolutional
    # autoencoder such as diffusers' AutoencoderKL, factor 8), so an upload is encoded at its own size; 0: only
    # config.input_shape
    size_multiple: int = 0
    # True: the objective switches off the dimensions it does not need (beta-TCVAE with a TC weight over 1, FactorVAE),
    # so fewer than half the dimensions in use is its intended result, not a collapse (the collapse rule's half test
    # is skipped; its total-KL test still applies). A beta-VAE trained with --beta > 1 gets the same from its run.
    pruning_objective: bool = False


    @property
    def code_kind(self) -> str:
        """"vector", "spatial" (a C x H x W map) or "discrete" (a grid of code indices): the walk page picks its
        panel by it."""
        return "discrete" if self.discrete_code else "spatial" if self.spatial_code else "vector"


@dataclass(frozen=True)
class NativeOnnx:
    """A part a model already runs as an ONNX file (an ONNX pair's decoder or encoder): the file, the per-item
    input shape the graph itself takes, and the value range of its images."""

    path: Path
    input_shape: tuple[int, ...]
    value_range: tuple[float, float]


@dataclass(frozen=True)
class CodeLevel:
    """One grid of code indices of a discrete model (`capabilities().discrete_code`): what a cell is.

    Cell (i, j) stands for the image's stride x stride footprint at (i * stride, j * stride); its code vector was
    computed from the receptive_field x receptive_field box starting at (i * stride - offset, j * stride - offset)
    (clipped to the image)."""

    name: str  # "code" for a one-level model; "top" / "bottom" for a two-level one
    grid: tuple[int, int]  # (h, w) cells at the model's input size
    stride: int  # image pixels per cell side
    receptive_field: int  # pixels per side of the image box one cell's code sees
    offset: int  # where that box starts, left of / above the footprint (the encoder's padding)
    code_size: int  # length of one code vector
    codebook_size: int  # K: indices run 0..K-1
    learned_codebook: bool = True  # False: an implicit lattice (FSQ), no learned vectors


def check_code_indices(indices: Tensor | Sequence[Tensor], levels: Sequence[CodeLevel]) -> list[Tensor]:
    """Indices of each level as a list of integer tensors (B, h, w) (a lone tensor for a one-level model); a
    ValueError names the level, the value and the accepted range when an index is outside the codebook."""
    parts = [indices] if isinstance(indices, Tensor) else list(indices)
    if len(parts) != len(levels):
        raise ValueError(f"expected indices for {len(levels)} level(s) ({', '.join(l.name for l in levels)}), "
                         f"got {len(parts)}")
    checked = []
    for part, level in zip(parts, levels):
        part = torch.as_tensor(part)
        if part.is_floating_point() or part.is_complex() or part.dtype == torch.bool:
            raise ValueError(f"code indices of level {level.name!r} must be integers, got {part.dtype}")
        if part.dim() != 3:
            raise ValueError(f"code indices of level {level.name!r} must have shape (B, h, w), got {tuple(part.shape)}")
        if part.numel() and (int(part.min()) < 0 or int(part.max()) >= level.codebook_size):
            bad = int(part.min()) if int(part.min()) < 0 else int(part.max())
            raise ValueError(f"code index {bad} of level {level.name!r} is outside its codebook: indices run "
                             f"0..{level.codebook_size - 1}")
        checked.append(part.long())
    return checked


@dataclass
class StepObjective:
    """How the trainer weighs a step's per-sample terms: the KL weight, free bits and gradient clipping."""

    beta: float = 1.0
    free_bits: float = 0.0
    free_bits_mode: str = "dimension"
    grad_clip: float = 0.0
    # fp16 mixed precision: the trainer's torch.amp.GradScaler, which `backward` and `step` use (None: unscaled)
    scaler: Any = None

    def per_sample_loss(self, terms: dict[str, Tensor]) -> Tensor:
        """nll + beta * regularised KL + every further (B,) term: the loss of each sample, shape (B,)."""
        loss = terms["nll"] + self.beta * regularised_kl(terms["kl_dims"], self.free_bits, self.free_bits_mode)
        for name, value in terms.items():
            if name not in ("nll", "kl_dims"):
                loss = loss + value
        return loss

    def clip(self, parameters: Any) -> None:
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(parameters, self.grad_clip)

    def backward(self, loss: Tensor) -> None:
        """loss.backward(), scaled by the fp16 grad scaler when the trainer uses one."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimizer: torch.optim.Optimizer, parameters: Any) -> None:
        """Clip (on unscaled gradients) and step one optimiser; with a grad scaler the step is skipped when the
        fp16 gradients overflowed (the trainer updates the scale once per step)."""
        if self.scaler is None:
            self.clip(parameters)
            optimizer.step()
            return
        self.scaler.unscale_(optimizer)
        self.clip(parameters)
        self.scaler.step(optimizer)


def posterior_kl(posterior: Posterior, z: Tensor) -> Tensor:
    """KL(q || N(0, I)) per dimension (B, D): closed form where the posterior declares one, else the posterior's
    one-draw estimate at the draw z (B, *latent_shape)."""
    return (posterior.kl() if posterior.has_analytic_kl else posterior.kl_at(z)).flatten(1)


@dataclass
class VAEOutput:
    """One stochastic pass: the posterior, the drawn code, the likelihood and any extra per-sample terms."""

    posterior: Posterior
    z: Tensor
    likelihood: Likelihood
    extra: dict[str, Tensor] = field(default_factory=dict)


class VAE(nn.Module):
    """Base class of every family. Subclasses implement `encode` and `decode`."""

    family: ClassVar[str] = ""
    config_class: ClassVar[type[VAEConfig]] = VAEConfig
    # what `encode_code` shows, for page labels: a class default that a family may override per instance (with
    # an IAF posterior the code is "flow at ε = 0")
    code_name: str = "posterior mean"
    # q(z | x) in words, for the model card: a family whose posterior is not the diagonal Gaussian says so (an IAF
    # posterior names its k, width and context)
    posterior_name: str = "diagonal Gaussian"

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        channels = config.input_shape[0]
        if config.likelihood == "gaussian":
            log_scale = torch.full((1, channels, 1, 1), float(config.init_log_scale))
            if config.learn_scale:
                self.log_scale = nn.Parameter(log_scale)
            else:
                self.register_buffer("log_scale", log_scale)

    # -- the two methods a family provides -------------------------------------------------------
    def encode(self, x: Tensor) -> Posterior:
        """Images (B, C, H, W) in [0, 1] -> q(z | x) over codes (B, *latent_shape)."""
        raise NotImplementedError

    def decode(self, z: Tensor) -> Likelihood:
        """Codes (B, *latent_shape) -> p(x | z) over images (B, C, H, W) in [0, 1]."""
        raise NotImplementedError

    # -- capabilities: declared, never probed -----------------------------------------------------
    @classmethod
    def config_capabilities(cls, config: VAEConfig) -> Capabilities:
        """What a model of this class with this config offers, known before any weights are loaded (the base
        class draws only through explorer.distributions, hence item-keyed noise)."""
        return Capabilities(item_keyed_noise=True)

    def capabilities(self) -> Capabilities:
        return type(self).config_capabilities(self.config)

    def captions(self, code: Tensor, method: str = "sample", n: int = 1, temperature: float = 1.0, beam_size: int = 5,
                 generator: torch.Generator | None = None, max_len: int | None = None) -> list[str]:
        """Captions of codes (B, *latent_shape): a flat list grouped by code (B for greedy, B * n otherwise).
        Only where `capabilities().captions`."""
        raise NotImplementedError(f"the {self.family!r} family does not caption")

    def caption_log_prob(self, code: Tensor, captions: list[str] | Tensor) -> Tensor:
        """log p(caption_i | code_i) (B,) for codes (B, *latent_shape) (or (B, M, *latent_shape), averaged over
        the M) and captions as texts or token ids (B, T). Only where `capabilities().captions`."""
        raise NotImplementedError(f"the {self.family!r} family does not caption")

    def native_onnx(self, part: str) -> NativeOnnx | None:
        """The ONNX file this model itself runs for `part` ("decoder" or "encoder"), which the page is then sent
        as it is (explorer.onnx.wrap); None (the default): the part is exported from torch."""
        return None

    def vocabulary(self) -> list[str]:
        """The caption words (special tokens excluded), where `capabilities().captions`."""
        return []

    def label_probabilities(self, code: Tensor, n_draws: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Class probabilities (B, n_classes) of codes (B, *latent_shape). Only where `capabilities().labels`."""
        raise NotImplementedError(f"the {self.family!r} family has no label head")

    def similarity_features(self, x: Tensor) -> Tensor:
        """Features (B, F) of images (B, C, H, W) in [0, 1] whose distance is a learned similarity. Only where
        `capabilities().learned_similarity`."""
        raise NotImplementedError(f"the {self.family!r} family has no learned similarity")

    def likelihood_description(self) -> str:
        """How p(x | z) scores an image, for pages and cards."""
        if self.config.likelihood == "bernoulli":
            return "Bernoulli per pixel (logits from the decoder)"
        learned = "learned" if self.config.learn_scale else "fixed"
        return f"Gaussian per pixel on [0, 1] with a {learned} per-channel scale"

    @contextmanager
    def whole_frames(self) -> Iterator[None]:
        """Within it, images of any size are encoded and decoded in one piece. Every family runs so already; one
        that encodes large images in tiles (a diffusers folder trained on crops) turns its tiles off here."""
        yield

    # -- discrete codes (only where `capabilities().discrete_code`) --------------------------------
    def code_levels(self) -> tuple[CodeLevel, ...]:
        """The grids of code indices, coarsest last (one for a VQ-VAE or FSQ, top and bottom for a two-level one)."""
        raise NotImplementedError(f"the {self.family!r} family has no discrete code")

    def encode_indices(self, x: Tensor) -> list[Tensor]:
        """Images (B, C, H, W) in [0, 1] -> code indices per level, each (B, h, w) int64."""
        raise NotImplementedError(f"the {self.family!r} family has no discrete code")

    def decode_indices(self, indices: Tensor | Sequence[Tensor], levels: Sequence[int] | None = None) -> Tensor:
        """Code indices per level (a lone (B, h, w) tensor for one level) -> images (B, C, H, W) in [0, 1].
        `levels` (positions in `code_levels()`) decodes only those, the others' code vectors set to zero."""
        raise NotImplementedError(f"the {self.family!r} family has no discrete code")

    def codebook(self, level: int = 0) -> Tensor:
        """The code vectors (K, code_size) of one level, row k for index k (FSQ: its lattice points)."""
        raise NotImplementedError(f"the {self.family!r} family has no discrete code")

    # -- checkpoint and training hooks ------------------------------------------------------------
    @classmethod
    def adapt_config_to_data(cls, values: dict[str, Any], data: Any) -> dict[str, Any]:
        """Config values completed from a DataSplit before the model is built (e.g. a caption vocabulary)."""
        return values

    @classmethod
    def from_config(cls, config: VAEConfig, folder: Path | None = None) -> "VAE":
        """Build the model for a checkpoint folder's config (a family with extra files reads them from folder)."""
        return cls(config)

    def extra_files(self) -> dict[str, bytes]:
        """Files saved beside config.json and model.safetensors, by name."""
        return {}

    def compile_training_kernels(self) -> list[str]:
        """Compile what this family can compile for training (torch.compile); returns what was compiled.
        Families without such a kernel compile nothing (train.py --compile then says so)."""
        return []

    def configure_optimizers(self, lr: float, weight_decay: float = 0.0) -> dict[str, torch.optim.Optimizer]:
        """The optimisers `training_step` uses, by name (a VAE/GAN has one for its discriminator too)."""
        return {"vae": torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)}

    def training_step(self, batch: Any, objective: StepObjective, optimizers: dict[str, torch.optim.Optimizer],
                      generator: Noise = None) -> dict[str, Tensor]:
        """One optimisation step on a batch; returns detached scalars to log: `loss`, `nll`, `kl` and extras.

        The forward pass goes through `self(...)` (in `loss_terms`), which is where a distributed trainer
        synchronises; backward and step go through `objective` (gradient scaling under fp16, clipping)."""
        terms = self.loss_terms(batch, generator)
        loss = objective.per_sample_loss(terms).mean()
        optimizer = optimizers["vae"]
        optimizer.zero_grad(set_to_none=True)
        objective.backward(loss)
        objective.step(optimizer, self.parameters())
        logged = {"loss": loss.detach(), "nll": terms["nll"].detach().mean(), "kl": terms["kl_dims"].detach().sum(1).mean()}
        logged.update({k: v.detach().mean() for k, v in terms.items() if k not in ("nll", "kl_dims")})
        return logged

    # -- codes as pages show them -----------------------------------------------------------------
    def code_from_latent(self, z: Tensor) -> Tensor:
        """The space walks, maps and prior draws live in, from the model's latent (identity unless a model
        scales its latent, as diffusers' pipelines do)."""
        return z

    def latent_from_code(self, code: Tensor) -> Tensor:
        return code

    def code_scaling(self) -> tuple[float, float]:
        """(scaling_factor, shift_factor) of code = (latent - shift_factor) * scaling_factor, as diffusers names
        them; (1, 0) where the code is the latent. Latent files record it (explorer.latent_files)."""
        return 1.0, 0.0

    def latent_scaling(self) -> LatentScaling:
        """The whole code <-> latent map, per-channel statistics included (SDXL-style `latents_mean` /
        `latents_std`), for what records it: ONNX metadata, latent files. Scalar-only models: `code_scaling`."""
        return LatentScaling(*self.code_scaling())

    def encode_code(self, x: Tensor, condition: Condition = None) -> Tensor:
        """The code pages show for images x: (B, *latent_shape), deterministic (see `code_name`)."""
        return self.code_from_latent(self._encode(x, condition).mean)

    def decode_code(self, code: Tensor, seed: int = 0, condition: Condition = None) -> Tensor:
        """Images (B, C, H, W) in [0, 1] to display for codes: the likelihood mean, the same for the same
        code and seed (a family whose decoder draws, like `pu`, fixes its draws from seed)."""
        return self._decode(self.latent_from_code(code), condition).mean

    # -- the condition of conditional models --------------------------------------------------------
    def _encode(self, x: Tensor, condition: Condition) -> Posterior:
        """encode(x), with condition= for a model that declares condition_classes (others never see it)."""
        return self.encode(x, condition=condition) if self.capabilities().condition_classes else self.encode(x)

    def _decode(self, z: Tensor, condition: Condition) -> Likelihood:
        return self.decode(z, condition=condition) if self.capabilities().condition_classes else self.decode(z)

    def require_posterior(self, what: str) -> None:
        """ValueError naming `what` (e.g. "the ELBO") when the model declares no posterior (`capabilities().posterior`)."""
        if not self.capabilities().posterior:
            raise ValueError(f"{what} needs a posterior q(z | x), and the {self.family!r} model has none: it encodes to "
                             "a plain latent (capabilities().posterior is False)")

    # -- shared behaviour -----------------------------------------------------------------------
    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one code: (latent_dim,) for vector codes, (C, H, W) for tensor codes."""
        return (self.config.latent_dim,)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def make_likelihood(self, raw: Tensor) -> Likelihood:
        """Turn the decoder's last activations (B, C, H, W) into the configured likelihood."""
        if self.config.likelihood == "bernoulli":
            return BernoulliLikelihood(raw)
        return GaussianLikelihood(torch.sigmoid(raw), self.log_scale.clamp(-7.0, 2.0))

    def forward(self, x: Tensor, generator: Noise = None, condition: Condition = None) -> VAEOutput:
        posterior = self._encode(x, condition)
        z = posterior.rsample(generator)
        return VAEOutput(posterior, z, self._decode(z, condition))

    def loss_terms(self, batch: Any, generator: Noise = None) -> dict[str, Tensor]:
        """Per-sample terms for the objective: `nll` (B,), `kl_dims` (B, D) and any extra (B,) terms.

        `batch` is what the data loader yields; families with labels or captions read more of it. A conditional
        model reads its condition from the batch's labels (batch[1]).
        """
        self.require_posterior("training's loss (its KL term)")
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        condition = None
        if self.capabilities().condition_classes:
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise ValueError(f"the {self.family!r} model is conditional (capabilities().condition_classes): "
                                 "its batches must be (images, labels)")
            condition = batch[1]
        # a family that overrides forward(x, generator) keeps working: condition only goes to conditional models
        out = self(x, generator) if condition is None else self(x, generator, condition=condition)
        terms = {
            "nll": -out.likelihood.log_prob(x).flatten(1).sum(1),
            "kl_dims": posterior_kl(out.posterior, out.z),
        }
        terms.update(out.extra)
        return terms

    def elbo_terms(self, x: Tensor, generator: torch.Generator | None = None,
                   condition: Condition = None) -> dict[str, Tensor]:
        """One-draw estimate of the ELBO's terms per image: `nll` (B,), `kl_dims` (B, D), and any further KL
        terms (B,) of a family whose latent variables are more than the code (each under its own name).

        ELBO = -(nll + kl_dims.sum(1) + sum of the further terms). Unlike `loss_terms` nothing is weighted
        and no label or caption term enters: this is the bound on log p(x) that evaluation reports (on
        log p(x | y) for a conditional model given condition= y).
        """
        self.require_posterior("the ELBO")
        posterior = self._encode(x, condition)
        z = posterior.rsample(generator)
        return {"nll": -self._decode(z, condition).log_prob(x).flatten(1).sum(1), "kl_dims": posterior_kl(posterior, z)}

    def iwae_log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None,
                         condition: Condition = None) -> Tensor:
        """log p(x, z_i) - log q(z_i | x) for k posterior draws per image, shape (B, k) (given y for a
        conditional model: condition (B,) or one int)."""
        self.require_posterior("the IWAE bound")
        posterior = self._encode(x, condition)
        batch = x.shape[0]
        draws = posterior.expand_draws(k)
        z = draws.rsample(generator)  # (B, k, *latent)
        log_q = draws.log_prob(z).flatten(2).sum(2)
        log_prior = standard_normal_log_prob(z).flatten(2).sum(2)
        repeated = condition if condition is None or isinstance(condition, int) else \
            torch.as_tensor(condition).reshape(-1).repeat_interleave(k)  # (B * k,) like z.flatten(0, 1)
        likelihood = self._decode(z.flatten(0, 1), repeated)
        x_rep = x.unsqueeze(1).expand(batch, k, *x.shape[1:]).flatten(0, 1)
        log_px = likelihood.log_prob(x_rep).flatten(1).sum(1).view(batch, k)
        return log_px + log_prior - log_q

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               condition: Condition = None) -> Tensor:
        """n images (n, C, H, W) in [0, 1]: the likelihood means of codes drawn from N(0, temperature^2 I)
        (of class `condition`, (n,) or one int, for a conditional model)."""
        z = torch.empty(n, *self.latent_shape, device=self.device)
        z = randn_like(z, generator) * temperature
        return self._decode(z, condition).mean

    @torch.no_grad()
    def reconstruct(self, x: Tensor, condition: Condition = None) -> Tensor:
        """Decode the posterior mean: deterministic reconstruction (B, C, H, W) in [0, 1] (encoded and decoded
        under `condition` for a conditional model)."""
        return self._decode(self._encode(x, condition).mean, condition).mean

    @torch.no_grad()
    def interpolate(self, x0: Tensor, x1: Tensor, steps: int, spherical: bool = False,
                    condition: int | None = None) -> Tensor:
        """Images decoded along the path between the posterior means of x0 and x1 (each (C, H, W) or (1, C, H, W)).

        Returns (steps, C, H, W). Spherical interpolation (slerp) keeps the norm profile of Gaussian codes.
        """
        x = torch.stack([x0.reshape(self.config.input_shape), x1.reshape(self.config.input_shape)])
        z0, z1 = self._encode(x.to(self.device), condition).mean
        return self._decode(interpolate_codes(z0, z1, steps, spherical), condition).mean


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """The module in eval mode for the `with` block, then back in the mode it had (also when the block raised):
    scoring and export run a model as inference does, without changing how its owner left it."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def interpolate_codes(z0: Tensor, z1: Tensor, steps: int, spherical: bool = False) -> Tensor:
    """Codes from z0 to z1 inclusive, shape (steps, *z0.shape); linear or spherical."""
    t = torch.linspace(0.0, 1.0, steps, device=z0.device).view(-1, *([1] * z0.dim()))
    if not spherical:
        return (1 - t) * z0 + t * z1
    a, b = z0.flatten(), z1.flatten()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:
        return (1 - t) * z0 + t * z1
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / math.sin(float(omega))
