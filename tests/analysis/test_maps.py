import numpy as np
import pytest

from explorer.analysis.maps import compute_map, parse_map_methods, place_by_neighbours
from explorer.pca import attribute_direction_map, fit_pca
from explorer.analysis.store import load_analysis, save_analysis


def test_pca_projects_new_points_exactly():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(50, 6))
    pca = fit_pca(means)
    np.testing.assert_allclose(pca.project(means), pca.coords, atol=1e-10)
    from sklearn.decomposition import PCA

    ref = PCA(2).fit(means)
    np.testing.assert_allclose(np.abs(pca.components), np.abs(ref.components_), atol=1e-8)


def test_pca_of_one_dimensional_code():
    assert fit_pca(np.arange(10.0)[:, None]).coords.shape == (10, 2)


def test_attribute_direction_map_reads_codes_along_the_direction():
    from sklearn.decomposition import PCA

    from explorer.latent import attribute_axes

    rng = np.random.default_rng(3)
    codes = rng.normal(size=(200, 5)) * [1.0, 0.3, 3.0, 0.5, 0.2]  # most spread along dimension 2
    labels = np.repeat([0, 1], 100)
    codes[labels == 1] += [2.0, 1.0, 0.0, 0.0, 0.0]  # class 1 sits off along (2, 1, 0, 0, 0)
    axes = attribute_axes(codes, labels, [(0, 1)])
    m = attribute_direction_map(codes, axes.vectors[0])
    u = axes.vectors[0]
    np.testing.assert_allclose(m.coords[:, 0], (codes - codes.mean(0)) @ u, atol=1e-10)
    assert m.coords[labels == 1, 0].mean() - m.coords[labels == 0, 0].mean() == pytest.approx(axes.scales[0])
    # y: the first principal direction of what the direction leaves (scikit-learn's PCA as the reference)
    rest = codes - np.outer(codes @ u, u)
    ref = PCA(1).fit(rest).components_[0]
    np.testing.assert_allclose(np.abs(m.components[1]), np.abs(ref), atol=1e-8)
    assert abs(m.components[1] @ u) < 1e-10 and np.argmax(np.abs(m.components[1])) == 2
    np.testing.assert_allclose(m.project(codes[:7]), m.coords[:7], atol=1e-10)
    total = codes.var(0, ddof=1).sum()
    np.testing.assert_allclose(m.explained_variance_ratio, m.coords.var(0, ddof=1) / total)
    # a second direction is read as given (unit length), and a zero direction is refused with its reason
    two = attribute_direction_map(codes, u, second=[0.0, 0.0, 0.0, 2.0, 0.0])
    np.testing.assert_allclose(two.coords[:, 1], codes[:, 3] - codes[:, 3].mean(), atol=1e-10)
    with pytest.raises(ValueError, match="zero"):
        attribute_direction_map(codes, np.zeros(5))
    with pytest.raises(ValueError, match="3 entries but the codes have 5"):
        attribute_direction_map(codes, np.ones(3))


def test_neighbour_placement_lands_on_identical_points():
    rng = np.random.default_rng(1)
    means, coords = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    np.testing.assert_allclose(place_by_neighbours(means[:3], means, coords, k=5), coords[:3], atol=1e-6)
    line = np.array([[0.0], [2.0], [10.0], [20.0]])
    line_coords = np.array([[0.0, 0.0], [4.0, 2.0], [9.0, 9.0], [7.0, 7.0]])
    mid = place_by_neighbours(np.array([[1.0]]), line, line_coords, k=2)  # equidistant from the first two
    np.testing.assert_allclose(mid[0], [2.0, 1.0], atol=1e-6)


@pytest.mark.slow
def test_umap_and_tsne_are_seeded():
    rng = np.random.default_rng(2)
    means = np.concatenate([rng.normal(size=(40, 5)), rng.normal(5, 1, size=(40, 5))])
    for method in ("umap", "tsne"):
        reports = []
        a = compute_map(means, method, seed=0, progress=lambda f, stage: reports.append((f, stage)))
        b = compute_map(means, method, seed=0)
        assert a.shape == (80, 2)
        np.testing.assert_allclose(a, b)  # reporting progress changes nothing
        fractions = [f for f, _ in reports]
        assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
        word = "epoch" if method == "umap" else "iteration"
        assert sum(word in stage and 0 < f < 1 for f, stage in reports) >= 2, reports


def test_parse_map_methods():
    assert parse_map_methods("none") == [] and parse_map_methods("pca, tsne") == ["pca", "tsne"]
    with pytest.raises(ValueError, match="unknown map"):
        parse_map_methods("isomap")


def test_store_round_trip(tmp_path):
    arrays = {"pca_coords": np.ones((3, 2)), "test_labels": np.array([1, 2, 3])}
    save_analysis(tmp_path, arrays)
    back = load_analysis(tmp_path)
    np.testing.assert_array_equal(back["test_labels"], [1, 2, 3])
    assert back["pca_coords"].dtype == np.float32
    assert load_analysis(tmp_path / "nothing") == {}
