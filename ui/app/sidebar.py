"""The shared sidebar: model picker (with each card's summary and key metrics), device and data set."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import streamlit as st

from explorer.analysis.collapse import collapse_sentences, stored_verdict
from ui.app.catalogue import (
    Entry,
    class_label,
    condition_classes,
    evaluations,
    folder_stamp,
    list_models,
    load_model,
    read_analysis,
    read_config,
    read_evaluation,
    torch_loaded,
)
from ui.app.config import BATCH_MEMORY_GB, DATA_BUDGET_S, app_config
from ui.app.context import Ctx
from ui.app.dataviews import EMBEDDED_DATASETS, dataset_available, fitting_first
from ui.app.links import wanted_model
from ui.services.lazy import torch_side


def devices() -> list[str]:
    """Devices present here ('auto' first); before torch is loaded only 'auto' and 'cpu' are offered."""
    if not torch_loaded():
        return ["auto", "cpu"]
    available_devices = torch_side().checkpoint.available_devices

    return available_devices()

METRIC_LABELS = {
    "iwae_nll_nats": ("IWAE NLL", "{:.2f} nats"),
    "iwae_bits_per_dim": ("IWAE", "{:.3f} bits/dim"),
    "elbo_nats": ("ELBO", "{:.2f} nats"),
    "active_units": ("active units", "{:d}"),
    "latent_dims": ("code size", "{:d}"),
}


def metrics_line(entry: Entry) -> str:
    parts = []
    for key, value in entry.metrics:
        label, fmt = METRIC_LABELS.get(key, (key, "{}"))
        try:
            parts.append(f"{label} {fmt.format(value)}")
        except (ValueError, TypeError):
            parts.append(f"{label} {value}")
    return " · ".join(parts)


def _label(entry: Entry, clash: bool = False) -> str:
    """Picker text: name (with its folder when two checkpoints share a name), then the card's summary."""
    name = f"{entry.name} [{Path(entry.folder).parent}]" if clash else entry.name
    if entry.error:
        return f"⚠ {name} (cannot be used)"
    return f"{name}: {entry.summary}" if entry.summary else name


def sidebar_ui() -> Ctx | None:
    """Draw the sidebar; return this run's context, or None when no usable model is chosen."""
    cfg = app_config()
    entries = list_models()
    by_folder = {e.folder: e for e in entries}
    with st.sidebar:
        st.markdown("### Model")
        if not entries:
            where = ", ".join(f"`{d}`" for d in cfg.model_dirs)
            st.warning(f"No checkpoint folders found in {where}. Train one with `train.py --out pretrained/NAME`, or "
                       "run `streamlit run app.py -- --models DIR`.")
            return None
        folders = list(by_folder)
        counts: dict[str, int] = {}
        for e in entries:
            counts[e.name] = counts.get(e.name, 0) + 1

        linked = wanted_model()  # a shared walk link names its model
        if linked:
            match = [f for f in folders if by_folder[f].name == linked and not by_folder[f].error]
            if match:
                st.session_state["model_folder"] = match[0]
            else:
                st.warning(f"The link names the model {linked!r}, which is not here; showing another one.")
        gone = st.session_state.get("model_folder")
        if gone is not None and gone not in by_folder and not Path(gone).exists():
            # deleted or moved while this session had it open: say so rather than switch silently
            st.warning(f"The model folder {gone} is no longer there (deleted or moved while it was open); "
                       "showing another model. Pick it again once it is back.")
        if st.session_state.get("model_folder") not in by_folder:
            usable = [f for f in folders if not by_folder[f].error]
            preferred = [f for f in usable if by_folder[f].name == cfg.default_model]
            st.session_state["model_folder"] = (preferred or usable or folders)[0]
        folder = st.selectbox("Checkpoint", folders, format_func=lambda f: _label(by_folder[f], counts[by_folder[f].name] > 1), key="model_folder", persist_state="session",
                              help="Every checkpoint folder under pretrained/ and the folders given with --models.")
        entry = by_folder[folder]
        broken = [e for e in entries if e.error]
        if broken:
            with st.expander(f"⚠ {len(broken)} folder(s) cannot be used"):
                for e in broken:
                    st.caption(f"**{e.name}**: {e.error}")
        if entry.error:
            st.error(f"{entry.name} cannot be used: {entry.error}")
            return None
        if entry.summary:
            st.caption(entry.summary)
        line = metrics_line(entry)
        if line:
            st.caption(line)
        collapse_slot = st.empty()  # beside the model's figures; filled once its metrics.json is read
        present = devices()
        if st.session_state.get("device") not in present:
            st.session_state["device"] = "auto"
        device = st.selectbox("Device", present, key="device", persist_state="session",
                              help="Only devices present on this machine are listed.")
        stamp = folder_stamp(Path(folder))
        try:
            meta = read_config(folder, stamp)
            # once torch is loaded the model is loaded here, so that a broken one is reported in the sidebar;
            # on a fresh server's first run it is loaded when a page first needs it
            model = load_model(folder, device, stamp) if torch_loaded() else None
        except Exception as exc:  # noqa: BLE001  (a broken checkpoint must not take the app down)
            st.error(f"{entry.name} could not be loaded: {exc}")
            return None
        config, metrics = meta["config"], meta["metrics"]
        collapse_ui(collapse_slot, metrics, model)
        own = (config.get("dataset") or {}).get("name") or entry.dataset  # "" for a model trained elsewhere
        own_options = json.dumps((config.get("dataset") or {}).get("options") or {}, sort_keys=True)
        evaluated = evaluations(folder, stamp)  # python -m explorer.cli.evaluate MODEL --dataset NAME
        embedded = [d for d in EMBEDDED_DATASETS if d != own and d not in evaluated]
        if not own and not evaluated:  # a model trained elsewhere: offer first a set whose images fit it as they are
            embedded = fitting_first(embedded, _input_shape(config, model))
        choices = ([own] if own else []) + [d for d in evaluated if d != own] + embedded
        key = f"dataset@{entry.name}"
        if st.session_state.get(key) not in choices:
            st.session_state[key] = choices[0]
        dataset = st.selectbox(
            "Data set for the map and examples", choices, key=key, persist_state="session",
            format_func=lambda d: f"{d} (the model's own)" if d == own else (f"{d} (evaluated)" if d in evaluated else d),
            help="Test items of this data set are encoded for the map and offered as examples; "
                 "other data sets are converted to the model's input shape."
                 + ("" if own else " This checkpoint names no training data set of its own."),
        )
        st.number_input("Data budget (s)", 1.0, 3600.0, value=DATA_BUDGET_S, step=10.0, key="data_budget_s", persist_state="session",
                        help="Time a page may spend encoding the data set's test items; a big model encodes only the "
                             "items that fit (the page says how many). Raise it for more.")
        st.number_input("Batch memory (GB)", 0.1, 1024.0, value=BATCH_MEMORY_GB, step=0.5, key="batch_memory_gb",
                        persist_state="session",
                        help="Memory a batch may take when items are batched only for speed (a data set's encode, "
                             "IWAE samples): a big model encodes fewer at a time, and the app stays small. One item "
                             "over it still runs when it fits the memory free.")
        options = own_options if dataset == own else "{}"
        analysis, analysis_dataset = (read_analysis(folder, stamp), own) if own else ({}, "")
        if dataset != own and dataset in evaluated:
            # the evaluate command's scores and maps stand in for the training run's own
            metrics, analysis = read_evaluation(evaluated[dataset], stamp)
            analysis_dataset = dataset
            options = json.dumps((metrics.get("dataset") or {}).get("options") or {}, sort_keys=True)
        elif dataset != own:
            problem = dataset_available(dataset, options)
            if problem and own:
                st.warning(f"{dataset} is not available here ({problem}); using {own}.")
                dataset, options = own, own_options
            elif problem:
                usable = [d for d in choices if d != dataset and dataset_available(d) is None]
                st.warning(f"{dataset} is not available here ({problem})" + (f"; using {usable[0]}." if usable else "."))
                dataset = usable[0] if usable else dataset
        condition = condition_ui(entry, config)
        # the class is part of the key: cached encodes, reconstructions and scores differ per class
        tail = "" if condition is None else f"|class {condition}"
        ctx_key = hashlib.sha1(f"{folder}|{stamp}|{device}{tail}".encode()).hexdigest()[:10]
        return Ctx(entry, device, config, metrics, analysis, stamp, dataset, options, cfg.limits, ctx_key, model,
                   analysis_dataset, condition)


def collapse_ui(slot, metrics: dict, model) -> None:
    """The posterior-collapse warning in `slot` when the model's own metrics say its code has collapsed (both
    measures and the remedies, as the command lines print them); nothing otherwise."""
    verdict = stored_verdict(metrics, spatial=_spatial(model))
    if verdict is None or not verdict["collapsed"]:
        return
    why, figures, remedies = collapse_sentences(verdict)
    slot.warning(f"**Posterior collapse**: {why}. {figures}: walks and samples will look alike. {remedies}.",
                 icon=":material/warning:")


def _spatial(model) -> bool:
    """Whether the code is a C x H x W map, as the loaded model declares it (Capabilities.code_kind). On a fresh
    server's first run the model is not loaded yet (None): True then, which judges by the total KL and active units
    alone (the rules that hold for every kind of code), so a spatial code's unused positions never warn falsely."""
    return True if model is None else model.capabilities().code_kind != "vector"


def _input_shape(config: dict, model) -> tuple[int, ...]:
    """The model's input (C, H, W): from its config, else from the loaded model; () when neither says."""
    shape = (config.get("config") or {}).get("input_shape")
    if not shape and model is not None:
        shape = model.config.input_shape
    return tuple(int(v) for v in shape or ())


def condition_ui(entry: Entry, config: dict) -> int | None:
    """For a conditional model, the class every page decodes and encodes under unless it picks its own; None
    for any other model."""
    k = condition_classes(config)
    if not k:
        return None
    names = (config.get("config") or {}).get("class_names") or []
    key = f"condition@{entry.name}"
    if st.session_state.get(key) not in range(k):
        st.session_state[key] = 0
    return int(st.selectbox("Class", list(range(k)), key=key, format_func=lambda c: class_label(names, c),
                            help="This model is conditioned on a class: the walk, the map and the loss lab decode "
                                 "under this class; Reconstruct picks its own per image."))
