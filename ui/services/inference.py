"""The one path from the app to a model: every model call runs on one long-lived thread, through this API.

Streamlit runs every rerun (and every fragment rerun) in a fresh thread, and PyTorch pays a per-thread set-up
cost on the first operator call in each new thread (measured: 1-10 ms for a batch-of-one decode, against 0.5 ms
in a warm thread). Running model calls on one persistent thread keeps that cost paid once, and serialises
inference between sessions, so a small CPU is never oversubscribed by concurrent decodes.

Pages and widgets call the typed functions below (never the model's encode / decode / scoring methods, nor the
explorer functions that run them); each one runs its work on the inference thread under `torch.inference_mode`
and returns CPU arrays. tests/app/test_app_inference_thread.py checks that no model call happens elsewhere.
This module imports torch only when a function runs, so importing it costs nothing on a fresh server.

Conditional models (`capabilities().condition_classes > 0`): the functions take `condition=` (a class index)
and pass it on to those models only, so a call for any other model is unchanged. A page that passes none gets
the model's own default (the app hands pages a view under the sidebar's class, explorer.models.blocks.conditioning).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Hashable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from explorer.denormals import flush_denormals
from explorer.heap import release_free_memory
from ui.services.lazy import torch_side

if TYPE_CHECKING:
    import torch

    from explorer.analysis.scoring import ImageScore
    from explorer.models.base import VAE
    from explorer.runtime.budget import Budget, IwaePlan
    from explorer.runtime.progress import CancelToken, ProgressCallback

THREAD_PREFIX = "vae-inference"
TRIM_AFTER_S = 1.0  # a call this long (an SD-sized encode or decode) hands the heap's freed memory back after it
_EXECUTOR: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()


def _prepare_thread() -> None:
    """The inference thread's first work: denormals as zero, before torch starts its workers, which inherit it."""
    flush_denormals()


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_PREFIX,
                                           initializer=_prepare_thread)
        return _EXECUTOR


def on_inference_thread() -> bool:
    """Whether the caller runs on the inference thread."""
    return threading.current_thread().name.startswith(THREAD_PREFIX)


def _then_trim(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs), then, when it took TRIM_AFTER_S or more, the freed memory back to the system: glibc
    keeps what a big call freed in its arenas, and the app's resident memory would grow with every page."""
    start = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    finally:
        if time.perf_counter() - start >= TRIM_AFTER_S:
            release_free_memory()


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) on the inference thread; exceptions are re-raised in the caller."""
    if on_inference_thread():
        return fn(*args, **kwargs)  # already there (nested call)
    return _executor().submit(_then_trim, fn, *args, **kwargs).result()


def submit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
    """fn(*args, **kwargs) queued on the inference thread; the Future, for callers that show progress while waiting."""
    return _executor().submit(_then_trim, fn, *args, **kwargs)


class Superseded(Exception):
    """A latest-wins call (`run_latest`) that a newer call for the same slot replaced before it started: its caller
    is a rerun that a newer one has superseded, and stops."""


# slot -> the one call of that slot waiting in the queue (or running); a newer call cancels a waiting one
_LATEST: dict[Hashable, Future] = {}


def run_latest(slot: Hashable, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) on the inference thread, the latest call per slot winning: a call still waiting when
    a newer one for the same slot (e.g. one session's walk image) comes is dropped and raises Superseded. Without
    it every key press of every session queued a decode first in, first out, and under 8 sessions' bursts a
    press's image waited behind the decodes of presses that no page would show any more."""
    if on_inference_thread():
        return fn(*args, **kwargs)
    future = _executor().submit(_then_trim, fn, *args, **kwargs)
    with _LOCK:
        older = _LATEST.get(slot)
        _LATEST[slot] = future
    if older is not None:
        older.cancel()  # only a call that has not started yet is cancelled; a running one finishes
    try:
        return future.result()
    except CancelledError:
        raise Superseded(f"a newer call for {slot!r}") from None
    finally:
        with _LOCK:
            if _LATEST.get(slot) is future:
                del _LATEST[slot]


# -- codes and images ------------------------------------------------------------------------------
def _given(model: VAE, condition: int | None) -> dict[str, int]:
    """{"condition": c} for a conditional model given a class, else {} (other models never see it)."""
    return {"condition": int(condition)} if condition is not None and model.capabilities().condition_classes else {}


def decode_codes(model: VAE, codes: np.ndarray | torch.Tensor, seed: int = 0, condition: int | None = None) -> torch.Tensor:
    """Flat codes (B, D) or (D,) -> displayed images (B, C, H, W) on the CPU (`model.decode_code`); the same
    codes and seed give the same images. A conditional model decodes them under class `condition`."""
    decode = torch_side().latent.decode

    return run(decode, model, codes, seed, **_given(model, condition))


def decode_zero_code(model: VAE) -> torch.Tensor:
    """The image (1, C, H, W) of the all-zero code (explorer.latent.decode_zero_code: a small one where the decoder
    takes any size), on the inference thread."""
    return run(torch_side().latent.decode_zero_code, model)


def decode_latest(slot: Hashable, model: VAE, codes: np.ndarray | torch.Tensor, seed: int = 0,
                  condition: int | None = None) -> torch.Tensor:
    """decode_codes, the latest call per slot winning (run_latest): a decode still queued when the same slot asks
    again is dropped, and its caller gets Superseded."""
    decode = torch_side().latent.decode

    return run_latest(slot, decode, model, codes, seed, **_given(model, condition))


def encode_codes(model: VAE, images: np.ndarray | torch.Tensor, condition: int | None = None,
                 batch_size: int = 256) -> np.ndarray:
    """Images (N, C, H, W) in [0, 1] -> the codes pages show (`model.encode_code`), flat (N, D) float32 (under
    class `condition` for a conditional model), batch_size at a time."""
    import torch

    encode_means = torch_side().latent.encode_means

    x = torch.as_tensor(np.asarray(images, dtype=np.float32)) if isinstance(images, np.ndarray) else images.float()
    return run(encode_means, model, x, batch_size=int(batch_size), **_given(model, condition))


def reconstruct(model: VAE, image: np.ndarray, condition: int | None = None) -> np.ndarray:
    """The model's own deterministic reconstruction (C, H, W) float32 of one image (C, H, W) (under class
    `condition` for a conditional model)."""
    import torch

    given = _given(model, condition)

    def work() -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.asarray(image, dtype=np.float32)).unsqueeze(0).to(model.device)
            return model.reconstruct(x, **given)[0].float().cpu().numpy()

    return run(work)


def similarity_features(model: VAE, images: np.ndarray) -> np.ndarray:
    """Learned-similarity features (N, F) float32 of images (N, C, H, W) in [0, 1] (`model.similarity_features`,
    a VAE/GAN's discriminator layer l); only where `capabilities().learned_similarity`."""
    import torch

    def work() -> np.ndarray:
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(images, dtype=np.float32)).to(model.device)
            return model.similarity_features(x).float().cpu().numpy()

    return run(work)


def score_image(model: VAE, image: np.ndarray, iwae_k: int, seed: int, n_samples: int,
                condition: int | None = None) -> ImageScore:
    """Reconstruction, posterior samples, per-pixel maps and ELBO / IWAE terms of one (C, H, W) image
    (see explorer/analysis/scoring.py); for a conditional model given class `condition` (scores of log p(x | class))."""
    score = torch_side().scoring.score_image

    if _given(model, condition):
        with_default_condition = torch_side().conditioning.with_default_condition

        model = with_default_condition(model, int(condition))  # explorer/analysis/scoring.py then scores under that class
    return run(score, model, image, iwae_k, seed, n_samples)


# the decodes score_image makes besides the IWAE chunks: reconstruction, posterior samples, NLL map, ELBO terms
SCORE_DECODES = 4


@dataclass(frozen=True)
class WatchedScore:
    """score_image's result with the IWAE plan it ran under (None: no IWAE asked for)."""

    score: ImageScore
    plan: IwaePlan | None
    seconds: float


_DECODE_SECONDS: dict[Hashable, float] = {}  # measured seconds per decode, per (model key, latent shape)
_ESTIMATED_DECODE: dict[str, float] = {}  # explorer.runtime.budget.decode_seconds, per model key


def decode_seconds(model: VAE, model_key: str) -> float:
    """About how many seconds one whole decode of `model` takes here (explorer.runtime.budget.decode_seconds,
    measured once per model key on the inference thread: a fraction of a second even for an SD-sized decoder)."""
    if model_key not in _ESTIMATED_DECODE:
        _ESTIMATED_DECODE[model_key] = run(torch_side().budget.decode_seconds, model)
    return _ESTIMATED_DECODE[model_key]


def score_watched(model: VAE, model_key: str, image: np.ndarray, iwae_k: int, seed: int, n_samples: int,
                  budget: Budget, on_progress: ProgressCallback, token: CancelToken, job: Any = None) -> WatchedScore:
    """score_image of one (C, H, W) image, to run on the inference thread (ui.services.watched.start), watched
    per decoder block (job.stage, when given, names the stage). The first call
    for a model times one decode (shown as its own stage); the IWAE samples then follow plan_iwae under budget."""
    import torch

    side = torch_side()
    score_image, watch, watch_target, plan_iwae = (side.scoring.score_image, side.progress.watch,
                                                   side.calls.watch_target, side.budget.plan_iwae)
    begin = time.perf_counter()
    factor = model.capabilities().size_multiple
    latent = tuple(model.latent_shape)
    if factor and len(latent) == 3:  # a model that takes any multiple of factor: its code at this image's size
        latent = (latent[0], image.shape[-2] // factor, image.shape[-1] // factor)
    code_shape = (1, *latent)
    root, tiles, key = watch_target(model, "decode", code_shape)
    timing_key = (model_key, code_shape)
    plan = None
    if iwae_k > 0:
        if timing_key not in _DECODE_SECONDS:
            if job is not None:
                job.stage = "timing one decode to size the IWAE samples"
            t0 = time.perf_counter()
            with watch(root, on_progress, token, calls=tiles, key=key), torch.inference_mode():
                model.decode_code(torch.zeros(code_shape, device=model.device))
            _DECODE_SECONDS[timing_key] = time.perf_counter() - t0
        plan = plan_iwae(model, iwae_k, _DECODE_SECONDS[timing_key], budget, image_hw=tuple(image.shape[-2:]),
                         device=str(model.device))
    if job is not None:
        job.stage = "scoring"
    calls = tiles * (SCORE_DECODES + (math.ceil(plan.k / plan.chunk) if plan else 0))
    with watch(root, on_progress, token, calls=calls):
        score = score_image(model, image, plan.k if plan else 0, seed, n_samples, iwae_chunk=plan.chunk if plan else 500)
    return WatchedScore(score, plan, time.perf_counter() - begin)


def evaluate_items(model: VAE, images: np.ndarray, labels: np.ndarray | None, iwae_k: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Test items (N, C, H, W) in [0, 1] with labels (N,) (-1: unlabelled) scored as the evaluate command scores
    a test split (explorer.analysis.evaluation.evaluate: fixed binarisation / dequantisation, ELBO terms, IWAE-k,
    active units, KL per dimension): (metrics as in metrics.json, per-item arrays). A conditional model is
    scored given each item's label and refuses unlabelled items (ValueError)."""
    import torch

    evaluate = torch_side().evaluation.evaluate
    TensorImageDataset = torch_side().data_base.TensorImageDataset

    def work() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        y = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))
        with torch.inference_mode():
            return evaluate(model, TensorImageDataset(x, y), model.config.likelihood, iwae_k=int(iwae_k))

    return run(work)


def exported_part(model: VAE, part: str, digest: str, cache_dir: str | Path,
                  exporters: tuple[str, ...] = ("torchscript", "dynamo")) -> Any:
    """The model's `part` ("decoder", "encoder" or "indices") as a cached ONNX file (explorer.onnx.export.exported_decoder /
    exported_encoder, `<cache_dir>/<digest>/<part>.onnx`): CachedExport, or ExportFailure when no exporter works.
    The export traces the model, so it runs here like every other model call. TorchScript first: it takes about a
    second on a small CPU where torch.export takes many."""
    exported_decoder = torch_side().onnx_export.exported_decoder
    exported_encoder = torch_side().onnx_export.exported_encoder
    exported_indices = torch_side().onnx_export.exported_indices_decoder  # a discrete model's decode from indices

    fn = {"decoder": exported_decoder, "encoder": exported_encoder, "indices": exported_indices}[part]
    return run(fn, model, digest, cache_dir, exporters=tuple(exporters))


def sample_images(model: VAE, n: int, seed: int, temperature: float = 1.0, condition: int | None = None) -> np.ndarray:
    """n prior samples (n, C, H, W) float32 (`model.sample`) with a generator seeded per call (of class
    `condition` for a conditional model)."""
    import torch

    given = _given(model, condition)

    def work() -> np.ndarray:
        gen = torch.Generator(device=model.device).manual_seed(int(seed))
        with torch.inference_mode():
            return model.sample(int(n), generator=gen, temperature=float(temperature), **given).float().cpu().numpy()

    return run(work)


def style_class_grid(model: VAE, codes: np.ndarray, classes: list[int], seed: int = 0) -> torch.Tensor:
    """Every flat code (N, D) decoded under every class of a conditional model: (N * len(classes), C, H, W),
    row = code, column = class (explorer.latent.style_class_grid)."""
    grid = torch_side().latent.style_class_grid

    return run(grid, model, codes, list(classes), seed)


# -- captions and labels (only where the model's capabilities declare them) ------------------------
def _code(model: VAE, code: np.ndarray) -> torch.Tensor:
    import torch

    return torch.as_tensor(np.asarray(code, dtype=np.float32)).reshape(-1, *model.latent_shape).to(model.device)


def captions(model: VAE, code: np.ndarray, method: str, n: int = 1, temperature: float = 1.0, beam_size: int = 5,
             seed: int = 0, max_len: int = 20) -> list[str]:
    """Captions of one flat code (D,) by 'sample', 'greedy' or 'beam', drawn with a generator seeded per call."""
    import torch

    def work() -> list[str]:
        gen = torch.Generator(device=model.device).manual_seed(int(seed))
        with torch.inference_mode():
            return model.captions(_code(model, code), method=method, n=n, temperature=temperature,
                                  beam_size=beam_size, generator=gen, max_len=max_len)

    return [str(c) for c in run(work)]


def sampled_captions(model: VAE, codes: np.ndarray, n: int, seed: int, batch_size: int = 100) -> list[list[str]]:
    """n sampled captions for every flat code (N, D), in batches (one generator for the whole set)."""
    import torch

    def work() -> list[list[str]]:
        gen = torch.Generator(device=model.device).manual_seed(int(seed))
        out: list[list[str]] = []
        for start in range(0, len(codes), batch_size):
            z = _code(model, codes[start : start + batch_size])
            with torch.inference_mode():
                flat = model.captions(z, method="sample", n=n, generator=gen)
            out += [[str(c) for c in flat[i * n : (i + 1) * n]] for i in range(len(z))]
        return out

    return run(work)


def label_probabilities(model: VAE, code: np.ndarray, seed: int = 0, n_draws: int = 1) -> np.ndarray:
    """Class probabilities (n_classes,) of one flat code (D,); only where `capabilities().labels`."""
    import torch

    def work() -> np.ndarray:
        gen = torch.Generator(device=model.device).manual_seed(int(seed))
        with torch.inference_mode():
            probs = model.label_probabilities(_code(model, code), n_draws=n_draws, generator=gen)
        return probs.float().reshape(-1).cpu().numpy()

    return run(work)


def posterior_kl_elements(model: VAE, images: np.ndarray) -> np.ndarray | None:
    """KL(q(z | x) || p(z)) per latent element (N, *latent_shape) of images (N, C, H, W), or None where the posterior
    has no closed-form KL (an IAF posterior's is a one-draw estimate, not a per-element statistic)."""
    import torch

    def work() -> np.ndarray | None:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(model.device)
            q = model.encode(x)
            if not q.has_analytic_kl:
                return None
            return q.kl().float().cpu().numpy().reshape(len(x), *model.latent_shape)

    return run(work)
