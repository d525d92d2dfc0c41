// The student decoder's Web Worker (tier b): never the main thread. It loads onnxruntime-web (common/ort.js, from
// beside the bundle), takes the student's ONNX bytes once ({load: {key, bytes}}), and decodes one code at a time, in
// the page's decoder contract (vae-distill exports its student so): the flat code (1, C*H*W) in the code space the
// page shows in, an image (1, 3, H', W') in [0, 1] out; answered as uint8 RGB planes.

import { decode, loadOrt, sessionFor } from "../common/ort.js";
import { unitByte } from "../common/paint.js";

const sessions = new Map();
const bytes = new Map();

self.onmessage = async (msg) => {
  if (msg.data.load) {
    bytes.set(msg.data.load.key, msg.data.load.bytes);
    return;
  }
  const { key, code, dims, seq, tEvent } = msg.data;
  try {
    const ort = await loadOrt();
    const session = await sessionFor(sessions, ort, key, bytes.get(key));
    const out = await decode(ort, session, code, dims);
    const [, C, H, W] = out.dims;
    const image = new Uint8Array(3 * H * W);
    for (let i = 0; i < image.length; i++) {
      const v = out.data[(C >= 3 ? i : i % (H * W))];
      image[i] = unitByte(v);
    }
    out.dispose?.();
    self.postMessage({ seq, tEvent, image, shape: [3, H, W] }, [image.buffer]);
  } catch (err) {
    self.postMessage({ seq, error: String(err?.message ?? err) });
  }
};

