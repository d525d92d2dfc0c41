"""Captions from latent codes for models that declare `capabilities().captions`, kept out of the pages.

The model's `captions(code, ...)` takes a batch of one code (1, *latent_shape) and a generator seeded per
call, so the same code and seed give the same captions. Calls run on the app's inference thread.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.text import tokenize
from ui.services import inference
from ui.app.context import Ctx
from ui.app.dataviews import DataView


def captions(model, code: np.ndarray, method: str, n: int = 1, temperature: float = 1.0, beam_size: int = 5,
             seed: int = 0, max_len: int = 20) -> list[str]:
    """Captions of one flat code by 'sample', 'greedy' or 'beam' (on the inference thread)."""
    return inference.captions(model, code, method, n, temperature, beam_size, seed, max_len)


def label_probs(model, code: np.ndarray, seed: int = 0, n_draws: int = 1) -> np.ndarray | None:
    """Class probabilities of one flat code, or None for a model without a label head."""
    if not model.capabilities().labels:
        return None
    return inference.label_probabilities(model, code, seed, n_draws)


def vocabulary(model) -> list[str]:
    return list(model.vocabulary()) if model.capabilities().captions else []


@st.cache_data(show_spinner="Sampling captions for every point ...", max_entries=8)
def _point_captions(_model, model_key: str, dataset: str, _means: np.ndarray, n: int, seed: int) -> list[list[str]]:
    """n sampled captions for every code (N, D), in batches of codes (one generator for the whole set)."""
    return inference.sampled_captions(_model, _means, n, seed)


def word_colour_ui(ctx: Ctx, view: DataView, container) -> tuple[np.ndarray | None, str]:
    """A word picker; returns (per-point bool: a sampled caption contains the word, legend template) or (None, '')."""
    words = vocabulary(ctx.model)
    word = container.selectbox("Colour by caption word", ["(labels)"] + words, key="map_word",
                               help="Points are coloured by whether any of 3 captions sampled from their code contains the word.")
    if word == "(labels)":
        return None, ""
    caps = _point_captions(ctx.model, ctx.key, view.name, view.means, 3, 0)
    has = np.array([any(word in tokenize(c) for c in cs) for cs in caps])
    return has.astype(np.int64), f"'{word}' " + "{}"
