// The page side of the live-latent component (Streamlit components v2: no iframe, this module's default export
// is called with { data, parentElement, setStateValue, ... } on every mount and every change of `data`).
//
// K range inputs and one canvas. On every `input` event (every pointer move while dragging) the code
//     code = start + sum_k value_k * scale_k * vector_k
// is built here and decoded here by onnxruntime-web (wasm backend, one thread: no SharedArrayBuffer without
// COOP/COEP), and painted at the model's resolution on a canvas that CSS upscales nearest-neighbour. The latest
// pointer value wins: while a decode runs only the newest request is remembered, and it runs when that decode
// ends (never a queue). On release (`change`) the values go back to Python with setStateValue("released").
//
// The decoder's bytes come once per model (base64 in `data` on the first render of that model in a session,
// or a same-origin URL fetched once) and are kept with their session in window.__liveLatent, so later
// reruns send none. Without WebAssembly, or when the session cannot be made, the component says so and
// reports status {path: "fallback", reason} so that the page can decode on the server.
//
// Pad mode (data.mode === "pad", two axes): instead of sliders, a square canvas over the plane of the two axes
// (data.ranges: [[xlo, xhi], [ylo, yhi]], y up). Hovering or dragging over it decodes the spot under the pointer
// (values = [x, y], the same latest-value-wins loop); leaving it without a drag goes back to the last point; on
// release (pointerup after a press) the point goes back to Python as "released". Optional background dots: an
// (N, 2) Float32Array as base64 (data.dots_b64), sent once per data.dots_key and kept in window.__liveLatent.
//
// Draw mode (data.mode === "draw", grey-scale models): a drawing canvas (pointer events: mouse, pen, touch; white
// ink on black, data.draw_size px square, no device-pixel scaling so the raster is the same on every screen).
// While drawing, every stroke event (the same latest-value-wins loop) reads the raster, prepares it as the server
// does (prepare_digit.js, the twin of explorer.images.prepare_digit), encodes it with the exported encoder
// (its bytes come like the decoder's: data.encoder_b64 / encoder_url, kept under "<model_key>#encoder"), decodes
// the code, paints the reconstruction and moves a marker on a small PCA map of the test codes
// ((code - data.pca_mean) . data.pca_components, over the dots of data.dots_b64). On release the raster
// (uint8, base64) goes back to Python as "released", which prepares it again, on the server, and scores it.
// A blank drawing paints nothing and says so. window.__liveLatent.draw[instance] holds the last raster and its
// prepared input; window.__liveLatent.prepareDigit is the twin itself (for the tests).
//
// window.__liveLatent is also the test and benchmark hook: frames [{modelKey, code, pixels (C*H*W uint8
// as painted), tEvent, tDrawn, ...}], per-instance status and timings.

import { prepareDigit } from "./prepare_digit.js";

const ASSETS = new URL("./", import.meta.url).href;
const MAX_FRAMES = 400;

const G = (window.__liveLatent ??= {
  frames: [],            // the last MAX_FRAMES painted frames, all instances
  decoders: new Map(),   // model_key -> Uint8Array (the ONNX file)
  dots: new Map(),       // dots_key -> Float32Array (N*2: x0, y0, x1, y1, ...), the pad's background points
  sessions: new Map(),   // model_key -> Promise<InferenceSession>
  status: {},            // instance key -> {path, reason, modelKey, ...}
  received: [],          // {modelKey, bytes, how} each time decoder bytes reached the page
  ortVersion: null,
  events: 0,             // slider input events seen (each pointer move while dragging is one)
  seq: 0,
  draw: {},              // instance key -> {raster (side*side uint8), side, prepared (H*W float32), blank}
  strokeEvents: [],      // event.timeStamp of the last stroke events (pointer down / move while drawing)
});
G.prepareDigit ??= prepareDigit;

let ortPromise = null;

// A release anywhere ends every drag. One listener for the page, holding no instance: a listener per mount kept
// each unmounted instance (its canvas and sliders) alive for the page's life (bench/bench_soak.py: the DOM node
// count grew by ~400 a model switch while the document's own elements stayed at ~640).
// Instances are in G.mounted while rendered (mount() adds them on every render); a release drops the ones no
// longer in the document.
G.mounted ??= new Set();
if (!G.releaseListener) {
  G.releaseListener = true;
  window.addEventListener("pointerup", () => {
    for (const inst of G.mounted) {
      inst.dragging = false;
      if (!inst.root.isConnected) G.mounted.delete(inst);
    }
  });
}

function loadOrt() {
  ortPromise ??= (async () => {
    if (typeof WebAssembly !== "object" || WebAssembly === null || typeof WebAssembly.instantiate !== "function") {
      throw new Error("WebAssembly is not available in this browser");
    }
    const ort = await import("./ort.wasm.bundle.min.mjs");
    ort.env.wasm.numThreads = 1; // no SharedArrayBuffer: the app sends no COOP/COEP headers
    ort.env.wasm.proxy = false;
    // the .wasm beside this file, served by the app itself (never a CDN). Only the .wasm is named: a string prefix
  // would make ort fetch its Emscripten glue as a separate .mjs too, which the bundled module already holds.
  ort.env.wasm.wasmPaths = { wasm: new URL("./ort-wasm-simd-threaded.wasm", ASSETS).href };
    ort.env.logLevel = "error";
    G.ortVersion = ort.env.versions?.web ?? null;
    return ort;
  })();
  return ortPromise;
}

function base64Floats(text) {
  const bytes = base64Bytes(text);
  return new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
}

function base64Bytes(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function partBytes(key, b64, url) {
  if (b64) {
    if (!G.decoders.has(key)) {
      const bytes = base64Bytes(b64);
      G.decoders.set(key, bytes);
      G.received.push({ modelKey: key, bytes: bytes.length, how: "data" });
    }
  } else if (url && !G.decoders.has(key)) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    G.decoders.set(key, bytes);
    G.received.push({ modelKey: key, bytes: bytes.length, how: "url" });
  }
  return G.decoders.get(key) ?? null;
}

function decoderBytes(data) {
  return partBytes(data.model_key, data.decoder_b64, data.decoder_url);
}

function encoderBytes(data) {
  return partBytes(`${data.model_key}#encoder`, data.encoder_b64, data.encoder_url);
}

function sessionFor(ort, key, bytes) {
  if (!G.sessions.has(key)) {
    const made = ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    made.catch(() => G.sessions.delete(key)); // a failed session may be retried on a later render
    G.sessions.set(key, made);
  }
  return G.sessions.get(key);
}

// -- DOM -------------------------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function fmt(v) {
  return (v >= 0 ? "+" : "") + v.toFixed(2);
}

function buildSliders(inst) {
  const d = inst.data;
  inst.sliderBox.replaceChildren();
  inst.inputs = [];
  inst.outputs = [];
  d.labels.forEach((label, k) => {
    const [lo, hi] = d.ranges[k];
    const input = el("input", {
      type: "range", min: String(lo), max: String(hi), step: String((hi - lo) / 2000),
      "data-axis": String(k), "aria-label": label,
    });
    input.value = String(inst.values[k]);
    const out = el("output", {}, fmt(inst.values[k]));
    input.addEventListener("input", (ev) => {
      G.events++;
      inst.values[k] = Number(input.value);
      out.textContent = fmt(inst.values[k]);
      request(inst, ev.timeStamp);
    });
    input.addEventListener("change", () => release(inst));
    input.addEventListener("pointerdown", () => { inst.dragging = true; });
    inst.inputs.push(input);
    inst.outputs.push(out);
    inst.sliderBox.append(el("label", { class: "ll-row" }, el("span", { class: "ll-name" }, label), input, out));
  });
}

// -- the 2-D pad ------------------------------------------------------------------------------------
function buildPad(inst) {
  const d = inst.data;
  inst.sliderBox.replaceChildren();
  inst.inputs = [];
  inst.outputs = [];
  const size = d.pad_size;
  const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const pad = el("canvas", { class: "ll-pad", "data-testid": "live-latent-pad", "aria-label": `${d.labels[0]} / ${d.labels[1]} pad` });
  pad.width = Math.round(size * ratio);
  pad.height = Math.round(size * ratio);
  pad.style.width = `${size}px`;
  pad.style.height = `${size}px`;
  const readout = el("output", { class: "ll-readout", "data-testid": "live-latent-readout" });
  inst.pad = pad;
  inst.padCtx = pad.getContext("2d");
  inst.readout = readout;
  inst.padBackground = null;
  const at = (ev) => {
    const box = pad.getBoundingClientRect();
    const [[xlo, xhi], [ylo, yhi]] = inst.data.ranges;
    const fx = Math.min(1, Math.max(0, (ev.clientX - box.left) / box.width));
    const fy = Math.min(1, Math.max(0, (ev.clientY - box.top) / box.height));
    return [xlo + fx * (xhi - xlo), yhi - fy * (yhi - ylo)];
  };
  const move = (ev) => {
    G.events++;
    inst.values = at(ev);
    inst.client = [ev.clientX, ev.clientY];
    drawPad(inst);
    request(inst, ev.timeStamp);
  };
  pad.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    pad.setPointerCapture?.(ev.pointerId);
    inst.dragging = true;
    move(ev);
  });
  pad.addEventListener("pointermove", (ev) => {
    if (inst.dragging || ev.pointerType === "mouse") move(ev); // a mouse hovering decodes too
  });
  const up = () => {
    if (!inst.dragging) return;
    inst.dragging = false;
    inst.committed = inst.values.slice();
    release(inst);
  };
  pad.addEventListener("pointerup", up);
  pad.addEventListener("pointercancel", up);
  pad.addEventListener("pointerleave", () => {
    if (inst.dragging) return;
    inst.values = inst.committed.slice(); // a hover that ends goes back to the last released point
    drawPad(inst);
    request(inst, performance.now());
  });
  inst.sliderBox.append(pad, readout);
  drawPad(inst);
}

function padDots(inst) {
  const key = inst.data.dots_key;
  if (!key) return null;
  if (inst.data.dots_b64 && !G.dots.has(key)) G.dots.set(key, base64Floats(inst.data.dots_b64));
  return G.dots.get(key) ?? null;
}

// the plane's background (light fill, the axes through 0, the dots), drawn once per signature and then copied
function planeBackground(inst, W, H) {
  const [[xlo, xhi], [ylo, yhi]] = inst.data.ranges;
  const px = (x) => ((x - xlo) / (xhi - xlo)) * W;
  const py = (y) => ((yhi - y) / (yhi - ylo)) * H;
  const sig = JSON.stringify([inst.data.dots_key, inst.data.ranges, W, H, G.dots.has(inst.data.dots_key)]);
  if (inst.padBackground?.sig !== sig) {
    const bg = document.createElement("canvas");
    bg.width = W;
    bg.height = H;
    const b = bg.getContext("2d");
    b.fillStyle = "#fafafa";
    b.fillRect(0, 0, W, H);
    b.strokeStyle = "#bbb";
    b.lineWidth = 1;
    if (xlo < 0 && xhi > 0) { b.beginPath(); b.moveTo(px(0), 0); b.lineTo(px(0), H); b.stroke(); }
    if (ylo < 0 && yhi > 0) { b.beginPath(); b.moveTo(0, py(0)); b.lineTo(W, py(0)); b.stroke(); }
    const dots = padDots(inst);
    if (dots) {
      b.fillStyle = "rgba(31, 119, 180, 0.55)";
      const r = Math.max(1.5, W / 180);
      for (let i = 0; i + 1 < dots.length; i += 2) b.fillRect(px(dots[i]) - r / 2, py(dots[i + 1]) - r / 2, r, r);
    }
    inst.padBackground = { sig, canvas: bg, dots: dots ? dots.length / 2 : 0 };
  }
  return { canvas: inst.padBackground.canvas, px, py };
}

function crosshair(ctx, W, cx, cy) {
  ctx.strokeStyle = "#d62728";
  ctx.lineWidth = Math.max(1.5, W / 200);
  ctx.beginPath();
  ctx.arc(cx, cy, W / 40, 0, 2 * Math.PI);
  ctx.moveTo(cx - W / 25, cy); ctx.lineTo(cx + W / 25, cy);
  ctx.moveTo(cx, cy - W / 25); ctx.lineTo(cx, cy + W / 25);
  ctx.stroke();
}

function drawPad(inst) {
  const { pad, padCtx: ctx } = inst;
  if (!pad) return;
  const W = pad.width, H = pad.height;
  const { canvas, px, py } = planeBackground(inst, W, H);
  ctx.drawImage(canvas, 0, 0);
  const [x, y] = inst.values;
  crosshair(ctx, W, px(x), py(y));
  inst.readout.textContent = `${inst.data.labels[0]} ${fmt(x)}, ${inst.data.labels[1]} ${fmt(y)}`;
}

// -- draw to encode -----------------------------------------------------------------------------------
function buildDraw(inst) {
  const d = inst.data;
  inst.sliderBox.replaceChildren();
  inst.inputs = [];
  inst.outputs = [];
  const side = d.draw_size;
  const board = el("canvas", { class: "ll-draw", "data-testid": "live-latent-draw", "aria-label": "drawing canvas" });
  board.width = side; // one canvas pixel per CSS pixel on every screen: the raster does not depend on the device
  board.height = side;
  board.style.width = `${side}px`;
  board.style.height = `${side}px`;
  const ctx = board.getContext("2d", { willReadFrequently: true });
  const clear = el("button", { type: "button", class: "ll-clear", "data-testid": "live-latent-clear" }, "Clear");
  const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const map = el("canvas", { class: "ll-map", "data-testid": "live-latent-map", "aria-label": "PCA map of the test codes" });
  map.width = Math.round(d.map_size * ratio);
  map.height = Math.round(d.map_size * ratio);
  map.style.width = `${d.map_size}px`;
  map.style.height = `${d.map_size}px`;
  const readout = el("output", { class: "ll-readout", "data-testid": "live-latent-readout" });
  Object.assign(inst, { board, boardCtx: ctx, map, mapCtx: map.getContext("2d"), readout, padBackground: null,
                        mapPoint: null, strokes: 0, lastPoint: null });
  wipe(inst);
  const at = (ev) => {
    const box = board.getBoundingClientRect();
    return [((ev.clientX - box.left) * side) / box.width, ((ev.clientY - box.top) * side) / box.height];
  };
  const ink = (from, to) => {
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = inst.data.brush;
    ctx.beginPath();
    if (from[0] === to[0] && from[1] === to[1]) { // a dot
      ctx.arc(to[0], to[1], inst.data.brush / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.moveTo(from[0], from[1]);
      ctx.lineTo(to[0], to[1]);
      ctx.stroke();
    }
  };
  board.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    ev.preventDefault();
    board.setPointerCapture?.(ev.pointerId);
    inst.dragging = true;
    inst.strokes++;
    G.events++;
    inst.lastPoint = at(ev);
    ink(inst.lastPoint, inst.lastPoint);
    strokeEvent(ev);
    request(inst, ev.timeStamp);
  });
  board.addEventListener("pointermove", (ev) => {
    if (!inst.dragging) return;
    G.events++;
    // every point the browser merged into this event (a fast pen stroke), so the line follows the pointer
    const points = ev.getCoalescedEvents?.() ?? [];
    for (const e of points.length ? points : [ev]) {
      const p = at(e);
      ink(inst.lastPoint, p);
      inst.lastPoint = p;
    }
    strokeEvent(ev);
    request(inst, ev.timeStamp);
  });
  const up = () => {
    if (!inst.dragging) return;
    inst.dragging = false;
    inst.lastPoint = null;
    releaseDrawing(inst);
  };
  board.addEventListener("pointerup", up);
  board.addEventListener("pointercancel", up);
  clear.addEventListener("click", () => {
    wipe(inst);
    inst.strokes = 0;
    request(inst, performance.now());
    releaseDrawing(inst);
  });
  inst.sliderBox.append(el("div", { class: "ll-drawbox" }, board, clear), el("div", { class: "ll-mapbox" }, map, readout));
  drawMap(inst);
}

function strokeEvent(ev) {
  G.strokeEvents.push(ev.timeStamp);
  if (G.strokeEvents.length > 4 * MAX_FRAMES) G.strokeEvents.splice(0, G.strokeEvents.length - 4 * MAX_FRAMES);
}

function wipe(inst) {
  inst.boardCtx.fillStyle = "#000";
  inst.boardCtx.fillRect(0, 0, inst.board.width, inst.board.height);
}

// the board's ink (side*side uint8, the red channel of white-on-black strokes)
function boardRaster(inst) {
  const side = inst.board.width;
  const rgba = inst.boardCtx.getImageData(0, 0, side, side).data;
  const raster = new Uint8Array(side * side);
  for (let p = 0; p < raster.length; p++) raster[p] = rgba[4 * p];
  return raster;
}

function drawMap(inst) {
  const { map, mapCtx: ctx } = inst;
  if (!map) return;
  const W = map.width, H = map.height;
  const { canvas, px, py } = planeBackground(inst, W, H);
  ctx.drawImage(canvas, 0, 0);
  if (inst.mapPoint) {
    const [x, y] = inst.mapPoint;
    crosshair(ctx, W, px(x), py(y));
    inst.readout.textContent = `your drawing on the PCA map: (${fmt(x)}, ${fmt(y)})`;
  } else {
    inst.readout.textContent = "Draw a digit: its code is marked on the PCA map of the test codes.";
  }
}

function project(inst, code) {
  const mean = inst.data.pca_mean, comps = inst.data.pca_components;
  return comps.map((c) => { let s = 0; for (let i = 0; i < code.length; i++) s += (code[i] - mean[i]) * c[i]; return s; });
}

function releaseDrawing(inst) {
  const raster = boardRaster(inst);
  let text = "";
  for (let i = 0; i < raster.length; i += 8192) text += String.fromCharCode(...raster.subarray(i, i + 8192));
  inst.api?.setStateValue("released", { model_key: inst.data.model_key, side: inst.board.width,
                                        raster_b64: btoa(text), strokes: inst.strokes, nonce: Date.now() });
}

async function encodeAndPaint(inst, req) {
  const [C, H, W] = inst.data.image_shape;
  const side = inst.board.width;
  const tStart = performance.now();
  const raster = boardRaster(inst);
  const ink = new Float32Array(raster.length);
  for (let p = 0; p < raster.length; p++) ink[p] = raster[p] / 255;
  const prepared = prepareDigit(ink, side, side, H, W);
  const tPrepared = performance.now();
  const blank = !prepared.some((v) => v > 0);
  G.draw[inst.id] = { raster, side, prepared, blank, tEvent: req.tEvent };
  if (blank) {
    inst.mapPoint = null;
    drawMap(inst);
    showNote(inst, inst.strokes ? "The drawing has no ink to encode." : "");
    return;
  }
  showNote(inst, "");
  const { ort } = inst;
  const enc = inst.encoder;
  const encoded = await enc.run({ [enc.inputNames[0]]: new ort.Tensor("float32", prepared, [1, C, H, W]) });
  const codeTensor = encoded[enc.outputNames[0]];
  const code = Float32Array.from(codeTensor.data); // (1, D): the posterior mean (the code pages show)
  codeTensor.dispose?.();
  const tEncoded = performance.now();
  const painted = await paintCode(inst, code);
  inst.mapPoint = project(inst, code);
  drawMap(inst);
  pushFrame(inst, req, code, painted, tStart, { prepared, map: inst.mapPoint.slice(), strokes: inst.strokes,
                                                   tPrepared, tEncoded });
}

function mount(parentElement) {
  // parentElement is a ShadowRoot (isolate_styles), where `:scope >` matches nothing: look at the children
  let root = Array.from(parentElement.children).find((node) => node.classList?.contains("ll-root"));
  if (root && root.__inst) { G.mounted.add(root.__inst); return root.__inst; }
  root = el("div", { class: "ll-root", "data-path": "pending" });
  const canvas = el("canvas", { class: "ll-canvas", "data-testid": "live-latent-canvas" });
  const note = el("div", { class: "ll-note", "data-testid": "live-latent-status" }, "Loading the in-page decoder…");
  const sliderBox = el("div", { class: "ll-sliders" });
  root.append(el("div", { class: "ll-image" }, canvas, note), sliderBox);
  parentElement.append(root);
  const inst = {
    root, canvas, note, sliderBox, ctx: canvas.getContext("2d", { willReadFrequently: true }),
    id: `ll${++G.seq}`, data: null, values: [], pending: null, busy: false, dragging: false,
    session: null, sessionKey: null, dropped: 0, firstRender: performance.now(), firstFrame: null,
    reported: null, asked: null, api: null, pad: null, client: null, committed: [],
  };
  root.__inst = inst;
  G.mounted.add(inst);
  return inst;
}

// -- decoding --------------------------------------------------------------------------------------
function codeFor(inst, values) {
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

function request(inst, tEvent) {
  if (inst.pending) inst.dropped++; // a newer pointer value replaces the one that was waiting
  inst.pending = { values: inst.values.slice(), tEvent: tEvent ?? performance.now(), client: inst.client };
  inst.client = null;
  if (!inst.busy && inst.session) run(inst);
}

async function run(inst) {
  inst.busy = true;
  try {
    while (inst.pending && inst.session) {
      const req = inst.pending;
      inst.pending = null;
      await (inst.board ? encodeAndPaint(inst, req) : decodeAndPaint(inst, req));
    }
  } catch (err) {
    showNote(inst, `In-page decoding failed: ${err?.message ?? err}`);
  } finally {
    inst.busy = false;
  }
}

async function decodeAndPaint(inst, req) {
  const code = codeFor(inst, req.values);
  const tStart = performance.now();
  const painted = await paintCode(inst, code);
  pushFrame(inst, req, code, painted, tStart, {});
}

// decode one flat code (D,) float32 and paint it; returns {pixels (C*H*W uint8 as painted), tDecoded, tDrawn}
async function paintCode(inst, code) {
  const { ort, session } = inst;
  const [C, H, W] = inst.data.image_shape;
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", code, [1, code.length]) };
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  const image = out.data; // (1, C, H, W) float32 in [0, 1]
  const tDecoded = performance.now();
  const rgba = inst.imageData.data;
  const plane = H * W;
  for (let p = 0; p < plane; p++) {
    const r = image[p];
    const g = C >= 3 ? image[plane + p] : r;
    const b = C >= 3 ? image[2 * plane + p] : r;
    rgba[4 * p] = Math.round(Math.min(1, Math.max(0, r)) * 255);
    rgba[4 * p + 1] = Math.round(Math.min(1, Math.max(0, g)) * 255);
    rgba[4 * p + 2] = Math.round(Math.min(1, Math.max(0, b)) * 255);
    rgba[4 * p + 3] = 255;
  }
  inst.ctx.putImageData(inst.imageData, 0, 0);
  const tDrawn = performance.now();
  if (out.dispose) out.dispose();
  // what the canvas holds now, read back at the model's resolution, (C, H, W)
  const painted = inst.ctx.getImageData(0, 0, W, H).data;
  const pixels = new Uint8Array(Math.min(C, 3) * plane);
  for (let c = 0; c < Math.min(C, 3); c++) for (let p = 0; p < plane; p++) pixels[c * plane + p] = painted[4 * p + c];
  return { pixels, tDecoded, tDrawn };
}

function pushFrame(inst, req, code, { pixels, tDecoded, tDrawn }, tStart, extra) {
  const [C, H, W] = inst.data.image_shape;
  if (inst.firstFrame === null) {
    inst.firstFrame = tDrawn;
    Object.assign(G.status[inst.id], { firstFrame: tDrawn, readinessMs: tDrawn - inst.firstRender });
  }
  G.frames.push({
    instance: inst.id, modelKey: inst.sessionKey, mode: inst.data.mode ?? "sliders", values: req.values,
    pointer: inst.pad ? req.values : null, client: req.client ?? null, code, pixels, shape: [Math.min(C, 3), H, W],
    tEvent: req.tEvent, tStart, tDecoded, tDrawn, dragging: inst.dragging, dropped: inst.dropped, ...extra,
  });
  if (G.frames.length > MAX_FRAMES) G.frames.splice(0, G.frames.length - MAX_FRAMES);
  inst.root.dataset.frames = String(Number(inst.root.dataset.frames ?? 0) + 1);
}

function release(inst) {
  inst.dragging = false;
  inst.api?.setStateValue("released", { values: inst.values.slice(), model_key: inst.data.model_key });
}

function showNote(inst, text) {
  inst.note.textContent = text;
  inst.note.hidden = !text;
}

function report(inst, status) {
  G.status[inst.id] = { ...(G.status[inst.id] ?? {}), ...status };
  inst.root.dataset.path = status.path;
  const sig = `${status.path}|${status.modelKey}|${status.reason ?? ""}`;
  if (inst.reported === sig) return;
  inst.reported = sig;
  inst.api?.setStateValue("status", { path: status.path, reason: status.reason ?? "", model_key: status.modelKey,
                                      ort: G.ortVersion });
}

async function prepare(inst) {
  const d = inst.data;
  const key = d.model_key;
  if (inst.sessionKey === key && (inst.session || inst.preparing === key)) return;
  inst.preparing = key;
  try {
    await prepareModel(inst, d, key);
  } finally {
    if (inst.preparing === key) inst.preparing = null;
  }
}

async function prepareModel(inst, d, key) {
  inst.session = null;
  inst.sessionKey = key;
  G.status[inst.id] = { path: "pending", modelKey: key, firstRender: inst.firstRender };
  let ort;
  try {
    ort = await loadOrt();
  } catch (err) {
    return fallback(inst, key, `${err?.message ?? err}`);
  }
  let bytes;
  try {
    bytes = await decoderBytes(d);
  } catch (err) {
    return fallback(inst, key, `the decoder could not be fetched: ${err?.message ?? err}`);
  }
  if (!bytes) { // this page lost (or never had) the bytes: ask Python to send them again
    if (inst.asked !== key) {
      inst.asked = key;
      inst.api?.setStateValue("need", { model_key: key, nonce: Date.now() });
    }
    inst.sessionKey = null;
    return;
  }
  let encBytes = null;
  if (d.mode === "draw") {
    try {
      encBytes = await encoderBytes(d);
    } catch (err) {
      return fallback(inst, key, `the encoder could not be fetched: ${err?.message ?? err}`);
    }
    if (!encBytes) { // as for the decoder: ask for both again
      if (inst.asked !== key) {
        inst.asked = key;
        inst.api?.setStateValue("need", { model_key: key, nonce: Date.now() });
      }
      inst.sessionKey = null;
      return;
    }
  }
  let session, encoder = null;
  try {
    session = await sessionFor(ort, key, bytes);
    if (encBytes) encoder = await sessionFor(ort, `${key}#encoder`, encBytes);
  } catch (err) {
    return fallback(inst, key, `the ${encBytes && session ? "encoder" : "decoder"} session could not be created: ${err?.message ?? err}`);
  }
  if (inst.data.model_key !== key) return; // another model was chosen meanwhile
  inst.canvas.hidden = false;
  inst.ort = ort;
  inst.encoder = encoder;
  inst.session = session;
  showNote(inst, "");
  report(inst, { path: "wasm", modelKey: key, sessionReady: performance.now() });
  request(inst, performance.now());
}

function fallback(inst, key, reason) {
  inst.sessionKey = null;
  showNote(inst, inst.board
    ? `Encoding in the page is not available (${reason}); the server reconstructs the drawing when you release.`
    : `Decoding in the page is not available (${reason}); the server decodes instead.`);
  inst.canvas.hidden = true;
  report(inst, { path: "fallback", modelKey: key, reason });
}

function update(inst, data) {
  const old = inst.data;
  inst.data = data;
  const [C, H, W] = data.image_shape;
  if (inst.canvas.width !== W || inst.canvas.height !== H) {
    inst.canvas.width = W;
    inst.canvas.height = H;
    inst.imageData = inst.ctx.createImageData(W, H);
  }
  const size = data.display_size;
  inst.canvas.style.width = `${size}px`;
  inst.canvas.style.height = `${Math.round((size * H) / W)}px`;
  const draw = data.mode === "draw";
  if (!draw) {
    inst.arrays = {
      start: Float64Array.from(data.start),
      vectors: Float64Array.from(data.vectors.flat()),
      scales: Float64Array.from(data.scales),
    };
  }
  const pad = data.mode === "pad";
  const structure = JSON.stringify([data.mode, data.labels, data.ranges, data.pad_size, data.draw_size, data.map_size]);
  const valuesChanged = !draw && (!old || JSON.stringify(old.values) !== JSON.stringify(data.values));
  if (valuesChanged && !inst.dragging) inst.values = data.values.slice();
  if (valuesChanged) inst.committed = data.values.slice();
  if ((pad || draw) && data.dots_key && !data.dots_b64 && !G.dots.has(data.dots_key) && inst.askedDots !== data.dots_key) {
    inst.askedDots = data.dots_key; // this page lost (or never had) the dots: ask Python to send them again
    inst.api?.setStateValue("need", { model_key: data.model_key, dots_key: data.dots_key, nonce: Date.now() });
  }
  if (!old || structure !== inst.structure) {
    inst.structure = structure;
    if (!valuesChanged && !draw) inst.values = data.values.slice();
    inst.pad = null;
    inst.board = null;
    inst.map = null;
    inst.sliderBox.classList.toggle("ll-drawing", draw);
    if (draw) buildDraw(inst); else if (pad) buildPad(inst); else buildSliders(inst);
  } else if (draw) {
    drawMap(inst);
  } else if (pad) {
    drawPad(inst);
  } else if (valuesChanged && !inst.dragging) {
    inst.inputs.forEach((input, k) => { input.value = String(inst.values[k]); inst.outputs[k].textContent = fmt(inst.values[k]); });
  }
  const codeInputs = !draw && (!old || JSON.stringify([old.start, old.vectors, old.scales]) !== JSON.stringify([data.start, data.vectors, data.scales]));
  if (inst.sessionKey !== data.model_key || !inst.session) {
    prepare(inst);
  } else if ((codeInputs || valuesChanged) && !inst.dragging) {
    request(inst, performance.now());
  }
}

export default function liveLatent({ data, parentElement, setStateValue, setTriggerValue }) {
  const inst = mount(parentElement);
  inst.api = { setStateValue, setTriggerValue };
  update(inst, data);
  // Streamlit calls the returned function before every re-invocation (each rerun), so nothing is torn down
  // here: the instance, its decoder session and the canvas live on with the element.
  return () => {};
}
