"""explorer.models.pu.pooling: batched pooling against slow loops, location draws and their KL, custom
gradients, the noise, and the opt-in compiled relaxed pooling (the eager path's numbers)."""

import itertools
import math
import shutil

import pytest
import torch

from explorer.models import build_model
from explorer.models.pu import pooling
from explorer.models.pu.pooling import (
    draw_locations,
    location_kl,
    log_cell_counts,
    padding_bias,
    pool_blocks,
    stochastic_pool,
    to_blocks,
    uniform,
    unpool,
    unpool_at,
)


# -- pooling and unpooling against loops written only here ------------------------------------------
def loop_pool(h, index, p):
    """The algorithm of a from-scratch notebook implementation of the paper: one image, channel and block at a
    time, on a zero-padded map."""
    b, c, height, width = h.shape
    hb, wb = math.ceil(height / p), math.ceil(width / p)
    padded = torch.zeros(b, c, hb * p, wb * p)
    padded[:, :, :height, :width] = h
    out = torch.zeros(b, c, hb, wb)
    for n, k, i, j in itertools.product(range(b), range(c), range(hb), range(wb)):
        block = padded[n, k, i * p:(i + 1) * p, j * p:(j + 1) * p].reshape(-1)
        out[n, k, i, j] = block[index[n, k, i, j]]
    return out


def loop_unpool(values, index, p, height, width):
    b, c, hb, wb = values.shape
    out = torch.zeros(b, c, hb * p, wb * p)
    for n, k, i, j in itertools.product(range(b), range(c), range(hb), range(wb)):
        r, s = divmod(int(index[n, k, i, j]), p)
        out[n, k, i * p + r, j * p + s] = values[n, k, i, j]
    return out[:, :, :height, :width]


@pytest.mark.parametrize("draw", ["sample", "relaxed", "mode"])
@pytest.mark.parametrize("size,p", [((7, 8), 3), ((6, 6), 2), ((5, 9), 4)])
def test_batched_pool_and_unpool_match_loops(draw, size, p):
    gen = torch.Generator().manual_seed(1)
    h = torch.randn(2, 3, *size, generator=gen)
    logits = torch.randn(2, 3, p * p, math.ceil(size[0] / p), math.ceil(size[1] / p), generator=gen)  # (B, C, P, Hb, Wb)
    res = stochastic_pool(h, logits, p, draw, generator=gen)
    assert torch.equal(res.pooled, loop_pool(h, res.index, p))
    back = unpool(res.pooled, res.weights, p, size)
    assert torch.equal(back, loop_unpool(res.pooled, res.index, p, *size))


def test_padded_cells_are_never_chosen_and_unpooling_returns_the_chosen_activation():
    gen = torch.Generator().manual_seed(2)
    h = torch.randn(16, 2, 7, 7, generator=gen)
    logits = torch.zeros(16, 2, 9, 3, 3)  # uniform over the block: padded cells would be hit if not masked
    res = stochastic_pool(h, logits, 3, "sample", generator=gen)
    rows, cols = res.index // 3, res.index % 3
    assert int(rows[:, :, 2].max()) == 0 and int(cols[:, :, :, 2].max()) == 0  # 7 = 2*3 + 1: one real row/column
    back = unpool(res.pooled, res.weights, 3, (7, 7))
    chosen = back != 0
    assert int(chosen.sum()) == 16 * 2 * 9  # one cell per block
    assert torch.equal(back[chosen], h[chosen])  # each value sits exactly where the encoder took it from


def test_location_frequencies_match_the_categorical_probabilities():
    from scipy.stats import chisquare

    gen = torch.Generator().manual_seed(3)
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5, 1.5, -0.5, 0.2, 0.8])
    probs = torch.softmax(logits, 0)
    n = 40000
    for draw in ("sample", "relaxed"):
        _, index = draw_locations(logits.expand(n, 9), draw, generator=gen, dim=-1)
        counts = torch.bincount(index, minlength=9).double()
        expected = probs.double() / probs.double().sum() * n
        assert chisquare(counts.numpy(), expected.numpy()).pvalue > 1e-3


def test_fixed_draw_is_the_same_for_an_image_in_any_batch_and_follows_the_probabilities():
    from scipy.stats import chisquare

    gen = torch.Generator().manual_seed(7)
    logits = torch.randn(6, 2, 9, 4, 4, generator=gen)
    index = draw_locations(logits, "fixed")[1]
    alone = draw_locations(logits[3:4], "fixed")[1]
    assert torch.equal(index[3:4], alone) and torch.equal(draw_locations(logits, "fixed")[1], index)
    probe = torch.tensor([1.5, 0.0, -1.0, 0.5, 0.2, -0.3, 1.0, 0.1, -2.0])
    many = probe.view(1, 1, 9, 1, 1).expand(1, 1, 9, 100, 200)  # 20,000 blocks share the logits, not the noise
    counts = torch.bincount(draw_locations(many, "fixed")[1].flatten(), minlength=9).double()
    expected = torch.softmax(probe.double(), 0) * counts.sum()
    assert chisquare(counts.numpy(), expected.numpy()).pvalue > 1e-3


def test_location_kl_matches_a_direct_computation():
    gen = torch.Generator().manual_seed(4)
    h = torch.randn(3, 2, 8, 7, generator=gen)
    logits = torch.randn(3, 2, 9, 3, 3, generator=gen)
    res = stochastic_pool(h, logits, 3, "sample", generator=gen)
    expected = torch.zeros(3)
    for n, k, i, j in itertools.product(range(3), range(2), range(3), range(3)):
        valid = [r * 3 + s for r in range(3) for s in range(3) if i * 3 + r < 8 and j * 3 + s < 7]
        pi = torch.softmax(logits[n, k, valid, i, j], 0)
        # KL to the uniform prior over the block's real cells (9 inside the map, fewer at the padded edges)
        prior = torch.full((len(valid),), 1 / len(valid))
        expected[n] += float(torch.distributions.kl_divergence(torch.distributions.Categorical(pi),
                                                               torch.distributions.Categorical(prior)))
    assert torch.allclose(res.kl(), expected, atol=1e-4)
    # the IWAE's log prior of the chosen cells: sum over channels and blocks of -log(number of real cells)
    counts = [min(3, 8 - 3 * i) * min(3, 7 - 3 * j) for i in range(3) for j in range(3)]
    assert math.isclose(res.prior_log_prob(), -2 * sum(math.log(c) for c in counts), rel_tol=1e-6)
    lp = torch.log_softmax(torch.randn(5, 9, generator=gen), -1)
    ref = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=lp),
                                            torch.distributions.Categorical(probs=torch.full((9,), 1 / 9)))
    assert torch.allclose(location_kl(lp, dim=-1), ref, atol=1e-5)


def test_relaxed_draw_passes_gradients_to_the_logits_and_exact_draw_does_not():
    h = torch.randn(2, 2, 6, 6, requires_grad=True)
    for draw, grads in (("relaxed", True), ("sample", False)):
        logits = torch.randn(2, 2, 9, 2, 2, requires_grad=True)
        res = stochastic_pool(h, logits, 3, draw, tau=0.5, generator=torch.Generator().manual_seed(0))
        (res.pooled * torch.randn_like(res.pooled)).sum().backward()
        assert (logits.grad is not None and bool(logits.grad.abs().sum() > 0)) == grads


def test_custom_gradients_match_the_straight_through_product_form():
    """_PoolAt, _UnpoolToMap and _LocationKL give the gradients of one_hot + soft - soft.detach() written out."""
    size, p = (7, 8), 3
    gen_data = torch.Generator().manual_seed(6)
    h0 = torch.randn(2, 3, *size, generator=gen_data)
    logits0 = torch.randn(2, 3, 9, 3, 3, generator=gen_data)
    v0 = torch.randn(2, 3, 3, 3, generator=gen_data)
    c1, c2 = torch.randn(2, 3, 3, 3, generator=gen_data), torch.randn(2, 3, *size, generator=gen_data)

    def run(fast: bool):
        h, logits, v = (t.clone().requires_grad_() for t in (h0, logits0, v0))
        gen = torch.Generator().manual_seed(0)
        if fast:
            r = stochastic_pool(h, logits, p, "relaxed", tau=0.7, generator=gen)
            pooled, back, kl = r.pooled, unpool_at(v, r), r.kl()
        else:
            masked = logits + padding_bias(*size, p)
            weights, _ = draw_locations(masked, "relaxed", tau=0.7, generator=gen)
            pooled = (to_blocks(h, p) * weights).sum(2)
            back = unpool(v, weights, p, size)
            kl = location_kl(torch.log_softmax(masked, 2), log_cells=log_cell_counts(*size, p)).flatten(1).sum(1)
        ((pooled * c1).sum() + (back * c2).sum() + kl.sum()).backward()
        return pooled, back, kl, h.grad, logits.grad, v.grad

    for a, b in zip(run(True), run(False)):
        assert torch.allclose(a, b, atol=1e-5)


def test_uniform_noise_is_reproducible_from_its_generator_and_uniform():
    def draw(seed, shape=(4000,), dtype=torch.float32):
        return uniform(shape, torch.Generator().manual_seed(seed), torch.device("cpu"), dtype)

    a, b, c = draw(0), draw(0), draw(1)
    assert a.dtype == torch.float32 and a.shape == (4000,)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert draw(0, (2, 3), torch.float64).dtype == torch.float64
    assert uniform((5,), None, torch.device("cpu"), torch.bfloat16).dtype == torch.bfloat16  # torch's own draw
    assert float(a.min()) >= 0.0 and float(a.max()) < 1.0
    # Kolmogorov-Smirnov distance to U[0, 1): far below the 0.1% critical value 1.95 / sqrt(n)
    sorted_u = a.sort().values.double()
    n = len(sorted_u)
    grid = torch.arange(1, n + 1, dtype=torch.float64) / n
    assert float((grid - sorted_u).abs().max()) < 1.95 / math.sqrt(n)
    torch.manual_seed(3)
    d = uniform((10,), None, torch.device("cpu"))
    torch.manual_seed(3)
    assert torch.equal(d, uniform((10,), None, torch.device("cpu")))  # None: torch's default generator


# -- the compiled relaxed pooling: needs a working torch.compile (a C++ compiler); where there is none,
# enable_compiled() must say so and leave the eager path on
@pytest.fixture(scope="module")
def compiled():
    on = pooling.enable_compiled()
    if not on:
        assert pooling.compile_error()  # a failure is reported, never silent
        if shutil.which("g++") or shutil.which("c++") or shutil.which("clang++"):
            pytest.fail(f"a C++ compiler is present but torch.compile failed: {pooling.compile_error()}")
        pytest.skip("no C++ compiler: torch.compile cannot run here (the eager path is used)")
    yield
    pooling.enable_compiled(False)


@pytest.mark.parametrize("logit_form", ["function", "scale"])
def test_compiled_pooling_matches_the_eager_path(compiled, logit_form):
    size, p = (7, 8), 3  # padded to 9 x 9: edge blocks have fewer real cells
    gen_data = torch.Generator().manual_seed(0)
    blocks0 = torch.randn(3, 2, 9, 3, 3, generator=gen_data)
    scale = torch.tensor(1.7)
    up_pooled, up_soft, up_kl = (torch.randn(s, generator=gen_data) for s in ((3, 2, 3, 3), (3, 2, 9, 3, 3), (3, 2, 3, 3)))

    def run(use_compiled: bool):
        blocks, s = blocks0.clone().requires_grad_(), scale.clone().requires_grad_()
        logits, scale_arg = ((lambda b: b * s), None) if logit_form == "function" else (None, s)
        r = pool_blocks(blocks, size, logits, p, "relaxed", tau=0.7, generator=torch.Generator().manual_seed(5),
                        compiled=use_compiled, scale=scale_arg)
        loss = (r.pooled * up_pooled).sum() + (r.soft * up_soft).sum() + (r.block_kl * up_kl).sum()
        loss.backward()
        return r, blocks.grad, s.grad

    fast, fast_gb, fast_gs = run(True)
    slow, slow_gb, slow_gs = run(False)
    assert torch.equal(fast.index, slow.index)  # the same exact draw from the same noise
    assert torch.equal(fast.pooled, slow.pooled)  # the chosen activations, bit for bit
    torch.testing.assert_close(fast.soft, slow.soft)
    torch.testing.assert_close(fast.block_kl, slow.block_kl)
    torch.testing.assert_close(fast.log_probs, slow.log_probs)
    torch.testing.assert_close(fast_gb, slow_gb)
    torch.testing.assert_close(fast_gs, slow_gs)


def test_model_trains_the_same_with_the_compiled_pooling(compiled):
    torch.manual_seed(0)
    model = build_model("pu", input_shape=(3, 8, 8), channels=(4, 5), kernel_sizes=(3, 3), pool_sizes=(3,),
                        dec_kernel_sizes=(3, 3)).train()
    x = torch.rand(4, 3, 8, 8)

    def loss():
        terms = model.loss_terms(x, torch.Generator().manual_seed(1))
        return (terms["nll"] + terms["kl_dims"].sum(1) + terms["loc_kl"]).mean()

    eager = loss()
    grads = torch.autograd.grad(eager, list(model.parameters()))
    assert model.compile_training_kernels() == ["relaxed stochastic pooling"]
    fused = loss()
    torch.testing.assert_close(fused, eager)
    for a, b in zip(torch.autograd.grad(fused, list(model.parameters())), grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_disabled_kernel_leaves_the_eager_path():
    pooling.enable_compiled(False)
    assert not pooling.compiled_enabled()
    r = pool_blocks(torch.randn(1, 1, 4, 2, 2), (4, 4), lambda b: b, 2, "relaxed", compiled=True)
    assert r.soft is not None and r.index.shape == (1, 1, 2, 2)
