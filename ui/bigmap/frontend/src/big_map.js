// The page side of the big-map component (Streamlit components v2, no iframe; the default export is called
// with { data, parentElement, setStateValue, setTriggerValue } on every mount and every change of `data`).
//
// A hand-written density raster, not a WebGL library. Measured on the project's machine (headless Chromium,
// software WebGL / SwiftShader, 1000x700): Plotly scattergl 200k points first paint 3.7 s, zoom 0.72-0.83 s
// (1M: 13.7 s, 2.4-2.7 s); regl-scatterplot 1.16 200k: first paint 0.8 s, redraw 0.25-0.39 s; a plain-JS
// raster (bin points into canvas pixels, colour by count and label, putImageData) 29 ms median / 41 ms p95 a
// frame at 200k, 48 / 60 ms at 1M. Only the raster meets the targets (frame p95 <= 50 ms at 200k, <= 100 ms at
// 1M), and on a user's GPU machine it is just as cheap (one pass over the points in view + one putImageData),
// so it is the one loop used everywhere: the datashader approach for the overview (a pixel's colour = the
// mean colour of its points, its strength = log of its count), and dots drawn one by one once few points are
// in view.
//
// The points are sorted once into a 256x256 grid of cells (a counting sort in the page), so a frame only walks
// the cells in view, and hover / box / lasso look only at the cells they touch. Zoomed out, where a pixel holds
// many points, a frame adds pre-summed cells (levels of detail, `buildLevel`) instead of single points.
//
// Wire format (ui/components/bigmap.py `pack`): data is one Uint8Array:
//   "BMAP" | u32 LE header length | header JSON | pad to 8 | blobs (each padded to 8)
// header.blobs: name -> [offset, length, dtype]. Points (qx, qy uint16, label uint8/16, value uint8, codes
// float16) come once per data_key, the decoder once per model_key; both are kept in window.__bigMap.
//
// window.__bigMap is also the test and benchmark hook: frames [{tEvent, tStart, tDrawn, drawn, dots}], hovers
// [{tEvent, tDrawn, index, how}], selections, firstPaint per instance, received byte counts.

const ORT_DIR = new URL("../vae-live-latent.live_latent/", import.meta.url).href; // the live component's files
const Q = 65535;
const GB = 8; // grid: cell = q >> GB, 256 x 256 cells
const GN = 1 << (16 - GB);
const MAX_LOG = 300;
const DOT_LIMIT = 40000; // fewer points than this in view: draw them as dots
// Levels of detail for the density raster: cells of 2^k quantized units, k in LOD_BITS (1024^2, 2048^2 and
// 4096^2 grids), each occupied cell holding its count and colour sums. A frame whose pixel is at least a cell
// adds cells instead of points (the point moves to its cell's centre: under half a pixel). A level with more
// than LOD_KEEP * n occupied cells saves nothing and is not kept.
const LOD_BITS = [6, 5, 4];
const LOD_KEEP = 0.6;
const HOVER_PX = 10;
const PANEL = 270;

const G = (window.__bigMap ??= {
  datasets: new Map(), decoders: new Map(), sessions: new Map(), instances: {}, frames: [], hovers: [],
  selections: [], firstPaint: {}, received: [], seq: 0, ortVersion: null, hoverSent: [], serverImages: [],
});

G.lodBuilds ??= []; // {instance, k, ms, cells, idle} per level of detail built (a page loaded before they existed has none)

const PALETTE = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194],
  [127, 127, 127], [188, 189, 34], [23, 190, 207], [57, 59, 121], [173, 73, 74], [99, 121, 57], [206, 109, 189],
  [140, 162, 82], [231, 186, 82], [82, 84, 163], [214, 97, 107], [107, 110, 207], [156, 158, 222],
];
// viridis, 9 stops, interpolated to 256
const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129],
  [92, 200, 99], [170, 220, 50], [253, 231, 37]];

function push(list, item) {
  list.push(item);
  if (list.length > MAX_LOG) list.splice(0, list.length - MAX_LOG);
}

// -- wire ------------------------------------------------------------------------------------------
function parse(data) {
  const u8 = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (u8.length < 8 || String.fromCharCode(u8[0], u8[1], u8[2], u8[3]) !== "BMAP") throw new Error("not a big-map payload");
  const len = u8[4] | (u8[5] << 8) | (u8[6] << 16) | (u8[7] << 24);
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(8, 8 + len)));
  const start = 8 + len + ((8 - ((8 + len) % 8)) % 8);
  const blobs = {};
  for (const [name, [off, length, dtype]] of Object.entries(header.blobs ?? {})) {
    const raw = u8.slice(start + off, start + off + length); // a copy: aligned, and free of the message buffer
    const ctor = { uint8: Uint8Array, uint16: Uint16Array, float16: Uint16Array, uint32: Uint32Array,
      float32: Float32Array, bytes: Uint8Array }[dtype] ?? Uint8Array;
    blobs[name] = new ctor(raw.buffer, 0, length / ctor.BYTES_PER_ELEMENT);
  }
  return { header, blobs, bytes: u8.length };
}

function f16(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 5.960464477539063e-8;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function buildDataset(h, b) {
  const t0 = performance.now();
  const n = h.n, qx = b.qx, qy = b.qy, label = b.label, value = b.value ?? null;
  const cells = GN * GN;
  const start = new Uint32Array(cells + 1);
  for (let i = 0; i < n; i++) start[((qy[i] >> GB) << (16 - GB)) + (qx[i] >> GB) + 1]++;
  for (let c = 0; c < cells; c++) start[c + 1] += start[c];
  const cursor = start.slice(0, cells);
  const sx = new Uint16Array(n), sy = new Uint16Array(n), sl = new (label.constructor)(n), idx = new Uint32Array(n);
  const rank = new Uint32Array(n), sv = value ? new Uint8Array(n) : null;
  for (let i = 0; i < n; i++) {
    const p = cursor[((qy[i] >> GB) << (16 - GB)) + (qx[i] >> GB)]++;
    sx[p] = qx[i]; sy[p] = qy[i]; sl[p] = label[i]; idx[p] = i; rank[i] = p;
    if (sv) sv[p] = value[i];
  }
  const labelCounts = new Uint32Array(h.class_names.length);
  for (let i = 0; i < n; i++) labelCounts[label[i]]++;
  return {
    key: h.data_key, n, bounds: h.bounds, valueRange: h.value_range ?? null, sx, sy, sl, sv, idx, rank, start,
    labelCounts, codes: b.codes ?? null, codeDim: h.code_dim ?? 0, indexMs: performance.now() - t0,
  };
}

// -- onnxruntime-web (the live component's copy) ---------------------------------------------------
let ortPromise = null;
function loadOrt() {
  ortPromise ??= (async () => {
    if (typeof WebAssembly !== "object" || WebAssembly === null) throw new Error("WebAssembly is not available in this browser");
    const ort = await import(/* @vite-ignore */ ORT_DIR + "ort.wasm.bundle.min.mjs");
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = { wasm: ORT_DIR + "ort-wasm-simd-threaded.wasm" };
    ort.env.logLevel = "error";
    G.ortVersion = ort.env.versions?.web ?? null;
    return ort;
  })();
  return ortPromise;
}

function sessionFor(ort, key, bytes) {
  if (!G.sessions.has(key)) {
    const made = ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all",
      intraOpNumThreads: 1, interOpNumThreads: 1 });
    made.catch(() => G.sessions.delete(key));
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

function button(text, testid, onClick) {
  const b = el("button", { type: "button", class: "bm-btn", "data-testid": testid }, text);
  b.addEventListener("click", onClick);
  return b;
}

function mount(parentElement) {
  let root = Array.from(parentElement.children).find((node) => node.classList?.contains("bm-root"));
  if (root && root.__inst) { G.instances[root.__inst.id] = root.__inst; return root.__inst; }
  // forget instances no longer in the document: each holds its canvas, raster buffers and levels of detail
  // (tens of MB at 1M points); one that comes back is registered again above
  for (const [id, old] of Object.entries(G.instances)) if (!old.root.isConnected) delete G.instances[id];
  root = el("div", { class: "bm-root", "data-testid": "big-map" });
  const inst = {
    id: `bm${++G.seq}`, root, data: null, header: null, ds: null, api: null, mode: "pan", colour: "label",
    view: null, raf: 0, tEvent: null, dragging: null, hoverPos: null, hoverIndex: null, pinned: null,
    selMask: null, highlight: -1, selection: null, session: null, sessionKey: null, decodeBusy: false,
    decodePending: null, hoverTimer: 0, reported: null, asked: {}, firstRender: performance.now(), firstFrame: null,
  };
  G.instances[inst.id] = inst;
  const tools = el("div", { class: "bm-tools" });
  inst.modeButtons = {
    pan: button("Pan", "big-map-pan", () => setMode(inst, "pan")),
    box: button("Box", "big-map-box", () => setMode(inst, "box")),
    lasso: button("Lasso", "big-map-lasso", () => setMode(inst, "lasso")),
  };
  inst.colourButton = button("Colour: label", "big-map-colour", () => {
    if (!inst.ds?.sv) return;
    inst.colour = inst.colour === "label" ? "value" : "label";
    refreshLegend(inst);
    schedule(inst, performance.now());
  });
  inst.search = el("input", { type: "search", class: "bm-search", placeholder: "index or label", "data-testid": "big-map-search",
    "aria-label": "Search by index or label" });
  inst.search.addEventListener("keydown", (ev) => { if (ev.key === "Enter") search(inst, inst.search.value); });
  tools.append(...Object.values(inst.modeButtons), inst.colourButton, inst.search,
    button("Reset view", "big-map-reset", () => { fit(inst); schedule(inst, performance.now()); }),
    button("Clear", "big-map-clear", () => clearSelection(inst)));
  inst.canvas = el("canvas", { class: "bm-canvas", "data-testid": "big-map-canvas" });
  inst.overlay = el("canvas", { class: "bm-overlay", "data-testid": "big-map-overlay" });
  inst.stage = el("div", { class: "bm-stage" }, inst.canvas, inst.overlay);
  inst.status = el("div", { class: "bm-status", "data-testid": "big-map-status" }, "Loading the points…");
  inst.legend = el("div", { class: "bm-legend", "data-testid": "big-map-legend" });
  // side panel: the page's decode, the server's image, the pinned item, the selection
  inst.decoded = el("canvas", { class: "bm-thumb", "data-testid": "big-map-decoded" });
  inst.decodedCaption = el("div", { class: "bm-caption", "data-testid": "big-map-decoded-caption" }, "hover the map");
  inst.serverImg = el("img", { class: "bm-thumb", "data-testid": "big-map-server-image", alt: "" });
  inst.serverImg.hidden = true;
  inst.serverCaption = el("div", { class: "bm-caption", "data-testid": "big-map-server-caption" }, "");
  inst.pinInfo = el("div", { class: "bm-caption", "data-testid": "big-map-pinned" }, "click a point to pin it");
  inst.walkButton = button("Send to walk", "big-map-walk", () => {
    if (inst.pinned === null) return;
    inst.api?.setTriggerValue("walk", { index: inst.pinned, t: Date.now() });
  });
  inst.walkButton.disabled = true;
  inst.selInfo = el("div", { class: "bm-caption", "data-testid": "big-map-selection" }, "");
  inst.panel = el("div", { class: "bm-panel" },
    el("div", { class: "bm-label" }, "In the page"), inst.decoded, inst.decodedCaption,
    el("div", { class: "bm-label" }, "From the server"), inst.serverImg, inst.serverCaption,
    inst.pinInfo, inst.walkButton, inst.selInfo);
  root.append(tools, el("div", { class: "bm-body" }, el("div", { class: "bm-left" }, inst.stage, inst.status, inst.legend), inst.panel));
  parentElement.append(root);
  inst.ctx = inst.canvas.getContext("2d");
  inst.octx = inst.overlay.getContext("2d");
  inst.dctx = inst.decoded.getContext("2d");
  bindPointer(inst);
  root.__inst = inst;
  setMode(inst, "pan");
  return inst;
}

function setMode(inst, mode) {
  inst.mode = mode;
  for (const [m, b] of Object.entries(inst.modeButtons)) b.classList.toggle("bm-on", m === mode);
  inst.overlay.style.cursor = mode === "pan" ? "grab" : "crosshair";
}

function size(inst) {
  const h = inst.header;
  const W = Math.max(200, Math.floor(h.width ?? ((inst.root.clientWidth || 1000) - PANEL - 16)));
  const H = Math.max(150, Math.floor(h.height ?? 600));
  if (inst.canvas.width !== W || inst.canvas.height !== H) {
    for (const c of [inst.canvas, inst.overlay]) { c.width = W; c.height = H; c.style.width = `${W}px`; c.style.height = `${H}px`; }
    inst.stage.style.width = `${W}px`;
    inst.stage.style.height = `${H}px`;
    inst.image = inst.ctx.createImageData(W, H);
    inst.pix = new Uint32Array(inst.image.data.buffer);
    inst.acc = new Uint32Array(4 * W * H); // per pixel, interleaved: count, r, g, b sums (one cache line a point)
    return true;
  }
  return false;
}

function fit(inst) {
  const W = inst.canvas.width, H = inst.canvas.height;
  inst.view = { cx: Q / 2, cy: Q / 2, s: Math.min(W, H) / Q };
}

// screen <-> quantized units (y up)
const toQ = (inst, px, py) => {
  const { cx, cy, s } = inst.view;
  return [cx + (px - inst.canvas.width / 2) / s, cy - (py - inst.canvas.height / 2) / s];
};
const toPx = (inst, qx, qy) => {
  const { cx, cy, s } = inst.view;
  return [(qx - cx) * s + inst.canvas.width / 2, inst.canvas.height / 2 - (qy - cy) * s];
};
const qToData = (ds, qx, qy) => {
  const [x0, y0, x1, y1] = ds.bounds;
  return [x0 + (qx / Q) * (x1 - x0), y0 + (qy / Q) * (y1 - y0)];
};

// -- the raster ------------------------------------------------------------------------------------
function luts(inst) {
  const ds = inst.ds;
  const value = inst.colour === "value" && ds.sv;
  const n = value ? 256 : inst.header.class_names.length;
  const r = new Uint32Array(n + 1), g = new Uint32Array(n + 1), b = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    let c;
    if (value) {
      const t = (i / 255) * (VIRIDIS.length - 1), k = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - k;
      c = VIRIDIS[k].map((v, j) => v + (VIRIDIS[k + 1][j] - v) * f);
    } else c = PALETTE[i % PALETTE.length];
    r[i] = c[0] | 0; g[i] = c[1] | 0; b[i] = c[2] | 0;
  }
  r[n] = g[n] = b[n] = 205; // dimmed (outside the selection / the searched label)
  return { r, g, b, dim: n, value };
}

// One level of detail for the current colouring: occupied cells sorted by the points' 256x256 grid cell, so a
// frame walks the grid cells in view as it does for points. O(n) to build; null when it would not be smaller.
function buildLevel(ds, k, col, L, mask, hl) {
  const sub = GB - k, side = 1 << sub, subMask = side - 1;
  const { sx, sy, sl, start, n } = ds;
  const cap = Math.min(n, GN * GN * side * side), limit = Math.floor(LOD_KEEP * n);
  const cnt = new Uint32Array(side * side), rs = new Uint32Array(side * side), gs = new Uint32Array(side * side),
    bs = new Uint32Array(side * side), touched = new Uint32Array(side * side);
  const ox = new Uint16Array(cap), oy = new Uint16Array(cap), oc = new Uint32Array(cap), orr = new Uint32Array(cap),
    og = new Uint32Array(cap), ob = new Uint32Array(cap), ostart = new Uint32Array(GN * GN + 1);
  const half = 1 << (k - 1);
  let m = 0;
  for (let c = 0; c < GN * GN; c++) {
    ostart[c] = m;
    const a = start[c], e = start[c + 1];
    if (a === e) continue;
    let t = 0;
    for (let p = a; p < e; p++) {
      const j = (((sy[p] >> k) & subMask) << sub) | ((sx[p] >> k) & subMask);
      let v = col[p];
      if ((mask !== null && mask[p] === 0) || (hl >= 0 && sl[p] !== hl)) v = L.dim;
      if (cnt[j] === 0) touched[t++] = j;
      cnt[j]++; rs[j] += L.r[v]; gs[j] += L.g[v]; bs[j] += L.b[v];
    }
    if (m + t > limit) return null;
    const bx = (c & (GN - 1)) << GB, by = (c >> (16 - GB)) << GB;
    for (let i = 0; i < t; i++) {
      const j = touched[i];
      ox[m] = bx + ((j & subMask) << k) + half; oy[m] = by + ((j >> sub) << k) + half;
      oc[m] = cnt[j]; orr[m] = rs[j]; og[m] = gs[j]; ob[m] = bs[j]; m++;
      cnt[j] = rs[j] = gs[j] = bs[j] = 0;
    }
  }
  ostart[GN * GN] = m;
  return { k, m, ostart, ox: ox.slice(0, m), oy: oy.slice(0, m), oc: oc.slice(0, m), or: orr.slice(0, m),
    og: og.slice(0, m), ob: ob.slice(0, m) };
}

// The coarsest level whose cell is at most one pixel at scale s (px per quantized unit), built on first use for
// the current colouring (data set, colour mode, selection mask, searched label); null: draw the points.
function levelFor(inst, s, L, col) {
  const lod = inst.lod;
  if (!lod || lod.ds !== inst.ds || lod.col !== col || lod.mask !== inst.selMask || lod.hl !== inst.highlight)
    inst.lod = { ds: inst.ds, col, mask: inst.selMask, hl: inst.highlight, levels: {} };
  for (const k of LOD_BITS) {
    if ((1 << k) * s > 1) continue;
    const level = ensureLevel(inst, k, L, false);
    if (level) return level;
  }
  return null;
}

// Level k of inst.lod's colouring, built (and logged in G.lodBuilds) the first time it is asked for.
function ensureLevel(inst, k, L, idle) {
  const lod = inst.lod;
  if (!(k in lod.levels)) {
    const t0 = performance.now();
    lod.levels[k] = buildLevel(inst.ds, k, lod.col, L, lod.mask, lod.hl);
    push(G.lodBuilds, { instance: inst.id, k, ms: performance.now() - t0, cells: lod.levels[k]?.m ?? null, idle });
  }
  return lod.levels[k];
}

// After a frame, build the other levels for this colouring one per idle tick, so zooming never waits for one.
function prebuildLevels(inst) {
  if (inst.lodTimer || !inst.ds) return;
  inst.lodTimer = setTimeout(() => {
    inst.lodTimer = 0;
    const lod = inst.lod;
    if (!lod || lod.ds !== inst.ds) return;
    const k = LOD_BITS.find((b) => !(b in lod.levels));
    if (k === undefined) return;
    ensureLevel(inst, k, luts(inst), true);
    prebuildLevels(inst);
  }, 60);
}

function schedule(inst, tEvent) {
  if (inst.tEvent === null) inst.tEvent = tEvent ?? performance.now();
  if (!inst.raf) inst.raf = requestAnimationFrame(() => { inst.raf = 0; draw(inst); });
}

function draw(inst) {
  const ds = inst.ds;
  if (!ds || !inst.view) return;
  const tStart = performance.now();
  const W = inst.canvas.width, H = inst.canvas.height;
  const { cx, cy, s } = inst.view;
  const qx0 = cx - W / 2 / s, qy1 = cy + H / 2 / s, qx1 = cx + W / 2 / s, qy0 = cy - H / 2 / s;
  const gx0 = Math.max(0, Math.floor(qx0) >> GB), gx1 = Math.min(GN - 1, Math.floor(qx1) >> GB);
  const gy0 = Math.max(0, Math.floor(qy0) >> GB), gy1 = Math.min(GN - 1, Math.floor(qy1) >> GB);
  const { sx, sy, sl, sv, start } = ds;
  const L = luts(inst);
  const { r: LR, g: LG, b: LB, dim, value } = L;
  const col = value ? sv : sl;
  const mask = inst.selMask, hl = inst.highlight;
  const pix = inst.pix;
  pix.fill(0xffffffff);
  let inView = 0;
  if (gx1 >= gx0 && gy1 >= gy0) for (let gy = gy0; gy <= gy1; gy++) inView += start[gy * GN + gx1 + 1] - start[gy * GN + gx0];
  let drawn = 0, level = null;
  const dots = inView < DOT_LIMIT;
  if (gx1 >= gx0 && gy1 >= gy0) {
    if (!dots) {
      const acc = inst.acc;
      acc.fill(0);
      let maxc = 0;
      const lv = levelFor(inst, s, L, col);
      if (lv !== null) {
        const { ostart, ox, oy, oc, or: lr, og, ob } = lv;
        for (let gy = gy0; gy <= gy1; gy++) {
          const to = ostart[gy * GN + gx1 + 1];
          for (let p = ostart[gy * GN + gx0]; p < to; p++) {
            const px = ((ox[p] - qx0) * s) | 0;
            if (px < 0 || px >= W) continue;
            const py = ((qy1 - oy[p]) * s) | 0;
            if (py < 0 || py >= H) continue;
            const k = (py * W + px) << 2;
            const m = (acc[k] += oc[p]);
            if (m > maxc) maxc = m;
            acc[k + 1] += lr[p]; acc[k + 2] += og[p]; acc[k + 3] += ob[p];
            drawn += oc[p];
          }
        }
        level = lv.k;
      } else for (let gy = gy0; gy <= gy1; gy++) {
        const to = start[gy * GN + gx1 + 1];
        for (let p = start[gy * GN + gx0]; p < to; p++) {
          const px = ((sx[p] - qx0) * s) | 0;
          if (px < 0 || px >= W) continue;
          const py = ((qy1 - sy[p]) * s) | 0;
          if (py < 0 || py >= H) continue;
          const k = (py * W + px) << 2;
          let c = col[p];
          if ((mask !== null && mask[p] === 0) || (hl >= 0 && sl[p] !== hl)) c = dim;
          const m = ++acc[k];
          if (m > maxc) maxc = m;
          acc[k + 1] += LR[c]; acc[k + 2] += LG[c]; acc[k + 3] += LB[c];
          drawn++;
        }
      }
      // composite: mean colour, strength by log count over white
      const inv = 1 / Math.log1p(maxc || 1);
      const alpha = new Float32Array(maxc + 1);
      for (let c = 1; c <= maxc; c++) alpha[c] = 0.35 + 0.65 * Math.log1p(c) * inv;
      for (let k = 0, end = W * H; k < end; k++) {
        const j = k << 2, c = acc[j];
        if (c === 0) continue;
        const a = alpha[c], w = 255 * (1 - a), f = a / c;
        pix[k] = 0xff000000 | (((acc[j + 3] * f + w) | 0) << 16) | (((acc[j + 2] * f + w) | 0) << 8) | ((acc[j + 1] * f + w) | 0);
      }
    } else {
      // few points in view: each one a dot (radius 3 px, dark rim)
      const R = 3, R2 = R * R;
      for (let gy = gy0; gy <= gy1; gy++) {
        const to = start[gy * GN + gx1 + 1];
        for (let p = start[gy * GN + gx0]; p < to; p++) {
          const px = ((sx[p] - qx0) * s) | 0, py = ((qy1 - sy[p]) * s) | 0;
          if (px < -R || px >= W + R || py < -R || py >= H + R) continue;
          let c = col[p];
          if ((mask !== null && mask[p] === 0) || (hl >= 0 && sl[p] !== hl)) c = dim;
          const fill = 0xff000000 | (LB[c] << 16) | (LG[c] << 8) | LR[c];
          const rim = 0xff000000 | ((LB[c] * 0.55) << 16) | ((LG[c] * 0.55) << 8) | (LR[c] * 0.55);
          for (let dy = -R; dy <= R; dy++) {
            const y = py + dy;
            if (y < 0 || y >= H) continue;
            for (let dx = -R; dx <= R; dx++) {
              const x = px + dx, d2 = dx * dx + dy * dy;
              if (x < 0 || x >= W || d2 > R2) continue;
              pix[y * W + x] = d2 > (R - 1) * (R - 1) ? rim : fill;
            }
          }
          drawn++;
        }
      }
    }
  }
  inst.ctx.putImageData(inst.image, 0, 0);
  const tDrawn = performance.now();
  drawOverlay(inst);
  push(G.frames, { instance: inst.id, tEvent: inst.tEvent ?? tStart, tStart, tDrawn, drawn, dots, inView, level });
  inst.tEvent = null;
  if (inst.lod) prebuildLevels(inst);
  if (inst.firstFrame === null) {
    inst.firstFrame = tDrawn;
    G.firstPaint[inst.id] = { ...(G.firstPaint[inst.id] ?? {}), tDrawn, tRender: inst.firstRender, n: ds.n };
    inst.root.dataset.ready = "1";
  }
  inst.root.dataset.frames = String(Number(inst.root.dataset.frames ?? 0) + 1);
}

function drawOverlay(inst) {
  const o = inst.octx, W = inst.overlay.width, H = inst.overlay.height;
  o.clearRect(0, 0, W, H);
  const ring = (i, colour, r) => {
    if (i === null || !inst.ds) return;
    const p = inst.ds.rank[i];
    const [x, y] = toPx(inst, inst.ds.sx[p], inst.ds.sy[p]);
    o.beginPath(); o.arc(x, y, r, 0, 2 * Math.PI); o.lineWidth = 2; o.strokeStyle = colour; o.stroke();
  };
  ring(inst.hoverIndex, "#111", 6);
  ring(inst.pinned, "#e4007c", 8);
  const d = inst.dragging;
  if (d && d.kind === "box") {
    o.fillStyle = "rgba(30,120,220,0.12)"; o.strokeStyle = "#1e78dc"; o.lineWidth = 1;
    o.fillRect(d.x0, d.y0, d.x - d.x0, d.y - d.y0); o.strokeRect(d.x0, d.y0, d.x - d.x0, d.y - d.y0);
  } else if (d && d.kind === "lasso" && d.path.length > 1) {
    o.beginPath(); o.moveTo(d.path[0][0], d.path[0][1]);
    for (const [x, y] of d.path) o.lineTo(x, y);
    o.closePath(); o.fillStyle = "rgba(30,120,220,0.12)"; o.fill(); o.strokeStyle = "#1e78dc"; o.stroke();
  }
}

// -- picking and selection -------------------------------------------------------------------------
function nearest(inst, px, py, radiusPx = HOVER_PX) {
  const ds = inst.ds;
  if (!ds) return null;
  const [qx, qy] = toQ(inst, px, py);
  const rq = radiusPx / inst.view.s;
  const gx0 = Math.max(0, Math.floor(qx - rq) >> GB), gx1 = Math.min(GN - 1, Math.floor(qx + rq) >> GB);
  const gy0 = Math.max(0, Math.floor(qy - rq) >> GB), gy1 = Math.min(GN - 1, Math.floor(qy + rq) >> GB);
  let best = -1, bestD = rq * rq;
  const { sx, sy, start } = ds;
  for (let gy = gy0; gy <= gy1; gy++) {
    const to = start[gy * GN + gx1 + 1];
    for (let p = start[gy * GN + gx0]; p < to; p++) {
      const dx = sx[p] - qx, dy = sy[p] - qy, d = dx * dx + dy * dy;
      if (d <= bestD) { bestD = d; best = p; }
    }
  }
  return best < 0 ? null : ds.idx[best];
}

function selectWith(inst, kind, qbox, polygon) {
  const t0 = performance.now();
  const ds = inst.ds;
  const [x0, y0, x1, y1] = qbox;
  const gx0 = Math.max(0, x0 >> GB), gx1 = Math.min(GN - 1, x1 >> GB);
  const gy0 = Math.max(0, y0 >> GB), gy1 = Math.min(GN - 1, y1 >> GB);
  const { sx, sy, sl, idx, start } = ds;
  const counts = new Array(inst.header.class_names.length).fill(0);
  const mask = new Uint8Array(ds.n);
  const hits = new Uint32Array(ds.n);
  let total = 0;
  const poly = polygon, m = poly ? poly.length : 0;
  for (let gy = gy0; gy <= gy1 && x1 >= x0; gy++) {
    const to = start[gy * GN + gx1 + 1];
    for (let p = start[gy * GN + gx0]; p < to; p++) {
      const x = sx[p], y = sy[p];
      if (x < x0 || x > x1 || y < y0 || y > y1) continue;
      if (poly) { // even-odd rule, the same arithmetic as ui/components/bigmap.py select_lasso
        let inside = false;
        for (let i = 0, j = m - 1; i < m; j = i++) {
          const xi = poly[i][0], yi = poly[i][1], xj = poly[j][0], yj = poly[j][1];
          if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
        }
        if (!inside) continue;
      }
      mask[p] = 1;
      counts[sl[p]]++;
      hits[total++] = idx[p];
    }
  }
  const found = hits.subarray(0, total);
  const K = inst.header.first ?? 200;
  let first;
  if (total <= K) first = Array.from(found.sort());
  else { // the K smallest indices: a histogram over the index range, then sort only those below the cut
    const bins = 4096, width = Math.ceil(ds.n / bins), hist = new Uint32Array(bins);
    for (let i = 0; i < total; i++) hist[(found[i] / width) | 0]++;
    let acc = 0, cut = 0;
    while (cut < bins && acc + hist[cut] < K) acc += hist[cut++];
    const limit = (cut + 1) * width;
    const small = [];
    for (let i = 0; i < total; i++) if (found[i] < limit) small.push(found[i]);
    first = small.sort((a, b) => a - b).slice(0, K);
  }
  const ms = performance.now() - t0;
  inst.selMask = total > 0 ? mask : null;
  const toData = ([qx, qy]) => qToData(ds, qx, qy);
  const sel = { kind, total, counts, first, ms, data_key: ds.key };
  if (kind === "box") {
    sel.qbox = [x0, y0, x1, y1];
    sel.box = [...toData([x0, y0]), ...toData([x1, y1])];
  } else {
    sel.qpolygon = polygon;
    sel.polygon = polygon.map(toData);
  }
  inst.selection = sel;
  push(G.selections, { instance: inst.id, tStart: t0, tDone: performance.now(), ms, total, counts: counts.slice(), kind });
  showSelection(inst);
  schedule(inst, t0);
  inst.api?.setStateValue("selection", sel);
  return sel;
}

function showSelection(inst) {
  const sel = inst.selection;
  if (!sel) { inst.selInfo.textContent = ""; return; }
  const names = inst.header.class_names;
  const top = sel.counts.map((c, i) => [c, i]).filter(([c]) => c > 0).sort((a, b) => b[0] - a[0]).slice(0, 6)
    .map(([c, i]) => `${names[i]}: ${c.toLocaleString("en")}`).join(", ");
  inst.selInfo.textContent = `${sel.kind} selection: ${sel.total.toLocaleString("en")} points (${sel.ms.toFixed(0)} ms)${top ? " — " + top : ""}`;
  inst.selInfo.dataset.total = String(sel.total);
}

function clearSelection(inst) {
  inst.selMask = null;
  inst.highlight = -1;
  inst.selection = null;
  showSelection(inst);
  inst.api?.setStateValue("selection", null);
  schedule(inst, performance.now());
}

function search(inst, text) {
  const ds = inst.ds;
  const q = String(text).trim();
  if (!ds || !q) return;
  if (/^\d+$/.test(q)) {
    const i = Number(q);
    if (i >= ds.n) { inst.status.textContent = `no item ${i} (there are ${ds.n.toLocaleString("en")})`; return; }
    const p = ds.rank[i];
    inst.view = { cx: ds.sx[p], cy: ds.sy[p], s: Math.max(inst.view.s, (Math.min(inst.canvas.width, inst.canvas.height) / Q) * 16) };
    pin(inst, i);
    requestDecode(inst, { index: i, pos: null, tEvent: performance.now() });
  } else {
    const names = inst.header.class_names.map((s) => s.toLowerCase());
    let k = names.indexOf(q.toLowerCase());
    if (k < 0) k = names.findIndex((s) => s.includes(q.toLowerCase()));
    if (k < 0) { inst.status.textContent = `no label "${q}"`; return; }
    inst.highlight = k;
    inst.status.textContent = `label ${inst.header.class_names[k]}: ${ds.labelCounts[k].toLocaleString("en")} points`;
  }
  schedule(inst, performance.now());
}

function pin(inst, index) {
  inst.pinned = index;
  const ds = inst.ds;
  const p = ds.rank[index];
  const [x, y] = qToData(ds, ds.sx[p], ds.sy[p]);
  inst.pinInfo.textContent = `pinned: item ${index} (${inst.header.class_names[ds.sl[p]]}) at (${x.toFixed(3)}, ${y.toFixed(3)})`;
  inst.pinInfo.dataset.index = String(index);
  inst.walkButton.disabled = false;
  inst.walkButton.textContent = `Send item ${index} to walk`;
  inst.api?.setStateValue("clicked", { index, t: Date.now() });
  drawOverlay(inst);
}

// -- pointer ---------------------------------------------------------------------------------------
function bindPointer(inst) {
  const ov = inst.overlay;
  const local = (ev) => { const r = ov.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
  ov.addEventListener("pointerdown", (ev) => {
    if (!inst.ds || ev.button !== 0) return;
    ov.setPointerCapture(ev.pointerId);
    const [x, y] = local(ev);
    const kind = ev.shiftKey ? "box" : ev.altKey ? "lasso" : inst.mode;
    inst.dragging = { kind, x0: x, y0: y, x, y, lastX: x, lastY: y, moved: 0, path: [[x, y]] };
    if (kind === "pan") ov.style.cursor = "grabbing";
  });
  ov.addEventListener("pointermove", (ev) => {
    if (!inst.ds) return;
    const [x, y] = local(ev);
    const d = inst.dragging;
    if (d) {
      d.moved = Math.max(d.moved, Math.abs(x - d.x0) + Math.abs(y - d.y0));
      d.x = x; d.y = y;
      if (d.kind === "pan") {
        inst.view.cx -= (x - d.lastX) / inst.view.s;
        inst.view.cy += (y - d.lastY) / inst.view.s;
        schedule(inst, ev.timeStamp);
      } else {
        if (d.kind === "lasso") d.path.push([x, y]);
        drawOverlay(inst);
      }
      d.lastX = x; d.lastY = y;
      return;
    }
    hover(inst, x, y, ev.timeStamp);
  });
  const end = (ev) => {
    const d = inst.dragging;
    if (!d) return;
    inst.dragging = null;
    ov.style.cursor = inst.mode === "pan" ? "grab" : "crosshair";
    if (d.moved < 4) { // a click
      const i = nearest(inst, d.x0, d.y0);
      if (i !== null) pin(inst, i);
      drawOverlay(inst);
      return;
    }
    if (d.kind === "box") {
      const [ax, ay] = toQ(inst, Math.min(d.x0, d.x), Math.max(d.y0, d.y));
      const [bx, by] = toQ(inst, Math.max(d.x0, d.x), Math.min(d.y0, d.y));
      const qbox = [Math.max(0, Math.ceil(ax)), Math.max(0, Math.ceil(ay)), Math.min(Q, Math.floor(bx)), Math.min(Q, Math.floor(by))];
      selectWith(inst, "box", qbox, null);
    } else if (d.kind === "lasso" && d.path.length >= 3) {
      const poly = d.path.map(([x, y]) => toQ(inst, x, y).map((v) => Math.round(v * 100) / 100));
      const xs = poly.map((p) => p[0]), ys = poly.map((p) => p[1]);
      const qbox = [Math.max(0, Math.ceil(Math.min(...xs))), Math.max(0, Math.ceil(Math.min(...ys))),
        Math.min(Q, Math.floor(Math.max(...xs))), Math.min(Q, Math.floor(Math.max(...ys)))];
      selectWith(inst, "lasso", qbox, poly);
    }
    drawOverlay(inst);
  };
  ov.addEventListener("pointerup", end);
  ov.addEventListener("pointercancel", end);
  ov.addEventListener("pointerleave", () => { if (!inst.dragging) { inst.hoverIndex = null; drawOverlay(inst); } });
  ov.addEventListener("wheel", (ev) => {
    if (!inst.ds) return;
    ev.preventDefault();
    const [x, y] = local(ev);
    const [qx, qy] = toQ(inst, x, y);
    const f = Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015));
    const minS = (Math.min(inst.canvas.width, inst.canvas.height) / Q) * 0.25;
    const s = Math.min(4, Math.max(minS, inst.view.s * f));
    inst.view = { s, cx: qx - (x - inst.canvas.width / 2) / s, cy: qy + (y - inst.canvas.height / 2) / s };
    schedule(inst, ev.timeStamp);
  }, { passive: false });
}

function hover(inst, x, y, tEvent) {
  const i = nearest(inst, x, y);
  const changed = i !== inst.hoverIndex;
  inst.hoverIndex = i;
  if (changed) drawOverlay(inst);
  const [qx, qy] = toQ(inst, x, y);
  // over an item with codes sent: that item's code; elsewhere (no item near, or no codes) on a PCA map: the
  // code under the pointer (the PCA inverse), so empty space between the points decodes too
  if (inst.ds.codes && i !== null) { if (changed) requestDecode(inst, { index: i, pos: null, tEvent }); }
  else requestDecode(inst, { index: i, pos: qToData(inst.ds, qx, qy), tEvent });
  if (changed) {
    clearTimeout(inst.hoverTimer);
    const url = inst.itemRouteFailed ? null : inst.header.item_url;
    // with the server's item route (ui/services/itemserver.py) the original comes by one GET after a short rest; without
    // it the hovered index goes to Python, whose next rerun sends the image (a rerun costs far more, so wait longer)
    inst.hoverTimer = setTimeout(() => {
      push(G.hoverSent, { index: inst.hoverIndex, t: performance.now(), how: url ? "fetch" : "rerun" });
      if (url && inst.hoverIndex !== null) fetchItem(inst, url, inst.hoverIndex);
      else if (!url) inst.api?.setTriggerValue("hover", { index: inst.hoverIndex, t: Date.now() });
    }, url ? 40 : 120);
  }
}

// The hovered item's original from the item route; a newer hover aborts an older request. A failed request
// (a proxy without the route, an expired token) falls back to the rerun path for this instance.
async function fetchItem(inst, url, index) {
  inst.itemAbort?.abort();
  const ctl = (inst.itemAbort = new AbortController());
  try {
    const res = await fetch(url + index, { signal: ctl.signal, credentials: "same-origin" });
    if (!res.ok) throw new Error(`${res.status} ${(await res.text()).slice(0, 120)}`);
    const blob = await res.blob();
    if (ctl.signal.aborted) return;
    URL.revokeObjectURL(inst.itemObjectUrl ?? "");
    inst.itemObjectUrl = URL.createObjectURL(blob);
    showServerImage(inst, index, inst.itemObjectUrl);
  } catch (err) {
    if (err?.name === "AbortError") return;
    inst.serverCaption.textContent = `item ${index}: ${String(err?.message ?? err).slice(0, 160)}`;
    inst.itemRouteFailed = true;
    inst.api?.setTriggerValue("hover", { index, t: Date.now() });
  }
}

function showServerImage(inst, index, src) {
  inst.serverImg.src = src;
  inst.serverImg.hidden = false;
  inst.serverImg.dataset.index = String(index);
  inst.serverCaption.textContent = `item ${index}'s image (server)`;
  inst.serverCaption.dataset.index = String(index);
  if (inst.serverShown !== index) push(G.serverImages, { index, t: performance.now() });
  inst.serverShown = index;
}

// -- decoding the hover ----------------------------------------------------------------------------
function codeFor(inst, req) {
  const ds = inst.ds, h = inst.header;
  if (ds.codes && req.index !== null) {
    const D = ds.codeDim, out = new Float32Array(D), row = req.index * D;
    for (let k = 0; k < D; k++) out[k] = f16(ds.codes[row + k]);
    return { code: out, how: "item" };
  }
  if (h.pca_mean && h.pca_components && req.pos) {
    const mean = h.pca_mean, [c0, c1] = h.pca_components, [x, y] = req.pos;
    const out = new Float32Array(mean.length);
    for (let k = 0; k < mean.length; k++) out[k] = mean[k] + x * c0[k] + y * c1[k];
    return { code: out, how: "pca" };
  }
  return null;
}

function requestDecode(inst, req) {
  inst.decodePending = req;
  if (!inst.decodeBusy && inst.session) runDecode(inst);
}

async function runDecode(inst) {
  inst.decodeBusy = true;
  try {
    while (inst.decodePending && inst.session) {
      const req = inst.decodePending;
      inst.decodePending = null;
      const made = codeFor(inst, req);
      if (!made) continue;
      const { ort, session } = inst;
      const [C, H, W] = inst.header.image_shape;
      const out = (await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", made.code, [1, made.code.length]) }))[session.outputNames[0]];
      paintDecoded(inst, out.data, C, H, W);
      out.dispose?.();
      const tDrawn = performance.now();
      inst.decodedCaption.textContent = made.how === "item"
        ? `item ${req.index}'s decoded code`
        : `decoded at the pointer (PCA inverse)${req.index !== null ? ` — nearest: item ${req.index}` : ""}`;
      inst.decodedCaption.dataset.how = made.how;
      push(G.hovers, { instance: inst.id, tEvent: req.tEvent, tDrawn, index: req.index, how: made.how, pos: req.pos });
    }
  } catch (err) {
    inst.decodedCaption.textContent = `in-page decoding failed: ${err?.message ?? err}`;
  } finally {
    inst.decodeBusy = false;
  }
}

function paintDecoded(inst, image, C, H, W) {
  if (inst.decoded.width !== W || inst.decoded.height !== H) {
    inst.decoded.width = W; inst.decoded.height = H;
    inst.decodedImage = inst.dctx.createImageData(W, H);
  }
  const rgba = inst.decodedImage.data, plane = H * W;
  for (let p = 0; p < plane; p++) {
    const r = image[p], g = C >= 3 ? image[plane + p] : r, b = C >= 3 ? image[2 * plane + p] : r;
    rgba[4 * p] = Math.round(Math.min(1, Math.max(0, r)) * 255);
    rgba[4 * p + 1] = Math.round(Math.min(1, Math.max(0, g)) * 255);
    rgba[4 * p + 2] = Math.round(Math.min(1, Math.max(0, b)) * 255);
    rgba[4 * p + 3] = 255;
  }
  inst.dctx.putImageData(inst.decodedImage, 0, 0);
}

function report(inst, status) {
  const sig = JSON.stringify(status);
  if (inst.reported === sig) return;
  inst.reported = sig;
  inst.root.dataset.path = status.path;
  inst.api?.setStateValue("status", status);
}

async function prepareDecoder(inst, h, blobs) {
  const key = h.model_key;
  if (!key || (inst.sessionKey === key && inst.session)) return;
  inst.sessionKey = key;
  inst.session = null;
  try {
    const ort = await loadOrt();
    if (blobs.decoder && !G.decoders.has(key)) {
      G.decoders.set(key, blobs.decoder);
      push(G.received, { what: "decoder", key, bytes: blobs.decoder.length });
    } else if (h.decoder_url && !G.decoders.has(key)) {
      const r = await fetch(h.decoder_url, { credentials: "same-origin" });
      if (!r.ok) throw new Error(`the decoder at ${h.decoder_url} answered ${r.status}`);
      G.decoders.set(key, new Uint8Array(await r.arrayBuffer()));
    }
    const bytes = G.decoders.get(key);
    if (!bytes) {
      inst.sessionKey = null;
      if (!inst.asked[key]) { inst.asked[key] = 1; inst.api?.setStateValue("need", { model_key: key, nonce: Date.now() }); }
      return;
    }
    const session = await sessionFor(ort, key, bytes);
    if (inst.header.model_key !== key) return;
    inst.ort = ort;
    inst.session = session;
    report(inst, { path: "wasm", ort: G.ortVersion, model_key: key });
    if (inst.decodePending) runDecode(inst);
  } catch (err) {
    inst.sessionKey = null;
    inst.decodedCaption.textContent = `decoding in the page is not available: ${err?.message ?? err}`;
    report(inst, { path: "fallback", reason: String(err?.message ?? err), model_key: key });
  }
}

function refreshLegend(inst) {
  const h = inst.header, ds = inst.ds;
  inst.colourButton.textContent = `Colour: ${inst.colour === "value" ? h.value_name : "label"}`;
  inst.colourButton.disabled = !ds?.sv;
  if (inst.colour === "value" && ds?.valueRange) {
    const [lo, hi] = ds.valueRange;
    const stops = VIRIDIS.map((c, i) => `rgb(${c}) ${(i / (VIRIDIS.length - 1)) * 100}%`).join(",");
    inst.legend.replaceChildren(el("span", {}, `${h.value_name} ${lo.toPrecision(4)}`),
      el("span", { class: "bm-ramp", style: `background: linear-gradient(90deg, ${stops})` }), el("span", {}, hi.toPrecision(4)));
  } else {
    inst.legend.replaceChildren(...h.class_names.map((name, i) => el("span", { class: "bm-key" },
      el("i", { style: `background: rgb(${PALETTE[i % PALETTE.length]})` }), `${name} (${ds ? ds.labelCounts[i].toLocaleString("en") : 0})`)));
  }
}

function update(inst, data) {
  const tData = performance.now();
  const { header: h, blobs, bytes } = parse(data);
  push(G.received, { what: "data", key: h.data_key, bytes, points: !!h.points });
  const first = !inst.header;
  inst.header = h;
  if (first) inst.colour = h.colour === "value" ? "value" : "label";
  let ds = G.datasets.get(h.data_key);
  if (h.points && (!ds || ds.n !== h.n)) {
    ds = buildDataset(h, blobs);
    G.datasets.set(h.data_key, ds);
    if (G.datasets.size > 3) G.datasets.delete(G.datasets.keys().next().value);
  }
  G.firstPaint[inst.id] ??= { tData, bytes };
  const resized = size(inst);
  if (!ds) {
    inst.status.textContent = "Loading the points…";
    if (!inst.asked[h.data_key]) { inst.asked[h.data_key] = 1; inst.api?.setStateValue("need", { data_key: h.data_key, nonce: Date.now() }); }
    return;
  }
  const newData = inst.ds !== ds;
  if (newData) {
    inst.ds = ds;
    inst.selMask = null; inst.selection = null; inst.pinned = null; inst.hoverIndex = null; inst.highlight = -1;
    if (!ds.sv) inst.colour = "label";
    fit(inst);
    inst.status.textContent = `${ds.n.toLocaleString("en")} points · drag to pan, wheel to zoom, Shift+drag box, Alt+drag lasso, click to pin`;
  }
  if (newData || first) refreshLegend(inst);
  // every render paints (Streamlit may keep the element across an in-app navigation away and back: the frame
  // after the render is then its "first paint"; one raster per rerun is cheap)
  schedule(inst, tData);
  const img = h.item_image;
  if (img && img.png_b64) {
    showServerImage(inst, img.index, `data:image/png;base64,${img.png_b64}`);
  } else if (img && img.error) {
    inst.serverCaption.textContent = `item ${img.index}: ${img.error}`;
  }
  if (h.model_key) prepareDecoder(inst, h, blobs);
  else report(inst, { path: "none", reason: "no decoder given" });
}

// test / bench hooks: the client (viewport) position of item `index` on the first map that holds points, and
// the nearest item to a client position
G.locate = (index) => {
  const inst = Object.values(G.instances).find((i) => i.ds && i.root.isConnected);
  if (!inst) return null;
  const p = inst.ds.rank[index];
  const [x, y] = toPx(inst, inst.ds.sx[p], inst.ds.sy[p]);
  const r = inst.overlay.getBoundingClientRect();
  return { x: r.left + x, y: r.top + y, instance: inst.id, inside: x >= 0 && y >= 0 && x < r.width && y < r.height };
};
G.selectBox = (qbox) => { const inst = G.current(); return inst ? selectWith(inst, "box", qbox.map((v) => v | 0), null) : null; };
G.current = () => Object.values(G.instances).find((i) => i.ds && i.root.isConnected) ?? null;

export default function bigMap({ data, parentElement, setStateValue, setTriggerValue }) {
  const inst = mount(parentElement);
  inst.api = { setStateValue, setTriggerValue };
  try {
    update(inst, data);
  } catch (err) {
    inst.status.textContent = `the map could not be drawn: ${err?.message ?? err}`;
  }
  return () => {};
}
