// The decode loop: the latest request wins (never a queue); decode, paint, record the frame; the release.

import { drainLatest } from "../common/latest.js";
import { decode } from "../common/ort.js";
import { paintCHW } from "../common/paint.js";
import { push } from "../common/telemetry.js";
import { G, MAX_FRAMES } from "./state.js";

export function codeFor(inst, values) {
  const { start, vectors, scales } = inst.arrays;
  const code = new Float64Array(start);
  const D = code.length;
  for (let k = 0; k < values.length; k++) {
    const w = values[k] * scales[k];
    if (w === 0) continue;
    const row = vectors.subarray(k * D, (k + 1) * D);
    for (let i = 0; i < D; i++) code[i] += w * row[i];
  }
  return Float32Array.from(code);
}

export function request(inst, tEvent) {
  if (inst.pending) inst.dropped++; // a newer pointer value replaces the one that was waiting
  inst.pending = { values: inst.values.slice(), tEvent: tEvent ?? performance.now(), client: inst.client };
  inst.client = null;
  if (!inst.busy && inst.session) run(inst);
}

export function run(inst) {
  // inst.work: decodeAndPaint, or encodeAndPaint in draw mode
  return drainLatest(inst, { pending: "pending", busy: "busy" }, (req) => inst.work(inst, req), (err) => {
    showNote(inst, `In-page decoding failed: ${err?.message ?? err}`);
  });
}

export async function decodeAndPaint(inst, req) {
  const code = codeFor(inst, req.values);
  const tStart = performance.now();
  const painted = await paintCode(inst, code);
  pushFrame(inst, req, code, painted, tStart, {});
}

// decode one flat code (D,) float32 and paint it; returns {pixels (C*H*W uint8 as painted), tDecoded, tDrawn}
export async function paintCode(inst, code) {
  const { ort, session } = inst;
  const [C, H, W] = inst.data.image_shape;
  const out = await decode(ort, session, code);
  const tDecoded = performance.now();
  paintCHW(out.data, C, H, W, inst.imageData.data); // out: (1, C, H, W) float32 in [0, 1]
  inst.ctx.putImageData(inst.imageData, 0, 0);
  const tDrawn = performance.now();
  if (out.dispose) out.dispose();
  // what the canvas holds now, read back at the model's resolution, (C, H, W)
  const painted = inst.ctx.getImageData(0, 0, W, H).data;
  const plane = H * W;
  const pixels = new Uint8Array(Math.min(C, 3) * plane);
  for (let c = 0; c < Math.min(C, 3); c++) for (let p = 0; p < plane; p++) pixels[c * plane + p] = painted[4 * p + c];
  return { pixels, tDecoded, tDrawn };
}

export function pushFrame(inst, req, code, { pixels, tDecoded, tDrawn }, tStart, extra) {
  const [C, H, W] = inst.data.image_shape;
  if (inst.firstFrame === null) {
    inst.firstFrame = tDrawn;
    Object.assign(G.status[inst.id], { firstFrame: tDrawn, readinessMs: tDrawn - inst.firstRender });
  }
  push(G.frames, {
    instance: inst.id, modelKey: inst.sessionKey, mode: inst.data.mode ?? "sliders", values: req.values,
    pointer: inst.pad ? req.values : null, client: req.client ?? null, code, pixels, shape: [Math.min(C, 3), H, W],
    tEvent: req.tEvent, tStart, tDecoded, tDrawn, dragging: inst.dragging, dropped: inst.dropped, ...extra,
  }, MAX_FRAMES);
  inst.root.dataset.frames = String(Number(inst.root.dataset.frames ?? 0) + 1);
}

export function release(inst) {
  inst.dragging = false;
  inst.host?.set("released", { values: inst.values.slice(), model_key: inst.data.model_key });
}

export function showNote(inst, text) {
  inst.note.textContent = text;
  inst.note.hidden = !text;
}
