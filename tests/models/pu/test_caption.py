"""explorer.models.pu.caption: sampled, greedy and beam-searched captions over posterior draws."""

import pytest
import torch

from explorer.text import EOS_ID, PAD_ID
from tests.support.tinypu import tiny_model


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
