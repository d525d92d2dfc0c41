"""The per-pixel loss lab (Doersch's VAE tutorial, 2016): why per-pixel losses rank a one-pixel shift as worse
than a blur.

For one image in [0, 1] (C, H, W), build variants (shifted by a pixel, the model's reconstruction, a blank, a
Gaussian blur) and score each against the original with MSE, binary cross-entropy in both directions, SSIM,
(when given) the distance between posterior means, and (when given) a learned similarity: the distance between
the variants' features in a VAE/GAN's discriminator, Dis_l (Larsen et al. 2016), the space that model scores
its reconstructions in. Pure NumPy functions: the app draws what they return (features come from the model's
`similarity_features`, which the app calls through ui/services/inference.py).

A perceptual metric with pretrained weights (LPIPS, Zhang et al. 2018) is not offered: its weights (and the
ImageNet networks under them) cannot be had offline here, and nothing is downloaded at run time.

BCE directions, both summed over pixels (nats):
- "variant predicts original": BCE(prediction = variant, target = original), how a decoder's output is scored;
- "original predicts variant": BCE(prediction = original, target = variant), the other way round (BCE is not
  symmetric: a blank variant scores very differently in the two directions).
Predictions are clamped to [eps, 1 - eps] so that a pixel predicted as exactly 0 or 1 gives a finite loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_EPS = 1e-4
VARIANTS = ("shifted", "reconstruction", "blank", "blurred")  # what is ranked; "original" is the reference
MEASURES = {  # name -> (label, lower is more similar?)
    "mse": ("MSE (mean per pixel)", True),
    "bce_variant_predicts": ("BCE, variant predicts original (nats)", True),
    "bce_original_predicts": ("BCE, original predicts variant (nats)", True),
    "ssim": ("SSIM", False),
    "latent_distance": ("distance of posterior means", True),
    "learned_similarity": ("learned similarity: distance of discriminator features ‖Dis_l(v) − Dis_l(o)‖", True),
}


def shift_image(image: np.ndarray, dy: int = -1, dx: int = 0, fill: float | np.ndarray = 0.0) -> np.ndarray:
    """(C, H, W) image moved by dy rows (negative: up) and dx columns (negative: left); vacated pixels = fill."""
    x = np.asarray(image, dtype=np.float64)
    c, h, w = x.shape
    out = np.empty_like(x)
    out[...] = np.asarray(fill, dtype=np.float64).reshape(-1, 1, 1) if np.ndim(fill) else fill
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[:, dst_y, dst_x] = x[:, src_y, src_x]
    return out


def gaussian_blur(image: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """(C, H, W) image blurred per channel with a Gaussian of `sigma` pixels (edges repeat the border)."""
    from scipy.ndimage import gaussian_filter

    x = np.asarray(image, dtype=np.float64)
    return np.clip(gaussian_filter(x, sigma=(0, sigma, sigma), mode="nearest"), 0.0, 1.0)


def blank_like(image: np.ndarray, value: float | np.ndarray = 0.0) -> np.ndarray:
    """A blank image of the same shape, filled with `value` (a number or one per channel)."""
    x = np.asarray(image, dtype=np.float64)
    out = np.empty_like(x)
    out[...] = np.asarray(value, dtype=np.float64).reshape(-1, 1, 1) if np.ndim(value) else value
    return out


def mse_map(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Squared error per element, same shape as the inputs."""
    return (np.asarray(prediction, dtype=np.float64) - np.asarray(target, dtype=np.float64)) ** 2


def bce_map(prediction: np.ndarray, target: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Binary cross-entropy per element, -(t log p + (1 - t) log(1 - p)), with p clamped to [eps, 1 - eps]."""
    p = np.clip(np.asarray(prediction, dtype=np.float64), eps, 1.0 - eps)
    t = np.asarray(target, dtype=np.float64)
    return -(t * np.log(p) + (1.0 - t) * np.log1p(-p))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """skimage's structural similarity of two (C, H, W) images in [0, 1] (window shrunk for tiny images)."""
    from skimage.metrics import structural_similarity

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    side = min(a.shape[-2:])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return float("nan")
    if a.shape[0] == 1:
        return float(structural_similarity(a[0], b[0], data_range=1.0, win_size=win))
    return float(structural_similarity(a, b, data_range=1.0, win_size=win, channel_axis=0))


def make_variants(
    original: np.ndarray, reconstruction: np.ndarray, shift: tuple[int, int] = (-1, 0), blur_sigma: float = 1.0,
    background: float | np.ndarray = 0.0,
) -> dict[str, np.ndarray]:
    """original, shifted, reconstruction, blank and blurred versions of a (C, H, W) image, in that order."""
    x = np.asarray(original, dtype=np.float64)
    return {
        "original": x,
        "shifted": shift_image(x, shift[0], shift[1], fill=background),
        "reconstruction": np.asarray(reconstruction, dtype=np.float64),
        "blank": blank_like(x, background),
        "blurred": gaussian_blur(x, blur_sigma),
    }


@dataclass
class VariantScore:
    """One variant scored against the original."""

    name: str
    mse: float
    bce_variant_predicts: float
    bce_original_predicts: float
    ssim: float
    latent_distance: float = float("nan")
    learned_similarity: float = float("nan")

    def value(self, measure: str) -> float:
        return float(getattr(self, measure))


@dataclass
class LossLabResult:
    eps: float
    scores: list[VariantScore]
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # variant -> measure -> (H, W) map

    def score(self, name: str) -> VariantScore:
        return next(s for s in self.scores if s.name == name)


def _distance(values: dict[str, np.ndarray] | None, name: str) -> float:
    """Euclidean distance between values[name] and values["original"] (NaN when either is missing)."""
    if values is None or name not in values or "original" not in values:
        return float("nan")
    diff = np.asarray(values[name], dtype=np.float64) - np.asarray(values["original"], dtype=np.float64)
    return float(np.sqrt((diff**2).sum()))


def score_variants(
    variants: dict[str, np.ndarray], eps: float = DEFAULT_EPS, latent_means: dict[str, np.ndarray] | None = None,
    features: dict[str, np.ndarray] | None = None,
) -> LossLabResult:
    """Score every variant against variants["original"]; maps are summed over channels, (H, W) each.

    latent_means: optional name -> posterior mean of that variant (any shape); distances are Euclidean.
    features: optional name -> learned-similarity features of that variant (a discriminator's Dis_l, any shape);
    the learned similarity is their Euclidean distance (lower: more similar).
    """
    original = variants["original"]
    scores, maps = [], {}
    for name, image in variants.items():
        sq = mse_map(image, original)
        forward = bce_map(image, original, eps)  # the variant as the prediction of the original
        reverse = bce_map(original, image, eps)  # the other way: the original as the prediction of the variant
        scores.append(VariantScore(name, float(sq.mean()), float(forward.sum()), float(reverse.sum()),
                                   ssim(original, image), _distance(latent_means, name), _distance(features, name)))
        maps[name] = {"mse": sq.sum(0), "bce_variant_predicts": forward.sum(0), "bce_original_predicts": reverse.sum(0)}
    return LossLabResult(eps, scores, maps)


def rank(result: LossLabResult, measure: str, names: tuple[str, ...] = VARIANTS) -> list[str]:
    """Variant names from most to least similar to the original by one measure (NaN last)."""
    lower_better = MEASURES[measure][1]
    items = [s for s in result.scores if s.name in names]

    def key(s: VariantScore) -> tuple[bool, float]:
        v = s.value(measure)
        return (np.isnan(v), v if lower_better else -v)

    return [s.name for s in sorted(items, key=key)]


def ranking_table(result: LossLabResult, names: tuple[str, ...] = VARIANTS) -> list[dict[str, object]]:
    """One row per variant: each measure's value and the variant's rank by it (1 = most similar)."""
    measures = [m for m in MEASURES if not all(np.isnan(s.value(m)) for s in result.scores)]
    ranks = {m: {n: i + 1 for i, n in enumerate(rank(result, m, names))} for m in measures}
    rows = []
    for s in result.scores:
        if s.name not in names:
            continue
        row: dict[str, object] = {"variant": s.name}
        for m in measures:
            row[m] = s.value(m)
            row[f"rank_{m}"] = ranks[m][s.name]
        rows.append(row)
    return rows


def explanation(result: LossLabResult) -> str:
    """Two sentences on what the ranking of this image shows, from its own numbers."""
    by_mse = rank(result, "mse")
    by_bce = rank(result, "bce_variant_predicts")
    by_ssim = rank(result, "ssim")
    n = len(by_mse)
    shifted_mse, shifted_bce = by_mse.index("shifted") + 1, by_bce.index("shifted") + 1
    first = (
        f"For this image, per-pixel MSE ranks the one-pixel shift {shifted_mse} of {n} and BCE ranks it "
        f"{shifted_bce} of {n}, while the most similar by MSE is the {by_mse[0]} image: a per-pixel loss compares "
        "values at the same positions, so moving every stroke by one pixel costs as much as losing it, and a "
        "blurry guess that hedges between positions scores well."
    )
    measures = ["SSIM"]
    ranks = [by_ssim.index("shifted") + 1]
    if not np.isnan(result.score("shifted").latent_distance):
        by_latent = rank(result, "latent_distance")
        measures.append("the distance between posterior means")
        ranks.append(by_latent.index("shifted") + 1)
    if not np.isnan(result.score("shifted").learned_similarity):
        by_learned = rank(result, "learned_similarity")
        measures.append("the learned similarity (discriminator features)")
        ranks.append(by_learned.index("shifted") + 1)
    second = (
        f"Measures that look at structure rank the shift differently ({', '.join(f'{m}: {r} of {n}' for m, r in zip(measures, ranks))}), "
        "which is why a decoder trained on a per-pixel likelihood produces blurred reconstructions."
    )
    return first + " " + second


def learned_ranking(result: LossLabResult) -> str:
    """Where the learned similarity puts the one-pixel shift against the blur and the blank (appendix A's
    question asked of a learned metric), from this image's own numbers; "" without features."""
    if np.isnan(result.score("shifted").learned_similarity):
        return ""
    order = [n for n in rank(result, "learned_similarity") if n in ("shifted", "blurred", "blank")]
    values = {n: result.score(n).learned_similarity for n in order}
    listed = " < ".join(f"{n} ({values[n]:.3g})" for n in order)
    called = {"blurred": "blur", "blank": "blank"}
    verdict = ("closer than both the blur and the blank" if order[0] == "shifted" else
               f"behind the {called[order[0]]}" + (f" and the {called[order[1]]}" if order[1] != "shifted" else ""))
    return (f"Learned similarity (distance of discriminator features, most similar first): {listed}. The one-pixel "
            f"shift comes out {verdict}.")
