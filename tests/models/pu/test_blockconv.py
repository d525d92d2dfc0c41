import pytest
import torch
import torch.nn.functional as F

from explorer.models import build_model
from explorer.models.pu.blockconv import block_kernel_index, conv_to_blocks
from explorer.models.pu.pooling import to_blocks, valid_cells


@pytest.mark.parametrize("cin,cout,k,p,height,width", [(3, 4, 3, 3, 32, 32), (1, 5, 5, 2, 9, 7), (2, 3, 1, 3, 6, 6), (3, 2, 7, 4, 10, 13)])
def test_block_conv_equals_conv_then_blocks(cin, cout, k, p, height, width):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, cin, height, width, generator=gen, dtype=torch.float64)
    weight = torch.randn(cout, cin, k, k, generator=gen, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(cout, generator=gen, dtype=torch.float64, requires_grad=True)
    real = valid_cells(height, width, p)  # padded cells differ by design (bias vs 0); they are never pooled
    expected = to_blocks(F.conv2d(x, weight, bias, padding=k // 2), p)[:, :, real]
    got = conv_to_blocks(x, weight, bias, p, block_kernel_index(cout, cin, k, p))[:, :, real]
    torch.testing.assert_close(got, expected)
    grad = torch.randn(expected.shape, generator=gen, dtype=torch.float64)
    want = torch.autograd.grad(expected, (weight, bias), grad)
    have = torch.autograd.grad(got, (weight, bias), grad)
    for w, h in zip(want, have):
        torch.testing.assert_close(h, w)


@pytest.mark.parametrize("logits", ["activation", "mlp"])
def test_model_encodes_the_same_with_and_without_the_block_conv(logits):
    torch.manual_seed(0)
    model = build_model("pu", input_shape=(3, 16, 16), channels=(4, 6), kernel_sizes=(3, 3), pool_sizes=(3,),
                        dec_kernel_sizes=(3, 3), location_logits=logits, activation="relu").train()
    assert model.block_indices[0].index is not None  # 3 input maps: the block conv is used
    x = torch.rand(5, 3, 16, 16)

    def run():
        terms = model.loss_terms(x, torch.Generator().manual_seed(1))
        loss = (terms["nll"] + terms["kl_dims"].sum(1) + terms["loc_kl"]).sum()
        return loss.detach(), torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)

    fast_loss, fast_grads = run()
    model.block_indices[0].index = None  # the plain conv, then to_blocks
    plain_loss, plain_grads = run()
    torch.testing.assert_close(fast_loss, plain_loss)
    for f, p in zip(fast_grads, plain_grads):
        if p is not None:
            torch.testing.assert_close(f, p, rtol=1e-4, atol=1e-5)
