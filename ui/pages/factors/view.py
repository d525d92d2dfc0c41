"""What the Factors page draws, apart from its widgets: the metric table with spreads, the mutual-information
heat map, the dimension labels, the seed groups of one recipe. Pure functions of FactorReport dicts
(explorer.analysis.disentanglement.measure.FactorReport.to_dict)."""

from __future__ import annotations

from typing import Any

import numpy as np

from explorer.analysis.disentanglement.measure import FactorReport, dimension_factors

METRIC_TITLES = {"beta_vae": "BetaVAE score", "factor_vae": "FactorVAE score", "mig": "MIG", "sap": "SAP",
                 "dci": "DCI disentanglement", "dci_completeness": "DCI completeness",
                 "dci_informativeness_test": "DCI informativeness (test acc.)", "modularity": "modularity",
                 "modularity_explicitness_test": "explicitness (ROC-AUC)"}


def stored_report(metrics: dict[str, Any], dataset: str) -> FactorReport | None:
    """The report `vae-evaluate ... --metrics disentanglement` stored in a model's metrics.json for `dataset`
    ("disentanglement" entries and "disentanglement_info"), or None when it has none."""
    info = (metrics.get("disentanglement_info") or {}).get(dataset)
    entries = {k: v for k, v in (metrics.get("disentanglement") or {}).items() if k.startswith(f"{dataset}/")}
    if not info or f"{dataset}/mig" not in entries or "mutual_information" not in info:  # MIG's run gives the MI
        return None
    return FactorReport(dataset, list(info["factor_names"]), str(info.get("preset", "?")), list(info.get("seeds", [])),
                        entries, np.asarray(info["mutual_information"], dtype=np.float64),
                        np.asarray(info["factor_entropy"], dtype=np.float64), dict(info.get("encoding") or {}))


def source_line(name: str, report: FactorReport, command: str | None) -> str:
    """Where a model's figures come from: its stored evaluation (preset, command) or the page's quick preset."""
    seeds = ", ".join(str(s) for s in report.seeds)
    if command:
        return f"{name}: stored in its metrics.json, preset {report.preset} (sampling seeds {seeds}), by `{command}`"
    return f"{name}: computed here at the {report.preset} preset (sampling seeds {seeds})"


def metric_name(key: str) -> str:
    """"dsprites/mig" -> "MIG"."""
    short = key.split("/", 1)[-1]
    return METRIC_TITLES.get(short, short)


def with_spread(entry: dict[str, Any]) -> str:
    """"0.312 ± 0.008": the mean over sampling seeds and their standard deviation."""
    return f"{float(entry['value']):.3f} ± {float(entry.get('spread', 0.0)):.3f}"


def metrics_table(names: list[str], reports: list[FactorReport]) -> dict[str, list[str]]:
    """Columns of the metric table: the metric and its one-line description, then one column per model with
    value ± spread over the metric's own sampling seeds."""
    keys = list(dict.fromkeys(k.split("/", 1)[-1] for r in reports for k in r.entries))
    table: dict[str, list[str]] = {"metric": [METRIC_TITLES.get(k, k) for k in keys]}
    for name, r in zip(names, reports):
        by_short = {k.split("/", 1)[-1]: e for k, e in r.entries.items()}
        table[name] = [with_spread(by_short[k]) if k in by_short else "" for k in keys]
    descriptions = {k.split("/", 1)[-1]: e.get("description", "") for r in reports for k, e in r.entries.items()}
    table["what it measures"] = [descriptions.get(k, "") for k in keys]
    return table


def seed_spread_table(reports: list[FactorReport], seeds: list[int | None]) -> dict[str, list[str]]:
    """Across training seeds of one recipe: per metric, each seed's figure, their mean and standard deviation
    (ddof 1): the spread Locatello et al. (2019) found larger than most differences between methods."""
    keys = list(dict.fromkeys(k.split("/", 1)[-1] for r in reports for k in r.entries))
    table: dict[str, list[str]] = {"metric": [METRIC_TITLES.get(k, k) for k in keys]}
    values = np.full((len(keys), len(reports)), np.nan)
    for j, r in enumerate(reports):
        by_short = {k.split("/", 1)[-1]: e for k, e in r.entries.items()}
        for i, k in enumerate(keys):
            if k in by_short:
                values[i, j] = float(by_short[k]["value"])
    for j, s in enumerate(seeds):
        table[f"seed {s}"] = [f"{v:.3f}" for v in values[:, j]]
    table["mean ± std over training seeds"] = [f"{np.nanmean(row):.3f} ± {np.nanstd(row, ddof=1):.3f}"
                                               for row in values]
    return table


def dimension_rows(report: FactorReport) -> list[dict[str, Any]]:
    """Per latent dimension: the factor it carries most (share of that factor's entropy), the runner-up and
    the margin between the two (measure.dimension_factors)."""
    return dimension_factors(report.normalised_mi(), report.factor_names)


def dimension_title(row: dict[str, Any]) -> str:
    """A traversal row's title: what moves along this dimension, and how clearly."""
    if row["share"] < 0.05:
        return f"z{row['dim']}: nothing moves much (at most {row['share']:.2f} of any factor's entropy)"
    return (f"z{row['dim']}: {row['factor']} moves ({row['share']:.2f} of its entropy; "
            f"+{row['margin']:.2f} over {row['runner_up'] or 'the next'})")


def carrier_of(report: FactorReport, factor: str) -> int:
    """The latent dimension holding the largest share of `factor`'s entropy."""
    k = report.factor_names.index(factor)
    return int(np.argmax(report.normalised_mi()[:, k]))


def mi_figure(report: FactorReport, title: str):
    """Plotly heat map of I(z_d; v_k) / H(v_k): latent dimensions (rows) x factors (columns), 0 to 1."""
    import plotly.graph_objects as go

    m = report.normalised_mi()
    dims = [f"z{d}" for d in range(m.shape[0])]
    fig = go.Figure(go.Heatmap(z=m, x=report.factor_names, y=dims, zmin=0.0, zmax=1.0, colorscale="Viridis",
                               colorbar={"title": "MI / H(factor)"},
                               hovertemplate="%{y} · %{x}: %{z:.3f} of the factor's entropy<extra></extra>",
                               text=np.round(m, 2), texttemplate="%{text}"))
    fig.update_layout(title=title, height=120 + 28 * m.shape[0], margin={"l": 50, "r": 20, "t": 50, "b": 40},
                      yaxis={"autorange": "reversed"})
    return fig


__all__ = ["METRIC_TITLES", "carrier_of", "dimension_rows", "dimension_title", "metric_name", "metrics_table",
           "mi_figure", "seed_spread_table", "source_line", "stored_report", "with_spread"]
