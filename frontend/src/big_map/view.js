// The view: canvas size, the fitted view, screen <-> quantized units <-> data coordinates.
import { PANEL, Q } from "./state.js";

export function size(inst) {
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

export function fit(inst) {
  const W = inst.canvas.width, H = inst.canvas.height;
  inst.view = { cx: Q / 2, cy: Q / 2, s: Math.min(W, H) / Q };
}

// screen <-> quantized units (y up)
export const toQ = (inst, px, py) => {
  const { cx, cy, s } = inst.view;
  return [cx + (px - inst.canvas.width / 2) / s, cy - (py - inst.canvas.height / 2) / s];
};

export const toPx = (inst, qx, qy) => {
  const { cx, cy, s } = inst.view;
  return [(qx - cx) * s + inst.canvas.width / 2, inst.canvas.height / 2 - (qy - cy) * s];
};

export const qToData = (ds, qx, qy) => {
  const [x0, y0, x1, y1] = ds.bounds;
  return [x0 + (qx / Q) * (x1 - x0), y0 + (qy / Q) * (y1 - y0)];
};
