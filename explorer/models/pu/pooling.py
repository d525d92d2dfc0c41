"""Stochastic pooling and unpooling of the Pu et al. (2016) model, batched over images, channels and blocks.

A feature map (B, C, H, W) is cut into p x p blocks. Within each block one location is chosen from a
categorical distribution whose logits come from the block's activations; the pooled value is the activation
there. The decoder later puts each value back at the location the encoder chose for that block (unpooling).

Padding: a map whose height or width is not a multiple of p is padded with zeros at the bottom and right.
Padded cells are masked out of the location distribution (probability exactly 0), so a pooled value is
always a real activation; unpooling works on the padded grid and crops the padding away. The prior over a
block's location is uniform over the block's real cells (p*p inside the map, fewer at the bottom and right
edges): padded cells are not locations, so neither q nor the prior puts mass there.

Layout: every operation works on the whole batch rearranged to (B, C, P, Hb, Wb), P = p*p cells per block in
row-major order (space-to-depth). There is no Python loop over images, channels or blocks. Reductions over
the cell axis then run over whole contiguous block planes, several times faster on a CPU than over a last
axis of 9.

Gradients: in training the location is drawn exactly (Gumbel-max) and the backward pass uses the
Gumbel-softmax relaxation of that draw (straight-through). Pooling and unpooling are written as two small
autograd functions that gather / scatter at the chosen cell in the forward pass and give the relaxation its
straight-through gradient in the backward pass: the same gradients as multiplying by
`one_hot + soft - soft.detach()`, without materialising that product. Unpooling scatters straight into the
full (channels-last on the CPU) map, so the decoder never builds a block tensor. explorer.models.pu.blockconv
holds a convolution that writes blocks.

Compiled path (opt-in, `enable_compiled()`, train.py --compile): in eager PyTorch one relaxed pooling layer is
about fifteen passes over the block tensor forward and as many backward (logits, Gumbel noise, perturbed logits,
argmax, Gumbel-softmax, the pooled gather, the location KL's softmax and log-softmax, and their gradients); on a
CPU each pass costs as much as the arithmetic. `relaxed_pool_terms` writes the same computation as plain tensor
algebra and TorchInductor fuses it, forward and backward, into a handful of C++ / OpenMP (or Triton) loops: the
same exact draw from the same uniform noise, the same straight-through gradients, the same KL (tested). The
first batch of a new shape compiles for some seconds (about 10 s on 2 cores) and needs a compiler (a C++ one on
the CPU, Triton on CUDA); `enable_compiled()` compiles a tiny example first and leaves the eager path in place
when that fails. torch.compile (and with it torch._dynamo / inductor) is only touched inside `enable_compiled`.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

log = logging.getLogger(__name__)

MASKED_LOGIT = -1e9  # logit of a padded cell: exp underflows to exactly 0, and 0 * MASKED_LOGIT stays finite
POOL_DRAWS = ("relaxed", "sample", "fixed", "mode")
FIXED_SEED = 0  # seed of the "fixed" draw's noise pattern
CELL_DIM = 2  # block tensors are (B, C, P, Hb, Wb): the p*p cells of each block along axis 2


def blocks_shape(height: int, width: int, p: int) -> tuple[int, int]:
    """Number of p x p blocks along each side after padding: (ceil(H / p), ceil(W / p))."""
    return math.ceil(height / p), math.ceil(width / p)


def to_blocks(h: Tensor, p: int) -> Tensor:
    """(B, C, H, W) -> (B, C, P, Hb, Wb) with P = p*p cells per block, row-major within the block.

    H and W are zero-padded up to multiples of p.
    """
    b, c, height, width = h.shape
    hb, wb = blocks_shape(height, width, p)
    if (hb * p, wb * p) != (height, width):
        h = F.pad(h, (0, wb * p - width, 0, hb * p - height))
    return h.reshape(b, c, hb, p, wb, p).permute(0, 1, 3, 5, 2, 4).reshape(b, c, p * p, hb, wb)


def from_blocks(blocks: Tensor, p: int, height: int, width: int) -> Tensor:
    """Inverse of `to_blocks`: (B, C, P, Hb, Wb) -> (B, C, height, width), dropping the padding."""
    b, c, _, hb, wb = blocks.shape
    full = blocks.reshape(b, c, p, p, hb, wb).permute(0, 1, 4, 2, 5, 3).reshape(b, c, hb * p, wb * p)
    return full[:, :, :height, :width]


def valid_cells(height: int, width: int, p: int, device: torch.device | None = None) -> Tensor:
    """(P, Hb, Wb) bool: True where a block cell lies inside the unpadded map."""
    ones = torch.ones(1, 1, height, width, device=device)
    return to_blocks(ones, p)[0, 0] > 0.5


def log_cell_counts(height: int, width: int, p: int, device: torch.device | None = None, dtype=torch.float32) -> Tensor:
    """(Hb, Wb): log of the number of real cells in each block, the log-normaliser of the uniform location prior."""
    return valid_cells(height, width, p, device).sum(0).to(dtype).log()


def padding_bias(height: int, width: int, p: int, device: torch.device | None = None, dtype=torch.float32) -> Tensor:
    """(P, Hb, Wb): 0 for real cells, MASKED_LOGIT for padded ones; added to the logits."""
    return (~valid_cells(height, width, p, device)).to(dtype) * MASKED_LOGIT


def uniform(shape: torch.Size | tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype=torch.float32) -> Tensor:
    """U[0, 1) noise of `shape`, reproducible from `generator` (None: torch's default generator).

    On the CPU, float32 / float64 come from NumPy's SFC64 seeded by one draw from `generator`: torch's CPU
    generator (a Mersenne twister) makes about 10 ns per number here, SFC64 about 4 (the Gumbel noise of one
    training step of the benchmark's Pu model is 557,568 numbers: 5 ms against 2.4 ms)."""
    device = torch.device(device)
    np_dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(dtype)
    if device.type != "cpu" or np_dtype is None:
        return torch.rand(shape, generator=generator, device=device, dtype=dtype)
    seed = int(torch.randint(0, 2**63 - 1, (), generator=generator))
    out = np.empty(tuple(shape), dtype=np_dtype)
    np.random.Generator(np.random.SFC64(seed)).random(out=out, dtype=np_dtype)
    return torch.from_numpy(out)


def neg_gumbel(shape: torch.Size | tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype=torch.float32) -> Tensor:
    """Minus standard Gumbel noise, log(-log U), drawn from `generator` (in place: one buffer, four passes).
    Callers subtract it, which saves the final negation pass over the buffer."""
    u = uniform(shape, generator, device, dtype)
    return u.clamp_min_(torch.finfo(dtype).tiny).log_().neg_().log_()


def gumbel(shape: torch.Size | tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype=torch.float32) -> Tensor:
    """Standard Gumbel noise -log(-log U), drawn from `generator`."""
    return neg_gumbel(shape, generator, device, dtype).neg_()


def one_hot(index: Tensor, cells: int, dim: int = CELL_DIM, dtype=torch.float32) -> Tensor:
    """One-hot of `index` with a new axis of size `cells` inserted at `dim`."""
    shape = list(index.shape)
    shape.insert(dim, cells)
    return torch.zeros(shape, dtype=dtype, device=index.device).scatter_(dim, index.unsqueeze(dim), 1.0)


def choose_cells(
    logits: Tensor, draw: str, tau: float = 1.0, generator: torch.Generator | None = None, dim: int = CELL_DIM,
) -> tuple[Tensor, Tensor | None]:
    """Choose one cell per block; logits have the cells along `dim`. Returns (index, soft or None).

    - "sample": an exact categorical draw (Gumbel-max); no relaxation, so no gradient to the logits.
    - "relaxed": the same exact draw, plus soft = softmax((logits + g) / tau), the Gumbel-softmax relaxation
      whose gradient the straight-through estimator uses.
    - "fixed": Gumbel-max with one noise pattern from a fixed seed shared by every image of the batch: for
      each image an exact draw from its distribution, yet the same image always gets the same cells, whatever
      else is in the batch (a deterministic encoder that stays in the training distribution).
    - "mode": the most probable cell.
    """
    if draw not in POOL_DRAWS:
        raise ValueError(f"unknown location draw {draw!r}; choose from {POOL_DRAWS}")
    dim = dim % logits.dim()
    if draw == "mode":
        return logits.max(dim).indices, None  # max is several times faster than argmax over a middle axis
    if draw == "fixed":  # drawn on the CPU so that every device gets the same pattern
        noise = gumbel((1, *logits.shape[1:]), torch.Generator().manual_seed(FIXED_SEED), torch.device("cpu"), logits.dtype)
        return (logits + noise.to(logits.device)).max(dim).indices, None
    perturbed = logits - neg_gumbel(logits.shape, generator, logits.device, logits.dtype)
    index = perturbed.max(dim).indices
    if draw == "sample":
        return index, None
    soft = torch.softmax(perturbed if tau == 1.0 else perturbed / tau, dim=dim)
    return index, soft


def draw_locations(
    logits: Tensor, draw: str, tau: float = 1.0, generator: torch.Generator | None = None, dim: int = CELL_DIM,
) -> tuple[Tensor, Tensor]:
    """As `choose_cells`, but returns (weights like logits, index): one-hot weights, straight-through when relaxed."""
    dim = dim % logits.dim()
    index, soft = choose_cells(logits, draw, tau, generator, dim)
    hard = one_hot(index, logits.shape[dim], dim, logits.dtype)
    return (hard if soft is None else hard - soft.detach() + soft), index


def location_kl(log_probs: Tensor, dim: int = CELL_DIM, log_cells: Tensor | float | None = None) -> Tensor:
    """KL(Cat(pi) || uniform over the block's n real cells) per block: sum_i pi_i log pi_i + log n; `dim` is
    dropped. log_cells: log n, broadcastable to the result (default: every cell along `dim` is real)."""
    log_n = math.log(log_probs.shape[dim]) if log_cells is None else log_cells
    return (log_probs.exp() * log_probs).sum(dim) + log_n


class _LocationKL(torch.autograd.Function):
    """Per-block KL to uniform straight from the logits, with the closed-form gradient
    d/dl_j sum_i pi_i log pi_i = pi_j (log pi_j - sum_i pi_i log pi_i): three passes instead of autograd's eight."""

    @staticmethod
    def forward(ctx, logits: Tensor, dim: int, log_cells: Tensor | float) -> Tensor:
        log_probs = torch.log_softmax(logits, dim=dim)
        probs = torch.softmax(logits, dim=dim)  # not log_probs.exp(): exp of a masked cell's -1e9 is 10x slower
        neg_entropy = (probs * log_probs).sum(dim, keepdim=True)
        ctx.save_for_backward(probs, log_probs, neg_entropy)
        ctx.dim = dim
        return neg_entropy.squeeze(dim) + log_cells

    @staticmethod
    def backward(ctx, grad: Tensor):
        probs, log_probs, neg_entropy = ctx.saved_tensors
        return (log_probs - neg_entropy).mul_(probs).mul_(grad.unsqueeze(ctx.dim)), None, None


class _PoolAt(torch.autograd.Function):
    """pooled = blocks at `index`; backward as for sum_i (hard_i + soft_i - soft_i.detach()) * blocks_i."""

    @staticmethod
    def forward(ctx, blocks: Tensor, soft: Tensor | None, index: Tensor) -> Tensor:
        idx = index.unsqueeze(CELL_DIM)
        ctx.save_for_backward(blocks if soft is not None else None, idx)
        ctx.blocks_shape = blocks.shape
        return blocks.gather(CELL_DIM, idx).squeeze(CELL_DIM)

    @staticmethod
    def backward(ctx, grad: Tensor):
        blocks, idx = ctx.saved_tensors
        g = grad.unsqueeze(CELL_DIM)
        grad_blocks = grad_soft = None
        if ctx.needs_input_grad[0]:
            grad_blocks = torch.zeros(ctx.blocks_shape, dtype=grad.dtype, device=grad.device).scatter_(CELL_DIM, idx, g)
        if ctx.needs_input_grad[1] and blocks is not None:
            grad_soft = g * blocks
        return grad_blocks, grad_soft, None


class _UnpoolToMap(torch.autograd.Function):
    """The full map (B, C, H, W) with each value at its chosen cell's pixel and zeros elsewhere, scattered
    straight into the map (no block tensor, no permuting copy); backward as for
    from_blocks(values * (hard + soft - soft.detach())). On the CPU the map is channels-last, the layout the
    decoder's next few-channel convolution runs fastest in (and the layout its gradient comes back in)."""

    @staticmethod
    def forward(ctx, values: Tensor, soft: Tensor | None, index: Tensor, pixels: Tensor, size: tuple[int, int]) -> Tensor:
        b, c, hb, wb = values.shape
        height, width = size
        n = hb * wb
        pos = pixels.view(-1, n).gather(0, index.reshape(b * c, n)).view(b, c, n)  # pixel of each chosen cell
        channels_last = values.device.type == "cpu"
        # (B, C, H*W) views of a zeroed map: for channels-last storage (B, H*W, C) seen transposed
        out = values.new_zeros(b, height * width, c).transpose(1, 2) if channels_last else values.new_zeros(b, c, height * width)
        out.scatter_(2, pos, values.reshape(b, c, n))
        ctx.save_for_backward(values if soft is not None else None, pos, pixels)
        if channels_last:
            return out.transpose(1, 2).view(b, height, width, c).permute(0, 3, 1, 2)
        return out.view(b, c, height, width)

    @staticmethod
    def backward(ctx, grad: Tensor):
        values, pos, pixels = ctx.saved_tensors
        b, c, n = pos.shape
        g = grad.flatten(2)  # (B, C, H*W): a view for contiguous and channels-last gradients alike
        grad_values = grad_soft = None
        if ctx.needs_input_grad[0]:
            grad_values = g.gather(2, pos).view(b, c, *pixels.shape[1:])
        if ctx.needs_input_grad[1] and values is not None:
            # every cell's gradient; padded cells read pixel 0, which only meets their soft weight of exactly 0
            every = g.gather(2, pixels.view(1, 1, -1).expand(b, c, -1)).view(b, c, *pixels.shape)
            grad_soft = every.mul_(values.unsqueeze(CELL_DIM))
        return grad_values, grad_soft, None, None, None


@functools.lru_cache(maxsize=64)
@torch.inference_mode(False)  # cached across calls: an inference tensor made under the app's inference mode would break training
def cell_pixels(height: int, width: int, p: int, device: torch.device) -> Tensor:
    """(P, Hb, Wb) long: the flat pixel index row * W + col of every block cell of an (H, W) map; padded cells
    (outside the map) get pixel 0. Cached: unpooling needs it for every batch."""
    pixels = torch.arange(height * width, dtype=torch.float64).view(1, 1, height, width)
    return to_blocks(pixels, p)[0, 0].long().to(device)


@dataclass
class PoolResult:
    """One stochastic pooling layer's output for a batch (P = p*p cells per block, row-major)."""

    pooled: Tensor  # (B, C, Hb, Wb): the activation at the chosen cell of each block
    index: Tensor  # (B, C, Hb, Wb) long: the chosen cell
    soft: Tensor | None  # (B, C, P, Hb, Wb): Gumbel-softmax relaxation for straight-through gradients (relaxed draw)
    logits: Tensor  # (B, C, P, Hb, Wb): logits of the location distribution (padded cells -1e9), no gradient
    block_kl: Tensor  # (B, C, Hb, Wb): KL(location distribution || uniform over real cells) per block, differentiable
    p: int  # block side
    size: tuple[int, int]  # (H, W) of the map before pooling: what unpooling restores
    log_cells: Tensor | float  # (Hb, Wb) or a scalar: log of each block's number of real cells

    @property
    def log_probs(self) -> Tensor:
        """(B, C, P, Hb, Wb): log of the location distribution (padded cells ~ -1e9), no gradient."""
        return torch.log_softmax(self.logits, CELL_DIM)

    @property
    def weights(self) -> Tensor:
        """One-hot of the chosen cells (B, C, P, Hb, Wb), straight-through when the draw was relaxed."""
        hard = one_hot(self.index, self.p * self.p, CELL_DIM, self.pooled.dtype)
        return hard if self.soft is None else hard - self.soft.detach() + self.soft

    def kl(self) -> Tensor:
        """Location KL to the uniform prior, summed over channels and blocks: (B,)."""
        return self.block_kl.flatten(1).sum(1)

    def chosen_log_prob(self) -> Tensor:
        """log q of the chosen cells, summed over channels and blocks: (B,)."""
        return self.log_probs.gather(CELL_DIM, self.index.unsqueeze(CELL_DIM)).flatten(1).sum(1)

    def prior_log_prob(self) -> float:
        """log p of any choice of cells under the uniform prior over real cells, summed over channels and blocks."""
        channels, hb, wb = self.index.shape[1:]
        total = self.log_cells.sum() if isinstance(self.log_cells, Tensor) else self.log_cells * hb * wb
        return -float(total) * channels


def stochastic_pool(
    h: Tensor, logits: Tensor | Callable[[Tensor], Tensor], p: int, draw: str, tau: float = 1.0,
    generator: torch.Generator | None = None,
) -> PoolResult:
    """Pool h (B, C, H, W). `logits`: per-cell logits in block form (B, C, P, Hb, Wb), or a function that
    makes them from the blocks. Padded cells are masked here, whatever the logits say about them."""
    return pool_blocks(to_blocks(h, p), (h.shape[2], h.shape[3]), logits, p, draw, tau, generator)


def pool_blocks(
    blocks: Tensor, size: tuple[int, int], logits: Tensor | Callable[[Tensor], Tensor] | None, p: int, draw: str,
    tau: float = 1.0, generator: torch.Generator | None = None, compiled: bool = False, scale: Tensor | None = None,
) -> PoolResult:
    """As `stochastic_pool`, for a map of `size` (H, W) already in block form (B, C, P, Hb, Wb) (to_blocks,
    or blockconv.conv_to_blocks). Whatever padded cells hold is never pooled.

    logits: the location logits (like blocks), a function of the blocks that makes them, or None for
    logits = scale * blocks. compiled: run a relaxed draw through the torch.compile'd kernel where
    `enable_compiled()` switched it on (the same numbers, fused into a few loops, `scale * blocks` included); the eager code otherwise."""
    height, width = size
    log_cells: Tensor | float = math.log(p * p)
    bias = None
    if (height % p) or (width % p):  # an additive mask: its backward is free, unlike masked_fill's
        bias = padding_bias(height, width, p, blocks.device, blocks.dtype)
        log_cells = log_cell_counts(height, width, p, blocks.device, blocks.dtype)
    if callable(logits):
        logits = logits(blocks)
    if compiled and draw == "relaxed":
        if compiled_enabled():
            u = uniform(blocks.shape, generator, blocks.device, blocks.dtype)
            pooled, index, soft, block_kl, full_logits = relaxed_pool(blocks, logits, scale, bias, u, tau, log_cells)
            return PoolResult(pooled, index, soft, full_logits, block_kl, p, (height, width), log_cells)
    if logits is None:
        logits = blocks * scale
    if bias is not None:
        logits = logits + bias
    index, soft = choose_cells(logits, draw, tau, generator)
    pooled = _PoolAt.apply(blocks, soft, index)
    block_kl = _LocationKL.apply(logits, CELL_DIM, log_cells)
    return PoolResult(pooled, index, soft, logits.detach(), block_kl, p, (height, width), log_cells)


def unpool_at(values: Tensor, where: PoolResult, size: tuple[int, int] | None = None) -> Tensor:
    """Stochastic unpooling: each value (B, C, Hb, Wb) at the cell `where` chose, zeros elsewhere.
    Returns (B, C, *size) (default: the size the pooling started from); channels-last on the CPU."""
    height, width = size or where.size
    pixels = cell_pixels(height, width, where.p, values.device)
    return _UnpoolToMap.apply(values, where.soft, where.index, pixels, (height, width))


def unpool(values: Tensor, weights: Tensor, p: int, size: tuple[int, int]) -> Tensor:
    """Place each value (B, C, Hb, Wb) into its p x p block by `weights` (broadcastable to (B, C, P, Hb, Wb)).

    One-hot weights put the value at one cell and zeros elsewhere (stochastic unpooling); uniform weights
    1/P spread it evenly (the expected value of unpooling under the uniform prior). Returns (B, C, *size).
    """
    return from_blocks(values.unsqueeze(CELL_DIM) * weights, p, *size)


def uniform_weights(p: int, size: tuple[int, int], device: torch.device | None = None, dtype=torch.float32) -> Tensor:
    """Expected-value unpooling weights (1, 1, P, Hb, Wb) for a map of `size` (H, W) under the uniform prior over
    real cells: 1/n on each of a block's n real cells, 0 on padded ones."""
    valid = valid_cells(*size, p, device).to(dtype)
    return (valid / valid.sum(0, keepdim=True))[None, None]


def fixed_seed_weights(channels: int, size: tuple[int, int], p: int, seed: int, device: torch.device | None = None) -> Tensor:
    """One-hot locations (1, C, P, Hb, Wb) for a map of `size` (H, W), drawn uniformly over each block's real
    cells from a fixed seed: the same for every call and image."""
    gen = torch.Generator().manual_seed(seed)
    scores = torch.rand((1, channels, p * p, *blocks_shape(*size, p)), generator=gen)
    scores = scores.masked_fill(~valid_cells(*size, p), -1.0)
    return one_hot(scores.max(CELL_DIM).indices, p * p, CELL_DIM).to(device)


# -- the compiled relaxed pooling (opt-in) -----------------------------------------------------------
_compiled: dict[str, Callable | bool | str | None] = {"fn": None, "enabled": False, "error": None}


def relaxed_pool_terms(blocks: Tensor, logits: Tensor | None, scale: Tensor | None, bias: Tensor | None, u: Tensor,
                       tau: float, log_cells: Tensor | float):
    """Relaxed pooling from uniform noise u (like blocks): (pooled, index, soft, block_kl, logits), as
    the eager path of `pool_blocks` computes them. logits: given, or None for scale * blocks; bias (padded cells'
    mask) is added. pooled is exact (the chosen activation) and its gradient is straight-through: hard to the
    blocks, the blocks to the Gumbel-softmax `soft`."""
    if logits is None:
        logits = blocks * scale
    if bias is not None:
        logits = logits + bias
    perturbed = logits - u.clamp_min(torch.finfo(u.dtype).tiny).log().neg().log()  # logits + Gumbel noise
    index = perturbed.argmax(CELL_DIM, keepdim=True)  # the first maximum, as torch.max
    soft = torch.softmax(perturbed / tau, CELL_DIM)
    cells = torch.arange(logits.shape[CELL_DIM], device=logits.device).view(-1, 1, 1)
    hard = (cells == index).to(blocks.dtype)
    # (soft - soft.detach()) is exactly 0 forward, so pooled is the chosen activation to the last bit
    pooled = (blocks * hard).sum(CELL_DIM) + (blocks * (soft - soft.detach())).sum(CELL_DIM)
    neg_entropy = (torch.softmax(logits, CELL_DIM) * torch.log_softmax(logits, CELL_DIM)).sum(CELL_DIM)
    return pooled, index.squeeze(CELL_DIM), soft, neg_entropy + log_cells, logits.detach()


def relaxed_pool(blocks: Tensor, logits: Tensor | None, scale: Tensor | None, bias: Tensor | None, u: Tensor,
                 tau: float, log_cells: Tensor | float):
    """`relaxed_pool_terms` through the compiled kernel (compiled on first use of each shape)."""
    fn = _compiled["fn"]
    assert callable(fn), "call enable_compiled() first"
    return fn(blocks, logits, scale, bias, u, tau, log_cells)


def compiled_enabled() -> bool:
    """Whether `pool_blocks(..., compiled=True)` runs relaxed draws through the compiled kernel."""
    return bool(_compiled["enabled"])


def enable_compiled(on: bool = True) -> bool:
    """Switch the compiled kernel on (after a tiny trial compile, forward and backward) or off. Returns
    whether it is on; when the trial fails, the reason is in `compile_error()` and the eager path stays."""
    if not on:
        _compiled["enabled"] = False
        return False
    if _compiled["fn"] is None:
        _compiled["fn"] = torch.compile(relaxed_pool_terms, dynamic=False)  # the only use of torch.compile
    try:
        blocks = torch.randn(1, 1, 4, 2, 2, requires_grad=True)
        pooled, _, soft, kl, _ = relaxed_pool(blocks, blocks * 2.0, None, None, torch.rand(1, 1, 4, 2, 2), 1.0, 0.0)
        (pooled.sum() + soft.sum() + kl.sum()).backward()
    except Exception as exc:  # any compiler failure: no C++ compiler, unsupported platform, ...
        _compiled["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log.warning("torch.compile of the pooling failed; training goes on with the eager code (%s)", _compiled["error"])
        _compiled["enabled"] = False
        return False
    _compiled["enabled"] = True
    return True


def compile_error() -> str | None:
    """Why the last `enable_compiled()` failed (None when it did not)."""
    return _compiled["error"]  # type: ignore[return-value]
