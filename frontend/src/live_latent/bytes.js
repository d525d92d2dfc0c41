// The model's ONNX bytes (and the pad's dots): base64 in `data` once per model, or a same-origin URL fetched once;
// kept in window.__liveLatent so that later reruns send none.

import { fetchBytes } from "../common/ort.js";
import { G } from "./state.js";

export function base64Floats(text) {
  const bytes = base64Bytes(text);
  return new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
}

export function base64Bytes(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

export async function partBytes(key, b64, url) {
  if (b64) {
    if (!G.decoders.has(key)) {
      const bytes = base64Bytes(b64);
      G.decoders.set(key, bytes);
      G.received.push({ modelKey: key, bytes: bytes.length, how: "data" });
    }
  } else if (url && !G.decoders.has(key)) {
    const bytes = await fetchBytes(url);
    G.decoders.set(key, bytes);
    G.received.push({ modelKey: key, bytes: bytes.length, how: "url" });
  }
  return G.decoders.get(key) ?? null;
}

export function decoderBytes(data) {
  return partBytes(data.model_key, data.decoder_b64, data.decoder_url);
}

export function encoderBytes(data) {
  return partBytes(`${data.model_key}#encoder`, data.encoder_b64, data.encoder_url);
}
