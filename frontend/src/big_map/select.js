// Picking and selection: the nearest point, box and lasso, search by index or label, the pinned item.
import { requestDecode } from "./decode.js";
import { drawOverlay, schedule } from "./raster.js";
import { G, GB, GN, HOVER_PX, Q, log } from "./state.js";
import { qToData, toQ } from "./view.js";

export function nearest(inst, px, py, radiusPx = HOVER_PX) {
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

export function selectWith(inst, kind, qbox, polygon) {
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
  log(G.selections, { instance: inst.id, tStart: t0, tDone: performance.now(), ms, total, counts: counts.slice(), kind });
  showSelection(inst);
  schedule(inst, t0);
  inst.host?.set("selection", sel);
  return sel;
}

export function showSelection(inst) {
  const sel = inst.selection;
  if (!sel) { inst.selInfo.textContent = ""; return; }
  const names = inst.header.class_names;
  const top = sel.counts.map((c, i) => [c, i]).filter(([c]) => c > 0).sort((a, b) => b[0] - a[0]).slice(0, 6)
    .map(([c, i]) => `${names[i]}: ${c.toLocaleString("en")}`).join(", ");
  inst.selInfo.textContent = `${sel.kind} selection: ${sel.total.toLocaleString("en")} points (${sel.ms.toFixed(0)} ms)${top ? " — " + top : ""}`;
  inst.selInfo.dataset.total = String(sel.total);
}

export function clearSelection(inst) {
  inst.selMask = null;
  inst.highlight = -1;
  inst.selection = null;
  showSelection(inst);
  inst.host?.set("selection", null);
  schedule(inst, performance.now());
}

export function search(inst, text) {
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

export function pin(inst, index) {
  inst.pinned = index;
  const ds = inst.ds;
  const p = ds.rank[index];
  const [x, y] = qToData(ds, ds.sx[p], ds.sy[p]);
  inst.pinInfo.textContent = `pinned: item ${index} (${inst.header.class_names[ds.sl[p]]}) at (${x.toFixed(3)}, ${y.toFixed(3)})`;
  inst.pinInfo.dataset.index = String(index);
  inst.walkButton.disabled = false;
  inst.walkButton.textContent = `Send item ${index} to walk`;
  inst.host?.set("clicked", { index, t: Date.now() });
  drawOverlay(inst);
}

// A selection set from the host (explorer.notebook.LatentMap's `.selection = indices`): its points marked as a box
// or lasso marks them, the first FIRST of them listed. Not reported back: the host set it.
export function selectIndices(inst, indices) {
  const t0 = performance.now();
  const ds = inst.ds;
  const counts = new Array(inst.header.class_names.length).fill(0);
  const mask = new Uint8Array(ds.n);
  let total = 0;
  for (const i of indices) {
    if (i >= ds.n) continue;
    const p = ds.rank[i];
    if (mask[p]) continue;
    mask[p] = 1;
    counts[ds.sl[p]]++;
    total++;
  }
  const first = Array.from(indices.slice(0, inst.header.first ?? 200)).sort((a, b) => a - b);
  inst.selMask = total > 0 ? mask : null;
  inst.selection = total > 0 ? { kind: "given", total, counts, first, ms: performance.now() - t0, data_key: ds.key } : null;
  showSelection(inst);
  schedule(inst, t0);
}
