"""The beta-TCVAE family: its objective's terms, a training step, save / load, refused options."""

import pytest
import torch

from explorer.checkpoint import from_pretrained, save_pretrained
from explorer.models import build_model
from explorer.models.base import StepObjective
from explorer.models.tcvae import TCVAE
from explorer.models.tcvae.total_correlation import total_correlation


def tiny(**kw):
    torch.manual_seed(0)
    kw.setdefault("dataset_size", 100)
    return build_model("tcvae", input_shape=(1, 8, 8), latent_dim=3, hidden_sizes=(16,), **kw)


def batch(n=6):
    return (torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(1)) > 0.5).float()


def test_the_penalty_is_tc_weight_minus_one_times_the_tc_estimate():
    model = tiny(tc_weight=4.0)
    g = torch.Generator().manual_seed(2)
    terms = model.loss_terms((batch(),), torch.Generator().manual_seed(2))
    out = model(batch(), g)  # the same draw
    tc = total_correlation(out.z, out.posterior.mean, out.posterior.logvar, 100, "mws")
    torch.testing.assert_close(terms["tc_penalty"], 3.0 * tc)
    assert terms["kl_dims"].shape == (6, 3) and terms["nll"].shape == (6,)
    assert torch.equal(tiny(tc_weight=1.0).loss_terms((batch(),), torch.Generator().manual_seed(2))["tc_penalty"],
                       torch.zeros(6))


def test_a_training_step_moves_the_weights_and_logs_the_penalty():
    model = tiny()
    before = [p.detach().clone() for p in model.parameters()]
    logged = model.training_step((batch(),), StepObjective(), model.configure_optimizers(1e-3),
                                 torch.Generator().manual_seed(0))
    assert torch.isfinite(logged["loss"]) and "tc_penalty" in logged
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_save_load_gives_identical_outputs(tmp_path):
    model = tiny(tc_estimator="mss").eval()
    save_pretrained(model, tmp_path / "m")
    loaded = from_pretrained(tmp_path / "m", "cpu").eval()
    assert isinstance(loaded, TCVAE) and loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(model.encode(batch()).mean, loaded.encode(batch()).mean)


@pytest.mark.parametrize("option, message", [({"iaf_steps": 1}, "iaf_steps must be 0"),
                                             ({"tc_estimator": "exact"}, "tc_estimator must be one of"),
                                             ({"dataset_size": 1}, "dataset_size must be at least 2")])
def test_bad_options_are_refused(option, message):
    with pytest.raises(ValueError, match=message):
        tiny(**option)


def test_the_shipped_dsprites_config_loads(tmp_path):
    """dataset_size (663,552 items) is a count, not a layer width: the loader's size check must not refuse it."""
    from explorer.checkpoint import from_pretrained, save_pretrained
    from explorer.models import build_model

    model = build_model("tcvae", input_shape=(1, 64, 64), latent_dim=10, hidden_sizes=(16, 16))
    assert model.config.dataset_size == 663_552
    save_pretrained(model, tmp_path / "m")
    assert from_pretrained(tmp_path / "m", "cpu").config.dataset_size == 663_552
