"""The disentanglement metrics against their definitions: disentanglement_lib's own test cases and bounds
(ported, rewritten), hand-computed small cases, sklearn's mutual information, invariances (permuted dimensions)
and the cached-means path agreeing with the encode path."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from explorer.analysis.disentanglement import (
    CodeSource, beta_vae_score, completeness, dci, disentanglement, factor_vae_score, mig, mig_from_codes,
    model_encoder, modularity_explicitness, modularity_score, sap,
)
from explorer.analysis.disentanglement.info import entropies, histogram_discretise, mutual_information_matrix
from explorer.data.factors import FactorGrid


class IdentityGrid(FactorGrid):
    """Observations that ARE the factors (disentanglement_lib's IdentityObservationsData: 10 factors of 10)."""

    def __init__(self, sizes=(10,) * 10):
        super().__init__("identity", tuple(f"f{i}" for i in range(len(sizes))), sizes, (len(sizes),))

    def images(self, factors):
        return torch.from_numpy(self.check_factors(factors).astype(np.float32))


def identity(x):
    return x.numpy().astype(np.float64)


def zeros(x):
    return np.zeros(tuple(x.shape), dtype=np.float64)


def duplicated(x):
    x = identity(x)
    return np.hstack([x, x])


def row_permuted(seed=0):
    rng = np.random.default_rng(seed)

    def encode(x):  # each item's factors shuffled among the dimensions: every dimension carries every factor
        code = identity(x)
        return np.stack([rng.permutation(row) for row in code])

    return encode


# ------------------------------------------------------------------ mutual information and MIG
def test_mutual_information_matches_sklearn():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 7, (500, 3))
    factors = np.stack([codes[:, 0] // 2, rng.integers(0, 4, 500)], 1)
    mi = mutual_information_matrix(codes, factors)
    ref = [[mutual_info_score(factors[:, k], codes[:, d]) for k in range(2)] for d in range(3)]
    np.testing.assert_allclose(mi, ref, atol=1e-12)
    np.testing.assert_allclose(entropies(factors), [mutual_info_score(f, f) for f in factors.T], atol=1e-12)


def test_histogram_discretisation_is_disentanglement_libs():
    x = np.array([[0.0], [0.5], [1.0], [0.26]])
    assert histogram_discretise(x, 2)[:, 0].tolist() == [1, 2, 2, 1]  # edges [0, 0.5] from np.histogram
    assert histogram_discretise(np.linspace(0, 1, 100)[:, None], 20).max() == 20


def test_mig_small_case_by_hand():
    # two balanced binary factors; dimension 0 copies factor 0, dimension 1 is constant:
    # factor 0: gap (ln 2 - 0) / ln 2 = 1; factor 1: no dimension knows it, gap 0 -> MIG 0.5
    f = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 25)
    codes = np.stack([f[:, 0].astype(float), np.zeros(100)], 1)
    value, details = mig_from_codes(codes, f, discretise=False)
    assert value == pytest.approx(0.5)
    np.testing.assert_allclose(details["mutual_information"], [[math.log(2), 0], [0, 0]], atol=1e-12)


def test_mig_identity_zero_and_duplicated_within_disentanglement_libs_bounds():
    data = IdentityGrid()
    assert 0.9 <= mig(identity, data, seed=0, num_train=3000).value <= 1.0
    assert 0.0 <= mig(zeros, data, seed=0, num_train=3000).value <= 0.2
    assert 0.0 <= mig(duplicated, data, seed=0, num_train=3000).value <= 0.1


def test_mig_is_invariant_to_permuting_dimensions_and_drops_under_rotation():
    data = IdentityGrid((10,) * 4)
    perm = np.array([2, 0, 3, 1])
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))
    base = mig(identity, data, seed=3, num_train=3000)
    permuted = mig(lambda x: identity(x)[:, perm], data, seed=3, num_train=3000)
    rotated = mig(lambda x: identity(x) @ q, data, seed=3, num_train=3000)
    assert permuted.value == pytest.approx(base.value)
    assert np.argmax(permuted.details["mutual_information"], 0).tolist() == np.argsort(perm).tolist()
    assert rotated.value < base.value - 0.3
    assert base.settings["codes"] == "posterior means" and base.settings["num_bins"] == 20


# ------------------------------------------------------------------ DCI (dci_test.py's cases)
def test_dci_importance_matrix_cases():
    diag = np.diag(5.0 * np.ones(5))
    for f in (disentanglement, completeness):
        assert f(diag) == pytest.approx(1.0)
        assert f(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])) == pytest.approx(1.0)
        assert f(np.zeros((10, 10))) == pytest.approx(0.0, abs=1e-7)
        assert f(diag[:2, :]) == pytest.approx(1.0)
    redundant, two = np.vstack([diag, diag]), np.hstack([diag, diag])
    assert disentanglement(redundant) == pytest.approx(1.0)
    assert completeness(redundant) == pytest.approx(1 - math.log(2) / math.log(10))
    assert disentanglement(two) == pytest.approx(1 - math.log(2) / math.log(10))
    assert completeness(two) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def five():
    return IdentityGrid((10,) * 5)  # the gradient-boosted cases stay at 5 factors, so that they are fast


def test_dci_identity(five):
    good = dci(identity, five, seed=0, num_train=500, num_test=500, n_estimators=10)
    assert 0.9 <= good.value <= 1.0 and 0.9 <= good.details["completeness"] <= 1.0
    assert good.details["informativeness_test"] > 0.95 and good.settings["preset"] == "custom"  # not the published counts


@pytest.mark.slow
def test_dci_bad_and_duplicated(five):
    bad = dci(row_permuted(), five, seed=0, num_train=1000, num_test=1000, n_estimators=20)
    assert 0.0 <= bad.value <= 0.2 and 0.0 <= bad.details["completeness"] <= 0.2
    dup = dci(duplicated, five, seed=0, num_train=1000, num_test=1000, n_estimators=20)
    target = 1 - math.log(2) / math.log(10)
    assert 0.9 <= dup.value <= 1.0 and abs(dup.details["completeness"] - target) <= 0.1


# ------------------------------------------------------------------ SAP, FactorVAE, BetaVAE, modularity
def test_sap_identity_zero_and_duplicated():
    data = IdentityGrid()
    kw = {"seed": 0, "num_train": 3000, "num_test": 3000, "continuous_factors": True}
    assert 0.9 <= sap(identity, data, **kw).value <= 1.0
    assert 0.0 <= sap(zeros, data, **kw).value <= 0.2
    assert 0.0 <= sap(duplicated, data, **kw).value <= 0.2


def test_sap_discrete_default_reads_single_dimensions(five):
    result = sap(identity, five, seed=0, num_train=1000, num_test=500)
    m = np.array(result.details["score_matrix"])  # test accuracies; a 1-D linear SVM on 10 classes is weak
    off = np.where(np.eye(5, dtype=bool), 0, m).max(0)
    assert np.all(np.diag(m) > off + 0.05)
    assert result.value == pytest.approx(np.mean(np.diag(m) - off))


def test_factor_vae_identity_and_zero():
    data = IdentityGrid()
    kw = {"seed": 0, "batch_size": 5, "num_variance_estimate": 3000, "num_train": 2000, "num_eval": 2500}
    good = factor_vae_score(identity, data, **kw)
    assert 0.9 <= good.details["train_accuracy"] <= 1.0 and 0.9 <= good.value <= 1.0
    assert good.details["num_active_dims"] == 10
    bad = factor_vae_score(zeros, data, **kw)
    assert bad.value == 0.0 and bad.details["num_active_dims"] == 0


def test_factor_vae_votes_follow_a_permutation():
    data = IdentityGrid((10,) * 4)
    perm = np.array([3, 1, 0, 2])
    result = factor_vae_score(lambda x: identity(x)[:, perm], data, seed=1, batch_size=8,
                              num_variance_estimate=2000, num_train=400, num_eval=400)
    votes = np.array(result.details["votes"])  # (K, D): factor k fixed -> dimension where perm[d] == k
    assert np.argmax(votes, 1).tolist() == np.argsort(perm).tolist() and result.value == 1.0


def test_beta_vae_identity_and_zero():
    data = IdentityGrid()
    good = beta_vae_score(identity, data, seed=0, batch_size=5, num_train=2000, num_eval=2000)
    assert 0.9 <= good.details["train_accuracy"] <= 1.0 and 0.9 <= good.value <= 1.0
    bad = beta_vae_score(zeros, data, seed=0, batch_size=5, num_train=500, num_eval=500)
    assert bad.value < 0.2  # nothing to read: chance is 0.1


def test_beta_vae_points_by_hand():
    # the fixed factor's dimension has zero mean difference; every other dimension's mean |a - b| over
    # independent uniform values on 0..9 is E|a - b| = 3.3, and it is what the features show
    from explorer.analysis.disentanglement.beta_vae import beta_vae_points

    data = IdentityGrid((10,) * 3)
    x, y = beta_vae_points(CodeSource(data, encode=identity), 300, 64, np.random.default_rng(0))
    assert np.all(x[np.arange(300), y] == 0.0)
    others = np.ma.masked_array(x, np.eye(3, dtype=bool)[y]).mean()
    assert others == pytest.approx(3.3, abs=0.1)


def test_modularity_matrix_cases():
    diag = np.diag(5.0 * np.ones(5))
    assert modularity_score(diag) == pytest.approx(1.0)
    assert modularity_score(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])) == pytest.approx(2 / 3)
    assert modularity_score(np.zeros((10, 10))) == pytest.approx(0.0)
    assert modularity_score(np.vstack([diag, diag])) == pytest.approx(1.0)
    assert modularity_score(diag[:2, :]) == pytest.approx(1.0)
    assert modularity_score(np.hstack([diag, diag])) == pytest.approx(1 - 1 / 9)


def test_modularity_identity_and_duplicated(five):
    data = five
    good = modularity_explicitness(identity, data, seed=0, num_train=3000, num_test=500)
    assert 0.9 <= good.value <= 1.0 and good.details["explicitness_test"] > 0.9
    assert 0.9 <= modularity_explicitness(duplicated, data, seed=0, num_train=3000, num_test=500).value <= 1.0


@pytest.mark.slow
def test_modularity_bad():
    bad = modularity_explicitness(row_permuted(), IdentityGrid(), seed=0, num_train=20000, num_test=2000)
    assert 0.0 <= bad.value <= 0.2


# ------------------------------------------------------------------ sources: cached means, seeds, models
def test_cached_means_give_the_same_figures_as_encoding():
    data = IdentityGrid((4, 5, 6))
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 5))

    def encode(x):
        return np.tanh(identity(x) @ w)

    means = encode(data.images(data.factors_of(np.arange(len(data)))))
    for metric, kw in ((mig, {"num_train": 500}), (factor_vae_score, {"num_variance_estimate": 300, "num_train": 50,
                                                                        "num_eval": 50, "batch_size": 8})):
        a, b = metric(encode, data, seed=4, **kw), metric(means, data, seed=4, **kw)
        assert a.value == pytest.approx(b.value)
        key = "mutual_information" if metric is mig else "votes"
        np.testing.assert_allclose(a.details[key], b.details[key])
    with pytest.raises(ValueError, match=r"\(120, D\)"):
        CodeSource(data, means=means[:10])


def test_the_seed_is_explicit_and_changes_the_draw():
    data = IdentityGrid((10,) * 3)
    noisy = row_permuted(0)
    a = mig(identity, data, seed=1, num_train=300)
    b = mig(identity, data, seed=1, num_train=300)
    c = mig(noisy, data, seed=2, num_train=300)
    assert a.value == b.value and a.settings["seed"] == 1 and c.value != a.value


def test_a_model_is_scored_on_its_posterior_means():
    from explorer.models import build_model

    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(1, 64, 64), latent_dim=4, hidden_sizes=(16,)).eval()
    from explorer.data.dsprites import DSprites

    data = DSprites()
    encode = model_encoder(model)
    images = data.images(data.factors_of(np.arange(8)))
    np.testing.assert_allclose(encode(images), model.encode(images).mean.detach().numpy(), rtol=1e-5, atol=1e-6)
    result = mig(encode, data, seed=0, num_train=256)
    assert np.array(result.details["mutual_information"]).shape == (4, 5) and 0.0 <= result.value <= 1.0


def test_all_metrics_quick_preset_and_metrics_json_entries():
    from explorer.analysis.disentanglement import QUICK, disentanglement_metrics, metrics_json_entries

    data = IdentityGrid((10,) * 3)
    seen = []
    results = disentanglement_metrics(identity, data, seed=0, quick=True, progress=lambda n, s: seen.append(n))
    assert seen == ["beta_vae", "factor_vae", "mig", "sap", "dci", "modularity"]
    assert all(r.settings["preset"] == "quick" for r in results.values())
    assert results["mig"].settings["num_train"] == QUICK["mig"]["num_train"] and results["mig"].value > 0.9
    entries = metrics_json_entries(results, "identity")
    assert entries["identity/dci_completeness"]["value"] > 0.9 and entries["identity/mig"]["description"]
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['nope'\]"):
        disentanglement_metrics(identity, data, names=["nope"])
