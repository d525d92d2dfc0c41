// A decoder's Web Worker, for any component: decoding never runs on the page's main thread. The worker keeps each
// model's ONNX bytes ({load: {key, bytes}}, sent once), loads onnxruntime-web (ort.js, from beside the bundle) and a
// session per model on first use, and answers one request at a time.

import { loadOrt, sessionFor } from "./ort.js";

/**
 * Serve this worker's decode requests. A message {key, seq, ...} runs `decode(ort, session, message)`, which returns
 * the reply's fields with a transferable `image` (Uint8Array); the worker posts {seq, ...reply}. A failure posts
 * {seq, error}.
 */
export function serveDecodes(decode) {
  const sessions = new Map();
  const bytes = new Map();
  self.onmessage = async (msg) => {
    if (msg.data.load) {
      bytes.set(msg.data.load.key, msg.data.load.bytes);
      return;
    }
    const { key, seq } = msg.data;
    try {
      if (!bytes.has(key)) throw new Error(`no decoder bytes for ${key}`);
      const ort = await loadOrt();
      const session = await sessionFor(sessions, ort, key, bytes.get(key));
      const reply = await decode(ort, session, msg.data);
      self.postMessage({ seq, ...reply }, [reply.image.buffer]);
    } catch (err) {
      self.postMessage({ seq, error: String(err?.message ?? err) });
    }
  };
}
