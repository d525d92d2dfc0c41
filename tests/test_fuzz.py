"""Fuzzing with Hypothesis: uploads, checkpoint folders, ONNX files, diffusers configs and train.py / evaluate
command lines.

Fixed seed (derandomize), 200 examples per input kind, no deadline; each example runs under a 10 s watchdog
(SIGALRM) and its time is checked, and the process's peak memory is checked after each test. Every file gives
an image or the documented error (ImageInputError / CheckpointError) naming the check and the file; every bad
command line exits 2 with a message and leaves no --out behind. Every mutated ONNX file (bytes flipped or cut;
nodes, attributes, shapes, initializers changed through its protobuf) gets the child process's verdict
(explorer.onnx.trust): trusted, or refused naming the file, the stage and the problem; the server process never
opens it. Every mutated diffusers config.json loads or is refused naming the file; an absurd size is refused
before diffusers builds anything. The long run is bench/bench_fuzz.py.
"""

from __future__ import annotations

import contextlib
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

from tests.support import fuzz_inputs as F
from tests.support.cli import run_main
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

    return run_main(main, argv)


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
    from explorer.cli.evaluate import main

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


# -- ONNX files ----------------------------------------------------------------------------------------------------
# Every mutated graph goes through the real child process (explorer.onnx.trust) that the loader uses. The child
# costs ~1 s to start (onnx + onnxruntime imports), so the fuzz cases share one OnnxVetter (a few ms per case; a
# crash, hang or memory failure restarts it), and a sample of whole pair folders per kind goes through
# load_foreign as the app calls it, one fresh child per load.
ONNX_HINTS = {"encoder": [1, 1, 28, 28], "decoder": [1, 4]}


@pytest.fixture(scope="module")
def onnx_pair_folder(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from tests.support.foreign_models import make_onnx_pair

    return make_onnx_pair(tmp_path_factory.mktemp("onnx") / "pair")


@pytest.fixture(scope="module")
def onnx_vetter():
    from explorer.onnx.trust import OnnxVetter

    with OnnxVetter(timeout_s=CASE_SECONDS - 2) as vetter:
        yield vetter


@pytest.fixture
def own_trust_cache(tmp_path, monkeypatch) -> Path:
    """Verdicts kept in this test's own cache folder and memo, so no test sees another's verdicts."""
    from explorer.onnx import trust as onnx_trust

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(onnx_trust, "_KNOWN", {})
    return tmp_path / "cache"


@pytest.mark.parametrize("kind", F.ONNX_KINDS)
@FUZZ
@given(part=st.sampled_from(sorted(ONNX_HINTS)), seed=st.integers(0, 2**32 - 1))
def test_mutated_onnx_file_is_trusted_or_refused_by_name(kind, part, seed, onnx_pair_folder, onnx_vetter, tmp_path):
    import hashlib

    from explorer.onnx.trust import STAGES, UntrustedOnnxError

    data = F.mutate_onnx((onnx_pair_folder / f"{part}.onnx").read_bytes(), kind, random.Random(seed))
    path = tmp_path / f"{part}.onnx"
    path.write_bytes(data)
    with watchdog():
        verdict = onnx_vetter.vet(path, ONNX_HINTS[part], sha256=hashlib.sha256(data).hexdigest())
    if verdict.ok:
        assert verdict.output_shapes and not verdict.problem
    else:
        assert verdict.stage in STAGES and verdict.problem, verdict
        assert str(UntrustedOnnxError(path, verdict)).startswith(f"{path} ")


@pytest.mark.slow
def test_mutated_pair_folders_load_or_are_refused_naming_the_file(onnx_pair_folder, tmp_path, own_trust_cache):
    """One whole folder per mutation kind through load_foreign (a fresh child each, as in the app)."""
    import torch

    from explorer.models.foreign import ForeignModelError, load_foreign

    outcomes = {}
    for i, kind in enumerate(F.ONNX_KINDS):
        folder = tmp_path / f"pair-{kind}"
        shutil.copytree(onnx_pair_folder, folder)
        part = ("encoder", "decoder")[i % 2]
        (folder / f"{part}.onnx").write_bytes(
            F.mutate_onnx((onnx_pair_folder / f"{part}.onnx").read_bytes(), kind, random.Random(i)))
        with watchdog(30):
            try:
                model = load_foreign(folder)
                with torch.no_grad():
                    model.decode(torch.zeros(1, *model.latent_shape))
                outcomes[kind] = "model"
            except ForeignModelError as exc:
                assert str(folder / f"{part}.onnx") in str(exc) or str(folder) in str(exc), str(exc)
                outcomes[kind] = "refused"
    assert "refused" in outcomes.values(), outcomes
    assert len(list((own_trust_cache / "trust").glob("onnx-*.json"))) >= len(F.ONNX_KINDS)


# A stand-in for the child that dies (or hangs) on one file name and vets the others like the real one: it runs
# explorer/onnx/trust.py's _child_check, so only the way it ends is faked.
FAKE_CHILD = """
import json, os, signal, sys, time, runpy
trust = runpy.run_path(sys.argv[1])
import onnxruntime
print(json.dumps({"ready": True, "onnxruntime_version": onnxruntime.__version__}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    if request["path"].endswith(sys.argv[2]):
        if sys.argv[3] == "hang":
            time.sleep(600)
        os.kill(os.getpid(), getattr(signal, sys.argv[3]))
    print(json.dumps(trust["_child_check"](request["path"], request["hint"])), flush=True)
"""


def _fake_child(monkeypatch, tmp_path, suffix: str, how: str) -> None:
    import sys as _sys

    from explorer.onnx import trust as onnx_trust

    script = tmp_path / "fake_child.py"
    script.write_text(FAKE_CHILD)
    monkeypatch.setattr(onnx_trust.OnnxVetter, "child_command",
                        lambda self: [_sys.executable, str(script), onnx_trust.__file__, suffix, how])


@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGSEGV", "SIGABRT"])
def test_a_graph_crashing_onnxruntime_is_refused_and_the_app_process_lives(onnx_pair_folder, tmp_path, monkeypatch,
                                                                          own_trust_cache, signal_name):
    import onnxruntime

    from explorer.models.foreign import ForeignModelError, load_foreign

    folder = tmp_path / "pair"
    shutil.copytree(onnx_pair_folder, folder)
    opened = []
    real_session = onnxruntime.InferenceSession
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: opened.append(a) or real_session(*a, **k))
    _fake_child(monkeypatch, tmp_path, "decoder.onnx", signal_name)
    with pytest.raises(ForeignModelError) as info:
        load_foreign(folder)
    assert str(folder / "decoder.onnx") in str(info.value) and f"crashed onnx / onnxruntime" in str(info.value)
    assert signal_name in str(info.value) and not opened  # nothing was opened in this process
    monkeypatch.undo()  # the real child again: the crash verdict is kept by digest, no child asked
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(own_trust_cache))
    from explorer.onnx import trust as onnx_trust

    monkeypatch.setattr(onnx_trust, "_KNOWN", {})
    def no_child(self, deadline):
        raise AssertionError("a child was started for a file whose verdict is kept")

    monkeypatch.setattr(onnx_trust.OnnxVetter, "_start", no_child)
    with pytest.raises(ForeignModelError, match="crashed onnx / onnxruntime"):
        load_foreign(folder)


@pytest.mark.slow
def test_a_hanging_check_times_out_is_not_kept_and_the_next_file_gets_a_fresh_child(onnx_pair_folder, tmp_path,
                                                                                   monkeypatch, own_trust_cache):
    from explorer.onnx.trust import OnnxVetter, known_verdict, vet_onnx_file

    _fake_child(monkeypatch, tmp_path, "encoder.onnx", "hang")
    with OnnxVetter(timeout_s=4) as vetter:
        hung = vet_onnx_file(onnx_pair_folder / "encoder.onnx", ONNX_HINTS["encoder"], vetter=vetter)
        assert not hung.ok and hung.stage == "timeout" and "took over 4 s" in hung.problem
        assert known_verdict(hung.sha256) is None  # a busy machine may time out a good file
        fine = vet_onnx_file(onnx_pair_folder / "decoder.onnx", ONNX_HINTS["decoder"], vetter=vetter)
        assert fine.ok and fine.output_shapes == [[1, 1, 28, 28]] and vetter.children_started == 2


def test_a_graph_asking_for_64_gib_is_refused_in_the_child(tmp_path, own_trust_cache):
    import onnx
    from onnx import TensorProto, helper

    from explorer.onnx.trust import OnnxVetter, UntrustedOnnxError, require_trusted_onnx

    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [1 << 34])  # 2^34 floats = 64 GiB
    nodes = [helper.make_node("Constant", [], ["shape_in"], value=shape),
             helper.make_node("ConstantOfShape", ["shape_in"], ["big"])]
    graph = helper.make_graph(nodes, "big", [], [helper.make_tensor_value_info("big", TensorProto.FLOAT, ["n"])])
    path = tmp_path / "big.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    before = _status_mb("VmRSS")
    with OnnxVetter(memory_bytes=2 << 30) as vetter, pytest.raises(UntrustedOnnxError) as info:
        require_trusted_onnx(path, vetter=vetter)
    assert str(info.value).startswith(str(path)) and info.value.verdict.stage in ("run", "memory", "crash")
    assert _status_mb("VmRSS") - before < 200


@pytest.mark.parametrize("mutate, stage, words", [
    (lambda data: data[:len(data) // 3], "checker", "is not a valid ONNX model"),
    (lambda data: b"this is not protobuf", "checker", "is not a valid ONNX model"),
])
def test_each_kind_of_damage_meets_its_check(mutate, stage, words, onnx_pair_folder, onnx_vetter, tmp_path):
    path = tmp_path / "decoder.onnx"
    path.write_bytes(mutate((onnx_pair_folder / "decoder.onnx").read_bytes()))
    verdict = onnx_vetter.vet(path, ONNX_HINTS["decoder"])
    assert verdict.stage == stage and words in verdict.problem


def test_graph_mutations_meet_the_checker(onnx_pair_folder, onnx_vetter, tmp_path):
    """An unknown operator, a dangling input, an initializer cut short and external data pointing out of the
    folder are each refused by onnx.checker in the child, before any session (never read outside the folder)."""
    import onnx

    base = onnx.load(str(onnx_pair_folder / "decoder.onnx"))

    def unknown_op(m):
        m.graph.node[0].op_type = "NoSuchOp"

    def dangling(m):
        m.graph.node[1].input[0] = "nowhere"

    def cut_weights(m):
        t = next(t for t in m.graph.initializer if len(t.raw_data) > 8)
        t.raw_data = t.raw_data[:8]

    def outside(m):
        t = m.graph.initializer[0]
        t.data_location = onnx.TensorProto.EXTERNAL
        t.external_data.add().key, t.external_data[0].value = "location", "../../../etc/passwd"
        t.external_data[0].key = "location"
        t.ClearField("raw_data")

    for change in (unknown_op, dangling, cut_weights, outside):
        model = onnx.ModelProto()
        model.CopyFrom(base)
        change(model)
        path = tmp_path / f"{change.__name__}.onnx"
        path.write_bytes(model.SerializeToString())
        verdict = onnx_vetter.vet(path, ONNX_HINTS["decoder"])
        assert not verdict.ok and verdict.stage in ("checker", "session"), (change.__name__, verdict)


# -- diffusers configs ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kl_base(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers")
    from tests.support.foreign_models import make_autoencoder_kl

    return make_autoencoder_kl(tmp_path_factory.mktemp("kl") / "kl")


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.slow) if k != "absurd_size" else k
                                  for k in F.DIFFUSERS_KINDS])  # a config that loads costs ~0.1 s in diffusers
@FUZZ
@given(seed=st.integers(0, 2**32 - 1))
def test_diffusers_config_loads_or_is_refused_naming_the_file(kind, seed, kl_base, tmp_path, monkeypatch):
    import torch

    from explorer.models.foreign import ForeignModelError, diffusers_loading, load_foreign

    folder = _case_folder(kl_base, tmp_path)
    payload = F.mutate_diffusers_config(json.loads((kl_base / "config.json").read_text()), kind, random.Random(seed))
    (folder / "config.json").write_text(json.dumps(payload))
    if kind == "absurd_size":  # refused before diffusers builds anything
        monkeypatch.setattr(diffusers_loading, "diffusers_class", lambda name: pytest.fail(f"built from {payload}"))
    with watchdog():
        try:
            model = load_foreign(folder)
            with torch.no_grad():
                model.decode(torch.zeros(1, *model.latent_shape))
        except ForeignModelError as exc:
            assert str(folder) in str(exc), str(exc)


@pytest.mark.parametrize("changes, words", [
    ({"latent_channels": 10**9}, "'latent_channels' must be an integer from 1 to 4096"),
    ({"block_out_channels": [8, 10**6]}, "'block_out_channels' must be a list"),
    ({"block_out_channels": [2048] * 8, "norm_num_groups": 32, "down_block_types": ["DownEncoderBlock2D"] * 8,
      "up_block_types": ["UpDecoderBlock2D"] * 8}, "parameters, over the"),
    ({"sample_size": 10**6}, "'sample_size'"),
    ({"layers_per_block": "2"}, "'layers_per_block' must be an integer"),
    ({"scaling_factor": "big"}, "'scaling_factor' must be a finite number"),
    ({"use_quant_conv": False}, "does not match config.json: unexpected keys"),  # weights the config does not use
    ({"down_block_types": ["DownEncoderBlock2D"]}, "'down_block_types' must list 2"),
])
def test_bad_diffusers_config_values_are_refused_by_key(changes, words, kl_base, tmp_path):
    from explorer.models.foreign import ForeignModelError, load_foreign

    folder = _case_folder(kl_base, tmp_path)
    payload = {**json.loads((kl_base / "config.json").read_text()), **changes}
    (folder / "config.json").write_text(json.dumps(payload))
    with pytest.raises(ForeignModelError) as info:
        load_foreign(folder)
    assert words in str(info.value) and str(folder) in str(info.value), str(info.value)


def test_missing_size_keys_are_refused_not_defaulted(kl_base, tmp_path):
    from explorer.models.foreign import ForeignModelError, load_foreign

    folder = _case_folder(kl_base, tmp_path)
    payload = json.loads((kl_base / "config.json").read_text())
    del payload["block_out_channels"]
    (folder / "config.json").write_text(json.dumps(payload))
    with pytest.raises(ForeignModelError, match=r"config.json: \['block_out_channels'\] missing"):
        load_foreign(folder)
