"""Reconstruct's watched scoring: a progress bar with the time left, Cancel, and the per-call budget it states.

The scores run as one watched call (ui.services.inference.score_watched, drawn by ui.shared.watched_decode's
watched_ui) on the inference thread: a newer
request of the session (another image, a page switch, Cancel) stops it within one decoder block. Before it
starts, a decode that would not fit the memory budget is refused with the size it needs; the IWAE samples
follow the time and memory budget (explorer.runtime.budget.plan_iwae), and the page says what was cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui.app.config import BATCH_MEMORY_GB
from ui.app.context import Ctx
from ui.services.lazy import torch_side
from ui.shared.watched_decode import score_ui
from ui.shared.widgets import image_ui, reconstruct_one

DEFAULT_SECONDS = 20.0  # per call; the user can raise it in Settings


@dataclass(frozen=True)
class CallBudget:
    """What one model call of this page may spend: seconds, and GB of memory beyond the weights (None: what
    is available now)."""

    seconds: float = DEFAULT_SECONDS
    memory_gb: float | None = None
    batch_gb: float = BATCH_MEMORY_GB  # the sidebar's batch memory: IWAE samples decoded at once stay under it

    def budget(self):
        """The explorer.runtime.budget.Budget of this page's settings."""
        budget = torch_side().budget
        memory = None if self.memory_gb is None else int(self.memory_gb * 2**30)
        return budget.Budget(seconds=float(self.seconds), memory_bytes=memory, batch_bytes=int(self.batch_gb * 2**30))


def code_description(latent_shape: tuple[int, ...]) -> str:
    """'16-dimensional code', or '4 x 32 x 32 code (4,096 dimensions)' for a tensor code."""
    size = math.prod(latent_shape)
    if len(latent_shape) == 1:
        return f"{size}-dimensional code"
    return f"{' x '.join(str(s) for s in latent_shape)} code ({size:,} dimensions)"


def budget_ui() -> CallBudget:
    """Settings: the time budget of one call and the memory budget (0: what is available)."""
    c = st.columns(2)
    seconds = float(c[0].number_input("Time budget per call (s)", 1.0, 3600.0, value=DEFAULT_SECONDS, step=10.0,
                                      key="rec_budget_s",
                                      help="IWAE samples are cut to what fits this time; raise it for more."))
    gb = float(c[1].number_input("Memory budget (GB, 0: what is free now)", 0.0, 1024.0, value=0.0, step=1.0,
                                 key="rec_budget_gb",
                                 help="A call whose estimated peak is above this is refused before it starts."))
    return CallBudget(seconds, gb if gb > 0 else None, float(st.session_state.get("batch_memory_gb", BATCH_MEMORY_GB)))


def no_posterior_ui(ctx: Ctx, image) -> None:
    """A model with no posterior (an AutoencoderTiny or DC-AE): its reconstruction, and why there are no scores."""
    cols = st.columns([1, 1, 2])
    image_ui(cols[0], image, "as the model sees it")
    image_ui(cols[1], reconstruct_one(ctx, image), "reconstruction")
    st.info("This model encodes to a plain latent with no posterior (Capabilities.posterior is False), so there is "
            "no ELBO, IWAE bound, KL or posterior sample to show: only its reconstruction.")


def watched_score_ui(ctx: Ctx, image: np.ndarray, iwae_k: int, seed: int, n_samples: int,
                     budget: CallBudget | None, key: str):
    """(ImageScore, the IWAE samples it used) of one (C, H, W) image, computed as a watched call with a progress
    bar and Cancel (ui.shared.watched_decode.watched_ui); None when it was refused or cancelled (the page says
    which)."""
    budget = budget or CallBudget()
    result = score_ui(ctx.model, ctx.key, image, iwae_k, seed, n_samples, budget.budget(), budget, "scoring",
                      st.empty(), key)
    if result is None:
        return None
    seconds = f"{result.seconds:.1f} s" if result.seconds >= 0.1 else "under 0.1 s"
    budget_line = (f"Budget per call: {budget.seconds:.0f} s and "
                   + ("the memory free now" if budget.memory_gb is None else f"{budget.memory_gb:g} GB")
                   + " (Settings raises them).")
    plan = result.plan
    if plan is not None:
        cut = "; ".join(plan.notes)
        st.caption(f"Scored in {seconds}. IWAE with k = {plan.k} samples, {plan.chunk} decoded at a time"
                   + (f" ({cut})" if cut else "") + f". {budget_line}")
    else:
        st.caption(f"Scored in {seconds}. {budget_line}")
    return result.score, (plan.k if plan is not None else 0)
