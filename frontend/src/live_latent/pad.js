// Pad mode: a square canvas over the plane of two axes, with its background dots and a crosshair.

import { el } from "../common/dom.js";
import { base64Floats } from "./bytes.js";
import { release, request } from "./loop.js";
import { clearControls, fmt } from "./sliders.js";
import { G } from "./state.js";

// a square canvas of `size` CSS px with the screen's pixel ratio (1 to 3) in its raster, so lines stay sharp
export function sharpSquare(attrs, size) {
  const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const canvas = el("canvas", attrs);
  canvas.width = Math.round(size * ratio);
  canvas.height = Math.round(size * ratio);
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  return canvas;
}

export function buildPad(inst) {
  const d = inst.data;
  clearControls(inst);
  const pad = sharpSquare({ class: "ll-pad", "data-testid": "live-latent-pad", "aria-label": `${d.labels[0]} / ${d.labels[1]} pad` },
                          d.pad_size);
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

export function padDots(inst) {
  const key = inst.data.dots_key;
  if (!key) return null;
  if (inst.data.dots_b64 && !G.dots.has(key)) G.dots.set(key, base64Floats(inst.data.dots_b64));
  return G.dots.get(key) ?? null;
}

// the plane's background (light fill, the axes through 0, the dots), drawn once per signature and then copied
export function planeBackground(inst, W, H) {
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

export function crosshair(ctx, W, cx, cy) {
  ctx.strokeStyle = "#d62728";
  ctx.lineWidth = Math.max(1.5, W / 200);
  ctx.beginPath();
  ctx.arc(cx, cy, W / 40, 0, 2 * Math.PI);
  ctx.moveTo(cx - W / 25, cy); ctx.lineTo(cx + W / 25, cy);
  ctx.moveTo(cx, cy - W / 25); ctx.lineTo(cx, cy + W / 25);
  ctx.stroke();
}

// the plane's background on `canvas`, and a crosshair at `point` ([x, y] in plane units) when there is one
export function drawPlane(inst, canvas, ctx, point) {
  const W = canvas.width, H = canvas.height;
  const { canvas: background, px, py } = planeBackground(inst, W, H);
  ctx.drawImage(background, 0, 0);
  if (point) crosshair(ctx, W, px(point[0]), py(point[1]));
}

export function drawPad(inst) {
  if (!inst.pad) return;
  drawPlane(inst, inst.pad, inst.padCtx, inst.values);
  const [x, y] = inst.values;
  inst.readout.textContent = `${inst.data.labels[0]} ${fmt(x)}, ${inst.data.labels[1]} ${fmt(y)}`;
}
