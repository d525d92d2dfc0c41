"""Captions from latent codes for models that declare `capabilities().captions`, kept out of the pages.

The model's `captions(code, ...)` takes a batch of one code (1, *latent_shape) and a generator seeded per
call, so the same code and seed give the same captions. Calls run on the app's inference thread.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from explorer.text import tokenize
from ui import inference
from ui.state import Ctx, DataView


def _code(model, code: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(code, dtype=np.float32)).reshape(1, *model.latent_shape).to(model.device)


def captions(model, code: np.ndarray, method: str, n: int = 1, temperature: float = 1.0, beam_size: int = 5,
             seed: int = 0, max_len: int = 20) -> list[str]:
    """Captions of one flat code by 'sample', 'greedy' or 'beam', under inference mode."""

    def run() -> list[str]:
        gen = torch.Generator(device=model.device).manual_seed(int(seed))
        with torch.inference_mode():
            return model.captions(_code(model, code), method=method, n=n, temperature=temperature,
                                  beam_size=beam_size, generator=gen, max_len=max_len)

    return [str(c) for c in inference.run(run)]


def label_probs(model, code: np.ndarray, seed: int = 0, n_draws: int = 1) -> np.ndarray | None:
    """Class probabilities of one flat code, or None for a model without a label head."""
    if not model.capabilities().labels:
        return None

    def run() -> np.ndarray:
        gen = torch.Generator(device=model.device).manual_seed(int(seed))
        with torch.inference_mode():
            probs = model.label_probabilities(_code(model, code), n_draws=n_draws, generator=gen)
        return probs.float().reshape(-1).cpu().numpy()

    return inference.run(run)


def vocabulary(model) -> list[str]:
    return list(model.vocabulary()) if model.capabilities().captions else []


@st.cache_data(show_spinner="Sampling captions for every point ...", max_entries=8)
def _point_captions(_model, model_key: str, dataset: str, _means: np.ndarray, n: int, seed: int) -> list[list[str]]:
    """n sampled captions for every code (N, D), in batches of codes (one generator for the whole set)."""

    def run() -> list[list[str]]:
        gen = torch.Generator(device=_model.device).manual_seed(int(seed))
        out: list[list[str]] = []
        for start in range(0, len(_means), 100):
            z = torch.as_tensor(np.asarray(_means[start : start + 100], dtype=np.float32))
            z = z.reshape(len(z), *_model.latent_shape).to(_model.device)
            with torch.inference_mode():
                flat = _model.captions(z, method="sample", n=n, generator=gen)
            out += [list(flat[i * n : (i + 1) * n]) for i in range(len(z))]
        return out

    return inference.run(run)


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
