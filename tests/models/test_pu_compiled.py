"""The compiled relaxed pooling gives the eager path's numbers. Needs a working torch.compile (a C++ compiler);
where there is none, enable() must say so and leave the eager path on."""

import shutil

import pytest
import torch

from explorer.models import build_model, pu_compiled
from explorer.models.pu_pooling import pool_blocks


@pytest.fixture(scope="module")
def compiled():
    on = pu_compiled.enable()
    if not on:
        assert pu_compiled.last_error()  # a failure is reported, never silent
        if shutil.which("g++") or shutil.which("c++") or shutil.which("clang++"):
            pytest.fail(f"a C++ compiler is present but torch.compile failed: {pu_compiled.last_error()}")
        pytest.skip("no C++ compiler: torch.compile cannot run here (the eager path is used)")
    yield
    pu_compiled.enable(False)


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
    pu_compiled.enable(False)
    assert not pu_compiled.enabled()
    r = pool_blocks(torch.randn(1, 1, 4, 2, 2), (4, 4), lambda b: b, 2, "relaxed", compiled=True)
    assert r.soft is not None and r.index.shape == (1, 1, 2, 2)
