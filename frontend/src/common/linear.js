// The linear latent -> RGB preview (explorer.preview.linear, the ComfyUI form) in the page:
//     rgb[o, p] = clamp(sum_c code[c, p] * weights[c][o] + bias[o], 0, 1)      per code cell p
// A walk moves every cell (or the cells of a region, mask m[p] in [0, 1]) by one channel-space vector d (C,):
//     code'[c, p] = code[c, p] + m[p] * d[c]
// and the map is linear, so code' paints as base[o, p] + m[p] * (d . weights[:, o]): the start code's map
// `base` is computed once per code, and every pointer event costs 3 * H * W multiply-adds, whatever C is.

import { unitByte } from "./paint.js";

/**
 * The start code's map before clamping: code (C*H*W float32, channel-major), weights (C x [r, g, b]), bias ([r, g, b])
 * -> Float32Array(3 * H * W), plane o at [o * H * W, (o + 1) * H * W).
 */
export function linearBase(code, C, H, W, weights, bias) {
  const plane = H * W;
  const base = new Float32Array(3 * plane);
  for (let o = 0; o < 3; o++) {
    const out = base.subarray(o * plane, (o + 1) * plane);
    out.fill(bias[o]);
    for (let c = 0; c < C; c++) {
      const w = weights[c][o];
      if (w === 0) continue;
      const src = code.subarray(c * plane, (c + 1) * plane);
      for (let p = 0; p < plane; p++) out[p] += w * src[p];
    }
  }
  return base;
}

/** The RGB shift [r, g, b] of moving a cell by the channel-space vector `move` (C,): move . weights[:, o]. */
export function rgbShift(move, weights) {
  const shift = [0, 0, 0];
  for (let c = 0; c < move.length; c++) for (let o = 0; o < 3; o++) shift[o] += move[c] * weights[c][o];
  return shift;
}

/**
 * Paint base + mask * shift, clamped to [0, 1], into `rgba` (an ImageData's H*W*4 bytes, alpha 255). mask: H*W
 * values in [0, 1], or null for every cell.
 */
export function paintLinear(base, shift, mask, H, W, rgba) {
  const plane = H * W;
  const [sr, sg, sb] = shift;
  for (let p = 0; p < plane; p++) {
    const m = mask === null ? 1 : mask[p];
    const r = base[p] + m * sr;
    const g = base[plane + p] + m * sg;
    const b = base[2 * plane + p] + m * sb;
    rgba[4 * p] = unitByte(r);
    rgba[4 * p + 1] = unitByte(g);
    rgba[4 * p + 2] = unitByte(b);
    rgba[4 * p + 3] = 255;
  }
}

/** Uint8Array of base64 `b64`. */
export function bytesFromBase64(b64) {
  const raw = atob(b64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** Float32Array of the little-endian float32 bytes in base64 `b64`. */
export function float32FromBase64(b64) {
  return new Float32Array(bytesFromBase64(b64).buffer);
}
