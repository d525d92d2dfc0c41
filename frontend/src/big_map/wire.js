// The wire format (ui/components/bigmap.py `pack`) and the indexed data set it decodes into.
import { GB, GN } from "./state.js";

export function parse(data) {
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

export function f16(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 5.960464477539063e-8;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function buildDataset(h, b) {
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
