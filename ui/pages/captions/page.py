"""Captions: sampled, greedy and beam-search captions and label probabilities of the current latent code."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.shared.captioning import captions, label_probs, vocabulary
from ui.app.context import Ctx, require_ctx
from ui.shared.walk_panel import KEEP, axes_ui, start_ui, walk_panel


def page() -> None:
    ctx = require_ctx()
    st.title("Captions")
    if not ctx.has_captions:
        why = (" Captions do not apply to a discrete code (a grid of codebook indices): no caption decoder reads one."
               if ctx.code_kind == "discrete" else "")
        st.info(f"{ctx.entry.name} has no caption decoder; choose a captioning checkpoint (family 'pu').{why}")
        return
    start, described = start_ui(ctx)
    axes = axes_ui(ctx)
    c = st.columns(4)
    n = int(c[0].slider("Sampled captions", 1, 10, 5, key="cap_n", **KEEP))
    temperature = float(c[1].slider("Temperature", 0.1, 2.0, 1.0, 0.1, key="cap_temp", **KEEP))
    beam = int(c[2].slider("Beam size", 1, 10, 5, key="cap_beam", **KEEP))
    seed = int(c[3].number_input("Seed", 0, 2**31 - 1, 0, key="cap_seed", **KEEP))
    class_names = ctx.class_names
    st.caption(f"Start: {described}. Captions follow the sliders; the same code and seed give the same captions.")

    def caption_ui(ctx: Ctx, code: np.ndarray) -> None:
        left, right = st.columns([2, 1])
        with left:
            st.markdown("**Greedy:** " + (captions(ctx.model, code, "greedy", seed=seed) or [""])[0])
            st.markdown(f"**Beam search (beam {beam}):** " + (captions(ctx.model, code, "beam", beam_size=beam, seed=seed) or [""])[0])
            sampled = captions(ctx.model, code, "sample", n=n, temperature=temperature, seed=seed)
            st.markdown(f"**Sampled (temperature {temperature:.1f}):**")
            st.markdown("\n".join(f"{i + 1}. {s}" for i, s in enumerate(sampled)))
        probs = label_probs(ctx.model, code, seed=seed)
        if probs is not None:
            names = list(class_names or []) if class_names and len(class_names) == len(probs) else [str(i) for i in range(len(probs))]
            order = np.argsort(-probs)[:10]
            right.markdown("**Label probabilities**")
            right.dataframe({"label": [names[i] for i in order], "p": [float(probs[i]) for i in order]}, hide_index=True,
                            column_config={"p": st.column_config.ProgressColumn("p", min_value=0.0, max_value=1.0, format="%.2f")})

    walk_panel(ctx, start, axes, extra=caption_ui)
    with st.expander("Vocabulary"):
        st.caption(", ".join(vocabulary(ctx.model)))
