// The code-grid editor's Web Worker (common/decode_worker.js): one index grid at a time ({key, indices: BigInt64Array
// (N,), seq}) with the page's contract (explorer.onnx.discrete.IndexImageGraph: flat int64 indices (1, N) in, an image
// (1, C, H, W) in [0, 1] out), answered as uint8 planes (3, H, W), each value round(clamp(v, 0, 1) * 255) as the
// server's to_uint8, with the decode's milliseconds.

import { serveDecodes } from "../common/decode_worker.js";
import { decodeIndices } from "../common/ort.js";
import { rgbPlanes } from "../common/paint.js";

serveDecodes(async (ort, session, { indices }) => {
  const t0 = performance.now();
  const out = await decodeIndices(ort, session, indices);
  const ms = performance.now() - t0;
  return { ...rgbPlanes(out), ms };
});
