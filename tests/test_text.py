"""Tokenizer, vocabulary and BLEU helpers."""

import pytest
import torch

from explorer.text import EOS_ID, PAD_ID, UNK_ID, Vocab, bleu_scores, encode_references, most_frequent_caption, tokenize


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("A dog, running!  It's 2 dogs.") == ["a", "dog", "running", "it's", "2", "dogs"]


def test_vocab_order_specials_and_min_count():
    v = Vocab.build(["a red circle", "a blue circle", "a red square"], min_count=2)
    assert v.words == ["<pad>", "<eos>", "<unk>", "a", "circle", "red"]
    assert v.encode("A red Square") == [3, 5, UNK_ID, EOS_ID]
    assert Vocab.build(["x y z"], max_size=5).words == ["<pad>", "<eos>", "<unk>", "x", "y"]


def test_vocab_round_trips_through_ids_and_json():
    v = Vocab.build(["a small red circle in the top left", "there is a large blue square"])
    text = "there is a small red circle"
    ids = v.encode(text)
    assert ids[-1] == EOS_ID and v.decode(ids) == text
    assert v.decode(ids + [PAD_ID, 5, 6]) == text  # decoding stops at <eos>
    assert v.decode(torch.tensor([PAD_ID] + ids)) == text
    assert Vocab.from_json(v.to_json()).words == v.words
    assert v.encode(text, max_len=3) == ids[:2] + [EOS_ID]
    with pytest.raises(ValueError):
        Vocab(["a", "b"])


def test_encode_references_pads_and_counts():
    v = Vocab.build(["a b", "a b c"])
    ids, counts = encode_references(v, [["a b", "a b c"], None, ["c"]], max_len=10)
    assert ids.shape == (3, 2, 4) and counts.tolist() == [2, 0, 1]
    assert v.decode(ids[0, 1]) == "a b c" and bool((ids[1] == PAD_ID).all())


def test_bleu_against_several_references():
    refs = [["a red circle in the top left", "there is a red circle in the top left"], ["a blue square at the top"]]
    perfect = bleu_scores(["a red circle in the top left", "a blue square at the top"], refs)
    assert all(abs(v - 1.0) < 1e-9 for v in perfect.values()) and set(perfect) == {"bleu1", "bleu2", "bleu3", "bleu4"}
    worse = bleu_scores(["a red square in the top right", "a blue circle at the bottom"], refs)
    assert 0 < worse["bleu4"] < worse["bleu1"] < 1
    assert most_frequent_caption(["b a", "a b", "B a.", "c"]) == "b a"
