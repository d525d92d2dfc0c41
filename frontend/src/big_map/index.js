// The page side of the big-map component. Its host (hosts/streamlit.js: Streamlit components v2, no iframe; or
// hosts/anywidget.js through widget.js, the notebook's LatentMap) gives it the element to draw into and each new
// `data`; selections, clicks, the colouring and status go back by host.set, the hover and "Send to walk" by
// host.send. A header's `colour` applies whenever it changes, and a `selected` blob (uint32 indices, under a new
// header.selection_key) is a selection set by the host; `layouts` are the layouts the host computes on request
// (a selector sends host.set("layout", name)) and a `layout_job` is one it computes meanwhile (its progress is shown
// under the map). This file mounts the instance and applies `data`; the
// rest is split by concern: wire.js (the wire format), view.js, raster.js, select.js, input.js, decode.js,
// items.js, state.js.
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

import { el, mountedInstance } from "../common/dom.js";
import { report } from "../common/telemetry.js";
import { streamlitComponent } from "../hosts/streamlit.js";
import { prepareDecoder } from "./decode.js";
import { bindPointer } from "./input.js";
import { showServerImage } from "./items.js";
import { schedule } from "./raster.js";
import { clearSelection, search, selectIndices, selectWith, showSelection } from "./select.js";
import { G, PALETTE, VIRIDIS, log } from "./state.js";
import { fit, size, toPx } from "./view.js";
import { buildDataset, parse } from "./wire.js";

function button(text, testid, onClick) {
  const b = el("button", { type: "button", class: "bm-btn", "data-testid": testid }, text);
  b.addEventListener("click", onClick);
  return b;
}

function mount(host) {
  const kept = mountedInstance(host, "bm-root");
  if (kept) { G.instances[kept.id] = kept; return kept; }
  // forget instances no longer in the document: each holds its canvas, raster buffers and levels of detail
  // (tens of MB at 1M points); one that comes back is registered again above
  for (const [id, old] of Object.entries(G.instances)) if (!old.root.isConnected) delete G.instances[id];
  const root = el("div", { class: "bm-root", "data-testid": "big-map" });
  const inst = {
    id: `bm${++G.seq}`, root, data: null, header: null, ds: null, host: null, mode: "pan", colour: "label",
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
    inst.host?.set("colour", inst.colour);
    refreshLegend(inst);
    schedule(inst, performance.now());
  });
  inst.search = el("input", { type: "search", class: "bm-search", placeholder: "index or label", "data-testid": "big-map-search",
    "aria-label": "Search by index or label" });
  inst.search.addEventListener("keydown", (ev) => { if (ev.key === "Enter") search(inst, inst.search.value); });
  // the layouts a host computes on request (header.layouts, the notebook's LatentMap); hidden where it offers none
  inst.layoutSelect = el("select", { class: "bm-layout", "data-testid": "big-map-layout", "aria-label": "Layout" });
  inst.layoutSelect.hidden = true;
  inst.layoutSelect.addEventListener("change", () => inst.host?.set("layout", inst.layoutSelect.value));
  tools.append(...Object.values(inst.modeButtons), inst.colourButton, inst.layoutSelect, inst.search,
    button("Reset view", "big-map-reset", () => { fit(inst); schedule(inst, performance.now()); }),
    button("Clear", "big-map-clear", () => clearSelection(inst)));
  inst.canvas = el("canvas", { class: "bm-canvas", "data-testid": "big-map-canvas" });
  inst.overlay = el("canvas", { class: "bm-overlay", "data-testid": "big-map-overlay" });
  inst.stage = el("div", { class: "bm-stage" }, inst.canvas, inst.overlay);
  inst.status = el("div", { class: "bm-status", "data-testid": "big-map-status" }, "Loading the points…");
  inst.jobBar = el("progress", { class: "bm-job-bar", max: "1", value: "0" });
  inst.jobText = el("span", { class: "bm-job-text" }, "");
  inst.job = el("div", { class: "bm-job", "data-testid": "big-map-job" }, inst.jobBar, inst.jobText);
  inst.job.hidden = true;
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
    inst.host?.send("walk", { index: inst.pinned, t: Date.now() });
  });
  inst.walkButton.disabled = true;
  inst.selInfo = el("div", { class: "bm-caption", "data-testid": "big-map-selection" }, "");
  inst.panel = el("div", { class: "bm-panel" },
    el("div", { class: "bm-label" }, "In the page"), inst.decoded, inst.decodedCaption,
    el("div", { class: "bm-label" }, "From the server"), inst.serverImg, inst.serverCaption,
    inst.pinInfo, inst.walkButton, inst.selInfo);
  const left = el("div", { class: "bm-left" }, inst.stage, inst.job, inst.status, inst.legend);
  root.append(tools, el("div", { class: "bm-body" }, left, inst.panel));
  host.root.append(root);
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

// A layout the host computes in the background (header.layout_job, the notebook's LatentMap: a UMAP or t-SNE of the
// codes in a worker process): its progress under the map, which keeps showing the current points meanwhile; the new
// points arrive as a new data set. Hidden when the header names no job.
function showLayouts(inst, h) {
  const offered = h.layouts ?? [];
  inst.layoutSelect.hidden = !offered.length;
  const names = offered.map((o) => o.value).join(",");
  if (inst.layoutSelect.dataset.names !== names) {
    inst.layoutSelect.dataset.names = names;
    inst.layoutSelect.replaceChildren(...offered.map((o) => el("option", { value: o.value }, `Layout: ${o.label}`)));
  }
  if (h.layout && inst.layoutSelect.value !== h.layout) inst.layoutSelect.value = h.layout;
}

function showJob(inst, job) {
  inst.job.hidden = !job;
  if (!job) return;
  inst.job.dataset.state = job.state;
  inst.job.dataset.method = job.method;
  inst.jobBar.hidden = job.state !== "running";
  inst.jobBar.value = job.fraction ?? 0;
  const what = `${job.label} of ${Number(job.n).toLocaleString("en")} points`;
  const running = `${what} in the background: ${job.stage} (${job.elapsed.toFixed(0)} s); the ${job.showing} layout `
    + "is shown meanwhile";
  inst.jobText.textContent = job.state === "running" ? running
    : job.state === "done" ? `${what}: ${job.stage}` : `${what} failed: ${job.error}`;
}

function update(inst, data) {
  const tData = performance.now();
  const { header: h, blobs, bytes } = parse(data);
  log(G.received, { what: "data", key: h.data_key, bytes, points: !!h.points });
  const first = !inst.header;
  const recoloured = first || h.colour !== inst.header.colour;
  inst.header = h;
  if (recoloured) inst.colour = h.colour === "value" ? "value" : "label";
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
    if (!inst.asked[h.data_key]) { inst.asked[h.data_key] = 1; inst.host?.set("need", { data_key: h.data_key, nonce: Date.now() }); }
    return;
  }
  const newData = inst.ds !== ds;
  if (newData) {
    inst.ds = ds;
    inst.selMask = null; inst.selection = null; inst.pinned = null; inst.hoverIndex = null; inst.highlight = -1;
    fit(inst);
    inst.status.textContent = `${ds.n.toLocaleString("en")} points · drag to pan, wheel to zoom, Shift+drag box, Alt+drag lasso, click to pin`;
  }
  showLayouts(inst, h);
  showJob(inst, h.layout_job ?? null);
  if (!ds.sv) inst.colour = "label";
  if (newData || recoloured) refreshLegend(inst);
  if ((h.selection_key ?? null) !== (inst.selectionKey ?? null) || (newData && blobs.selected)) {
    inst.selectionKey = h.selection_key ?? null;
    if (blobs.selected) selectIndices(inst, blobs.selected);
    else if (h.selection_key !== undefined) { inst.selMask = null; inst.selection = null; showSelection(inst); }
  }
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

/** The component on any host (hosts/: get / set / send / on / request): Streamlit's below, the notebook's in
 * widget.js. */
export function setup(host) {
  host.on("data", (data) => {
    const inst = mount(host);
    inst.host = host;
    try {
      update(inst, data);
    } catch (err) {
      inst.status.textContent = `the map could not be drawn: ${err?.message ?? err}`;
    }
  });
}

export default streamlitComponent(setup);
