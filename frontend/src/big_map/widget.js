// The big map as a notebook widget (explorer.notebook.LatentMap): the same component code (index.js setup) on the
// anywidget host. build.mjs bundles this into one self-contained ESM, common/ inlined.
//
// The kernel's synced `data` is small: {header, parts}, the header the Streamlit wrapper packs on a rerun, and the
// part keys of the bytes, which the host fetches once per page as custom-message buffers: `points` (a BMAP payload
// of the points' blobs and the header fields that describe them, once per data set), `decoder_url` (the model's
// ONNX decoder, shared with the other widgets of that model) and `selected` (uint32 indices set from Python). This
// entry turns each `data` into the one BMAP payload the component reads on Streamlit (wire.js): the header, with the
// points' blobs while this page has not indexed that data set, and the selection.
import { anywidgetModule, partBytes } from "../hosts/anywidget.js";
import { setup } from "./index.js";
import { G } from "./state.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const pad8 = (n) => (8 - (n % 8)) % 8;

// a BMAP payload's header and its blobs' section
function read(payload) {
  const len = new DataView(payload.buffer, payload.byteOffset, 8).getUint32(4, true);
  const header = JSON.parse(decoder.decode(payload.subarray(8, 8 + len)));
  return { header, body: payload.subarray(8 + len + pad8(8 + len)) };
}

export function toPayload(data) {
  const parts = data.parts ?? {};
  const header = { ...data.header, decoder_url: data.decoder_url };
  let blobs = {}, body = new Uint8Array(0);
  if (parts.points && !G.datasets.has(header.data_key)) {
    const points = read(partBytes(parts.points));
    const { blobs: pointBlobs, ...fields } = points.header;
    Object.assign(header, fields);
    blobs = pointBlobs;
    body = points.body;
  }
  const selected = parts.selected ? partBytes(parts.selected) : null;
  if (selected) blobs = { ...blobs, selected: [body.length + pad8(body.length), selected.length, "uint32"] };
  const head = encoder.encode(JSON.stringify({ ...header, blobs }));
  const start = 8 + head.length + pad8(8 + head.length);
  const out = new Uint8Array(start + body.length + pad8(body.length) + (selected?.length ?? 0));
  out.set([66, 77, 65, 80]); // "BMAP"
  new DataView(out.buffer).setUint32(4, head.length, true);
  out.set(head, 8);
  out.set(body, start);
  if (selected) out.set(selected, start + body.length + pad8(body.length));
  return out;
}

export default anywidgetModule((host) => setup({ ...host, get: () => toPayload(host.get()),
  on: (event, fn) => host.on(event, (data) => fn(toPayload(data))) }));
