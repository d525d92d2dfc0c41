"""explorer.models.pu.model: decoding at the encoder's cells, display decoding, the objective, evaluation terms,
predictions, determinism, checkpoints, capabilities and training with the shared trainer."""

import itertools
import json

import pytest
import torch
import torch.nn.functional as F

from explorer.analysis.captions import captions_for_images, epoch_summary, score_captions
from explorer.checkpoint import CheckpointError, from_pretrained, save_pretrained
from explorer.data.shapes import load_shapes
from explorer.models import build_model, get_model_class
from explorer.models.registry import family_capabilities
from explorer.models.pu.pooling import unpool
from explorer.text import Vocab
from tests.support.tinypu import WORDS, tiny_batch, tiny_model


# -- the model ------------------------------------------------------------------------------------
def test_decoder_unpools_at_the_encoders_locations():
    model = tiny_model().eval()
    x = tiny_batch()[0]
    enc = model.encode_full(x, torch.Generator().manual_seed(0), pooling="sample")
    seen = {}
    model.dec_convs[0].register_forward_pre_hook(lambda mod, args: seen.setdefault("in", args[0]))
    model.decode(enc.posterior.mean, enc.locations)
    r = enc.pools[0]
    nonzero = seen["in"] != 0
    placed = unpool(torch.ones_like(r.pooled), r.weights, 3, r.size) > 0
    assert torch.equal(nonzero & ~placed, torch.zeros_like(placed))  # nothing outside the encoder's cells
    assert bool(nonzero.any())


@pytest.mark.parametrize("display", ["expected", "fixed-seed"])
def test_display_decoding_is_deterministic(display):
    model = tiny_model(display_unpool=display).eval()
    z = torch.randn(5, *model.latent_shape)
    a, b = model.decode(z).mean, model.decode(z.clone()).mean
    assert torch.equal(a, b)
    assert torch.allclose(model.decode(z[2:3]).mean, a[2:3], atol=1e-6)  # independent of the batch around it
    s1 = model.sample(4, generator=torch.Generator().manual_seed(9))
    s2 = model.sample(4, generator=torch.Generator().manual_seed(9))
    assert torch.equal(s1, s2)


def test_expected_unpooling_is_the_mean_decode_over_uniform_locations():
    # 3x3 maps padded to 4x4 by 2x2 pooling: 4 real cells in the top-left block, 2, 2 and 1 in the others
    model = build_model("pu", input_shape=(1, 3, 3), channels=(1, 3), kernel_sizes=(3, 3), pool_sizes=(2,),
                        dec_kernel_sizes=(3, 3)).eval()
    z = torch.randn(1, *model.latent_shape)  # (3, 2, 2)
    real = [[0, 1, 2, 3], [0, 2], [0, 1], [0]]  # real cells of each block (row-major within the block)
    cells = torch.tensor(list(itertools.product(*real)))  # all 16 joint choices of real cells
    weights = F.one_hot(cells.view(-1, 1, 2, 2), 4).permute(0, 1, 4, 2, 3).float()
    every = model.decode(z.expand(len(cells), -1, -1, -1), [weights]).logits
    assert torch.allclose(model.decode(z).logits[0], every.mean(0), atol=1e-5)
    model.config.display_unpool = "fixed-seed"  # the fixed-seed display cells are real cells too
    fixed = model.display_locations()[0]
    assert fixed.shape == (1, 1, 4, 2, 2) and float(fixed[0, 0, 1, 0, 1] + fixed[0, 0, 3, 0, 1] + fixed[0, 0, 2:, 1, 0].sum()) == 0
    assert float(fixed[0, 0, :, 1, 1].sum()) == 1 and float(fixed[0, 0, 0, 1, 1]) == 1


def test_expected_unpooling_without_padding():
    model = build_model("pu", input_shape=(1, 4, 4), channels=(1, 3), kernel_sizes=(3, 3), pool_sizes=(2,),
                        dec_kernel_sizes=(3, 3)).eval()
    z = torch.randn(1, *model.latent_shape)  # (3, 2, 2): one channel of 4 blocks of 4 cells at the unpooling
    cells = torch.tensor(list(itertools.product(range(4), repeat=4)))  # all 256 joint location choices
    weights = F.one_hot(cells.view(-1, 1, 2, 2), 4).permute(0, 1, 4, 2, 3).float()  # (N, C, P, Hb, Wb)
    every = model.decode(z.expand(len(cells), -1, -1, -1), [weights]).logits
    assert torch.allclose(model.decode(z).logits[0], every.mean(0), atol=1e-5)


def test_loss_terms_shapes_masks_and_weights():
    model = tiny_model(label_weight=2.0, caption_weight=0.5).train()
    batch = tiny_batch()
    terms = model.loss_terms(batch, torch.Generator().manual_seed(0))
    assert set(terms) == {"nll", "kl_dims", "loc_kl", "label_nll", "caption_nll"}
    values = {k: v.detach() for k, v in terms.items()}
    assert terms["kl_dims"].shape == (4, model.config.latent_dim) and model.config.latent_dim == 4 * 4 * 4
    for k in ("nll", "loc_kl", "label_nll", "caption_nll"):
        assert terms[k].shape == (4,) and bool(torch.isfinite(terms[k]).all())
    assert float(values["label_nll"][1]) == 0.0 and float(values["label_nll"][0]) > 0  # label -1: no term
    assert float(values["caption_nll"][2]) == 0.0 and float(values["caption_nll"][0]) > 0  # no captions: no term
    unweighted = tiny_model(label_weight=1.0, caption_weight=1.0).train()
    unweighted.load_state_dict(model.state_dict())
    t1 = unweighted.loss_terms(batch, torch.Generator().manual_seed(0))
    assert torch.allclose(terms["label_nll"], 2.0 * t1["label_nll"]) and torch.allclose(terms["caption_nll"], 0.5 * t1["caption_nll"])
    loss = terms["nll"] + terms["kl_dims"].sum(1) + terms["loc_kl"] + terms["label_nll"] + terms["caption_nll"]
    loss.mean().backward()
    for name in ("enc_convs.0.weight", "code_head.weight", "dec_convs.0.weight", "dec_convs.1.weight", "location_log_scale",
                 "classifier.weight", "captioner.rnn.weight_ih_l0"):
        assert bool(dict(model.named_parameters())[name].grad.abs().sum() > 0), name
    images_only = model.loss_terms(batch[0], torch.Generator().manual_seed(0))
    assert set(images_only) == {"nll", "kl_dims", "loc_kl"}


def test_mlp_location_logits_and_lstm_captions_work():
    model = tiny_model(location_logits="mlp", rnn="lstm", eval_pooling="sample").train()
    terms = model.loss_terms(tiny_batch(), torch.Generator().manual_seed(0))
    sum(v.sum() for v in terms.values()).backward()
    assert bool(model.location_mlps[0][0].weight.grad.abs().sum() > 0)
    model.eval()
    assert len(captions_for_images(model, tiny_batch()[0], method="beam", beam_size=3, generator=torch.Generator().manual_seed(0))) == 4


def test_code_reader_feeds_both_heads(tmp_path):
    model = tiny_model(reader_channels=(5, 6), reader_strides=(1, 2), label_hidden=7, location_scale_init=0.1).train()
    assert model.reader.out_dim == 6 * 2 * 2 and float(model.location_log_scale.detach().exp()) == pytest.approx(0.1)
    terms = model.loss_terms(tiny_batch(), torch.Generator().manual_seed(0))
    (terms["label_nll"] + terms["caption_nll"]).sum().backward()
    assert bool(model.reader.net[0].weight.grad.abs().sum() > 0) and bool(model.code_head.weight.grad.abs().sum() > 0)
    model.eval()
    x = tiny_batch()[0]
    save_pretrained(model, tmp_path / "ck")
    loaded = from_pretrained(tmp_path / "ck")
    assert torch.equal(model.predict_labels(x), loaded.predict_labels(x))
    assert captions_for_images(model, x, method="beam") == captions_for_images(loaded, x, method="beam")


def test_iwae_weights_are_finite_and_deterministic_given_a_generator():
    model = tiny_model().eval()
    x = tiny_batch()[0]
    w1 = model.iwae_log_weights(x, 6, torch.Generator().manual_seed(0), chunk=5)
    w2 = model.iwae_log_weights(x, 6, torch.Generator().manual_seed(0), chunk=5)
    assert w1.shape == (4, 6) and bool(torch.isfinite(w1).all()) and torch.equal(w1, w2)


def test_evaluation_scores_the_elbo_with_the_encoders_cells_and_the_location_kl():
    from explorer.analysis.evaluation import iwae_bound, score_items

    model = tiny_model().eval()
    x = tiny_batch()[0]
    s = score_items(model, x, iwae_k=0, batch_size=3)
    loc = s.extra_kl["location_kl"]
    # every block's KL to uniform is >= 0, and the total is the code's KL plus the location KL
    assert loc.shape == (4,) and bool((loc > 0).all())
    assert torch.allclose(s.kl, s.kl_dims.sum(1) + loc) and torch.allclose(s.elbo, -(s.nll + s.kl))
    # the same draws by hand: exact cells from q, the code sampled, decoded at those cells
    gen = torch.Generator().manual_seed(1)
    terms = model.elbo_terms(x, gen)
    gen = torch.Generator().manual_seed(1)
    enc = model.encode_full(x, gen, pooling="sample")
    z = enc.posterior.sample(gen)
    nll = -model.decode(z, enc.locations).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(terms["nll"], nll) and torch.allclose(terms["location_kl"], enc.location_kl())
    # a lower bound: averaged over many draws, the ELBO lies below the IWAE estimate of log p(x)
    reps = x.repeat(50, 1, 1, 1)
    t = model.elbo_terms(reps, torch.Generator().manual_seed(2))
    elbo = -(t["nll"] + t["kl_dims"].sum(1) + t["location_kl"]).view(50, 4).mean(0)
    iwae = iwae_bound(model, x, 200, torch.Generator().manual_seed(3))
    assert bool((elbo < iwae).all())


def test_public_prediction_methods():
    model = tiny_model().eval()
    x = tiny_batch()[0]
    gen = torch.Generator().manual_seed(0)
    probs = model.predict_labels(x, n_draws=4, generator=gen)
    assert probs.shape == (4, 3) and torch.allclose(probs.sum(1), torch.ones(4))
    z = model.encode(x).mean
    assert torch.allclose(model.predict_labels(z=z), model.predict_labels(x, n_draws=1))
    assert len(model.captions(z[0], method="sample", n=3, generator=gen)) == 3
    assert len(model.captions(z, method="beam", n=2, beam_size=3)) == 8
    assert model.captions(z, method="greedy") == captions_for_images(model, x, draws=1)
    assert model.vocab.words == WORDS
    scores = score_captions(model, x, ["a red circle"] * 4, draws=2, generator=gen)
    assert scores.shape == (4,) and bool((scores < 0).all())
    one = score_captions(model, x, ["a red circle"] * 4, draws=1)  # the mean code: log p(text | mean) of the head
    assert torch.allclose(one, model.caption_log_prob(z, ["a red circle"] * 4))


def test_encoding_is_deterministic_in_eval_mode():
    model = tiny_model().eval()
    x = tiny_batch()[0]
    a, b = model.encode(x), model.encode(x[1:2])
    assert torch.equal(a.mean, model.encode(x).mean) and torch.equal(model.reconstruct(x), model.reconstruct(x))
    # alone or in a batch: the same cells, so the same code up to the convolutions' float rounding
    assert torch.allclose(a.mean[1:2], b.mean, atol=1e-5)
    assert torch.allclose(model.reconstruct(x)[1:2], model.reconstruct(x[1:2]), atol=1e-5)


def test_save_and_load_give_identical_outputs(tmp_path):
    model = tiny_model(display_unpool="fixed-seed").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    save_pretrained(model, tmp_path / "ck")
    saved = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert "vocab_words" not in saved["config"] and saved["config"]["vocab_size"] == len(WORDS)
    assert Vocab.from_json((tmp_path / "ck" / "vocab.json").read_text()).words == WORDS
    loaded = from_pretrained(tmp_path / "ck")
    assert loaded.vocab.words == WORDS and loaded.config == model.config
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    batch = tiny_batch()
    t1 = model.loss_terms(batch, torch.Generator().manual_seed(5))
    t2 = loaded.loss_terms(batch, torch.Generator().manual_seed(5))
    assert all(torch.equal(t1[k], t2[k]) for k in t1)
    z = torch.randn(3, *model.latent_shape)
    assert torch.equal(model.decode(z).mean, loaded.decode(z).mean)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert model.captions(z, n=2, generator=g()) == loaded.captions(z, n=2, generator=g())
    assert captions_for_images(model, batch[0], method="beam") == captions_for_images(loaded, batch[0], method="beam")
    (tmp_path / "ck" / "vocab.json").unlink()
    with pytest.raises(CheckpointError, match="vocab.json"):  # a CheckpointError names the folder and the file
        from_pretrained(tmp_path / "ck")


def test_config_follows_the_data_and_trains_with_the_shared_trainer(tmp_path):
    from explorer.training import TrainConfig, Trainer

    data = load_shapes(n_images=160, seed=3)
    cls = get_model_class("pu")
    values = cls.adapt_config_to_data({"channels": (4, 6), "hidden_dim": 16, "embed_dim": 8, "code_feed_dim": 8}, data)
    model = cls(cls.config_class.from_dict(values))
    assert model.config.class_names == ("circle", "square", "triangle")
    assert model.vocab.words == data.extras["vocab"].words
    assert model.latent_shape == (6, 11, 11)  # 32 padded to 33, pooled by 3
    cfg = TrainConfig(epochs=1, batch_size=32, tensorboard=False, progress=False)
    history = Trainer(model, data, cfg, tmp_path / "run", torch.device("cpu")).fit()
    extra = history[0].extra
    assert {"loc_kl", "label_nll", "caption_nll"} <= set(extra) and "epoch_label_accuracy" in extra
    summary = epoch_summary(model, data, torch.device("cpu"))
    assert summary["sampled_captions"].count("[true:") == 3
    assert 0.0 <= summary["label_accuracy"] <= 1.0 and summary["caption_nll"] > 0


def test_an_explicit_vocab_size_0_keeps_a_captioned_data_sets_model_without_a_caption_head():
    data = load_shapes(n_images=40, seed=3, labeled_fraction=0.5)
    cls = get_model_class("pu")
    values = cls.adapt_config_to_data({"channels": (3, 4), "vocab_size": 0, "label_head": "bsvm"}, data)
    model = cls(cls.config_class.from_dict(values))
    assert model.captioner is None and model.config.vocab_size == 0 and model.capabilities().labels
    batch = data.collate_fn([data.train[i] for i in range(8)])
    assert set(model.loss_terms(batch, torch.Generator().manual_seed(0))) == {"nll", "kl_dims", "loc_kl", "label_nll"}


def test_capabilities_follow_the_heads(tmp_path):
    """A checkpoint without a vocabulary declares no captions (so the app offers no Captions page), one
    without class names no labels; predictions average eval_draws draws."""
    plain = build_model("pu", input_shape=(3, 8, 8), channels=(3, 4), kernel_sizes=(3, 3), pool_sizes=(3,),
                        dec_kernel_sizes=(3, 3))
    caps = plain.capabilities()
    assert caps.captions is False and caps.labels is False and caps.spatial_code
    assert plain.captioner is None and plain.vocabulary() == [] and plain.extra_files() == {}
    save_pretrained(plain, tmp_path / "plain")
    assert not (tmp_path / "plain" / "vocab.json").exists()
    saved = json.loads((tmp_path / "plain" / "config.json").read_text())
    assert saved["family"] == "pu" and saved["config"]["vocab_size"] == 0
    # what the app reads from config.json alone (ui.app.context's Ctx.has_captions) before any weights are loaded
    assert family_capabilities("pu", saved["config"]).captions is False
    loaded = from_pretrained(tmp_path / "plain")
    assert loaded.capabilities().captions is False and loaded.capabilities().labels is False
    full = tiny_model(eval_draws=5).capabilities()
    assert full.captions and full.labels and full.prediction_draws == 5


def test_every_config_field_has_help_text():
    from dataclasses import fields

    from explorer.models.pu import PuConfig

    own = [f for f in fields(PuConfig) if f.name not in ("latent_dim", "likelihood", "learn_scale", "init_log_scale")]
    assert len(own) > 30
    for f in own:
        assert isinstance(f.metadata.get("help"), str) and f.metadata["help"].strip(), f.name


