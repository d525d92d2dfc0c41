"""The Pu et al. (2016) family: batched pooling against slow loops, location draws, objective, captions, checkpoints."""

import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F

from explorer.checkpoint import CheckpointError, from_pretrained, save_pretrained
from explorer.data.shapes import load_shapes
from explorer.models import build_model, get_model_class
from explorer.models.pu_pooling import (
    draw_locations,
    location_kl,
    log_cell_counts,
    padding_bias,
    stochastic_pool,
    to_blocks,
    unpool,
    unpool_at,
)
from explorer.text import EOS_ID, PAD_ID, Vocab

WORDS = ["<pad>", "<eos>", "<unk>", "a", "red", "blue", "circle", "square", "in", "the", "top", "left"]


def tiny_model(**kw):
    values = dict(input_shape=(3, 10, 11), channels=(3, 4), kernel_sizes=(3, 3), pool_sizes=(3,), dec_kernel_sizes=(3, 3),
                  class_names=("circle", "square", "triangle"), vocab_size=len(WORDS), vocab_words=WORDS, embed_dim=8,
                  hidden_dim=16, code_feed_dim=8, max_caption_len=7, eval_draws=3)
    values.update(kw)
    return build_model("pu", **values)


def tiny_batch(b=4, shape=(3, 10, 11), seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(b, *shape, generator=gen).round()
    labels = torch.tensor([0, -1, 2, 1][:b])
    captions = torch.randint(3, len(WORDS), (b, 2, 6), generator=gen)
    captions[:, :, 4] = EOS_ID
    captions[:, :, 5] = PAD_ID
    counts = torch.tensor([2, 1, 0, 2][:b])
    return x, labels, captions, counts


# -- pooling and unpooling against loops written only here ------------------------------------------
def loop_pool(h, index, p):
    """Seed 000's algorithm, one image, channel and block at a time, on a zero-padded map."""
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
    assert len(model.captions_for_images(tiny_batch()[0], method="beam", beam_size=3, generator=torch.Generator().manual_seed(0))) == 4


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
    assert model.captions_for_images(x, method="beam") == loaded.captions_for_images(x, method="beam")


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


# -- captions ------------------------------------------------------------------------------------------
def test_sampled_captions_end_with_eos_or_at_the_limit():
    model = tiny_model().eval()
    codes = torch.randn(50, 1, model.config.latent_dim)
    ids = model.caption_ids(codes, "sample", n=2, temperature=1.5, generator=torch.Generator().manual_seed(0), max_len=5)
    assert ids.shape == (50, 2, 5)
    ended = finished_at_limit = 0
    for row in ids.flatten(0, 1).tolist():
        if EOS_ID in row:
            k = row.index(EOS_ID)
            assert all(t == PAD_ID for t in row[k + 1:]) and PAD_ID not in row[:k]
            ended += 1
        else:
            assert PAD_ID not in row  # ran to the limit: every slot is a word
            finished_at_limit += 1
    assert ended + finished_at_limit == 100


@pytest.mark.parametrize("draws", [1, 3])
def test_beam_search_with_beam_one_equals_greedy(draws):
    model = tiny_model().eval()
    for seed in range(3):
        torch.manual_seed(seed)
        codes = torch.randn(6, draws, model.config.latent_dim) * 2
        greedy = model.caption_ids(codes, "greedy")
        beam = model.caption_ids(codes, "beam", beam_size=1)
        assert torch.equal(greedy, beam)


def test_beam_search_finds_captions_at_least_as_likely_as_greedy():
    model = tiny_model().eval()
    codes = torch.randn(6, 1, model.config.latent_dim) * 2
    greedy = model.caption_ids(codes, "greedy")[:, 0]
    ids, scores = model.captioner.beam_search(codes, 7, beam_size=4, n_best=2)
    assert torch.all(scores[:, 0] >= scores[:, 1])
    greedy_score = model.captioner.sequence_log_prob(codes, greedy)
    assert torch.all(scores[:, 0] >= greedy_score - 1e-4)
    assert torch.allclose(model.captioner.sequence_log_prob(codes, ids[:, 0]), scores[:, 0], atol=1e-4)


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
    assert model.captions(z, method="greedy") == model.captions_for_images(x, n_draws=1)
    assert model.vocab.words == WORDS
    assert model.score_captions(x, ["a red circle"] * 4, n_draws=2, generator=gen).shape == (4,)


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
    assert model.captions_for_images(batch[0], method="beam") == loaded.captions_for_images(batch[0], method="beam")
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
    metrics = model.extra_metrics(data, torch.device("cpu"))
    for key in ("bleu4", "baseline_bleu4", "attribute_acc_colour", "attribute_acc_shape", "label_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    summary = model.epoch_summary(data, torch.device("cpu"))
    assert summary["sampled_captions"].count("[true:") == 3


def test_uniform_noise_is_reproducible_from_its_generator_and_uniform():
    from explorer.models.pu_pooling import uniform

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
