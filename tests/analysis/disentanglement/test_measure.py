"""measure(): each metric once per sampling seed on posterior means, the mean as the figure and the standard
deviation as its error bar; a factor table is encoded once per item; dimension labels and recipes."""

import numpy as np
import pytest

from explorer.analysis.disentanglement import mig
from explorer.analysis.disentanglement.measure import combine_seeds, dimension_factors, measure, recipe_key
from explorer.data.factors import FactorTable


def test_each_seed_is_a_metric_run_and_the_spread_is_their_std(tiny, bars, tmp_path):
    model, folder = tiny
    grid = bars
    report = measure(model, folder, grid, seeds=(0, 1, 2), preset="quick", names=["mig"], cache_dir=tmp_path / "c")
    entry = report.entries["bars/mig"]
    from explorer.analysis.disentanglement.grid_cache import cached_grid_means
    from explorer.analysis.disentanglement import model_encoder

    means, info = cached_grid_means(folder, model_encoder(model), grid, tmp_path / "c")
    assert info["cached"]  # measure encoded the grid once and stored it
    each = [mig(means, grid, seed=s, num_train=2_000).value for s in (0, 1, 2)]
    assert entry["seed_values"] == pytest.approx(each)
    assert entry["value"] == pytest.approx(np.mean(each)) and entry["spread"] == pytest.approx(np.std(each, ddof=1))
    assert entry["settings"]["codes"] == "posterior means" and entry["settings"]["preset"] == "quick"
    assert report.mutual_information.shape == (3, 2)


def test_a_table_is_encoded_once_per_item(tiny, bars):
    model, _ = tiny
    grid = bars
    table = grid.factors_of(np.arange(len(grid)))
    loads = []

    def load(index):
        loads.append(len(index))
        return grid.images(table[index])

    data = FactorTable("bars-table", grid.factor_names, table, load, grid.image_shape, grid.factor_sizes)
    report = measure(model, None, data, seeds=(0, 1), preset="quick", names=["mig", "factor_vae"])
    assert sum(loads) == len(table)  # FactorVAE's thousands of fixed-factor batches read codes, not images
    assert set(report.entries) == {"bars-table/mig", "bars-table/factor_vae"}


def test_combine_seeds_and_dimension_labels():
    per_seed = [{"d/mig": {"value": v, "description": "x", "settings": {"seed": s, "seconds": 1.0, "n": 5}}}
                for s, v in enumerate([0.2, 0.4])]
    e = combine_seeds(per_seed, [0, 1])["d/mig"]
    assert e["value"] == pytest.approx(0.3) and e["spread"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert "seed" not in e["settings"] and e["settings"]["n"] == 5
    rows = dimension_factors(np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.25]]), ["a", "b", "c"])
    assert (rows[0]["factor"], rows[0]["runner_up"]) == ("a", "b") and rows[0]["margin"] == pytest.approx(0.8)
    assert (rows[1]["factor"], rows[1]["runner_up"]) == ("b", "c") and rows[1]["margin"] == pytest.approx(0.05)


def test_recipes_differ_by_anything_but_the_seed():
    base = {"family": "mlp", "config": {"latent_dim": 10}, "dataset": {"name": "dsprites", "options": {}},
            "training": {"seed": 0, "beta": 4.0, "log_every": 10}}
    other_seed = {**base, "training": {"seed": 1, "beta": 4.0, "log_every": 50}}
    other_beta = {**base, "training": {"seed": 0, "beta": 1.0, "log_every": 10}}
    assert recipe_key(base) == recipe_key(other_seed) != recipe_key(other_beta)
