// The page side of the live-latent component. Its host (hosts/streamlit.js: Streamlit components v2, no iframe)
// gives it the element to draw into and each new `data`; values and status go back to Python by host.set.
//
// K range inputs and one canvas. On every `input` event (every pointer move while dragging) the code
//     code = start + sum_k value_k * scale_k * vector_k
// is built here and decoded here by onnxruntime-web (wasm backend, one thread: no SharedArrayBuffer without
// COOP/COEP), and painted at the model's resolution on a canvas that CSS upscales nearest-neighbour. The latest
// pointer value wins: while a decode runs only the newest request is remembered, and it runs when that decode
// ends (never a queue). On release (`change`) the values go back to Python with host.set("released").
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
//
// This file mounts an instance, applies `data` and prepares the sessions; the rest: state.js (the hook), bytes.js
// (the model's bytes), loop.js (the decode loop), sliders.js, pad.js and draw.js (the three modes).

import { el, mountedInstance } from "../common/dom.js";
import { loadOrt, ortVersion, sessionFor } from "../common/ort.js";
import { report } from "../common/telemetry.js";
import { streamlitComponent } from "../hosts/streamlit.js";
import { decoderBytes, encoderBytes } from "./bytes.js";
import { buildDraw, drawMap, encodeAndPaint } from "./draw.js";
import { decodeAndPaint, release, request, showNote } from "./loop.js";
import { buildPad, drawPad } from "./pad.js";
import { buildSliders, fmt } from "./sliders.js";
import { G } from "./state.js";

function mount(host) {
  const kept = mountedInstance(host, "ll-root");
  if (kept) { G.mounted.add(kept); return kept; }
  const root = el("div", { class: "ll-root", "data-path": "pending" });
  const canvas = el("canvas", { class: "ll-canvas", "data-testid": "live-latent-canvas" });
  const note = el("div", { class: "ll-note", "data-testid": "live-latent-status" }, "Loading the in-page decoder…");
  // the host's own decode (data.server_image, a PNG data URL): where the page does not decode (data.page_reason)
  const serverImage = el("img", { class: "ll-canvas ll-server", "data-testid": "live-latent-server-image", alt: "" });
  serverImage.hidden = true;
  const sliderBox = el("div", { class: "ll-sliders" });
  root.append(el("div", { class: "ll-image" }, canvas, serverImage, note), sliderBox);
  host.root.append(root);
  const inst = {
    root, canvas, serverImage, note, sliderBox, ctx: canvas.getContext("2d", { willReadFrequently: true }),
    id: `ll${++G.seq}`, data: null, values: [], pending: null, busy: false, dragging: false,
    session: null, sessionKey: null, dropped: 0, firstRender: performance.now(), firstFrame: null,
    reported: null, asked: null, host: null, pad: null, client: null, committed: [],
  };
  root.__inst = inst;
  G.mounted.add(inst);
  return inst;
}

// the instance's status in the hook (with its timings), and its path for Python
function setStatus(inst, status) {
  G.status[inst.id] = { ...(G.status[inst.id] ?? {}), ...status };
  report(inst, { path: status.path, reason: status.reason ?? "", model_key: status.modelKey, ort: G.ortVersion });
}

async function prepare(inst) {
  const d = inst.data;
  const key = d.model_key;
  if (d.page_reason) { // the host decodes (too slow a decoder for frames here): no runtime, no decoder fetched
    const now = G.status[inst.id];
    if (now?.path !== "fallback" || now?.reason !== d.page_reason || now?.modelKey !== key) {
      fallback(inst, key, d.page_reason);
      showNote(inst, `The kernel decodes each release (${d.page_reason}).`);
    }
    return;
  }
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
    G.ortVersion = ortVersion(ort);
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
      inst.host?.set("need", { model_key: key, nonce: Date.now() });
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
        inst.host?.set("need", { model_key: key, nonce: Date.now() });
      }
      inst.sessionKey = null;
      return;
    }
  }
  let session, encoder = null;
  try {
    session = await sessionFor(G.sessions, ort, key, bytes);
    if (encBytes) encoder = await sessionFor(G.sessions, ort, `${key}#encoder`, encBytes);
  } catch (err) {
    return fallback(inst, key, `the ${encBytes && session ? "encoder" : "decoder"} session could not be created: ${err?.message ?? err}`);
  }
  if (inst.data.model_key !== key) return; // another model was chosen meanwhile
  inst.canvas.hidden = false;
  inst.ort = ort;
  inst.encoder = encoder;
  inst.session = session;
  showNote(inst, "");
  setStatus(inst, { path: "wasm", modelKey: key, sessionReady: performance.now() });
  request(inst, performance.now());
}

function fallback(inst, key, reason) {
  inst.sessionKey = null;
  showNote(inst, inst.board
    ? `Encoding in the page is not available (${reason}); the server reconstructs the drawing when you release.`
    : `Decoding in the page is not available (${reason}); the server decodes instead.`);
  inst.canvas.hidden = true;
  setStatus(inst, { path: "fallback", modelKey: key, reason });
}

function update(inst, data) {
  const old = inst.data;
  inst.data = data;
  // data.hidden: the page's own server panel holds the controls (the decoder is loading, or cannot run here); the
  // instance keeps loading out of sight, and shows itself when Python, told "wasm", has removed that panel
  inst.root.style.display = data.hidden ? "none" : "";
  const [C, H, W] = data.image_shape;
  if (inst.canvas.width !== W || inst.canvas.height !== H) {
    inst.canvas.width = W;
    inst.canvas.height = H;
    inst.imageData = inst.ctx.createImageData(W, H);
  }
  const size = data.display_size;
  inst.canvas.style.width = `${size}px`;
  inst.canvas.style.height = `${Math.round((size * H) / W)}px`;
  inst.serverImage.hidden = !data.server_image;
  if (data.server_image && inst.serverImage.getAttribute("src") !== data.server_image) {
    inst.serverImage.src = data.server_image;
    inst.serverImage.style.width = `${size}px`;
    inst.serverImage.style.height = `${Math.round((size * H) / W)}px`;
  }
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
    inst.host?.set("need", { model_key: data.model_key, dots_key: data.dots_key, nonce: Date.now() });
  }
  if (!old || structure !== inst.structure) {
    inst.structure = structure;
    if (!valuesChanged && !draw) inst.values = data.values.slice();
    inst.pad = null;
    inst.board = null;
    inst.map = null;
    inst.sliderBox.classList.toggle("ll-drawing", draw);
    if (draw) buildDraw(inst); else if (pad) buildPad(inst); else buildSliders(inst);
    inst.work = draw ? encodeAndPaint : decodeAndPaint;
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

/** The component on any host (hosts/: get / set / on): the Streamlit one below, the notebook's in widget.js. */
export function setup(host) {
  host.on("data", (data) => {
    const inst = mount(host);
    inst.host = host;
    update(inst, data);
  });
}

export default streamlitComponent(setup);
