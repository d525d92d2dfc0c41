"""Fuzzing with Hypothesis: uploads, checkpoint folders and train.py / evaluate command lines.

Fixed seed (derandomize), 200 examples per input kind, no deadline; each example runs under a 10 s watchdog
(SIGALRM) and its time is checked, and the process's peak memory is checked after each test. Every file gives
an image or the documented error (ImageInputError / CheckpointError) naming the check and the file; every bad
command line exits 2 with a message and leaves no --out behind. The long run is bench/bench_fuzz.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import resource
import shutil
import signal
import struct
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import fuzz_inputs as F
from explorer.checkpoint import CheckpointError, from_pretrained
from explorer.images import ImageInputError, load_image

EXAMPLES = 200
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CASE_SECONDS = 10.0
GROWTH_MB = 1536  # a test's peak memory above what the process held when it started


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """The process's peak resident memory since the last `_reset_peak` (VmHWM)."""
    return _status_mb("VmHWM")


def _reset_peak() -> None:
    """Start VmHWM again from the current size (Linux: 5 to clear_refs), so a test is not charged for earlier ones."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


@contextlib.contextmanager
def watchdog(seconds: float = CASE_SECONDS):
    """Fail the case when it takes longer than `seconds` (SIGALRM interrupts Python code that hangs)."""
    def fire(signum, frame):
        raise TimeoutError(f"case took over {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.perf_counter() - t0 < seconds


@pytest.fixture(autouse=True)
def memory_bound():
    _reset_peak()
    base = _status_mb("VmRSS")
    yield
    grown = _rss_mb() - base
    assert grown < GROWTH_MB, f"peak memory grew by {grown:.0f} MB during the test"


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- uploads -----------------------------------------------------------------------------------------------------
BASES = sorted(F.base_files())


@pytest.mark.parametrize("kind", F.KINDS)
@FUZZ
@given(base=st.sampled_from(BASES), seed=st.integers(0, 2**32 - 1))
@example(base="gif_anim", seed=7757)  # found by bench_fuzz: IndexError / struct.error from a cut second frame
@example(base="gif_anim", seed=5741)
@example(base="gif_anim", seed=23327)
def test_upload_gives_an_image_or_a_named_refusal(kind, base, seed):
    data = F.mutate(kind, base, seed)
    with watchdog():
        outcome = F.check_upload(data)
    assert outcome  # "image" or a check name (check_upload asserts the message starts with it)


@FUZZ
@given(data=st.binary(max_size=4096))
@example(data=b"")
@example(data=b"\x89PNG\r\n\x1a\n")
@example(data=b"GIF89a" + b"\xff" * 20)
@example(data=b"BM" + b"\x00" * 60)
def test_random_bytes_give_an_image_or_a_named_refusal(data):
    with watchdog():
        F.check_upload(data)


def _check(data: bytes, **limits) -> str:
    from explorer.images import ImageLimits

    with pytest.raises(ImageInputError) as info:
        load_image(data, (1, 28, 28), limits=ImageLimits(**limits))
    return str(info.value).lower()


def test_truncated_file_says_truncated():
    data = F.base_files()["png_rgb"]
    assert _check(data[: len(data) * 2 // 3]).startswith("truncated")
    jpeg = F.base_files()["jpeg_rgb"]
    assert _check(jpeg[: len(jpeg) // 2]).startswith("truncated")


def test_huge_dimensions_say_too_many_pixels():
    assert _check(F.png_set_size(F.base_files()["png_l"], 100_000, 100_000)).startswith("too many pixels")
    assert _check(F.base_files()["png_rgb"], max_pixels=100).startswith("too many pixels")


def test_random_bytes_say_not_an_image():
    assert _check(random.Random(0).randbytes(500)).startswith("not an image")


def test_zero_dimension_and_tiny_images_are_refused_by_name():
    message = _check(F.png_set_size(F.base_files()["png_l"], 2, 2))
    assert message.startswith(("too small", "truncated"))


def test_chunk_length_past_the_end_is_refused_by_name():
    data = F.base_files()["png_rgb"]
    ihdr = F.png_chunks(data)[0][0]
    bad = data[:ihdr] + struct.pack(">I", 0x7FFFFFFF) + data[ihdr + 4:]
    assert _check(bad).startswith(("damaged header", "truncated", "not an image"))


def test_broken_palette_is_refused_or_converted():
    data = F.png_replace(F.base_files()["png_p"], b"PLTE", None)  # a palette image without its palette
    try:
        out = load_image(data, (1, 28, 28))
        assert out.tensor.shape == (1, 28, 28)
    except ImageInputError as exc:
        assert exc.check in ("damaged header", "truncated", "not an image")


def test_empty_and_oversized_files_name_their_check():
    assert _check(b"").startswith("empty file")
    assert _check(F.base_files()["png_rgb"], max_bytes=100).startswith("file too large")


# -- checkpoint folders --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    F.make_tiny_checkpoint(folder)
    return folder


def _case_folder(base: Path, tmp: Path) -> Path:
    folder = tmp / "case"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(base, folder)
    return folder


@pytest.mark.parametrize("group", ["config", "weights"])
@FUZZ
@given(data=st.data())
def test_checkpoint_loads_or_is_refused_naming_the_file(group, data, tiny_checkpoint, tmp_path):
    folder = _case_folder(tiny_checkpoint, tmp_path)
    seed = data.draw(st.integers(0, 2**32 - 1))
    rnd = random.Random(seed)
    if group == "config":
        kind = data.draw(st.sampled_from(F.CONFIG_KINDS))
        payload = json.loads((tiny_checkpoint / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps(F.mutate_config(payload, kind, rnd)))
    else:
        kind = data.draw(st.sampled_from(F.WEIGHT_KINDS))
        raw = (tiny_checkpoint / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(F.mutate_weights(raw, kind, rnd))
    with watchdog():
        F.check_checkpoint(folder)


def _refusal(folder: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        from_pretrained(folder)
    return str(info.value)


def _with_config(base: Path, tmp: Path, **changes) -> Path:
    folder = _case_folder(base, tmp)
    payload = json.loads((folder / "config.json").read_text())
    payload["config"].update(changes)
    (folder / "config.json").write_text(json.dumps(payload))
    return folder


def test_absurd_latent_dim_is_refused_before_the_constructor(tiny_checkpoint, tmp_path, monkeypatch):
    from explorer.models.mlp import MLPVAE

    def never(*a, **k):
        raise AssertionError("the model's constructor was called")

    monkeypatch.setattr(MLPVAE, "__init__", never)
    folder = _with_config(tiny_checkpoint, tmp_path, latent_dim=10**9)
    before = _rss_mb()
    message = _refusal(folder)
    assert "latent_dim" in message and "config.json" in message
    assert _rss_mb() - before < 100


@pytest.mark.parametrize("changes, words", [
    ({"latent_dim": "16"}, "latent_dim must be an integer"),
    ({"latent_dim": 2.5}, "latent_dim must be an integer"),
    ({"hidden_sizes": []}, "hidden_sizes"),  # found by fuzzing: an IndexError in the constructor
    ({"hidden_sizes": [10**7]}, "hidden_sizes[0]"),
    ({"input_shape": [1000000, 8, 8]}, "input_shape"),  # found by fuzzing: 4 GB allocated before the refusal
    ({"input_shape": [1, 28]}, "input_shape"),
    ({"weight_norm": "yes"}, "weight_norm must be true or false"),
])
def test_bad_config_values_are_refused_by_field(tiny_checkpoint, tmp_path, changes, words):
    message = _refusal(_with_config(tiny_checkpoint, tmp_path, **changes))
    assert words in message and "config.json" in message


def test_family_of_the_wrong_type_is_refused(tiny_checkpoint, tmp_path):  # found by fuzzing: unhashable list
    folder = _case_folder(tiny_checkpoint, tmp_path)
    payload = json.loads((folder / "config.json").read_text())
    payload["family"] = ["mlp"]
    (folder / "config.json").write_text(json.dumps(payload))
    assert "'family' must be a string" in _refusal(folder)


@pytest.mark.parametrize("kind, words", [("nan", "NaN or infinite"), ("dtype", "model.safetensors"),
                                         ("truncate", "model.safetensors"), ("shape", "model.safetensors")])
def test_damaged_weights_are_refused_naming_the_file(tiny_checkpoint, tmp_path, kind, words):
    folder = _case_folder(tiny_checkpoint, tmp_path)
    raw = (tiny_checkpoint / "model.safetensors").read_bytes()
    for seed in range(20):  # a mutation that happens to be harmless (F16 weights) is skipped
        (folder / "model.safetensors").write_bytes(F.mutate_weights(raw, kind, random.Random(seed)))
        try:
            from_pretrained(folder)
        except CheckpointError as exc:
            assert words in str(exc)
            return
    pytest.fail(f"no {kind} mutation was refused")


# -- command lines -------------------------------------------------------------------------------------------------
TRAIN_BAD = {"--epochs": ["0", "-1"], "--batch-size": ["0", "-3"], "--lr": ["nan", "-1", "0", "inf"],
             "--beta": ["-1", "nan"], "--dataset": ["nope"], "--iwae-k": ["-1"], "--image-size": ["0"],
             "--labeled-fraction": ["2", "nan"], "--maps": ["pca,what"], "--log-every": ["0"], "--threads": ["0"],
             "--grad-clip": ["nan"], "--free-bits": ["-1"], "--warmup-epochs": ["-2"], "--weight-decay": ["-1"]}


def _train(argv: list[str]) -> tuple[int, str]:
    from explorer.cli.train import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


@FUZZ
@given(option=st.sampled_from(sorted(TRAIN_BAD)), data=st.data(), model=st.sampled_from(["mlp", "conv"]))
def test_train_refuses_out_of_range_values_with_status_2(option, data, model, tmp_path):
    value = data.draw(st.sampled_from(TRAIN_BAD[option]))
    out = tmp_path / f"out-{option}-{value}"
    with watchdog():
        code, err = _train(["--model", model, "--dataset", "mnist5k", "--out", str(out), "--dry-run", option, value])
    assert code == 2 and err.strip()
    assert not out.exists()


@pytest.mark.parametrize("option, value, words", [("--epochs", "0", "--epochs"), ("--batch-size", "0", "--batch-size"),
                                                  ("--lr", "nan", "--lr"), ("--lr", "-1", "--lr"),
                                                  ("--dataset", "nope", "invalid choice")])
def test_train_refusal_names_the_option_and_leaves_no_out(option, value, words, tmp_path):
    out = tmp_path / "run"
    code, err = _train(["--model", "mlp", "--dataset", "mnist5k", "--out", str(out), option, value])
    assert code == 2 and words in err and not out.exists()


@pytest.mark.parametrize("argv, words", [(["--batch-size", "0"], "--batch-size"), (["--iwae-k", "-1"], "--iwae-k"),
                                         (["--dataset", "nope"], "unknown data set"), (["--limit", "0"], "--limit"),
                                         (["--image-size", "-1"], "--image-size")])
def test_evaluate_refuses_out_of_range_values_with_status_2(argv, words, tmp_path, capsys):
    from explorer.evaluate import main

    model = tmp_path / "model"
    F.make_tiny_checkpoint(model)
    before = sorted(p.name for p in model.iterdir())
    args = [str(model), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    args += argv if "--dataset" in argv else ["--dataset", "digits", *argv]
    assert main(args) == 2
    assert words in capsys.readouterr().err
    assert sorted(p.name for p in model.iterdir()) == before and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("kind, seed", [("truncate", 7757), ("truncate", 5741), ("truncate", 53789),
                                        ("chunk_length", 23327)])
def test_cut_animated_gif_is_refused_by_name(kind, seed):  # found by bench_fuzz (IndexError, struct.error)
    assert F.check_upload(F.mutate(kind, "gif_anim", seed)) in ("image", "truncated", "damaged header")
