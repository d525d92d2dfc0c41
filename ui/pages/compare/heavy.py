"""Compare with big models: what the page's sections would cost, asked for before it runs, and shown as it runs.

A Stable-Diffusion-sized decoder takes 10 to 20 s a decode here at 512 px, and the page's sections are many decodes
a model (a reconstruction with its ELBO: 4 decodes and an encode; 6 prior draws; 100 test items scored at k = 10:
1,200 decodes). Each section's work is estimated from one cheap timing a model (ui.services.inference.
decode_seconds); a section over AUTO_RUN_S waits for its button, which names the estimate. Reconstructions and prior
draws then run as watched calls (a bar per decoder block and a Cancel button, ui.shared.watched_decode); small
models run as before, at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np
import streamlit as st

from explorer.cache import array_digest
from ui.app.context import Ctx
from ui.services import inference
from ui.services.lazy import torch_side
from ui.shared.watched_decode import decode_ui, score_ui

AUTO_RUN_S = 10.0  # a section estimated above this many seconds waits for its button
SCORE_CALLS = inference.SCORE_DECODES + 1  # a reconstruction with its ELBO: its decodes and the encode (as long)


def decode_seconds(ctx: Ctx) -> float:
    """About how long one decode of ctx's model takes here."""
    return inference.decode_seconds(ctx.model, ctx.key)


def duration(seconds: float) -> str:
    """'40 s', '3 min', '2.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def asked_ui(what: str, action: str, key: Hashable, seconds: float, detail: str) -> bool:
    """True when the work may run now: estimated at most AUTO_RUN_S, or its button (`action`) pressed for this `key`
    in this session (kept, so that a rerun shows the result). Otherwise `what` with the estimate and the button are
    drawn, and False."""
    if seconds <= AUTO_RUN_S:
        return True
    asked = st.session_state.setdefault("_cmp_asked", set())
    if key in asked:
        return True
    slot = st.empty()
    box = slot.container()
    box.info(f"{what} takes about {duration(seconds)} here ({detail}), so it waits to be asked for.")
    if box.button(f"{action} (about {duration(seconds)})", key=f"cmp_ask:{array_digest(prefix=repr(key).encode())}"):
        asked.add(key)
        slot.empty()  # the work's own progress takes the place of the question
        return True
    return False


def per_model(ctxs: list[Ctx], calls: float) -> tuple[float, str]:
    """(seconds, the models' one-decode times as text) of `calls` decodes by every model."""
    each = [decode_seconds(ctx) for ctx in ctxs]
    said = ", ".join(f"{ctx.entry.name} {s:.1f} s" for ctx, s in zip(ctxs, each) if s >= 0.05)
    return calls * sum(each), f"one decode: {said or 'under 0.1 s each'}"


def watched_score(ctx: Ctx, image: np.ndarray, slot) -> object | None:
    """ctx's reconstruction and ELBO terms of one (C, H, W) image (explorer/analysis/scoring.py's ImageScore, one
    posterior draw, no IWAE) as a watched call drawn in `slot`; None when cancelled or refused (the slot says
    which)."""
    result = score_ui(ctx.model, ctx.key, image, 0, 0, 1, torch_side().budget.Budget(), "compare",
                      f"{ctx.entry.name}: reconstruction", slot, ctx.key)
    return None if result is None else result.score


def prior_codes(ctx: Ctx, n: int, seed: int) -> np.ndarray:
    """n codes (n, D) drawn from N(0, I) with one generator seeded `seed` (explorer.latent.prior_draw), in the order
    model.sample draws them."""
    return torch_side().latent.prior_draw((n, ctx.latent_size), seed).reshape(n, -1)


def watched_draws(ctx: Ctx, n: int, seed: int, where: Callable[[], object]) -> list[np.ndarray] | None:
    """n prior draws of ctx's model, each a watched decode (a bar and Cancel in a slot from `where`), kept per code;
    None when one was cancelled or refused."""
    out = []
    for i, code in enumerate(prior_codes(ctx, n, seed)):
        image = decode_ui(ctx.model, ctx.key, code, f"{ctx.entry.name} draw {i + 1}", where())
        if image is None:
            return None
        out.append(image)
    return out
