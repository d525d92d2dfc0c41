"""Big VAEs in the app: every page with SD- and FLUX-config folders, the release -> full image against a plain
diffusers decode, tiling, and the linear tier's paint time while dragging.

    python -m bench.big_vae_pages [--configs sd flux] [--sizes 256 512] [--parts decode pages paint student]
                                  [--pages reconstruct walk map losslab compare] [--page-timeout 180] [--json out.json]
    nice -n 10 python -m bench.big_vae_pages --sizes 256 --page-timeout 120 --json big.json   (the docs' run)

Parts (each on its own; --parts picks):
  decode  per config and size, in one process with 1 thread: a plain diffusers `AutoencoderKL.decode` of one latent
          against the app's release path (ui.shared.watched_decode.decode_work: explorer.runtime's watched decode,
          progress hooks and cancel checks included), alternating, best of --repeats: the ratio app / plain (target
          <= 1.05); then the same decode with diffusers' tiling on and off, each in a fresh child process: seconds
          and peak RSS (VmHWM) of the child.
  pages   per config and size, the whole app (`streamlit run app.py`, this checkout's assets) with that folder alone,
          each page opened in headless Chromium: seconds from navigation to its first content (its title and two
          more elements of its own: a caption, a widget, a bar; target <= 20 s at 256 px) and to its first picture
          (an image with a source, a canvas, a chart, a table or a metric), on the walk also to its start code's
          full decode, a screenshot of each page, and the app
          process's resident memory as each page is left, and its peak RSS (VmHWM) once it is idle after all pages.
  student the distilled tier (b) of the same page with an SD-class student decoder (vae-distill's spec for an f8,
          4-channel teacher, random weights), for 4 x 32 x 32 and 4 x 64 x 64 codes (256 and 512 px): new student
          frames a second while dragging (target >= 8 at 128 px or more), decoded in the page's Web Worker; each
          with the full-size decoder and the half-size preview decoder (--decoder-factor 4: 128 and 256 px).
  paint   the spatial walk's linear tier (tests/browser/spatial_live_demo_app.py, a 4 x 64 x 64 code: a 512 px SD
          latent): a slider dragged with page.mouse at 60 Hz; per painted frame, the input event's timestamp -> the
          canvas written, on the page's clock (target p95 <= 16 ms), and frames / events.

The random-weight folders are tests/support/foreign_models.make_kl with the SD 1.x config (83.7M parameters,
4 latent channels) and a FLUX-like one (16 channels, no quant convs, a shift factor). --smoke: a tiny config at 32 px,
the in-process decode part only (no child processes, no browser; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.smoke import add_smoke_option, apply_smoke

SD = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "latent_channels": 4,
      "scaling_factor": 0.18215}
FLUX = {**SD, "latent_channels": 16, "use_quant_conv": False, "use_post_quant_conv": False,
        "scaling_factor": 0.3611, "shift_factor": 0.1159}
TINY = {"block_out_channels": (8, 16), "layers_per_block": 1, "norm_num_groups": 4, "latent_channels": 4,
        "scaling_factor": 0.18215}
CONFIGS = {"sd": SD, "flux": FLUX, "tiny": TINY}
PAGES = {"reconstruct": "", "walk": "walk", "map": "map", "losslab": "losslab", "compare": "compare"}
# first content: the page's title and something of its own under it (a caption, a widget, a progress bar)
FIRST_ELEMENT = """() => {
  const main = document.querySelector("[data-testid='stMain']");
  return Boolean(main && main.querySelector("h1")) && main.querySelectorAll("[data-testid='stElementContainer']").length >= 3;
}"""
# progress: a spinner, a progress bar or Streamlit's running indicator; WATCH records on the page's clock when the
# app first painted (its root element), when progress was first shown and when the first content was
# (window.__seen.app / .progress / .content, ms)
PROGRESS = ("[data-testid='stSpinner'], [data-testid='stProgress'], [data-testid='stStatusWidget'], "
            "[data-testid='stProgressBar']")
WATCH = """
window.__seen = {};
const firstContent = %s;
new MutationObserver(() => {
  const now = performance.now();
  if (window.__seen.content === undefined && firstContent()) window.__seen.content = now;
  if (window.__seen.app === undefined && document.querySelector("[data-testid='stApp']")) window.__seen.app = now;
  if (window.__seen.progress === undefined && document.querySelector(%r)) window.__seen.progress = now;
}).observe(document, {subtree: true, childList: true, attributes: true});
""" % (FIRST_ELEMENT, PROGRESS)
# first picture: an image with a source, a canvas, a chart, a table or a metric
FIRST_CONTENT = """() => {
  const main = document.querySelector("[data-testid='stMain']") ?? document;
  const img = [...main.querySelectorAll("[data-testid='stImage'] img, [data-testid='stImageContainer'] img")]
    .some(i => i.getAttribute("src"));
  const other = main.querySelector("canvas, [data-testid='stPlotlyChart'], [data-testid='stDataFrame'], "
    + "[data-testid='stMetric'], [data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']");
  return img || Boolean(other);
}"""

# the walk's first full decode: its start code's, captioned so (ui/pages/walk/spatial.py)
WALK_DECODE = """() => (document.querySelector("[data-testid='stMain']") ?? document).textContent
  .includes("start code (full decode)")"""


def weight_folder_path(root: Path, name: str, size: int) -> Path:
    """Where random_weight_folder keeps the folder of config `name` at `size` px."""
    return root / f"{name}-{size}px"


def random_weight_folder(root: Path, name: str, size: int) -> Path:
    """A diffusers folder of random weights with config `name` at `size` px under root (made once, then reused)."""
    from tests.support.foreign_models import make_kl

    folder = weight_folder_path(root, name, size)
    if not (folder / "config.json").is_file():
        make_kl(folder, seed=0, sample_size=size, **CONFIGS[name])
    return folder


def _status_mb(pid: int, field: str) -> float:
    """A memory field of /proc/pid/status (VmHWM: peak resident, VmRSS: resident now) in MB."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(field + r":\s+(\d+) kB", text).group(1)) / 1024


def vmhwm_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of process pid in MB."""
    return _status_mb(pid, "VmHWM")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process pid so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settle(pid: int, quiet_s: float = 5.0, limit_s: float = 180.0) -> float:
    """Wait until process pid has used under 5% of a core for quiet_s seconds (the work pages left running is done),
    at most limit_s; returns the seconds waited."""
    t0 = time.perf_counter()
    last, quiet_since = _cpu_seconds(pid), time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        time.sleep(1.0)
        now = _cpu_seconds(pid)
        if now - last > 0.05:
            quiet_since = time.perf_counter()
        last = now
        if time.perf_counter() - quiet_since >= quiet_s:
            break
    return time.perf_counter() - t0


# -- decode: the app's release path against a plain diffusers decode -------------------------------------
def decode_part(folder: Path, repeats: int) -> dict:
    import torch
    from diffusers import AutoencoderKL

    from explorer.checkpoint import from_pretrained
    from ui.shared.watched_decode import decode_work

    torch.set_num_threads(1)
    plain = AutoencoderKL.from_pretrained(str(folder)).eval()
    model = from_pretrained(folder, "cpu")
    code = np.random.default_rng(0).standard_normal(model.latent_shape).astype(np.float32)
    work = decode_work(model, code)

    class Job:  # what ui.services.watched hands the work function
        stage = ""

    def app() -> float:
        t0 = time.perf_counter()
        work(lambda p: None, None, Job())
        return time.perf_counter() - t0

    def diffusers_plain() -> float:
        z = torch.from_numpy(code[None])
        t0 = time.perf_counter()
        with torch.no_grad():
            plain.decode(z / plain.config.scaling_factor + (plain.config.shift_factor or 0.0)).sample
        return time.perf_counter() - t0

    app(), diffusers_plain()  # warm both (first-call allocations, hooks' block count)
    a, p = [], []
    for _ in range(repeats):
        a.append(app())
        p.append(diffusers_plain())
    return {"app_s": min(a), "plain_s": min(p), "ratio": min(a) / min(p)}


def _child_decode(folder: str, tiled: bool) -> None:
    """In a fresh process: one plain diffusers decode, tiled or not; prints seconds and VmHWM."""
    import torch
    from diffusers import AutoencoderKL

    torch.set_num_threads(1)
    vae = AutoencoderKL.from_pretrained(folder).eval()
    if tiled:
        vae.enable_tiling()
    size = int(vae.config.sample_size)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    z = torch.randn(1, vae.config.latent_channels, size // factor, size // factor, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    with torch.no_grad():
        vae.decode(z).sample
    print(json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": vmhwm_mb(os.getpid())}))


def tiling_part(folder: Path) -> dict:
    out = {}
    for tiled in (False, True):
        proc = subprocess.run([sys.executable, "-m", "bench.big_vae_pages", "--child-decode", str(folder)]
                              + (["--tiled"] if tiled else []), capture_output=True, text=True, check=True,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        out["tiled" if tiled else "untiled"] = got
    return out


# -- pages: every page in Chromium ---------------------------------------------------------------------
def spawn_folder(folder: Path, tmp: Path, env: dict[str, str] | None = None
                 ) -> tuple[subprocess.Popen, str, Callable[[], object]]:
    """The whole app (`streamlit run app.py`, this checkout's assets) with `folder` alone in its models, a private
    cache under tmp and `env` added to its environment, started and not awaited: (the server process, its URL, a
    function that returns once it answers). `folder` may be made meanwhile: the app reads it when a page asks.
    Stop it with tests.support.serve.stop."""
    from tests.support.ports import free_port
    from tests.support.serve import healthy_or_stopped, spawn_streamlit
    from ui.components.devserver import ROOT, cached_assets

    models = tmp / f"models-{folder.name}"
    models.mkdir(exist_ok=True)
    link = models / folder.name
    if not link.is_symlink():
        link.symlink_to(folder, target_is_directory=True)
    env = dict(os.environ, VAE_EXPLORER_MODELS=str(models), VAE_EXPLORER_CACHE=str(tmp / f"cache-{folder.name}"),
               **(env or {}))
    port, log = free_port(), tmp / f"streamlit-{folder.name}.log"
    proc = spawn_streamlit(ROOT / "app.py", port, log, env=env, site=cached_assets())
    return proc, f"http://127.0.0.1:{port}", lambda: healthy_or_stopped(proc, port, log)


def serve_folder(folder: Path, tmp: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """spawn_folder's server once it answers: (the server process, its URL)."""
    proc, url, ready = spawn_folder(folder, tmp, env)
    ready()
    return proc, url


def pages_part(folder: Path, pages: list[str], timeout_s: float, tmp: Path) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import find_chromium
    from tests.support.serve import CHROMIUM_ARGS, stop

    proc, url = serve_folder(folder, tmp)
    result: dict = {"pages": {}}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(), headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(WATCH)
            page = context.new_page()
            for name in pages:
                t0 = time.perf_counter()
                page.goto(f"{url}/{PAGES[name]}?model={folder.name}")
                got = {}
                try:  # seconds from the app's first paint to the first progress shown (target <= 1 s); a page whose
                    # content comes first (nothing slow left: its data view cached) shows none, and is not kept waiting
                    page.wait_for_function("() => window.__seen.progress !== undefined || "
                                           "(window.__seen.content !== undefined && document.querySelector("
                                           "\"[data-testid='stStatusWidget']\") === null)",
                                           timeout=timeout_s * 1000, polling=100)
                    seen = page.evaluate("window.__seen")
                    got["progress_after_paint_s"] = ((seen["progress"] - seen["app"]) / 1000
                                                     if seen.get("progress") is not None else None)
                except Exception:  # noqa: BLE001
                    got["progress_after_paint_s"] = None
                checks = [("first_content_s", FIRST_ELEMENT), ("first_picture_s", FIRST_CONTENT)]
                if name == "walk":
                    checks.append(("start_decode_s", WALK_DECODE))
                for what, check in checks:
                    left = timeout_s - (time.perf_counter() - t0)
                    try:
                        page.wait_for_function(check, timeout=max(left, 0.1) * 1000, polling=100)
                        got[what] = time.perf_counter() - t0
                    except Exception:  # noqa: BLE001  (a page that shows nothing in time is a result, not a crash)
                        got[what] = None
                page.screenshot(path=str(tmp / f"{folder.name}-{name}.png"), full_page=True)
                errors = page.locator("[data-testid='stException']").count()
                # the app's memory as this page is left: resident now, and its peak so far
                got_mb = {"rss_mb": _status_mb(proc.pid, "VmRSS"), "peak_so_far_mb": vmhwm_mb(proc.pid)}
                result["pages"][name] = {**got, **got_mb, "exceptions": errors}
                said = ", ".join(f"{k[:-2].replace('_', ' ')} " + (f"{v:.1f} s" if v is not None else
                                 "none (content first)" if k == "progress_after_paint_s" and got["first_content_s"]
                                 is not None and got["first_content_s"] < timeout_s else
                                 f"not within {timeout_s:.0f} s") for k, v in got.items())
                print(f"  {folder.name} {name}: {said}; app {got_mb['rss_mb']:.0f} MB resident, peak so far "
                      f"{got_mb['peak_so_far_mb']:.0f} MB" + (f", {errors} exception(s)" if errors else ""), flush=True)
            # work the pages started (fits, encodes) may still run: the peak counts once the app is idle
            result["settle_s"] = _settle(proc.pid)
            browser.close()
        result["app_peak_rss_mb"] = vmhwm_mb(proc.pid)
        result["app_rss_after_mb"] = _status_mb(proc.pid, "VmRSS")
    finally:
        stop(proc)
    return result


# -- paint: the linear tier while dragging -------------------------------------------------------------
def sd_student_onnx(tmp: Path, side: int, decoder_factor: int = 8) -> Path:
    """An SD-class student's decoder as the page gets it: `vae-distill`'s student spec for an f8, 4-channel teacher
    (explorer.preview.distill.student, the default width and blocks; decoder_factor 4: the half-size preview decoder
    of `--decoder-factor 4`) with seeded random weights, exported for a 4 x side x side code by the exporter
    vae-distill uses (its speed is what is measured, not its picture)."""
    from explorer.models.foreign.diffusers_plain import load_plain
    from explorer.onnx.export import export_decoder
    from explorer.preview.distill.folder import STUDENT_EXPORTERS
    from explorer.preview.distill.student import StudentSpec, build_student

    folder = tmp / f"sd-student-d{decoder_factor}"
    if not (folder / "config.json").is_file():
        spec = StudentSpec(latent_channels=4, factor=8, decoder_factor=decoder_factor)
        build_student(spec).save_pretrained(str(folder), safe_serialization=True)
    path = tmp / f"sd-student-d{decoder_factor}-4x{side}x{side}.onnx"
    export_decoder(load_plain(folder, image_size=side * 8, preview_decoder=True), path, exporters=STUDENT_EXPORTERS)
    return path


def paint_part(tmp: Path, seconds: float, shape: str = "4,64,64", student: Path | None = None,
               student_px_per_cell: int = 8) -> dict:
    """The spatial walk while a slider is dragged at 60 Hz: the linear tier's paint time per event, and with
    `student` (a decoder ONNX for `shape`) the distilled tier's new frames a second, decoded in the page's worker."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import find_chromium
    from tests.support.ports import free_port
    from tests.support.serve import CHROMIUM_ARGS, start_streamlit, stop
    from ui.components.devserver import ROOT, cached_assets

    port = free_port()
    env = dict(os.environ, SPATIAL_DEMO_SHAPE=shape, **({"SPATIAL_DEMO_STUDENT": str(student)} if student else {}))
    proc = start_streamlit(ROOT / "tests" / "browser" / "spatial_live_demo_app.py", port, tmp / "demo.log", env=env,
                           site=cached_assets())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"http://127.0.0.1:{port}")
            page.locator("[data-testid='spatial-live-tier']").wait_for(timeout=120_000)
            if student:  # the worker has its session: the first student frame comes with the first move
                page.wait_for_function("() => Object.values(window.__spatialLive.status || {}).some(s => s.student)",
                                       timeout=120_000)
            slider = page.locator("input[data-axis='0']").first
            slider.scroll_into_view_if_needed()
            box = slider.bounding_box()
            x0, y, span = box["x"] + 0.1 * box["width"], box["y"] + box["height"] / 2, 0.8 * box["width"]
            n = int(seconds * 60)
            if student:  # a first drag until the worker's first frame (its wasm and session are made on first use)
                page.mouse.move(x0 + span / 2, y)
                page.mouse.down()
                for i in range(30):
                    page.mouse.move(x0 + span / 2 + span * 0.2 * i / 30, y)
                    time.sleep(1 / 60)
                page.wait_for_function("() => window.__spatialLive.frames.some(f => f.tier === 'student')",
                                       timeout=120_000)
                page.mouse.up()
                time.sleep(1.0)
            page.mouse.move(x0, y)
            f0, e0 = page.evaluate("[window.__spatialLive.frames.length, window.__spatialLive.events]")
            page.mouse.down()
            t0 = time.perf_counter()
            for i in range(1, n + 1):
                page.mouse.move(x0 + span * i / n, y)
                wait = t0 + i / 60 - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            drag_s = time.perf_counter() - t0
            frames = page.evaluate(f"window.__spatialLive.frames.slice({f0})")
            events = page.evaluate("window.__spatialLive.events") - e0
            page.mouse.up()
            browser.close()
    finally:
        stop(proc)
    work = np.array([f["tDrawn"] - f["tEvent"] for f in frames if f["tier"] == "linear" and f["why"] == "slider"])
    out = {"shape": shape, "events": int(events), "frames": int(work.size), "p50_ms": float(np.percentile(work, 50)),
           "p95_ms": float(np.percentile(work, 95)), "max_ms": float(work.max()), "drag_s": drag_s}
    if student:
        taught = [f for f in frames if f["tier"] == "student"]
        lag = np.array([f["tDrawn"] - f["tEvent"] for f in taught]) if taught else np.zeros(1)
        c, h, w = (int(v) for v in shape.split(","))
        out["student"] = {"frames": len(taught), "fps": len(taught) / drag_s, "px": h * student_px_per_cell,
                          "event_to_frame_p50_ms": float(np.percentile(lag, 50))}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", default=["sd", "flux"], choices=sorted(CONFIGS))
    ap.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    ap.add_argument("--parts", nargs="+", default=["decode", "pages", "paint", "student"],
                    choices=["decode", "pages", "paint", "student"])
    ap.add_argument("--student-sides", nargs="+", type=int, default=[32, 64],
                    help="latent sides of the SD-class student's codes (32: a 256 px image, 64: 512 px)")
    ap.add_argument("--student-decoder-factors", nargs="+", type=int, default=[8, 4], choices=[8, 4],
                    help="the students' decoders: 8 writes the teacher's size, 4 the half-size preview decoder")
    ap.add_argument("--pages", nargs="+", default=list(PAGES), choices=list(PAGES))
    ap.add_argument("--page-timeout", type=float, default=180.0, help="seconds a page may take to its first content")
    ap.add_argument("--repeats", type=int, default=2, help="decodes per path (the best counts)")
    ap.add_argument("--drag-seconds", type=float, default=3.0)
    ap.add_argument("--no-tiling", action="store_true", help="skip the tiled / untiled child decodes")
    ap.add_argument("--root", type=Path, default=None, help="where the random-weight folders are kept (reused)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--child-decode", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--tiled", action="store_true", help=argparse.SUPPRESS)
    add_smoke_option(ap)
    args = ap.parse_args(argv)
    if args.child_decode:
        _child_decode(args.child_decode, args.tiled)
        return
    apply_smoke(args, configs=["tiny"], sizes=[32], parts=["decode"], repeats=1, no_tiling=True)
    tmp = Path(tempfile.mkdtemp(prefix="big-vae-pages-"))
    root = args.root or tmp
    root.mkdir(parents=True, exist_ok=True)
    report: dict = {"runs": []}
    if "paint" in args.parts:
        report["paint"] = paint_part(tmp, args.drag_seconds)
        q = report["paint"]
        print(f"linear tier, code {q['shape']}: {q['frames']} frames for {q['events']} input events, paint p50 "
              f"{q['p50_ms']:.2f} ms, p95 {q['p95_ms']:.2f} ms, max {q['max_ms']:.2f} ms (target p95 <= 16 ms)",
              flush=True)
    if "student" in args.parts:
        report["student"] = []
        for side, decoder_factor in ((s, d) for s in args.student_sides for d in args.student_decoder_factors):
            q = paint_part(tmp, args.drag_seconds, f"4,{side},{side}", sd_student_onnx(tmp, side, decoder_factor),
                           decoder_factor)
            q["decoder_factor"] = decoder_factor
            report["student"].append(q)
            t = q["student"]
            kind = "full-size" if decoder_factor == 8 else "half-size preview"
            print(f"distilled tier, SD-class {kind} student, code {q['shape']} ({t['px']} px): {t['frames']} new frames in "
                  f"{q['drag_s']:.1f} s of dragging, {t['fps']:.1f} a second (target >= 8 at 128 px or more), event "
                  f"-> frame p50 {t['event_to_frame_p50_ms']:.0f} ms; linear tier p95 {q['p95_ms']:.2f} ms beside it",
                  flush=True)
    for name in args.configs:
        for size in args.sizes:
            folder = random_weight_folder(root, name, size)
            run: dict = {"config": name, "px": size}
            if "decode" in args.parts:
                run["decode"] = decode_part(folder, args.repeats)
                d = run["decode"]
                print(f"{name} {size} px: release -> full image {d['app_s']:.2f} s, plain diffusers decode "
                      f"{d['plain_s']:.2f} s, ratio {d['ratio']:.3f} (target <= 1.05)", flush=True)
                if not args.no_tiling:
                    run["tiling"] = tiling_part(folder)
                    t = run["tiling"]
                    print(f"{name} {size} px: untiled {t['untiled']['seconds']:.2f} s, {t['untiled']['peak_mb']:.0f} MB "
                          f"peak; tiled {t['tiled']['seconds']:.2f} s, {t['tiled']['peak_mb']:.0f} MB peak", flush=True)
            if "pages" in args.parts:
                run.update(pages_part(folder, args.pages, args.page_timeout, tmp))
                print(f"{name} {size} px: app peak RSS {run['app_peak_rss_mb']:.0f} MB (after the app was idle for 5 s, "
                      f"{run['settle_s']:.0f} s after the last page; resident then {run['app_rss_after_mb']:.0f} MB)",
                      flush=True)
            report["runs"].append(run)
    report["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
