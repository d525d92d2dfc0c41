"""Open an ONNX file that is not yet trusted in a child process first, so that a file which crashes onnx or
onnxruntime in native code (a segfault, an abort, a runaway allocation, a hang) takes down the child, not the
server that would have opened it.

The child runs `onnx.checker.check_model(full_check=True)` (structure and shape inference), creates an
onnxruntime CPU session and runs the graph once on zeros (the caller's trial shape where the graph's dims are
dynamic), under a wall-clock timeout and an address-space limit (RLIMIT_AS). Its verdict, an `OnnxVerdict`, is
kept by the file's sha256 in CACHE/trust/ (explorer.cache.trust_verdict_path) and in this process, so a file
is vetted once per onnxruntime version; only then does the caller open it in-process. A timeout is not kept
(a busy machine may time out a good file).

`OnnxVetter` keeps one child for several files (the two graphs of a pair, or a fuzz run of many cases) and
starts a fresh one after a crash. The child imports only onnx, onnxruntime and numpy: it is this file run by
path with `python -I`, so it never imports the explorer package (or a checkout's copy of it).

Hand-written because no library offers it: onnxruntime has no out-of-process validation, and
multiprocessing's pool would fork the server (its threads and Streamlit state) rather than start clean.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from explorer.cache import file_digest, trust_verdict_path
from explorer.files import atomic_write_bytes

VERDICT_VERSION = 1
DEFAULT_TIMEOUT_S = 60.0  # per file, child start included (imports take ~1 s on a quiet machine)
DEFAULT_MEMORY_BYTES = 4 << 30  # the child's address space: a graph wanting more is refused, not run
STAGES = ("checker", "session", "run", "crash", "timeout", "memory", "changed")
UNKEPT = ("timeout", "changed")  # verdicts not kept: a busy machine, or a file replaced while it was checked


@dataclass(frozen=True)
class OnnxVerdict:
    """What the child made of one file. ok: it passed the checker, opened and ran once without crashing."""

    ok: bool
    sha256: str
    stage: str = ""  # "" when ok; else one of STAGES: where it failed
    problem: str = ""  # "" when ok; else what went wrong, for the message
    output_shapes: list[list[int]] = field(default_factory=list)  # of the trial run, per output
    onnxruntime_version: str = ""
    seconds: float = 0.0
    version: int = VERDICT_VERSION

    def message(self, path: str | Path) -> str:
        """The refusal text, naming the file: '<path> <problem>'."""
        return f"{path} {self.problem}"


class UntrustedOnnxError(ValueError):
    """An ONNX file the child process refused; str() names the file and the problem, .verdict has the rest."""

    def __init__(self, path: str | Path, verdict: OnnxVerdict):
        super().__init__(verdict.message(path))
        self.path, self.verdict = Path(path), verdict


# -- the child --------------------------------------------------------------------------------------------------
def _first_line(text: str, limit: int = 600) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def _trial_shape(dims: list[Any], hint: list[int] | None) -> list[int]:
    """Static dims kept; a dynamic one (a name or None) from the hint at the same place when the ranks agree, else 1."""
    use_hint = hint is not None and len(hint) == len(dims)
    return [d if isinstance(d, int) and d > 0 else (int(hint[i]) if use_hint else 1) for i, d in enumerate(dims)]


def _child_check(path: str, hint: list[int] | None) -> dict[str, Any]:
    """One file, in the child: checker, session, one run on zeros, all on the bytes read once (their sha256 is
    returned, so the parent knows which content was vetted). Returns the verdict's fields."""
    import hashlib

    import numpy as np
    import onnx
    import onnxruntime as ort

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return {"stage": "checker", "problem": f"cannot be read: {exc}"}
    digest = {"sha256": hashlib.sha256(data).hexdigest()}
    try:
        onnx.checker.check_model(data, full_check=True)
    except Exception as exc:  # noqa: BLE001  (protobuf, checker and OS errors have no common base)
        return {**digest, "stage": "checker",
                "problem": f"is not a valid ONNX model: {type(exc).__name__}: {_first_line(exc)}"}
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own pybind classes)
        return {**digest, "stage": "session", "problem": f"cannot be opened by onnxruntime: {_first_line(exc)}"}
    feeds = {}
    for i, node in enumerate(session.get_inputs()):
        kind = node.type[len("tensor("):-1] if node.type.startswith("tensor(") else ""
        dtype = {"float": np.float32, "float16": np.float16, "double": np.float64, "int64": np.int64,
                 "int32": np.int32, "bool": np.bool_, "uint8": np.uint8, "int8": np.int8}.get(kind)
        if dtype is None:
            return {**digest, "stage": "run", "problem": f"has an input {node.name!r} of type {node.type}, which cannot be tried"}
        feeds[node.name] = np.zeros(_trial_shape(list(node.shape), hint if i == 0 else None), dtype)
    try:
        outputs = session.run(None, feeds)
    except Exception as exc:  # noqa: BLE001
        shapes = {k: list(v.shape) for k, v in feeds.items()}
        return {**digest, "stage": "run", "problem": f"fails in onnxruntime on zeros of shape {shapes}: {_first_line(exc)}"}
    return {**digest, "ok": True, "output_shapes": [list(np.asarray(o).shape) for o in outputs]}


def _child_main(memory_bytes: int) -> int:
    """Serve requests, one JSON line each ({"path", "hint"}) on stdin, one JSON verdict line each on stdout.
    The memory limit is set here, before any import (a preexec_fn is unsafe in a threaded server)."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a file that crashes it must not fill the disk with cores
    import onnxruntime as ort

    out = sys.stdout
    sys.stdout = sys.stderr  # a library's print must not corrupt the protocol
    out.write(json.dumps({"ready": True, "onnxruntime_version": ort.__version__}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = _child_check(request["path"], request.get("hint"))
        except MemoryError:
            reply = {"stage": "memory", "problem": "needs more memory than the vetting limit allows"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


# -- the parent -------------------------------------------------------------------------------------------------
class OnnxVetter:
    """One child process that vets ONNX files one after another (see the module docstring). Use as a context
    manager, or call close(). A crash, a timeout or a memory failure is that file's verdict; the next file
    gets a fresh child."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, memory_bytes: int = DEFAULT_MEMORY_BYTES):
        self.timeout_s, self.memory_bytes = float(timeout_s), int(memory_bytes)
        self.proc: subprocess.Popen | None = None
        self._buffer = b""
        self.onnxruntime_version = ""
        self.children_started = 0
        self._eof = False

    def __enter__(self) -> "OnnxVetter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def _kill(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        return code

    def child_command(self) -> list[str]:
        """The child's command line: this file run by path, isolated (-I: no script folder, no user site)."""
        return [sys.executable, "-I", str(Path(__file__).resolve()), "--vet-child", str(self.memory_bytes)]

    def _start(self, deadline: float) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
        env.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            self.child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True)
        self.children_started += 1
        self._buffer = b""
        ready = self._read_line(deadline)
        self.onnxruntime_version = ready.get("onnxruntime_version", "") if isinstance(ready, dict) else ""

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        """The child's next JSON line; None when it died or the deadline passed (self.proc stays set then)."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True  # the child closed its output: it died (or is dying)
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def vet(self, path: str | Path, hint: list[int] | tuple[int, ...] | None = None, sha256: str = "") -> OnnxVerdict:
        """The child's verdict on one file (not cached here: see `vet_onnx_file`). hint: the trial shape of the
        first input where its dims are dynamic (batch included), e.g. (1, 1, 28, 28)."""
        start = time.monotonic()
        deadline = start + self.timeout_s
        path = str(Path(path).resolve())
        sha256 = sha256 or _sha256(path)
        reply, self._eof = None, False
        try:
            if self.proc is None or self.proc.poll() is not None:
                self._kill()
                self._start(deadline)
            if self.proc is not None and self.proc.poll() is None:
                self.proc.stdin.write((json.dumps({"path": path, "hint": list(hint) if hint else None}) + "\n").encode())
                self.proc.stdin.flush()
                reply = self._read_line(deadline)
        except (BrokenPipeError, OSError, ValueError):
            reply = None
        seconds = round(time.monotonic() - start, 3)
        common = dict(sha256=sha256, onnxruntime_version=self.onnxruntime_version, seconds=seconds)
        if reply is not None and reply.get("sha256", sha256) != sha256:
            return OnnxVerdict(False, stage="changed", problem="changed while it was being checked; load it again",
                               **common)
        if reply is not None:
            return OnnxVerdict(ok=bool(reply.get("ok")), stage=reply.get("stage", ""), problem=reply.get("problem", ""),
                               output_shapes=reply.get("output_shapes", []), **common)
        if self._eof and self.proc is not None:
            try:  # it is exiting: wait for its status rather than mistake it for a hang
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        timed_out = self.proc is not None and self.proc.poll() is None
        code = self._kill()
        if timed_out:
            return OnnxVerdict(False, stage="timeout", problem=f"took over {self.timeout_s:g} s to check and "
                               "open in onnxruntime (in a separate process); it was stopped", **common)
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return OnnxVerdict(False, stage="crash", problem=f"crashed onnx / onnxruntime (signal {-code}, {name}) "
                               "when checked in a separate process; it is not opened in the app", **common)
        return OnnxVerdict(False, stage="memory" if code else "crash", problem=(
            f"made the checking process exit with status {code} (over the {self.memory_bytes >> 20} MiB limit, "
            "or a native error); it is not opened in the app"), **common)


def _sha256(path: str | Path) -> str:
    return file_digest(path)


# -- verdicts kept by digest ------------------------------------------------------------------------------------
_KNOWN: dict[str, OnnxVerdict] = {}  # sha256 -> verdict, in this process


def _runtime_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onnxruntime")
    except PackageNotFoundError:
        return ""


def known_verdict(sha256: str, cache_dir: str | Path | None = None) -> OnnxVerdict | None:
    """The kept verdict on a file's digest for this onnxruntime version, or None."""
    runtime = _runtime_version()
    verdict = _KNOWN.get(sha256)
    if verdict is None:
        try:
            verdict = OnnxVerdict(**json.loads(trust_verdict_path(sha256, cache_dir).read_text()))
        except (OSError, ValueError, TypeError):
            return None
    if verdict.version != VERDICT_VERSION or verdict.onnxruntime_version != runtime or verdict.sha256 != sha256:
        return None
    _KNOWN[sha256] = verdict
    return verdict


def vet_onnx_file(path: str | Path, hint: list[int] | tuple[int, ...] | None = None, cache_dir: str | Path | None = None,
                  vetter: OnnxVetter | None = None, keep: bool = True) -> OnnxVerdict:
    """The verdict on one file: kept (by sha256, for this onnxruntime version) or made now in a child process
    (vetter's, else a fresh one). keep: store the new verdict, except a timeout. A kept verdict is not
    re-made when only the hint differs."""
    sha256 = file_digest(path)
    verdict = known_verdict(sha256, cache_dir)
    if verdict is not None:
        return verdict
    if vetter is None:
        with OnnxVetter() as own:
            verdict = own.vet(path, hint, sha256)
    else:
        verdict = vetter.vet(path, hint, sha256)
    if keep and verdict.stage not in UNKEPT and verdict.onnxruntime_version:
        _KNOWN[sha256] = verdict
        target = trust_verdict_path(sha256, cache_dir)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, (json.dumps(asdict(verdict), indent=1) + "\n").encode())
        except OSError:
            pass  # an unwritable cache only means vetting again next time
    return verdict


def require_trusted_onnx(path: str | Path, hint: list[int] | tuple[int, ...] | None = None,
                         cache_dir: str | Path | None = None, vetter: OnnxVetter | None = None) -> OnnxVerdict:
    """The ok verdict on path (see `vet_onnx_file`); UntrustedOnnxError naming the file and the problem otherwise."""
    verdict = vet_onnx_file(path, hint, cache_dir, vetter)
    if not verdict.ok:
        raise UntrustedOnnxError(path, verdict)
    return verdict


__all__ = ["OnnxVerdict", "OnnxVetter", "UntrustedOnnxError", "known_verdict", "require_trusted_onnx", "vet_onnx_file"]

if __name__ == "__main__" and sys.argv[1:2] == ["--vet-child"]:
    sys.exit(_child_main(int(sys.argv[2])))
