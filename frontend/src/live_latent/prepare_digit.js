// The page's twin of explorer.images.prepare_digit (MNIST's preparation of a digit picture), so that a drawing is
// prepared in the page exactly as the server prepares the same raster (same 28x28 input within 1/255).
//
// Hand-written because no npm package reproduces Pillow's resampling: the crop, the scale to a 20 px box and the
// centring by mass follow prepare_digit line by line, in float32 where numpy works in float32 (Math.fround), with
// Python's round-half-to-even, and the resize is Pillow's own two-pass separable filter (Resample.c:
// precompute_coeffs, horizontal pass then vertical, double accumulators, float32 storage) with its BOX filter
// (shrinking) or BILINEAR filter (growing), as prepare_digit picks them.

const f32 = Math.fround;
export const DIGIT_BOX = 20; // explorer.images.DIGIT_BOX
const INK_LEVEL = f32(0.2); // explorer.images.INK_LEVEL, compared in float32 as numpy does

/** Python's round(): nearest, ties to even. */
export function pyRound(x) {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const FILTERS = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
  bilinear: { support: 1.0, fn: (x) => { x = Math.abs(x); return x < 1.0 ? 1.0 - x : 0.0; } },
};

// Pillow's precompute_coeffs for in0 = 0, in1 = inSize: per output pixel, [xmin, count, weights...]
function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterscale = Math.max(1.0, scale);
  const support = filter.support * filterscale;
  const ss = 1.0 / filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const k = new Float64Array(Math.max(0, xmax));
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.fn((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    if (ww !== 0.0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    out.push([xmin, k]);
  }
  return out;
}

/** Pillow's Image.resize of a mode "F" image: src (h*w float32, row-major) -> (newH*newW) Float32Array. */
export function resizeF(src, w, h, newW, newH, kind) {
  const filter = FILTERS[kind];
  let cur = src, curW = w;
  if (newW !== w) { // horizontal pass first, as Pillow does
    const cx = coefficients(w, newW, filter);
    const tmp = new Float32Array(newW * h);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < newW; xx++) {
        const [xmin, k] = cx[xx];
        let s = 0.0;
        for (let x = 0; x < k.length; x++) s += cur[y * curW + xmin + x] * k[x];
        tmp[y * newW + xx] = s;
      }
    }
    cur = tmp;
    curW = newW;
  }
  if (newH !== h) {
    const cy = coefficients(h, newH, filter);
    const tmp = new Float32Array(curW * newH);
    for (let yy = 0; yy < newH; yy++) {
      const [ymin, k] = cy[yy];
      for (let x = 0; x < curW; x++) {
        let s = 0.0;
        for (let y = 0; y < k.length; y++) s += cur[(ymin + y) * curW + x] * k[y];
        tmp[yy * curW + x] = s;
      }
    }
    cur = tmp;
  }
  return cur === src ? Float32Array.from(src) : cur;
}

function median(values) {
  const v = Float32Array.from(values).sort();
  const n = v.length, m = n >> 1;
  return n % 2 ? v[m] : f32(f32(v[m - 1] + v[m]) / 2);
}

/**
 * prepare_digit(ink, outH, outW): ink (H*W, row-major, high = ink, values in [0, 1]) of an (H, W) picture ->
 * Float32Array (outH*outW) on a 0 background: the paper level (median of the border) removed, the contrast
 * stretched to 1, cropped to the ink, the longest side scaled to 20 px (of 28), centred by mass. All zeros when
 * there is no ink.
 */
export function prepareDigit(ink, H, W, outH = 28, outW = 28) {
  const box = Math.max(1, pyRound(DIGIT_BOX * Math.min(outH, outW) / 28));
  const a = Float32Array.from(ink);
  const border = [];
  for (let x = 0; x < W; x++) border.push(a[x]);
  for (let x = 0; x < W; x++) border.push(a[(H - 1) * W + x]);
  for (let y = 0; y < H; y++) border.push(a[y * W]);
  for (let y = 0; y < H; y++) border.push(a[y * W + W - 1]);
  const level = median(border);
  let top = 0;
  for (let i = 0; i < a.length; i++) {
    a[i] = Math.max(0, f32(a[i] - level));
    if (a[i] > top) top = a[i];
  }
  const out = new Float32Array(outH * outW);
  if (top <= 1e-3) return out;
  let r0 = H, r1 = -1, c0 = W, c1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const v = (a[y * W + x] = f32(a[y * W + x] / top));
      if (v > INK_LEVEL) {
        if (y < r0) r0 = y;
        if (y > r1) r1 = y;
        if (x < c0) c0 = x;
        if (x > c1) c1 = x;
      }
    }
  }
  const h = r1 - r0 + 1, w = c1 - c0 + 1;
  const crop = new Float32Array(h * w);
  for (let y = 0; y < h; y++) crop.set(a.subarray((r0 + y) * W + c0, (r0 + y) * W + c0 + w), y * w);
  const scale = box / Math.max(h, w);
  const newW = Math.max(1, pyRound(w * scale)), newH = Math.max(1, pyRound(h * scale));
  const small = resizeF(crop, w, h, newW, newH, scale < 1 ? "box" : "bilinear");
  let mass = 0, my = 0, mx = 0;
  for (let y = 0; y < newH; y++) {
    for (let x = 0; x < newW; x++) {
      const v = (small[y * newW + x] = Math.min(1, Math.max(0, small[y * newW + x])));
      mass += v;
      my += y * v;
      mx += x * v;
    }
  }
  mass = f32(mass); // numpy sums the float32 array in float32
  const topY = pyRound((outH - 1) / 2 - my / mass);
  const leftX = pyRound((outW - 1) / 2 - mx / mass);
  const y0 = Math.max(0, topY), x0 = Math.max(0, leftX);
  const y1 = Math.min(outH, topY + newH), x1 = Math.min(outW, leftX + newW);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) out[y * outW + x] = small[(y - topY) * newW + (x - leftX)];
  }
  return out;
}
