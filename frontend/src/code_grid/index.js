// The page side of the code-grid editor (the codebook panel of a discrete model): an image's grid of code indices
// drawn over its decode; a click on a cell sets it to the picked code, and the page decodes the edited grid itself,
// in a Web Worker (decode_worker.js: onnxruntime-web on the exported decode from indices,
// explorer.onnx.discrete.IndexImageGraph), and paints it. Latest wins: while the worker decodes, only the newest grid
// waits. The edited grid goes back to Python (host.set("edited"), a quarter second after the last click), so that
// the server side (the link, the download, the neighbours walk) follows.
//
// data: grid_key (the start grid: a new key resets the edits), model_key, decoder_b64 (the ONNX bytes, sent once per
//       model and session and kept in window.__codeGrid.decoders; a page without them asks with status.need),
//       levels [{name, grid: [h, w], stride, codebook_size}], active (the level edited), base (N ints: every level's
//       grid flattened, levels in order), code (the code a click paints, from the panel), image_b64 and image_shape
//       ([3, H, W] uint8 planes: the item itself, shown beside), display_size, caption, hidden (load out of sight),
//       decode_in ("worker", the default, or "main": onnxruntime-web's async run on the page's thread).
// window.__codeGrid is the test and benchmark hook: frames [{instance, seq, cell, code, tEvent (the pointerdown's
// timeStamp), tHandled (its handler ran), tDrawn, tPainted, workerMs}], instances (id -> instance: its indices and
// canvases), status.

import { onData } from "../common/component.js";
import { canvasStack, el, mountedInstance } from "../common/dom.js";
import { bytesFromBase64 } from "../common/linear.js";
import { decodeIndices, loadOrt, sessionFor } from "../common/ort.js";
import { rgbPlanes } from "../common/paint.js";
import { push, report } from "../common/telemetry.js";
import { streamlitComponent } from "../hosts/streamlit.js";
import { cellAt, drawGrid, levelOffset } from "./grid.js";

const MAX_FRAMES = 2000;
const REPORT_DELAY_MS = 250; // clicks in a burst go back to Python once, after the last
const WORKER_URL = new URL("./code_grid_worker.js", import.meta.url); // built beside the bundle (build.mjs)
export const G = (window.__codeGrid ??= { frames: [], instances: {}, decoders: new Map(), sessions: new Map(), seq: 0,
                                           status: {} });

function mount(host) {
  const kept = mountedInstance(host, "cg-root");
  if (kept) return kept;
  const root = el("div", { class: "cg-root", "data-path": "pending" });
  const item = el("canvas", { class: "cg-canvas", "data-testid": "code-grid-item" });
  const { stack, canvas, overlay } = canvasStack("cg", "code-grid-decode", "code-grid-cells");
  const caption = el("div", { class: "cg-caption", "data-testid": "code-grid-caption" });
  const status = el("div", { class: "cg-status", "data-testid": "code-grid-status" }, "Loading the in-page decoder…");
  const picker = el("input", { type: "number", min: "0", step: "1", "data-testid": "code-grid-code" });
  const reset = el("button", { class: "cg-button", type: "button" }, "Back to the start grid");
  const pickLabel = el("span", {}, "Code a click paints");
  root.append(
    el("div", { class: "cg-figure" }, item, el("div", { class: "cg-caption" }, "the item")),
    el("div", { class: "cg-figure" }, stack, caption),
    el("div", { class: "cg-controls" }, el("label", {}, pickLabel, picker), reset, status),
  );
  host.root.append(root);
  const inst = {
    id: `cg${++G.seq}`, root, host, item, canvas, overlay, caption, status, picker, pickLabel, reset,
    ctx: canvas.getContext("2d"), octx: overlay.getContext("2d"), data: null, gridKey: null, modelKey: null,
    indices: null, changed: new Set(), mark: null, worker: null, busy: false, pending: null, askSeq: 0, shown: 0,
    reported: null, lastCode: null, nonce: 0, timer: null, failed: null,
  };
  root.__inst = inst;
  G.instances[inst.id] = inst;
  overlay.addEventListener("pointerdown", (ev) => click(inst, ev));
  reset.addEventListener("click", () => { startGrid(inst); schedule(inst); });
  return inst;
}

function level(inst) {
  return inst.data.levels[inst.data.active];
}

function scale(inst) {
  return inst.data.display_size / inst.data.image_shape[2];
}

function drawOverlay(inst) {
  const lv = level(inst);
  const off = levelOffset(inst.data.levels, inst.data.active);
  const codes = Array.from(inst.indices.subarray(off, off + lv.grid[0] * lv.grid[1]), Number);
  drawGrid(inst.octx, lv, scale(inst), codes, inst.changed, inst.mark);
}

// a click: the cell under the pointer takes the picked code, and its grid is decoded (no decode for no change)
function click(inst, ev) {
  if (!inst.indices) return;
  const lv = level(inst);
  const cell = cellAt(lv, scale(inst), ev.offsetX, ev.offsetY);
  const code = Number(inst.picker.value);
  if (!cell || !Number.isInteger(code) || code < 0 || code >= lv.codebook_size) return;
  const [h, w] = lv.grid;
  const flat = cell[0] * w + cell[1];
  const at = levelOffset(inst.data.levels, inst.data.active) + flat;
  inst.mark = cell;
  inst.indices[at] = BigInt(code);
  inst.changed.add(flat);
  drawOverlay(inst);
  ask(inst, ev.timeStamp, { cell, code, tHandled: performance.now() });
  schedule(inst);
}

// -- the decode in the worker, latest wins ---------------------------------------------------------------
function workerFor(inst) {
  if (inst.worker) return inst.worker;
  const worker = new Worker(WORKER_URL, { type: "module" });
  worker.onerror = (ev) => fail(inst, `the decode worker failed to start (${ev.message ?? "no message"})`);
  worker.onmessage = (msg) => answer(inst, msg.data);
  inst.worker = worker;
  inst.loaded = new Set();
  return worker;
}

function ask(inst, tEvent, what) {
  const bytes = G.decoders.get(inst.modelKey);
  if (!bytes || inst.failed) return;
  if (inst.data.decode_in === "main") { askMain(inst, tEvent, what, bytes); return; }
  const worker = workerFor(inst);
  if (!inst.loaded.has(inst.modelKey)) {
    worker.postMessage({ load: { key: inst.modelKey, bytes: bytes.slice() } }); // a copy: the page keeps its own
    inst.loaded.add(inst.modelKey);
  }
  inst.askSeq += 1;
  inst.pending = { key: inst.modelKey, indices: inst.indices.slice(), seq: inst.askSeq, tEvent, ...what };
  if (!inst.busy) post(inst);
}

// data.decode_in === "main": onnxruntime-web's async run on this thread (as the live walk decodes), for decoders
// whose run takes a millisecond or two: no hop to a worker and back, which a loaded machine makes wait for a core
async function askMain(inst, tEvent, what, bytes) {
  inst.askSeq += 1;
  inst.pending = { key: inst.modelKey, indices: inst.indices.slice(), seq: inst.askSeq, tEvent, ...what };
  if (inst.busy) return;
  inst.busy = true;
  try {
    const ort = await loadOrt();
    const session = await sessionFor(G.sessions, ort, inst.modelKey, bytes);
    while (inst.pending) {
      const req = inst.pending;
      inst.pending = null;
      const t0 = performance.now();
      const out = await decodeIndices(ort, session, req.indices);
      const ms = performance.now() - t0;
      const { image, shape } = rgbPlanes(out);
      inst.inFlight = req;
      answer(inst, { seq: req.seq, image, shape, ms }, false);
    }
  } catch (err) {
    fail(inst, `the in-page decode failed (${err?.message ?? err})`);
  } finally {
    inst.busy = false;
  }
}

function post(inst) {
  const req = inst.pending;
  inst.pending = null;
  inst.busy = true;
  inst.inFlight = req;
  inst.worker.postMessage({ key: req.key, indices: req.indices, seq: req.seq }, [req.indices.buffer]);
}

function answer(inst, m, fromWorker = true) {
  const req = inst.inFlight;
  if (fromWorker) inst.busy = false;
  if (m.error) {
    fail(inst, `the in-page decode failed (${m.error})`);
    return;
  }
  if (m.seq > inst.shown) {
    inst.shown = m.seq;
    paint(inst, m.image, m.shape);
    const tDrawn = performance.now();
    const frame = { instance: inst.id, seq: m.seq, cell: req?.cell ?? null, code: req?.code ?? null,
                    tEvent: req?.tEvent ?? null, tHandled: req?.tHandled ?? null, tDrawn, tPainted: null,
                    workerMs: m.ms };
    requestAnimationFrame(() => { frame.tPainted = performance.now(); }); // the frame the browser paints next
    push(G.frames, frame, MAX_FRAMES);
    if (inst.root.dataset.path !== "wasm") {
      inst.status.textContent = "Decoding in your browser (onnxruntime-web, "
        + (inst.data.decode_in === "main" ? "async on the page's thread)" : "in a Web Worker)");
      report(inst, { path: "wasm", model_key: inst.modelKey });
    }
  }
  if (fromWorker && inst.pending) post(inst);
}

function paint(inst, planes, [, H, W]) {
  if (inst.canvas.width !== W || inst.canvas.height !== H) {
    inst.canvas.width = W;
    inst.canvas.height = H;
    inst.image = inst.ctx.createImageData(W, H);
  }
  const rgba = inst.image.data;
  const plane = H * W;
  for (let p = 0; p < plane; p++) {
    rgba[4 * p] = planes[p];
    rgba[4 * p + 1] = planes[plane + p];
    rgba[4 * p + 2] = planes[2 * plane + p];
    rgba[4 * p + 3] = 255;
  }
  inst.ctx.putImageData(inst.image, 0, 0);
}

function fail(inst, reason) {
  inst.failed = reason;
  inst.status.textContent = `The in-page decode is off: ${reason}. The server decodes instead.`;
  report(inst, { path: "fallback", reason });
}

// -- the edited grid back to Python -------------------------------------------------------------------------
function schedule(inst) {
  clearTimeout(inst.timer);
  inst.timer = setTimeout(() => {
    inst.nonce += 1;
    const grids = [];
    let start = 0;
    for (const lv of inst.data.levels) {
      const n = lv.grid[0] * lv.grid[1];
      grids.push(Array.from(inst.indices.subarray(start, start + n), Number));
      start += n;
    }
    inst.host.set("edited", { grid_key: inst.gridKey, grids, level: inst.data.active, cell: inst.mark,
                              code: Number(inst.picker.value), nonce: inst.nonce });
  }, REPORT_DELAY_MS);
}

// -- data from Python ---------------------------------------------------------------------------------------
function startGrid(inst) {
  inst.indices = BigInt64Array.from(inst.data.base, (v) => BigInt(v));
  inst.changed = new Set();
  inst.mark = null;
  drawOverlay(inst);
  ask(inst, null, { cell: null, code: null });
}

function applyData(inst, d) {
  inst.data = d;
  inst.root.style.display = d.hidden ? "none" : "";
  const [, H, W] = d.image_shape;
  const lv = d.levels[d.active];
  const side = `${d.display_size}px`;
  const tall = `${Math.round((d.display_size * H) / W)}px`;
  for (const c of [inst.item, inst.canvas]) { c.style.width = side; c.style.height = tall; }
  inst.overlay.width = d.display_size;
  inst.overlay.height = Math.round((d.display_size * H) / W);
  inst.picker.max = String(lv.codebook_size - 1);
  inst.pickLabel.textContent = `Code a click paints (0 to ${lv.codebook_size - 1})`;
  if (d.code !== inst.lastCode) { inst.lastCode = d.code; inst.picker.value = String(d.code); } // the panel's pick
  inst.caption.textContent = d.caption ?? "";
  if (d.image_b64) {
    const planes = bytesFromBase64(d.image_b64);
    const ictx = inst.item.getContext("2d");
    inst.item.width = W;
    inst.item.height = H;
    const img = ictx.createImageData(W, H);
    for (let p = 0; p < H * W; p++) {
      for (let o = 0; o < 3; o++) img.data[4 * p + o] = planes[o * H * W + p];
      img.data[4 * p + 3] = 255;
    }
    ictx.putImageData(img, 0, 0);
  }
  if (d.decoder_b64 && !G.decoders.has(d.model_key)) G.decoders.set(d.model_key, bytesFromBase64(d.decoder_b64));
  inst.modelKey = d.model_key;
  if (!G.decoders.has(d.model_key)) { // a reloaded page lost them: Python sends them again
    report(inst, { path: "pending", need: d.model_key });
    return;
  }
  if (typeof WebAssembly !== "object" || typeof Worker !== "function") {
    fail(inst, "this browser has no WebAssembly or no Web Workers");
    return;
  }
  if (inst.gridKey !== d.grid_key) {
    inst.gridKey = d.grid_key;
    startGrid(inst);
  } else {
    drawOverlay(inst);
  }
  G.status[inst.id] = { gridKey: inst.gridKey, modelKey: inst.modelKey, path: inst.root.dataset.path };
}

function setup(host) {
  const inst = mount(host);
  onData(host, (d) => applyData(inst, d), (message) => fail(inst, message));
}

export default streamlitComponent(setup);
