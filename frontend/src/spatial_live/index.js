// The page side of the spatial-live component: a spatial code (C x H x W) walked along channel-space directions,
// previewed in the page on every pointer event, with a region brush. Its host (hosts/streamlit.js) gives it the
// element to draw into and each new `data`; releases go back to Python by host.set("released").
//
// Three tiers, and the label under the image always names the one on the canvas (root.dataset.tier too):
//   a. "linear preview": the linear latent -> RGB map (common/linear.js) of the moved code, painted on every
//      slider `input` event and every brush stroke, at the code's resolution (H x W), upsampled by CSS.
//   b. "distilled preview": where Python names a student decoder (data.student_key; its ONNX bytes come once per
//      session as data.student_b64 and are kept in window.__spatialLive.students), a Web Worker (student_worker.js,
//      never the main thread) decodes the moved code, and its frame replaces the linear one when it is ready and
//      still the latest.
//   c. "full decode": on release the values and the region go to Python ("released", with a nonce); the server
//      decodes (a watched call, with progress and Cancel) and sends the image back as data.full with that
//      nonce, which replaces the preview unless a newer drag started since.
//
// The walk: code' = code + m * sum_k value_k * scale_k * direction_k, where direction_k is a C-vector (a
// principal direction of channel space, or one channel) and m the region (H*W in {0, 1}; no region: every cell).
//
// data: code_key, code_b64 (C*H*W float32, little-endian), shape [C, H, W], weights (C x [r, g, b]), bias,
//       directions (K x C), scales (K), labels (K), ranges (K x [lo, hi]), values (K), mask_b64 (H*W uint8, or
//       null), full ({nonce, b64: 3*H'*W' uint8, shape [3, H', W']} or null), display_size, student_key,
//       student_b64, brush (true: offer the region brush).
// window.__spatialLive is the test and benchmark hook: frames [{tier, tEvent, tDrawn, values, nonce}], status.

import { onData } from "../common/component.js";
import { canvasStack, el, mountedInstance } from "../common/dom.js";
import { bytesFromBase64, float32FromBase64, linearBase, paintLinear, rgbShift } from "../common/linear.js";
import { push } from "../common/telemetry.js";
import { streamlitComponent } from "../hosts/streamlit.js";
import { buildBrush, maskBase64, paintMaskOverlay } from "./brush.js";
import { askStudent } from "./student.js";

const MAX_FRAMES = 2000;
export const G = (window.__spatialLive ??= { frames: [], events: 0, seq: 0, status: {}, students: new Map() });

const TIER_TEXT = {
  linear: "linear preview (in the page)",
  student: "distilled preview (in a Web Worker)",
  full: "full decode (server)",
};

function mount(host) {
  const kept = mountedInstance(host, "sl-root");
  if (kept) return kept;
  const root = el("div", { class: "sl-root", "data-tier": "none" });
  const { stack, canvas, overlay } = canvasStack("sl", "spatial-live-canvas", "spatial-live-brush");
  const tier = el("div", { class: "sl-tier", "data-testid": "spatial-live-tier" }, "waiting for the code");
  const note = el("div", { class: "sl-note", "data-testid": "spatial-live-note" });
  const controls = el("div", { class: "sl-controls" });
  root.append(el("div", { class: "sl-image" }, stack, tier, note), controls);
  host.root.append(root);
  const inst = {
    id: `sl${++G.seq}`, root, canvas, overlay, tier, note, controls, host, data: null, codeKey: null,
    ctx: canvas.getContext("2d"), octx: overlay.getContext("2d"), values: [], mask: null, base: null,
    code: null, directions: null, nonce: 0, awaiting: 0, dragging: false, reported: null, student: null,
  };
  root.__inst = inst;
  return inst;
}

function setTier(inst, tier, extra = "") {
  inst.root.dataset.tier = tier;
  inst.tier.textContent = TIER_TEXT[tier] + extra;
}

// the move in channel space, sum_k value_k * scale_k * direction_k: a C-vector
export function channelMove(inst) {
  const [C] = inst.data.shape;
  const move = new Float64Array(C);
  inst.values.forEach((v, k) => {
    const w = v * inst.data.scales[k];
    if (w !== 0) for (let c = 0; c < C; c++) move[c] += w * inst.data.directions[k][c];
  });
  return move;
}

function masked(inst) {
  return inst.mask && inst.mask.some((m) => m > 0) ? inst.mask : null;
}

// tier a: paint the moved code's linear map now (synchronously: a few multiply-adds a cell)
export function paintPreview(inst, tEvent, why) {
  const [, H, W] = inst.data.shape;
  const move = channelMove(inst);
  if (inst.canvas.width !== W || inst.canvas.height !== H) {
    inst.canvas.width = W;
    inst.canvas.height = H;
    inst.image = inst.ctx.createImageData(W, H);
  }
  paintLinear(inst.base, rgbShift(move, inst.data.weights), masked(inst), H, W, inst.image.data);
  inst.ctx.putImageData(inst.image, 0, 0);
  const tDrawn = performance.now();
  setTier(inst, "linear", inst.awaiting ? "; the full decode follows the release" : "");
  push(G.frames, { instance: inst.id, tier: "linear", tEvent, tDrawn, values: inst.values.slice(), why,
                   dragging: inst.dragging }, MAX_FRAMES);
  if (inst.student) askStudent(inst, move, masked(inst), tEvent, paintStudent);
}

// tier b's answer (student.js calls this when the worker's frame is ready and still the latest)
export function paintStudent(inst, image, shape, tEvent) {
  if (inst.awaiting === -1) return; // a full decode is on the canvas and nothing moved since
  paintRGB(inst, image, shape, (v) => v);
  setTier(inst, "student");
  push(G.frames, { instance: inst.id, tier: "student", tEvent, tDrawn: performance.now(), values: inst.values.slice() },
       MAX_FRAMES);
}

function paintRGB(inst, planes, [C, H, W], toUnit) {
  inst.canvas.width = W;
  inst.canvas.height = H;
  const img = inst.ctx.createImageData(W, H);
  const plane = H * W;
  for (let p = 0; p < plane; p++) {
    for (let o = 0; o < 3; o++) {
      const v = toUnit(planes[(C >= 3 ? o : 0) * plane + p]);
      img.data[4 * p + o] = Math.round(Math.min(255, Math.max(0, v)));
    }
    img.data[4 * p + 3] = 255;
  }
  inst.ctx.putImageData(img, 0, 0);
}

// tier c: the server's decode for release `nonce`, unless the user moved on since
function paintFull(inst, full) {
  if (!full || full.nonce !== inst.awaiting) return;
  paintRGB(inst, bytesFromBase64(full.b64), full.shape, (v) => v);
  setTier(inst, "full");
  inst.awaiting = -1;
  push(G.frames, { instance: inst.id, tier: "full", tEvent: null, tDrawn: performance.now(), nonce: full.nonce,
                   values: inst.values.slice() }, MAX_FRAMES);
}

export function release(inst) {
  inst.dragging = false;
  inst.nonce = Math.max(inst.nonce, inst.data.full?.nonce ?? 0) + 1;
  inst.awaiting = inst.nonce;
  setTier(inst, "linear", "; full decode running on the server …");
  inst.host.set("released", { code_key: inst.codeKey, values: inst.values.slice(), nonce: inst.nonce,
                              mask_b64: inst.mask ? maskBase64(inst.mask) : null });
}

function fmt(v) {
  return (v >= 0 ? "+" : "") + v.toFixed(2);
}

function buildSliders(inst) {
  const d = inst.data;
  const box = el("div", { class: "sl-sliders" });
  d.labels.forEach((label, k) => {
    const [lo, hi] = d.ranges[k];
    const input = el("input", { type: "range", min: String(lo), max: String(hi), step: String((hi - lo) / 1000),
                                "data-axis": String(k), "aria-label": label });
    input.value = String(inst.values[k]);
    const out = el("output", {}, fmt(inst.values[k]));
    input.addEventListener("pointerdown", () => { inst.dragging = true; });
    input.addEventListener("input", (ev) => {
      G.events++;
      inst.values[k] = Number(input.value);
      out.textContent = fmt(inst.values[k]);
      if (inst.awaiting === -1) inst.awaiting = 0; // the full frame on the canvas is now out of date
      paintPreview(inst, ev.timeStamp, "slider");
    });
    input.addEventListener("change", () => release(inst));
    box.append(el("label", { class: "sl-row" }, el("span", { class: "sl-name" }, label), input, out));
  });
  return box;
}

function applyData(inst, d) {
  inst.data = d;
  const [C, H, W] = d.shape;
  const size = `${d.display_size}px`;
  for (const c of [inst.canvas, inst.overlay]) { c.style.width = size; c.style.height = `${Math.round(d.display_size * H / W)}px`; }
  if (inst.codeKey !== d.code_key) {
    // a new start code or new directions: its map, the values and the region come from Python
    inst.codeKey = d.code_key;
    inst.code = float32FromBase64(d.code_b64);
    if (inst.code.length !== C * H * W) throw new Error(`the code has ${inst.code.length} values, not ${C}x${H}x${W}`);
    inst.base = linearBase(inst.code, C, H, W, d.weights, d.bias);
    inst.values = d.values.slice();
    inst.mask = d.mask_b64 ? Float32Array.from(bytesFromBase64(d.mask_b64)) : new Float32Array(H * W);
    inst.awaiting = d.full ? d.full.nonce : 0;
    inst.controls.replaceChildren(buildSliders(inst));
    if (d.brush) inst.controls.append(buildBrush(inst, { paintPreview, release, G }));
    paintMaskOverlay(inst);
    paintPreview(inst, performance.now(), "start");
  }
  if (d.student_key && d.student_b64 && !G.students.has(d.student_key)) G.students.set(d.student_key, bytesFromBase64(d.student_b64));
  const studentBytes = d.student_key ? G.students.get(d.student_key) : null;
  if (studentBytes && !inst.studentError && inst.student?.key !== d.student_key) {
    inst.student = { key: d.student_key, bytes: studentBytes };
  }
  if (!studentBytes) inst.student = null;
  inst.note.textContent = [d.note ?? "", inst.studentError ?? ""].filter(Boolean).join(" ");
  paintFull(inst, d.full);
  G.status[inst.id] = { codeKey: inst.codeKey, tier: inst.root.dataset.tier, student: Boolean(inst.student) };
  const status = { path: "live", code_key: inst.codeKey };
  if (d.student_key && !studentBytes) status.student_missing = d.student_key; // Python sends the bytes again
  const sig = JSON.stringify(status);
  if (inst.reported !== sig) { inst.reported = sig; inst.host.set("status", status); }
}

function setup(host) {
  const inst = mount(host);
  onData(host, (d) => applyData(inst, d), (message) => {
    inst.note.textContent = `The in-page preview failed: ${message}`;
    host.set("status", { path: "fallback", reason: message });
  });
}

export default streamlitComponent(setup);
