// Pointer input: pan, zoom, box, lasso, click, and hover (which decodes and asks for the item's image).
import { requestDecode } from "./decode.js";
import { fetchItem } from "./items.js";
import { drawOverlay, schedule } from "./raster.js";
import { nearest, pin, selectWith } from "./select.js";
import { G, Q, log } from "./state.js";
import { qToData, toQ } from "./view.js";

export function bindPointer(inst) {
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

export function hover(inst, x, y, tEvent) {
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
      log(G.hoverSent, { index: inst.hoverIndex, t: performance.now(), how: url ? "fetch" : "rerun" });
      if (url && inst.hoverIndex !== null) fetchItem(inst, url, inst.hoverIndex);
      else if (!url) inst.host?.send("hover", { index: inst.hoverIndex, t: Date.now() });
    }, url ? 40 : 120);
  }
}
