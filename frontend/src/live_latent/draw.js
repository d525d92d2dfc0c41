// Draw mode: a drawing canvas, prepared as the server prepares a digit (prepare_digit.js), encoded and decoded in
// the page, and marked on a small PCA map of the test codes.

import { el } from "../common/dom.js";
import { push } from "../common/telemetry.js";
import { paintCode, pushFrame, request, showNote } from "./loop.js";
import { drawPlane, sharpSquare } from "./pad.js";
import { prepareDigit } from "./prepare_digit.js";
import { clearControls, fmt } from "./sliders.js";
import { G, MAX_FRAMES } from "./state.js";

export function buildDraw(inst) {
  const d = inst.data;
  clearControls(inst);
  const side = d.draw_size;
  const board = el("canvas", { class: "ll-draw", "data-testid": "live-latent-draw", "aria-label": "drawing canvas" });
  board.width = side; // one canvas pixel per CSS pixel on every screen: the raster does not depend on the device
  board.height = side;
  board.style.width = `${side}px`;
  board.style.height = `${side}px`;
  const ctx = board.getContext("2d", { willReadFrequently: true });
  const clear = el("button", { type: "button", class: "ll-clear", "data-testid": "live-latent-clear" }, "Clear");
  const map = sharpSquare({ class: "ll-map", "data-testid": "live-latent-map", "aria-label": "PCA map of the test codes" },
                          d.map_size);
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

export function strokeEvent(ev) {
  push(G.strokeEvents, ev.timeStamp, 4 * MAX_FRAMES);
}

export function wipe(inst) {
  inst.boardCtx.fillStyle = "#000";
  inst.boardCtx.fillRect(0, 0, inst.board.width, inst.board.height);
}

// the board's ink (side*side uint8, the red channel of white-on-black strokes)
export function boardRaster(inst) {
  const side = inst.board.width;
  const rgba = inst.boardCtx.getImageData(0, 0, side, side).data;
  const raster = new Uint8Array(side * side);
  for (let p = 0; p < raster.length; p++) raster[p] = rgba[4 * p];
  return raster;
}

export function drawMap(inst) {
  if (!inst.map) return;
  drawPlane(inst, inst.map, inst.mapCtx, inst.mapPoint);
  if (inst.mapPoint) {
    const [x, y] = inst.mapPoint;
    inst.readout.textContent = `your drawing on the PCA map: (${fmt(x)}, ${fmt(y)})`;
  } else {
    inst.readout.textContent = "Draw a digit: its code is marked on the PCA map of the test codes.";
  }
}

export function project(inst, code) {
  const mean = inst.data.pca_mean, comps = inst.data.pca_components;
  return comps.map((c) => { let s = 0; for (let i = 0; i < code.length; i++) s += (code[i] - mean[i]) * c[i]; return s; });
}

export function releaseDrawing(inst) {
  const raster = boardRaster(inst);
  let text = "";
  for (let i = 0; i < raster.length; i += 8192) text += String.fromCharCode(...raster.subarray(i, i + 8192));
  inst.host?.set("released", { model_key: inst.data.model_key, side: inst.board.width,
                                        raster_b64: btoa(text), strokes: inst.strokes, nonce: Date.now() });
}

export async function encodeAndPaint(inst, req) {
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
