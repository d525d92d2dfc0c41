// The region brush: paint code cells on an overlay over the image (mouse, pen or touch); the walk then moves only
// those cells. The mask is H*W values in {0, 1} at the code's resolution; the overlay shows it, translucent.
// Painting repaints the linear preview at once (every stroke event), and lifting the pointer is a release.

import { el } from "../common/dom.js";

/** base64 of the mask as H*W uint8 (0 or 1), for Python. */
export function maskBase64(mask) {
  let raw = "";
  for (let i = 0; i < mask.length; i++) raw += String.fromCharCode(mask[i] > 0 ? 1 : 0);
  return btoa(raw);
}

/** Draw the mask on the overlay canvas (H x W, upsampled by CSS like the image). */
export function paintMaskOverlay(inst) {
  const [, H, W] = inst.data.shape;
  if (inst.overlay.width !== W || inst.overlay.height !== H) { inst.overlay.width = W; inst.overlay.height = H; }
  const img = inst.octx.createImageData(W, H);
  for (let p = 0; p < H * W; p++) {
    if (inst.mask[p] > 0) { img.data[4 * p] = 255; img.data[4 * p + 1] = 220; img.data[4 * p + 3] = 90; }
  }
  inst.octx.putImageData(img, 0, 0);
}

// the code cell under a pointer event, or null outside the image
function cellAt(inst, ev) {
  const [, H, W] = inst.data.shape;
  const box = inst.overlay.getBoundingClientRect();
  const x = Math.floor(((ev.clientX - box.left) / box.width) * W);
  const y = Math.floor(((ev.clientY - box.top) / box.height) * H);
  return x >= 0 && y >= 0 && x < W && y < H ? [y, x] : null;
}

function stamp(inst, [y, x], radius, value) {
  const [, H, W] = inst.data.shape;
  for (let dy = -radius; dy <= radius; dy++) for (let dx = -radius; dx <= radius; dx++) {
    const yy = y + dy, xx = x + dx;
    if (dx * dx + dy * dy <= radius * radius && yy >= 0 && xx >= 0 && yy < H && xx < W) inst.mask[yy * W + xx] = value;
  }
}

/**
 * The brush's controls (a toggle, the size in cells, Clear) and its pointer handlers on inst.overlay.
 * hooks: {paintPreview(inst, tEvent, why), release(inst), G} from index.js.
 */
export function buildBrush(inst, { paintPreview, release, G }) {
  const [, H] = inst.data.shape;
  const on = el("input", { type: "checkbox", "data-testid": "spatial-live-brush-on" });
  const size = el("input", { type: "range", min: "0", max: String(Math.max(1, Math.floor(H / 4))), step: "1",
                             value: String(Math.max(1, Math.floor(H / 16))), "aria-label": "brush radius (cells)" });
  const clear = el("button", { type: "button", class: "sl-button" }, "Clear region");
  const state = { painting: false, value: 1 };
  const stroke = (ev) => {
    const cell = cellAt(inst, ev);
    if (!cell) return;
    G.events++;
    stamp(inst, cell, Number(size.value), state.value);
    paintMaskOverlay(inst);
    if (inst.awaiting === -1) inst.awaiting = 0;
    paintPreview(inst, ev.timeStamp, "brush");
  };
  inst.overlay.addEventListener("pointerdown", (ev) => {
    if (!on.checked) return;
    state.painting = true;
    state.value = ev.button === 2 || ev.altKey ? 0 : 1; // right button or Alt erases
    inst.dragging = true;
    inst.overlay.setPointerCapture?.(ev.pointerId);
    stroke(ev);
  });
  inst.overlay.addEventListener("pointermove", (ev) => { if (state.painting) stroke(ev); });
  const end = () => {
    if (!state.painting) return;
    state.painting = false;
    release(inst);
  };
  inst.overlay.addEventListener("pointerup", end);
  inst.overlay.addEventListener("pointercancel", end);
  inst.overlay.addEventListener("contextmenu", (ev) => { if (on.checked) ev.preventDefault(); });
  on.addEventListener("change", () => { inst.overlay.classList.toggle("sl-painting", on.checked); });
  clear.addEventListener("click", () => {
    inst.mask.fill(0);
    paintMaskOverlay(inst);
    paintPreview(inst, performance.now(), "clear");
    release(inst);
  });
  return el("div", { class: "sl-brush" },
    el("label", { class: "sl-row" }, on, el("span", {}, "Paint a region (Alt or right button erases); the sliders then move only it")),
    el("label", { class: "sl-row" }, el("span", { class: "sl-name" }, "brush radius"), size), clear);
}
