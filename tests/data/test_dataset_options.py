"""Loaders refuse options they do not take, by name, and every shipped model's data set options are accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from explorer.data import available_datasets, check_options, load_dataset

PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained"


def test_an_unknown_option_is_refused_naming_it_and_the_accepted_ones():
    with pytest.raises(ValueError, match=r"'shapes' has no option 'n_imgs'; it takes: n_images, seed"):
        load_dataset("shapes", n_imgs=10)
    with pytest.raises(ValueError, match=r"'mnist5k' has no option 'image_size'; it takes: no options"):
        load_dataset("mnist5k", image_size=32)


@pytest.mark.parametrize("name", available_datasets())
def test_every_loader_states_its_options(name):
    check_options(name, {})  # no loader swallows unknown keyword arguments any more
    with pytest.raises(ValueError, match="has no option 'surely_not_an_option'"):
        check_options(name, {"surely_not_an_option": 1})


@pytest.mark.parametrize("folder", sorted(p for p in PRETRAINED.iterdir() if (p / "metrics.json").is_file()),
                         ids=lambda p: p.name)
def test_shipped_models_data_set_options_are_accepted(folder):
    for name in ("config.json", "metrics.json"):
        dataset = json.loads((folder / name).read_text()).get("dataset") or {}
        if dataset.get("name"):
            check_options(dataset["name"], dataset.get("options") or {})
