// The code-grid editor's Web Worker: the decode from indices never runs on the main thread. It loads onnxruntime-web
// (common/ort.js, from beside the bundle), takes a model's ONNX bytes once ({load: {key, bytes}}), and decodes one
// index grid at a time ({key, indices: BigInt64Array (N,), seq}) with the page's contract
// (explorer.onnx.discrete.IndexImageGraph: flat int64 indices (1, N) in, an image (1, C, H, W) in [0, 1] out),
// answered as uint8 planes (3, H, W), each value round(clamp(v, 0, 1) * 255) as the server's to_uint8.

import { decodeIndices, loadOrt, sessionFor } from "../common/ort.js";
import { unitByte } from "../common/paint.js";

const sessions = new Map();
const bytes = new Map();

self.onmessage = async (msg) => {
  if (msg.data.load) {
    bytes.set(msg.data.load.key, msg.data.load.bytes);
    return;
  }
  const { key, indices, seq } = msg.data;
  try {
    if (!bytes.has(key)) throw new Error(`no decoder bytes for ${key}`);
    const ort = await loadOrt();
    const session = await sessionFor(sessions, ort, key, bytes.get(key));
    const t0 = performance.now();
    const out = await decodeIndices(ort, session, indices);
    const ms = performance.now() - t0;
    const [, C, H, W] = out.dims;
    const plane = H * W;
    const image = new Uint8Array(3 * plane);
    for (let i = 0; i < image.length; i++) image[i] = unitByte(out.data[C >= 3 ? i : i % plane]);
    out.dispose?.();
    self.postMessage({ seq, image, shape: [3, H, W], ms }, [image.buffer]);
  } catch (err) {
    self.postMessage({ seq, error: String(err?.message ?? err) });
  }
};
