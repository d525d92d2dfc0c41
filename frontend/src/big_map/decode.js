// Decoding the hovered code in the page with onnxruntime-web: the item's code or the PCA inverse.
import { drainLatest } from "../common/latest.js";
import { decode, fetchBytes, loadOrt, ortVersion, sessionFor } from "../common/ort.js";
import { paintCHW } from "../common/paint.js";
import { report } from "../common/telemetry.js";
import { G, log } from "./state.js";
import { f16 } from "./wire.js";

export function codeFor(inst, req) {
  const ds = inst.ds, h = inst.header;
  if (ds.codes && req.index !== null) {
    const D = ds.codeDim, out = new Float32Array(D), row = req.index * D;
    for (let k = 0; k < D; k++) out[k] = f16(ds.codes[row + k]);
    return { code: out, how: "item" };
  }
  if (h.pca_mean && h.pca_components && req.pos) {
    const mean = h.pca_mean, [c0, c1] = h.pca_components, [x, y] = req.pos;
    const out = new Float32Array(mean.length);
    for (let k = 0; k < mean.length; k++) out[k] = mean[k] + x * c0[k] + y * c1[k];
    return { code: out, how: "pca" };
  }
  return null;
}

export function requestDecode(inst, req) {
  inst.decodePending = req;
  if (!inst.decodeBusy && inst.session) runDecode(inst);
}

// the hovered code's decode, painted beside the map
async function decodeHover(inst, req) {
  const made = codeFor(inst, req);
  if (!made) return;
  const [C, H, W] = inst.header.image_shape;
      const out = await decode(inst.ort, inst.session, made.code);
      paintDecoded(inst, out.data, C, H, W);
  out.dispose?.();
  const tDrawn = performance.now();
  inst.decodedCaption.textContent = made.how === "item"
    ? `item ${req.index}'s decoded code`
    : `decoded at the pointer (PCA inverse)${req.index !== null ? ` — nearest: item ${req.index}` : ""}`;
  inst.decodedCaption.dataset.how = made.how;
  log(G.hovers, { instance: inst.id, tEvent: req.tEvent, tDrawn, index: req.index, how: made.how, pos: req.pos });
}

export function runDecode(inst) {
  return drainLatest(inst, { pending: "decodePending", busy: "decodeBusy" }, (req) => decodeHover(inst, req), (err) => {
    inst.decodedCaption.textContent = `in-page decoding failed: ${err?.message ?? err}`;
  });
}

export function paintDecoded(inst, image, C, H, W) {
  if (inst.decoded.width !== W || inst.decoded.height !== H) {
    inst.decoded.width = W; inst.decoded.height = H;
    inst.decodedImage = inst.dctx.createImageData(W, H);
  }
  paintCHW(image, C, H, W, inst.decodedImage.data);
  inst.dctx.putImageData(inst.decodedImage, 0, 0);
}

export async function prepareDecoder(inst, h, blobs) {
  const key = h.model_key;
  if (!key || (inst.sessionKey === key && inst.session)) return;
  inst.sessionKey = key;
  inst.session = null;
  try {
    const ort = await loadOrt();
    G.ortVersion = ortVersion(ort);
    if (blobs.decoder && !G.decoders.has(key)) {
      G.decoders.set(key, blobs.decoder);
      log(G.received, { what: "decoder", key, bytes: blobs.decoder.length });
    } else if (h.decoder_url && !G.decoders.has(key)) {
      G.decoders.set(key, await fetchBytes(h.decoder_url, `the decoder at ${h.decoder_url}`));
    }
    const bytes = G.decoders.get(key);
    if (!bytes) {
      inst.sessionKey = null;
      if (!inst.asked[key]) { inst.asked[key] = 1; inst.host?.set("need", { model_key: key, nonce: Date.now() }); }
      return;
    }
    const session = await sessionFor(G.sessions, ort, key, bytes);
    if (inst.header.model_key !== key) return;
    inst.ort = ort;
    inst.session = session;
    report(inst, { path: "wasm", ort: G.ortVersion, model_key: key });
    if (inst.decodePending) runDecode(inst);
  } catch (err) {
    inst.sessionKey = null;
    inst.decodedCaption.textContent = `decoding in the page is not available: ${err?.message ?? err}`;
    report(inst, { path: "fallback", reason: String(err?.message ?? err), model_key: key });
  }
}
