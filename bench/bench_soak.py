"""A long session: slider releases, in-page drag frames, uploads and model switches in one browser session.

    python -m bench.bench_soak [--releases 2000] [--frames 2000] [--uploads 200] [--switches 50] [--scale 1.0]
                               [--json out.json]

The real app (this checkout's live-component files, VAE_EXPLORER_LIVE=on) is served pinned to core 0 and driven
from core 1 by one headless Chromium page (bench.bench_load's helpers). Warm-up: every model in the picker
chosen once on the Latent walk, then 100 slider moves. Then --releases, --frames, --uploads and --switches
(each times --scale) are done in interleaved cycles. Reported after the warm-up and at the end:

  server RSS          VmRSS of the server (/proc/PID/status); growth over the warm-up's value (target < 5 %)
  caches              every st.cache_data / st.cache_resource and the session state, from the server's own
                      /_stcore/metrics (bytes held, and misses = entries ever added) beside each cache's stated
                      bound (max_entries, read from its decorator in ui/); the on-disk cache folder's size
  JS heap             the page's used JS heap after a forced GC (CDP HeapProfiler.collectGarbage, then
                      Runtime.getHeapUsage), and its DOM node count (Memory.getDOMCounters)

Uploads are made by the page's own script (bench.bench_load.upload(in_page=True)): Playwright's set_input_files
keeps a DevTools handle on the input, which would pin each page left behind and count against the app.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from bench.bench_load import ARGS, FIRST_FRAME, Session, cpu_seconds, open_walk, rss_mb, upload
from bench.smoke import add_smoke_option, apply_smoke
from tests.support.ports import free_port
from tests.support.serve import spawn_streamlit, stop
from ui.components.devserver import ROOT, cached_assets, wait_healthy

UI = ROOT / "ui"


def stated_bounds() -> dict[str, int]:
    """'ui.module.function' -> max_entries of its st.cache_data / st.cache_resource decorator."""
    bounds = {}
    pattern = re.compile(r"@st\.cache_(?:data|resource)\([^)]*max_entries=(\d+)[^)]*\)\s*\ndef (\w+)")
    for path in UI.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for bound, name in pattern.findall(path.read_text()):
            bounds[f"{module}.{name}"] = int(bound)
    return bounds


def cache_metrics(url: str) -> dict[str, dict]:
    """cache name -> {"bytes", "misses", "hits"} from the server's /_stcore/metrics (OpenMetrics text)."""
    text = urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=30).read().decode()
    out: dict[str, dict] = {}
    for line in text.splitlines():
        m = re.match(r'cache_memory_bytes\{cache_type="(\w+)",cache="([^"]*)"\} (\d+)', line)
        if m:
            out.setdefault(m[2] or m[1], {"type": m[1]})["bytes"] = int(m[3])
        m = re.match(r'cache_lookups_total\{cache="([^"]*)",cache_type="(\w+)",result="(\w+)"\} (\d+)', line)
        if m:
            out.setdefault(m[1], {"type": m[2]})[m[3] + "es" if m[3] == "miss" else m[3] + "s"] = int(m[4])
    return out


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20 if folder.exists() else 0.0


COUNT_NODES = """(() => {
  let n = 0;
  const walk = (root) => {
    const it = document.createTreeWalker(root, NodeFilter.SHOW_ALL);
    for (let node = it.currentNode; node; node = it.nextNode()) { n++; if (node.shadowRoot) walk(node.shadowRoot); }
  };
  walk(document);
  return n;
})()"""


async def js_heap(page) -> dict:
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("HeapProfiler.collectGarbage")
    heap = await cdp.send("Runtime.getHeapUsage")
    dom = await cdp.send("Memory.getDOMCounters")
    await cdp.detach()
    # nodes in the document now (text nodes and shadow roots' contents included), against all the page's live
    # nodes (Memory.getDOMCounters: detached ones still referenced included)
    attached = await page.evaluate(COUNT_NODES)
    return {"used_mb": heap["usedSize"] / 2**20, "total_mb": heap["totalSize"] / 2**20, "dom_nodes": dom["nodes"],
            "nodes_in_document": attached, "js_event_listeners": dom.get("jsEventListeners")}


async def choose_model(session: Session, name: str) -> None:
    page = session.page
    await page.get_by_role("combobox", name="Checkpoint").click()
    await page.get_by_role("option").filter(has_text=re.compile("^" + re.escape(name))).first.click()
    await session.idle(500)


async def model_names(session: Session) -> list[str]:
    page = session.page
    await page.get_by_role("combobox", name="Checkpoint").click()
    texts = await page.get_by_role("option").all_inner_texts()
    await page.keyboard.press("Escape")
    return [t.split(":")[0].strip() for t in texts if not t.startswith("⚠")]


async def slider_box(page) -> dict:
    """The first live slider's box, once it is visible (after a rerun it may be re-mounted)."""
    slider = page.locator("input[type=range]").first
    await slider.wait_for(state="visible", timeout=120_000)
    box = await slider.bounding_box()
    if box is None:
        raise RuntimeError("the live slider has no box")
    return box


async def release(session: Session, dx: float) -> None:
    """A short drag of the first live slider (a few in-page frames) and its release (a server rerun)."""
    page = session.page
    box = await slider_box(page)
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    for i in range(1, 4):
        await page.mouse.move(x + dx * i / 3, y)
        await asyncio.sleep(1 / 60)
    await page.mouse.up()
    await session.idle(250)


async def drag_frames(session: Session, frames: int, hz: float = 60.0) -> int:
    """One drag of `frames` pointer moves at hz; returns the frames painted while the mouse was down."""
    page = session.page
    box = await slider_box(page)
    x0, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2
    # window.__liveLatent.frames keeps the last 400 frames only: count by time, not by index
    t_start = await page.evaluate("performance.now()")
    await page.mouse.move(x0, y)
    await page.mouse.down()
    t0 = time.perf_counter()
    for i in range(1, frames + 1):
        await page.mouse.move(x0 + 0.3 * box["width"] * np.sin(i / 20), y)
        wait = t0 + i / hz - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
    painted = await page.evaluate("t => window.__liveLatent.frames.filter(f => f.dragging && f.tDrawn >= t).length",
                                  t_start)
    await page.mouse.up()
    await session.idle(250)
    return painted


async def walk(session: Session) -> None:
    await session.go("Latent walk")
    await session.page.wait_for_function(FIRST_FRAME, timeout=300_000)


async def detached_nodes(page) -> dict[str, int]:
    """Detached DOM nodes still alive after a forced GC, counted by their heap-snapshot name (tag and classes):
    whose elements the page keeps (Streamlit's own carry `st-` classes and test ids; this project's components
    `ll-` / `bm-` classes and their canvases)."""
    from collections import Counter

    cdp = await page.context.new_cdp_session(page)
    await cdp.send("HeapProfiler.collectGarbage")
    chunks: list[str] = []
    cdp.on("HeapProfiler.addHeapSnapshotChunk", lambda e: chunks.append(e["chunk"]))
    await cdp.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
    await cdp.detach()
    snap = json.loads("".join(chunks))
    fields = snap["snapshot"]["meta"]["node_fields"]
    width, name_at = len(fields), fields.index("name")
    detached_at = fields.index("detachedness") if "detachedness" in fields else None
    names, nodes = snap["strings"], snap["nodes"]
    counts: Counter = Counter()
    for i in range(0, len(nodes), width):
        name = names[nodes[i + name_at]]
        if name.startswith("Detached ") or (detached_at is not None and nodes[i + detached_at] == 2):
            counts[name[:70]] += 1
    return dict(counts.most_common(40))


async def attribute(session: Session, switch_between: list[str], rounds: int) -> dict:
    """The page's DOM nodes and JS heap after each of `rounds` rounds of one kind of action at a time (10 slider
    releases; one 40-frame drag; a visit to Reconstruct with one upload and back; one model switch): which action
    the growth follows, as nodes and kB per round (a least-squares slope)."""
    out: dict = {}
    kinds = {
        "releases": lambda r: _repeat(10, lambda i: release(session, 30 if i % 2 == 0 else -30)),
        "frames": lambda r: drag_frames(session, 40),
        "upload_visit": lambda r: _upload_visit(session, r),
        "switches": lambda r: _switch(session, switch_between[(r + 1) % len(switch_between)]),
    }
    for kind, act in kinds.items():
        before = await detached_nodes(session.page)
        samples = [await js_heap(session.page)]
        for r in range(rounds):
            await act(r)
            samples.append(await js_heap(session.page))
        nodes = np.array([h["dom_nodes"] for h in samples], dtype=float)
        heap = np.array([h["used_mb"] for h in samples])
        x = np.arange(len(samples))
        out[kind] = {"dom_nodes": nodes.astype(int).tolist(), "nodes_in_document": [h["nodes_in_document"] for h in samples],
                     "js_used_mb": heap.round(2).tolist(), "nodes_per_round": float(np.polyfit(x, nodes, 1)[0]),
                     "kb_per_round": float(np.polyfit(x, heap, 1)[0] * 1024)}
        after = await detached_nodes(session.page)
        grown = {k: after[k] - before.get(k, 0) for k in after if after[k] > before.get(k, 0)}
        out[kind]["detached_grown"] = dict(sorted(grown.items(), key=lambda kv: -kv[1])[:12])
        out[kind]["detached_ours"] = sum(v for k, v in grown.items() if any(
            tag in k for tag in ("ll-", "bm-", "HTMLCanvasElement", "<canvas")))
        print(json.dumps({kind: {k: out[kind][k] for k in ("nodes_per_round", "kb_per_round")},
                          "dom_nodes": out[kind]["dom_nodes"]}), flush=True)
    return out


async def _repeat(n: int, make) -> None:
    for i in range(n):
        await make(i)


async def _upload_visit(session: Session, r: int) -> None:
    await session.go("Reconstruct")
    await upload(session, r, in_page=True)
    await walk(session)


async def _switch(session: Session, name: str) -> None:
    await choose_model(session, name)
    await session.page.wait_for_function(FIRST_FRAME, timeout=300_000)


async def soak(url: str, pid: int, cache: Path, args, ready=lambda: None) -> dict:
    """The soak (or --attribute) against the server `pid` at `url`; ready() returns once the server answers (it
    starts while Chromium does)."""
    from playwright.async_api import async_playwright

    scale = args.scale
    counts = {k: max(1, round(getattr(args, k) * scale)) for k in ("releases", "frames", "uploads", "switches")}
    report: dict = {"counts": counts, "scale": scale, "errors": []}
    async with async_playwright() as p:
        import shutil

        browser = await p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                          headless=True, args=ARGS)
        ready()
        context = await browser.new_context(viewport={"width": 1300, "height": 950})
        session = Session(await context.new_page())
        session.watch()
        session.page.set_default_timeout(180_000)
        t0 = time.perf_counter()
        await open_walk(session, url, live=True)
        names = await model_names(session)
        live_models = []
        pair_first = sorted(names, key=lambda n: n not in ("conv-mnist5k", "mlp-mnist5k-2d"))  # the switch pair
        for name in pair_first[:args.warmup_models] if args.warmup_models else names:  # warm-up: each model once
            await choose_model(session, name)
            if await session.page.locator("input[type=range]").count():
                live_models.append(name)
        report["models"], report["live_models"] = names, live_models
        switch_between = [n for n in live_models if n in ("conv-mnist5k", "mlp-mnist5k-2d")] or live_models[:2]
        await choose_model(session, switch_between[0])
        await session.page.wait_for_function(FIRST_FRAME, timeout=300_000)
        for i in range(args.warmup_releases):
            await release(session, 30 if i % 2 == 0 else -30)
        report["warmup_s"] = time.perf_counter() - t0
        report["after_warmup"] = {"rss_mb": rss_mb(pid), "js_heap": await js_heap(session.page),
                                  "caches": cache_metrics(url), "disk_cache_mb": folder_mb(cache),
                                  "server_cpu_s": cpu_seconds(pid)}
        print(json.dumps({"after_warmup": {k: v for k, v in report["after_warmup"].items() if k != "caches"}}), flush=True)
        if args.attribute:
            report["attribution"] = await attribute(session, switch_between, args.attribute)
            await browser.close()
            return report

        cycles = max(counts.values()) if args.cycles is None else args.cycles
        cycles = min(cycles, counts["switches"])  # one switch per cycle
        per = {k: np.diff(np.linspace(0, v, cycles + 1).round().astype(int)) for k, v in counts.items()}
        done = {k: 0 for k in counts}
        painted = 0
        samples = []
        t1 = time.perf_counter()
        for c in range(cycles):
            try:
                for i in range(per["releases"][c]):
                    await release(session, 30 if i % 2 == 0 else -30)
                    done["releases"] += 1
                if per["frames"][c]:
                    painted += await drag_frames(session, int(per["frames"][c]))
                    done["frames"] += int(per["frames"][c])
                if per["uploads"][c]:
                    await session.go("Reconstruct")
                    for i in range(per["uploads"][c]):
                        await upload(session, done["uploads"], in_page=True)
                        done["uploads"] += 1
                    await walk(session)
                if per["switches"][c]:
                    await choose_model(session, switch_between[(c + 1) % len(switch_between)])
                    await session.page.wait_for_function(FIRST_FRAME, timeout=300_000)
                    done["switches"] += 1
            except Exception as exc:  # noqa: BLE001  (counted; the soak goes on with the next cycle)
                session.errors.append(f"cycle {c}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
                try:  # in-app navigation: the same server session (a reload would open a second one)
                    await walk(session)
                except Exception:  # noqa: BLE001
                    pass
            heap = await js_heap(session.page)
            samples.append({"t_s": round(time.perf_counter() - t1, 1), "rss_mb": rss_mb(pid), **done,
                            "js_used_mb": round(heap["used_mb"], 1), "dom_nodes": heap["dom_nodes"],
                            "nodes_in_document": heap["nodes_in_document"]})
            print(json.dumps(samples[-1]), flush=True)
        report["soak_s"] = time.perf_counter() - t1
        report["done"], report["painted_drag_frames"], report["samples"] = done, painted, samples
        shown = await session.shown_errors()
        report["end"] = {"rss_mb": rss_mb(pid), "js_heap": await js_heap(session.page), "caches": cache_metrics(url),
                         "disk_cache_mb": folder_mb(cache), "server_cpu_s": cpu_seconds(pid)}
        report["errors"] = session.errors + shown
        await browser.close()
    w, e = report["after_warmup"], report["end"]
    report["rss_growth_pct"] = 100 * (e["rss_mb"] - w["rss_mb"]) / w["rss_mb"]
    report["js_heap_growth_pct"] = 100 * (e["js_heap"]["used_mb"] - w["js_heap"]["used_mb"]) / w["js_heap"]["used_mb"]
    bounds = stated_bounds()
    report["cache_table"] = [
        {"cache": name, "bound": bounds.get(name), "bytes_warm": w["caches"].get(name, {}).get("bytes"),
         "bytes_end": stats.get("bytes"), "misses_end": stats.get("misses")}
        for name, stats in sorted(e["caches"].items())]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--releases", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--switches", type=int, default=50)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count (e.g. 0.1)")
    parser.add_argument("--cycles", type=int, default=None, help="interleaved cycles (default: one per switch)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--attribute", type=int, default=0, metavar="ROUNDS",
                        help="instead of the soak: ROUNDS rounds of each kind of action alone after the warm-up, "
                             "with the DOM nodes and JS heap after each (which action the page's growth follows)")
    parser.add_argument("--warmup-releases", type=int, default=100, help="slider releases in the warm-up")
    parser.add_argument("--warmup-models", type=int, default=0, help="models chosen once in the warm-up (0: all)")
    add_smoke_option(parser)
    args = apply_smoke(parser.parse_args(), releases=1, frames=10, uploads=1, switches=1, scale=1.0,
                       warmup_releases=0, warmup_models=2)

    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    assets = cached_assets()
    port, cache = free_port(), tmp / "cache"
    env = dict(os.environ, VAE_EXPLORER_CACHE=str(cache), VAE_EXPLORER_LIVE="on")
    os.sched_setaffinity(0, {0})  # the server on core 0 (taskset -c 0), this driver and Chromium on core 1
    try:
        proc = spawn_streamlit(ROOT / "app.py", port, tmp / "streamlit.log", env=env, site=assets)
    finally:
        os.sched_setaffinity(0, {1})
    try:
        report = asyncio.run(soak(f"http://127.0.0.1:{port}", proc.pid, cache, args,
                                  ready=lambda: wait_healthy(proc, port, tmp / "streamlit.log")))
    finally:
        stop(proc)
    if args.attribute:
        for kind, row in report["attribution"].items():
            print(f"{kind:14} {row['nodes_per_round']:+8.1f} DOM nodes / round {row['kb_per_round']:+8.1f} kB / round "
                  f"(nodes {row['dom_nodes'][0]} -> {row['dom_nodes'][-1]}, in the document {row['nodes_in_document'][-1]}; "
                  f"detached nodes of this project's components {row['detached_ours']})")
            for name, count in list(row["detached_grown"].items())[:5]:
                print(f"{'':16}+{count:4} detached {name}")
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
        return
    w, e = report["after_warmup"], report["end"]
    print(f"\ncounts {report['done']} (scale {report['scale']}), errors {len(report['errors'])}: {report['errors'][:3]}")
    print(f"server RSS {w['rss_mb']:.0f} -> {e['rss_mb']:.0f} MB ({report['rss_growth_pct']:+.1f} %, target < 5 %)")
    print(f"JS heap {w['js_heap']['used_mb']:.1f} -> {e['js_heap']['used_mb']:.1f} MB ({report['js_heap_growth_pct']:+.1f} %), "
          f"DOM nodes {w['js_heap']['dom_nodes']} -> {e['js_heap']['dom_nodes']}")
    print(f"disk cache {w['disk_cache_mb']:.1f} -> {e['disk_cache_mb']:.1f} MB")
    print(f"{'cache':40} {'bound':>5} {'kB warm':>9} {'kB end':>9} {'added':>6}")
    for row in report["cache_table"]:
        kb = lambda b: f"{b / 1024:9.1f}" if b is not None else f"{'-':>9}"  # noqa: E731
        print(f"{row['cache']:40} {row['bound'] or '-':>5} {kb(row['bytes_warm'])} {kb(row['bytes_end'])} "
              f"{row['misses_end'] if row['misses_end'] is not None else '-':>6}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
