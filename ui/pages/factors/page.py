"""Factors: which latent dimension carries which generative factor, for models whose data set has known factors.

The disentanglement metrics with their spread over sampling seeds, the mutual information between each latent
dimension and each factor as a heat map, each dimension labelled with the factor it carries most (and by how much
more than the next), a traversal grid per dimension titled with what moves, and "walk along this factor" into the
Latent walk. Two to four models side by side; models of one recipe that differ only in their training seed are
grouped, to show the seed spread (Locatello et al. 2019). The metrics run as a background job at the quick preset
(ui/services/factorjobs.py); the page never waits for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
import torch

from explorer.analysis.disentanglement.measure import PRESETS, FactorReport, recipe_key
from explorer.data.factors import FactorData, factors_of
from explorer.images import display_scale, make_grid, to_uint8
from ui.app.catalogue import Entry, folder_digest, folder_stamp, list_models, load_model, read_config
from ui.app.config import app_config
from ui.app.context import Ctx, get_ctx
from ui.app.dataviews import load_split
from ui.app.navigation import switch_to
from ui.pages.factors.view import (
    carrier_of,
    dimension_rows,
    dimension_title,
    metrics_table,
    mi_figure,
    seed_spread_table,
    source_line,
    stored_report,
)
from ui.services import inference
from ui.services.factor_worker import PAGE_PRESET, PAGE_SEEDS
from ui.services.factorjobs import peek, request_factors, restart
from ui.shared.walk_url import dimension_link

MAX_MODELS = 4
STEPS = np.linspace(-2.5, 2.5, 7)  # traversal values, in prior standard deviations from the start code


@dataclass
class Picked:
    """One model on the page: its catalogue entry, config.json and metrics.json, and the data set it is judged on."""

    entry: Entry
    stamp: tuple
    config: dict[str, Any]
    metrics: dict[str, Any]
    dataset: str
    options: str  # JSON of the loader options

    @property
    def seed(self) -> int | None:
        return (self.config.get("training") or {}).get("seed")


def _picked(entry: Entry, dataset: str | None = None, options: str | None = None) -> Picked:
    stamp = folder_stamp(Path(entry.folder))
    meta = read_config(entry.folder, stamp)
    config, metrics = meta.get("config") or {}, meta.get("metrics") or {}
    own = config.get("dataset") or {}
    return Picked(entry, stamp, config, metrics, dataset or own.get("name") or entry.dataset or "",
                  options if options is not None else json.dumps(own.get("options") or {}, sort_keys=True))


def pick_models_ui(ctx: Ctx) -> list[Picked]:
    """The sidebar's model (on the sidebar's data set) and up to three more (each on its own data set)."""
    entries = [e for e in list_models() if not e.error and e.folder != ctx.entry.folder]
    by_folder = {e.folder: e for e in entries}
    st.session_state["fac_more"] = [f for f in st.session_state.get("fac_more", []) if f in by_folder]
    more = st.multiselect(f"Beside {ctx.entry.name} (up to {MAX_MODELS - 1} more, e.g. the same recipe's other seeds)",
                          list(by_folder), key="fac_more", max_selections=MAX_MODELS - 1,
                          format_func=lambda f: by_folder[f].name,
                          help="Each model is judged on its own data set's factors.")
    return [_picked(ctx.entry, ctx.dataset, ctx.dataset_options)] + [_picked(by_folder[f]) for f in more]


@st.cache_resource(show_spinner=False, max_entries=8)
def factor_data(dataset: str, options: str) -> FactorData:
    """The data set's factors (explorer.data.factors.factors_of); a ValueError naming those that have them."""
    return factors_of(load_split(dataset, options))


def worker_options(options: str) -> str:
    """The loader options the background worker gets: the app's --data-root as the page's own loader adds it."""
    parsed = json.loads(options)
    root = app_config().data_root
    if root is not None and parsed.get("root") is None:
        parsed["root"] = str(root)
    return json.dumps(parsed, sort_keys=True)


@st.fragment(run_every=1.0)
def _progress_ui(key: str, name: str) -> None:
    """Polls a background job; when it is done, the whole page reruns to show what it made."""
    job = peek(key)
    if job is None:
        return
    if job.done:
        st.rerun()
    st.progress(job.progress(), text=f"{name}: computing the metrics in the background ({job.stage}, "
                                     f"{job.elapsed:.0f} s). The page stays usable.")


def report_ui(p: Picked) -> FactorReport | None:
    """The model's report: the one its metrics.json stores for this data set (vae-evaluate --metrics
    disentanglement), else the page's quick preset, at once from the cache or from its background job (whose
    progress is shown; a failure is said, with a restart button)."""
    stored = stored_report(p.metrics, p.dataset)
    if stored is not None:
        return stored
    cfg = app_config()
    job, found = request_factors(p.entry.folder, folder_digest(p.entry.folder, p.stamp), p.dataset,
                                 worker_options(p.options), cfg.cache_dir, cfg.trusted_code)
    if found is not None:
        return FactorReport.from_dict(found)
    if job.done and job.error:
        st.error(f"The metrics of {p.entry.name} on {p.dataset} could not be computed: {job.error}")
        if st.button(f"Restart the metrics of {p.entry.name}", key=f"fac_restart:{p.entry.folder}"):
            restart(job.key)
            st.rerun()
        return None
    _progress_ui(job.key, p.entry.name)
    return None


@st.cache_data(show_spinner=False, max_entries=16)
def traversal(_model, model_key: str, _factors: FactorData, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(start factors (K,), images (D, len(STEPS), C, H, W)): one item drawn with seed 0, its posterior mean,
    and each latent dimension moved alone through STEPS."""
    f, image = inference.run(_factors.sample, 1, np.random.default_rng(0))  # rendered as a torch tensor: that thread
    start = inference.encode_codes(_model, image)[0].astype(np.float64)  # (D,)
    d = len(start)
    codes = np.repeat(start[None, None, :], len(STEPS), axis=1).repeat(d, axis=0)  # (D, S, D)
    codes[np.arange(d), :, np.arange(d)] += STEPS[None, :]
    pics = inference.decode_codes(_model, codes.reshape(d * len(STEPS), d)).numpy()
    return f[0], pics.reshape(d, len(STEPS), *pics.shape[1:])


def model_ui(p: Picked, report: FactorReport, factors: FactorData, device: str) -> None:
    """One model's heat map, dimension labels, traversal grid and walk button."""
    st.plotly_chart(mi_figure(report, f"{p.entry.name}: mutual information / factor entropy"),
                    key=f"fac_mi:{p.entry.folder}", config={"displaylogo": False})
    rows = dimension_rows(report)
    st.dataframe({"dimension": [f"z{r['dim']}" for r in rows], "carries most": [r["factor"] for r in rows],
                  "share of its entropy": [round(r["share"], 3) for r in rows],
                  "next": [r["runner_up"] for r in rows], "margin": [round(r["margin"], 3) for r in rows]},
                 hide_index=True, width="stretch", key=f"fac_dims:{p.entry.folder}")
    model = load_model(p.entry.folder, device, p.stamp)
    c = st.columns([2, 1])
    factor = c[0].selectbox("Walk along this factor", report.factor_names, key=f"fac_walk_factor:{p.entry.folder}")
    dim = carrier_of(report, factor)
    if c[1].button(f"Open the Latent walk on z{dim}", key=f"fac_walk:{p.entry.folder}",
                   help="The dimension that holds the largest share of this factor's entropy, set to +2"):
        kl = np.asarray(p.metrics.get("kl_per_dim") or np.ones(report.mutual_information.shape[0]), dtype=np.float64)
        if len(kl) != report.mutual_information.shape[0]:
            kl = np.ones(report.mutual_information.shape[0])
        if kl[dim] < 0.01:
            st.session_state["walk_collapsed"] = True  # the walk hides collapsed dimensions unless asked
        switch_to("walk", dimension_link(p.entry.name, kl, tuple(int(s) for s in model.latent_shape), dim))
    start, pics = traversal(model, f"{p.entry.folder}:{p.stamp}", factors, report.dataset)
    said = ", ".join(f"{n} {int(v)}" for n, v in zip(report.factor_names, start))
    st.markdown(f"**Traversals** from the posterior mean of one item ({said}), each dimension alone from "
                f"{STEPS[0]:g} to +{STEPS[-1]:g} prior standard deviations:")
    for r in rows:
        tile = make_grid(torch.from_numpy(pics[r["dim"]]), nrow=len(STEPS))
        st.image(to_uint8(tile, display_scale(*tile.shape[-2:], 420)), caption=dimension_title(r), output_format="PNG")


def seeds_ui(picked: list[Picked], reports: list[FactorReport]) -> None:
    """Models of one recipe, differing only in their training seed: each seed's figures and their spread."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(picked):
        groups.setdefault(recipe_key(p.config), []).append(i)
    shown = False
    for members in groups.values():
        if len(members) < 2:
            continue
        shown = True
        names = ", ".join(picked[i].entry.name for i in members)
        st.markdown(f"**One recipe, {len(members)} training seeds** ({names}):")
        st.dataframe(seed_spread_table([reports[i] for i in members], [picked[i].seed for i in members]),
                     hide_index=True, width="stretch", key=f"fac_seeds:{members[0]}")
    if not shown:
        st.caption("Models of one recipe that differ only in their training seed are grouped here: pick the other "
                   "seeds of a recipe beside it to see the seed spread, which Locatello et al. (2019) found larger "
                   "than most differences between methods.")


def page() -> None:
    st.title("Factors")
    st.caption("Which latent dimension carries which generative factor, for models whose data set has known "
               "factors (dsprites, dsprites-colour, single-object shapes, CelebA's attributes, a folder with a "
               "factors.csv).")
    ctx = get_ctx()
    if ctx is None:
        st.info("Pick a model in the sidebar.")
        return
    picked = pick_models_ui(ctx)
    usable: list[tuple[Picked, FactorData]] = []
    for p in picked:
        try:
            usable.append((p, factor_data(p.dataset, p.options)))
        except Exception as exc:  # noqa: BLE001  (no factors, or data that cannot be loaded here: said, not fatal)
            st.warning(f"{p.entry.name} is judged on {p.dataset or 'no data set'}: {exc}")
    if not usable:
        return
    found = [(p, f, report_ui(p)) for p, f in usable]
    ready = [(p, f, r) for p, f, r in found if r is not None]
    if not ready:
        return
    st.subheader("Metrics")
    st.dataframe(metrics_table([p.entry.name for p, _, _ in ready], [r for _, _, r in ready]), hide_index=True,
                 width="stretch", key="fac_metrics")
    sources = [source_line(p.entry.name, r, ((p.metrics.get("disentanglement_info") or {}).get(r.dataset) or {})
                           .get("command") if stored_report(p.metrics, r.dataset) is not None else None)
               for p, _, r in ready]
    st.caption(f"On posterior means; value ± the standard deviation over the metric's own sampling seeds. "
               f"{'; '.join(sources)}. The page's preset is {PAGE_PRESET} ({PRESETS[PAGE_PRESET]}, sampling seeds "
               f"{', '.join(map(str, PAGE_SEEDS))}); the published counts: `vae-evaluate MODEL --dataset DATASET "
               "--metrics disentanglement`.")
    seeds_ui([p for p, _, _ in ready], [r for _, _, r in ready])
    cols = st.columns(len(ready))
    for col, (p, f, r) in zip(cols, ready):
        with col:
            st.subheader(p.entry.name)
            st.caption(f"on {r.dataset}: factors {', '.join(f'{n} ({s})' for n, s in zip(f.factor_names, f.factor_sizes))}")
            model_ui(p, r, f, ctx.device)
