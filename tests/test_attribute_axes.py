"""Attribute directions (`explorer.latent.attribute_axes`): the vector between two class means moves codes
of one class to the other, as an independent classifier sees the decoded images; a random direction of the
same length does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explorer.latent import Axes, attribute_axes, decode, walk_code

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained" / "conv-mnist5k"


def test_class_pair_axis_is_the_unit_vector_between_the_means() -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(40, 5))
    labels = np.repeat([0, 1], 20)
    axes = attribute_axes(codes, labels, [(0, 1)], names=["zero", "one"])
    diff = codes[20:].mean(0) - codes[:20].mean(0)
    assert isinstance(axes, Axes) and axes.kind == "attribute" and axes.labels == ["zero → one"]
    np.testing.assert_allclose(axes.vectors[0] * axes.scales[0], diff)
    np.testing.assert_allclose(np.linalg.norm(axes.vectors[0]), 1.0)
    # value 1 carries the mean of class 0 to the mean of class 1
    np.testing.assert_allclose(walk_code(codes[:20].mean(0), axes, [1.0]), codes[20:].mean(0))


def test_attribute_columns_by_name_and_empty_groups_collapse() -> None:
    codes = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])
    attrs = np.array([[0, 1], [1, 1], [0, 1], [1, 1]])
    axes = attribute_axes(codes, attrs, ["smiling", 1], names=["smiling", "young"])
    assert axes.labels == ["smiling", "young"]
    np.testing.assert_allclose(axes.vectors[0], [1.0, 0.0])
    assert axes.scales[0] == pytest.approx(2.0)
    assert not axes.collapsed[0] and axes.collapsed[1]  # nobody lacks "young"


def _pooled(images) -> np.ndarray:
    """(N, 1, 28, 28) -> (N, 196) 2x2-averaged pixels: a smaller problem for the classifier, as good for digits."""
    import torch.nn.functional as F

    return F.avg_pool2d(images, 2).flatten(1).numpy()


@pytest.mark.slow  # parsing mnist5k (~15 s on a busy machine) and fitting the classifier
def test_moving_codes_between_class_means_changes_the_decoded_class() -> None:
    from safetensors.numpy import load_file
    from sklearn.linear_model import LogisticRegression

    from explorer.checkpoint import from_pretrained
    from explorer.data import load_dataset, stack_images

    analysis = load_file(str(PRETRAINED / "analysis.safetensors"))
    means, labels = analysis["test_means"].astype(np.float64), analysis["test_labels"]
    a, b = 3, 8
    axes = attribute_axes(means, labels, [(a, b)])
    assert axes.labels == ["3 → 8"]
    start = means[labels == a][:50]
    assert len(start) >= 40
    shift = axes.vectors[0] * axes.scales[0]
    random = np.random.default_rng(0).normal(size=shift.shape)
    random *= np.linalg.norm(shift) / np.linalg.norm(random)

    train_x, train_y = stack_images(load_dataset("mnist5k").train)
    clf = LogisticRegression(max_iter=200, C=0.05).fit(_pooled(train_x), train_y.numpy())
    model = from_pretrained(PRETRAINED, "cpu")

    def share_b(codes: np.ndarray) -> float:
        return float((clf.predict(_pooled(decode(model, codes))) == b).mean())

    assert share_b(start) < 0.2  # sanity: the decoded starting codes read as 3s, not 8s
    assert share_b(start + shift) >= 0.7
    assert share_b(start + random) <= 0.2
