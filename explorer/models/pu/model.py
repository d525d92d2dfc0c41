"""Pu et al. (2016), "Variational Autoencoder for Deep Learning of Images, Labels and Captions".

- Encoder: a CNN whose layers are joined by stochastic pooling (explorer.models.pu.pooling); its top feature
  map gives the mean and log-variance of a diagonal Gaussian q(s | x) over a tensor code s (C x h x w).
- Decoder (DGDN): multi-channel convolutions with learned dictionaries, joined by stochastic unpooling that
  puts each value at the cell the encoder chose for that block. A code with no encoder locations (a prior
  sample, a slider walk) is decoded for display with the expected-value unpooling (each value spread evenly
  over its block's real cells: value / p^2, or value / n at a padded edge) or with locations from a fixed
  seed, as `display_unpool` says; both are deterministic. With the default linear decoder the expected-value
  decode is exactly the mean of the output logits over locations drawn from the prior (uniform over each
  block's real cells).
- Objective per image: -log p(x | s, z) + KL(q(s|x) || N(0, I)) + sum over blocks KL(q(z_block|x) || uniform
  over the block's real cells) + label_weight * (-log p(y | s)) + caption_weight * (-log p(caption | s)).
  Unlabelled images (label -1) have no label term and uncaptioned images no caption term.
- Labels (`label_head`): a softmax classifier on s, or the paper's Bayesian SVM (explorer.models.pu.bsvm: a
  one-vs-rest hinge pseudo-likelihood, -log phi(y | s) = 2 sum_c max(1 - y_c f_c(s), 0), trained through Polson
  and Scott's augmentation with an EM step per batch), whose term takes the place of -log p(y | s).
  Captions: a GRU or LSTM conditioned on s (explorer.models.pu.caption).
  Predictions average label probabilities and next-word probabilities over several draws of s.

Caption and label metrics (BLEU, attribute and label accuracy) are not computed here: explorer.analysis.captions
computes them for any model through the interface (`captions`, `label_probabilities`, `encode`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.distributions import DiagonalGaussian, Likelihood, randn_like, standard_normal_log_prob
from explorer.models.base import VAE, Capabilities, VAEOutput
from explorer.models.blocks.layers import ACTIVATIONS
from explorer.models.pu import bsvm, pooling
from explorer.models.pu.blockconv import BlockIndex, block_kernel_index, conv_to_blocks
from explorer.models.pu.caption import CaptionDecoder
from explorer.models.pu.config import PuConfig
from explorer.models.pu.pooling import (
    POOL_DRAWS,
    PoolResult,
    blocks_shape,
    fixed_seed_weights,
    pool_blocks,
    to_blocks,
    uniform_weights,
    unpool,
    unpool_at,
    valid_cells,
)
from explorer.models.registry import register_model
from explorer.text import SPECIALS as SPECIAL_TOKENS, Vocab

VOCAB_FILE = "vocab.json"
DECODING = ("sample", "greedy", "beam")
BLOCK_CONV_MAX_IN = 4  # a pooled layer with at most this many input maps runs as one block convolution (blockconv)


def _conv_layout(h: Tensor) -> Tensor:
    """Channels-last on CPU: oneDNN runs these few-channel convolutions (and their backward) up to 3x faster."""
    return h.contiguous(memory_format=torch.channels_last) if h.device.type == "cpu" else h


def _act(name: str) -> nn.Module:
    return nn.Identity() if name == "none" else ACTIVATIONS[name]()


class CodeReader(nn.Module):
    """Features of the code for the label and caption heads: flattened codes (..., D) -> (..., out_dim).

    With no layers it is the identity (the heads read s itself); otherwise 3x3 convs with ELU over the
    code map, flattened.
    """

    def __init__(self, code_shape: tuple[int, int, int], channels: tuple[int, ...], strides: tuple[int, ...]):
        super().__init__()
        self.code_shape = code_shape
        layers: list[nn.Module] = []
        c_in, height, width = code_shape
        for c_out, stride in zip(channels, strides):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ELU()]
            c_in, height, width = c_out, (height - 1) // stride + 1, (width - 1) // stride + 1
        self.net = nn.Sequential(*layers) if layers else None
        self.out_dim = c_in * height * width

    def forward(self, codes: Tensor) -> Tensor:
        if self.net is None:
            return codes
        lead = codes.shape[:-1]
        feats = self.net(_conv_layout(codes.reshape(-1, *self.code_shape)))
        return feats.reshape(*lead, self.out_dim)


@dataclass
class Encoding:
    """What the encoder gives for a batch: q(s | x) and every pooling layer's locations, bottom first."""

    posterior: DiagonalGaussian
    pools: list[PoolResult] = field(default_factory=list)

    @property
    def locations(self) -> list[PoolResult]:
        """The chosen cells of every pooling layer, bottom layer first: what `decode` unpools at."""
        return list(self.pools)

    def location_kl(self) -> Tensor:
        """Sum over layers, channels and blocks of KL(location distribution || uniform): (B,)."""
        if not self.pools:
            return torch.zeros(self.posterior.mean.shape[0], device=self.posterior.mean.device)
        return torch.stack([r.kl() for r in self.pools]).sum(0)


@register_model
class PuVAE(VAE):
    """Image, label and caption VAE with stochastic pooling and a DGDN decoder (Pu et al. 2016)."""

    family = "pu"
    config_class = PuConfig

    def __init__(self, config: PuConfig):
        super().__init__(config)
        c = config
        in_ch, height, width = c.input_shape
        n = len(c.channels)
        self.sizes: list[tuple[int, int]] = [(height, width)]  # map size at each layer's input
        for p in c.pool_sizes:
            self.sizes.append(blocks_shape(*self.sizes[-1], p))
        widths_in = (in_ch, *c.channels[:-1])
        self.enc_convs = nn.ModuleList(nn.Conv2d(i, o, k, padding=k // 2) for i, o, k in zip(widths_in, c.channels, c.kernel_sizes))
        self.enc_act = _act(c.activation)
        # A pooled layer with few input maps (the image's) is memory-bound: the block convolution's extra
        # multiply-adds cost less than the two permuting copies it saves (3->4 maps, 3x3, batch 128: 4.3 vs
        # 7.8 ms fwd+bwd). With many input maps it is compute-bound and the plain conv wins.
        self.block_indices = nn.ModuleList(
            BlockIndex(block_kernel_index(c.channels[layer], widths_in[layer], c.kernel_sizes[layer], p)
                       if widths_in[layer] <= BLOCK_CONV_MAX_IN else None)
            for layer, p in enumerate(c.pool_sizes)
        )
        if c.location_logits == "mlp":
            self.location_mlps = nn.ModuleList(
                nn.Sequential(nn.Linear(p * p, c.location_mlp_hidden), nn.Tanh(), nn.Linear(c.location_mlp_hidden, p * p))
                for p in c.pool_sizes
            )
        self.location_log_scale = nn.Parameter(torch.full((len(c.pool_sizes),), math.log(c.location_scale_init)),
                                               requires_grad=c.learn_location_scale)
        code_ch = c.code_shape[0]
        self.code_head = nn.Conv2d(c.channels[-1], 2 * code_ch, c.code_kernel, padding=c.code_kernel // 2)
        # decoder dictionaries: layer l maps (code or channels[l]) -> (channels[l-1] or the image's channels)
        dec_in = (*c.channels[:-1], code_ch)
        dec_out = (in_ch, *c.channels[:-1])
        self.dec_convs = nn.ModuleList(nn.Conv2d(i, o, k, padding=k // 2) for i, o, k in zip(dec_in, dec_out, c.dec_kernel_sizes))
        self.dec_act = _act(c.decoder_activation)
        self.reader = CodeReader(c.code_shape, c.reader_channels, c.reader_strides)
        code_dim = self.reader.out_dim
        self.classifier: nn.Module | None = None
        if c.class_names:
            k = len(c.class_names)
            self.classifier = (
                nn.Sequential(nn.Linear(code_dim, c.label_hidden), nn.ELU(), nn.Linear(c.label_hidden, k))
                if c.label_hidden else nn.Linear(code_dim, k)
            )
        self.captioner: CaptionDecoder | None = None
        self.vocab: Vocab | None = None
        if c.vocab_size:
            self.captioner = CaptionDecoder(code_dim, c.vocab_size, c.embed_dim, c.hidden_dim, c.code_feed_dim, c.rnn)
            self.vocab = Vocab(list(c.vocab_words)) if c.vocab_words else Vocab.placeholder(c.vocab_size)
        assert n == len(self.enc_convs)
        self.compiled_pooling = False  # compile_training_kernels() switches the relaxed pooling to the compiled kernel

    def compile_training_kernels(self) -> list[str]:
        """Run the relaxed stochastic pooling of training through pooling's torch.compile'd kernel."""
        self.compiled_pooling = pooling.enable_compiled()
        if not self.compiled_pooling:
            warnings.warn(f"torch.compile failed, the pooling stays eager: {pooling.compile_error()}", stacklevel=2)
        return ["relaxed stochastic pooling"] if self.compiled_pooling else []

    # -- capabilities and checkpoint hooks -----------------------------------------------------------
    @classmethod
    def config_capabilities(cls, config: PuConfig) -> Capabilities:
        """Captions only with a caption head (vocab_size > 0), labels only with class names; predictions
        average eval_draws draws of s."""
        return Capabilities(captions=config.vocab_size > 0, labels=bool(config.class_names), spatial_code=True,
                            prediction_draws=config.eval_draws)

    @classmethod
    def adapt_config_to_data(cls, values: dict[str, Any], data: Any) -> dict[str, Any]:
        """Take the input shape, class names and caption vocabulary from a DataSplit (explicit values win: an
        explicit vocab_size 0 keeps a captioned data set's model without a caption head)."""
        values = dict(values)
        values["input_shape"] = tuple(data.image_shape)
        if data.classes and not values.get("class_names"):
            values["class_names"] = tuple(data.classes)
        vocab = data.extras.get("vocab") if data.extras else None
        if vocab is not None and values.get("vocab_size") != 0:
            values["vocab_words"] = tuple(vocab.words)
            values["vocab_size"] = len(vocab)
            values.setdefault("max_caption_len", int(data.extras.get("max_caption_len", PuConfig.max_caption_len)))
        return values

    def extra_files(self) -> dict[str, bytes]:
        return {VOCAB_FILE: self.vocab.to_json().encode()} if self.vocab is not None else {}

    @classmethod
    def from_config(cls, config: PuConfig, folder: str | Path | None = None) -> "PuVAE":
        """Rebuild from config.json plus vocab.json (a captioning checkpoint needs both)."""
        if config.vocab_size and folder is not None:
            path = Path(folder) / VOCAB_FILE
            if not path.is_file():
                raise FileNotFoundError(f"{folder} holds a captioning model but no {VOCAB_FILE}; save it with save_pretrained")
            vocab = Vocab.from_json(path.read_text())
            if len(vocab) != config.vocab_size:
                raise ValueError(f"{path} has {len(vocab)} words but config.json says vocab_size {config.vocab_size}")
            config.vocab_words = tuple(vocab.words)
        return cls(config)

    # -- encoder ------------------------------------------------------------------------------------
    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.config.code_shape

    def _location_logits(self, blocks: Tensor, layer: int, size: tuple[int, int]) -> Tensor:
        """Per-cell logits (B, C, P, Hb, Wb) of the per-block MLP (location_logits='mlp') from the blocks of a
        feature map of
        `size` (H, W): the same MLP over the P cells of every block and channel."""
        p = self.config.pool_sizes[layer]
        if size[0] % p or size[1] % p:  # the MLP reads padded cells as zeros, whatever the blocks hold there
            blocks = blocks * valid_cells(*size, p, blocks.device)
        first, _, last = self.location_mlps[layer]
        hidden = torch.tanh(torch.einsum("hp,bcpij->bchij", first.weight, blocks) + first.bias.view(-1, 1, 1))
        return torch.einsum("ph,bchij->bcpij", last.weight, hidden) + last.bias.view(-1, 1, 1)

    def _pool_draw(self, pooling: str | None) -> str:
        if pooling is not None:
            if pooling not in POOL_DRAWS:
                raise ValueError(f"pooling must be one of {POOL_DRAWS}")
            return pooling
        if self.training:
            return "relaxed"
        return "fixed" if self.config.eval_pooling == "fixed-seed" else self.config.eval_pooling

    def encode_full(self, x: Tensor, generator: torch.Generator | None = None, pooling: str | None = None) -> Encoding:
        """q(s | x) and the pooling locations. pooling: "relaxed", "sample", "fixed", "mode" or None (training:
        relaxed; eval: the config's eval_pooling)."""
        draw = self._pool_draw(pooling)
        h, pools = x, []
        for layer, conv in enumerate(self.enc_convs):
            if layer == len(self.config.pool_sizes):  # the top layer: no pooling
                h = self.enc_act(conv(h))
                break
            p, size = self.config.pool_sizes[layer], (h.shape[2], h.shape[3])
            index = self.block_indices[layer].index
            if index is not None:
                blocks = self.enc_act(conv_to_blocks(h, conv.weight, conv.bias, p, index))
            else:
                blocks = to_blocks(self.enc_act(conv(_conv_layout(h) if layer == 0 else h)), p)
            if self.config.location_logits == "mlp":
                logits, scale = (lambda b, layer=layer, size=size: self._location_logits(b, layer, size)), None
            else:  # scale * blocks, computed inside pool_blocks (and fused into its compiled kernel)
                logits, scale = None, self.location_log_scale[layer].exp()
            res = pool_blocks(blocks, size, logits, p, draw, self.config.gumbel_tau, generator,
                              compiled=self.compiled_pooling, scale=scale)
            pools.append(res)
            h = res.pooled
        mean, logvar = self.code_head(h).chunk(2, dim=1)  # (B, C, h, w) each
        return Encoding(DiagonalGaussian(mean, logvar), pools)

    def encode(self, x: Tensor, generator: torch.Generator | None = None) -> DiagonalGaussian:
        """q(s | x). In eval mode with eval_pooling "fixed-seed" or "mode" this is deterministic."""
        return self.encode_full(x, generator).posterior

    # -- decoder ------------------------------------------------------------------------------------
    def display_locations(self, device: torch.device | None = None) -> list[Tensor]:
        """Unpooling weights for a code without encoder locations (deterministic; see display_unpool)."""
        c = self.config
        device = device or self.device
        out = []
        for layer, p in enumerate(c.pool_sizes):
            if c.display_unpool == "expected":
                out.append(uniform_weights(p, self.sizes[layer], device))
            else:
                out.append(fixed_seed_weights(c.channels[layer], self.sizes[layer], p, c.display_seed + layer, device))
        return out

    def decode(self, z: Tensor, locations: list[PoolResult | Tensor] | None = None) -> Likelihood:
        """p(x | s, locations). z: (B, *latent_shape) (or (B, D) flattened).

        locations: per pooling layer (bottom first) the encoder's PoolResult (unpool at its chosen cells) or
        unpooling weights (B or 1, C, P, Hb, Wb). None: the deterministic display decode.
        """
        z = z.view(-1, *self.latent_shape)
        weights = locations if locations is not None else self.display_locations(z.device)
        h = z
        for layer in reversed(range(len(self.dec_convs))):
            h = self.dec_convs[layer](_conv_layout(h))
            if layer > 0:
                h = self.dec_act(h)
                where = weights[layer - 1]
                if isinstance(where, PoolResult):
                    h = unpool_at(h, where, self.sizes[layer - 1])
                else:
                    h = unpool(h, where, self.config.pool_sizes[layer - 1], self.sizes[layer - 1])
        return self.make_likelihood(h)

    # -- the VAE interface --------------------------------------------------------------------------
    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        enc = self.encode_full(x, generator)
        z = enc.posterior.sample(generator)
        return VAEOutput(enc.posterior, z, self.decode(z, enc.locations), {"loc_kl": enc.location_kl()})

    def loss_terms(self, batch: Any, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per-sample terms: nll, kl_dims (B, D), loc_kl, and label_nll / caption_nll when the batch has them.

        batch: (images, labels, captions (B, R, T), caption counts (B,)) from `collate_captioned`, or just
        images. Extra terms come already multiplied by their weights. One of each image's R reference
        captions is chosen per step with `generator`.
        """
        x, labels, captions, counts = _unpack(batch)
        c = self.config
        out = self(x, generator)
        z = self.reader(out.z.flatten(1))
        terms = {
            "nll": -out.likelihood.log_prob(x).flatten(1).sum(1),
            "kl_dims": out.posterior.kl().flatten(1),
            "loc_kl": c.location_kl_weight * out.extra["loc_kl"],
        }
        if self.classifier is not None and labels is not None:
            has = labels >= 0
            logits = self.classifier(z)  # (B, K): softmax logits or the bsvm's one-vs-rest margins
            if c.label_head == "bsvm":
                nll = bsvm.bsvm_label_loss(logits, labels.clamp_min(0), c.bsvm_multiclass)  # EM step
            else:
                nll = F.cross_entropy(logits, labels.clamp_min(0), reduction="none")
            terms["label_nll"] = c.label_weight * torch.where(has, nll, torch.zeros_like(nll))
        if self.captioner is not None and captions is not None:
            has = counts > 0
            u = torch.rand(counts.shape, generator=generator, device=counts.device)
            pick = (u * counts.clamp_min(1)).long().clamp_max(captions.shape[1] - 1)
            tokens = captions[torch.arange(len(pick), device=pick.device), pick]  # (B, T)
            nll = self.captioner.nll(z, tokens)
            terms["caption_nll"] = c.caption_weight * torch.where(has, nll, torch.zeros_like(nll))
        return terms

    def elbo_terms(self, x: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """nll, kl_dims and `location_kl` (B,) with the encoder's own cells, drawn exactly from q (whatever
        eval_pooling says), so that -(nll + kl + location_kl) is a one-draw estimate of the ELBO of log p(x)."""
        enc = self.encode_full(x, generator, pooling="sample")
        z = enc.posterior.sample(generator)
        return {
            "nll": -self.decode(z, enc.locations).log_prob(x).flatten(1).sum(1),
            "kl_dims": enc.posterior.kl().flatten(1),
            "location_kl": enc.location_kl(),
        }

    def iwae_log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None, chunk: int = 1024) -> Tensor:
        """log p(x, s, z) - log q(s, z | x) for k joint draws of code and locations per image, shape (B, k).

        The locations are exact draws from q (whatever eval_pooling says), so the estimate is a proper bound.
        """
        batch = x.shape[0]
        reps = x.unsqueeze(1).expand(batch, k, *x.shape[1:]).reshape(batch * k, *x.shape[1:])
        parts = []
        for start in range(0, len(reps), chunk):
            xs = reps[start : start + chunk]
            enc = self.encode_full(xs, generator, pooling="sample")
            z = enc.posterior.sample(generator)
            log_q = enc.posterior.log_prob(z).flatten(1).sum(1)
            log_prior = standard_normal_log_prob(z).flatten(1).sum(1)
            log_px = self.decode(z, enc.locations).log_prob(xs).flatten(1).sum(1)
            loc = torch.zeros_like(log_px)
            for r in enc.pools:  # log uniform prior over real cells - log q of the chosen cells
                loc = loc + r.prior_log_prob() - r.chosen_log_prob()
            parts.append(log_px + log_prior - log_q + loc)
        return torch.cat(parts).view(batch, k)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decode the posterior mean with the encoder's own locations (deterministic in eval unless eval_pooling is "sample")."""
        enc = self.encode_full(x)
        return self.decode(enc.posterior.mean, enc.locations).mean

    # -- labels -------------------------------------------------------------------------------------
    def _code_draws(self, x: Tensor, n_draws: int, generator: torch.Generator | None) -> Tensor:
        """(B, M, D) codes for images: the posterior mean when n_draws <= 1, else M reparameterised draws.

        Without a generator the draws come from a fresh generator seeded 0, so the same images always give
        the same predictions (models draw no hidden randomness).
        """
        if generator is None:
            generator = torch.Generator(device=x.device).manual_seed(0)
        posterior = self.encode_full(x, generator).posterior
        mean, std = posterior.mean.flatten(1), posterior.std.flatten(1)
        if n_draws <= 1:
            return mean.unsqueeze(1)
        eps = randn_like(mean.unsqueeze(1).expand(-1, n_draws, -1).contiguous(), generator)
        return mean.unsqueeze(1) + std.unsqueeze(1) * eps

    def _codes(self, x: Tensor | None, z: Tensor | None, n_draws: int, generator: torch.Generator | None) -> Tensor:
        if (x is None) == (z is None):
            raise ValueError("give exactly one of x (images) or z (codes)")
        if x is not None:
            return self._code_draws(x.to(self.device), n_draws, generator)
        z = z.to(self.device)
        d = self.config.latent_dim
        if z.numel() == d:
            return z.reshape(1, 1, d)
        if z.dim() == 2 or (z.dim() == 1 + len(self.latent_shape)):
            return z.reshape(z.shape[0], 1, d)
        return z.reshape(z.shape[0], z.shape[1], d)  # (B, M, *latent): several codes per item

    @torch.no_grad()
    def predict_labels(self, x: Tensor | None = None, z: Tensor | None = None, n_draws: int | None = None,
                       generator: torch.Generator | None = None) -> Tensor:
        """Class probabilities (B, n_classes): for images, averaged over n_draws draws of s from q(s | x)
        (the posterior mean when n_draws is 1); for codes z (B, *latent_shape), of those codes.

        With the bsvm head these are scores, a softmax over the one-vs-rest margins (bsvm.label_scores): their
        argmax is the SVM's decision, but they are not calibrated probabilities."""
        if self.classifier is None:
            raise ValueError("this model has no label head (its config has no class_names)")
        codes = self._codes(x, z, self.config.eval_draws if n_draws is None else n_draws, generator)
        out = self.classifier(self.reader(codes))  # (B, M, K)
        scores = bsvm.label_scores(out) if self.config.label_head == "bsvm" else torch.softmax(out, dim=-1)
        return scores.mean(1)

    # -- captions -----------------------------------------------------------------------------------
    def _need_captioner(self) -> CaptionDecoder:
        if self.captioner is None or self.vocab is None:
            raise ValueError("this model has no caption head (its config has vocab_size 0)")
        return self.captioner

    @torch.no_grad()
    def caption_ids(self, codes: Tensor, method: str = "greedy", n: int = 1, temperature: float = 1.0, beam_size: int = 5,
                    generator: torch.Generator | None = None, max_len: int | None = None) -> Tensor:
        """Token ids (B, n, max_len) for codes (B, M, D), next-word probabilities averaged over the M draws.

        "greedy" gives one caption per item (n is ignored and taken as 1); "sample" n samples; "beam" the
        n best of a beam of beam_size.
        """
        cap = self._need_captioner()
        max_len = max_len or self.config.max_caption_len
        if method not in DECODING:
            raise ValueError(f"method must be one of {DECODING}, got {method!r}")
        codes = self.reader(codes)
        if method == "greedy":
            return cap.greedy_or_sample(codes, max_len, sample=False).unsqueeze(1)
        if method == "sample":
            b = codes.shape[0]
            ids = cap.greedy_or_sample(codes.repeat_interleave(n, dim=0), max_len, True, temperature, generator)
            return ids.view(b, n, max_len)
        return cap.beam_search(codes, max_len, max(beam_size, n), n_best=n)[0]

    @torch.no_grad()
    def captions(self, code: Tensor, method: str = "sample", n: int = 1, temperature: float = 1.0, beam_size: int = 5,
                 generator: torch.Generator | None = None, max_len: int | None = None) -> list[str]:
        """Captions for codes: (*latent_shape) or (B, *latent_shape), or (B, M, *latent_shape) to average M codes.

        Returns a flat list grouped by code: B strings for "greedy", B * n for "sample" and "beam" (for beam,
        the n best of each code's beam, best first).
        """
        ids = self.caption_ids(self._codes(None, code, 1, None), method, n, temperature, beam_size, generator, max_len)
        return [self.vocab.decode(row) for row in ids.flatten(0, 1)]

    def vocabulary(self) -> list[str]:
        return [w for w in self.vocab.words if w not in SPECIAL_TOKENS] if self.vocab is not None else []

    def label_probabilities(self, code: Tensor, n_draws: int = 1, generator: torch.Generator | None = None) -> Tensor:
        return self.predict_labels(z=code, n_draws=n_draws, generator=generator)

    @torch.no_grad()
    def caption_log_prob(self, code: Tensor, captions: list[str] | Tensor) -> Tensor:
        """log p(caption_i | code_i) (B,): codes (B, *latent_shape), or (B, M, *latent_shape) to average the
        caption's probability over M codes; captions as texts (encoded with this model's vocabulary) or token ids
        (B, T) padded with 0."""
        cap = self._need_captioner()
        codes = self._codes(None, code, 1, None)  # (B, M, D)
        if isinstance(captions, Tensor):
            tokens = captions.to(codes.device)
        else:
            ids = [self.vocab.encode(t, self.config.max_caption_len) for t in captions]
            tokens = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long, device=codes.device)
            for i, row in enumerate(ids):
                tokens[i, : len(row)] = torch.tensor(row)
        return cap.sequence_log_prob(self.reader(codes), tokens)


def _unpack(batch: Any) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    if isinstance(batch, Tensor):
        return batch, None, None, None
    items = list(batch) + [None] * 4
    return items[0], items[1], items[2], items[3]


__all__ = ["Encoding", "PuConfig", "PuVAE"]
