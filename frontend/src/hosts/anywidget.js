// The notebook host (anywidget): the only module that touches the anywidget model API.
//
// It offers a component the same host object as hosts/streamlit.js (root, get, set, send, on, request), so the
// component's code is the Streamlit one, unchanged:
//   host.get()           the widget's synced `data` trait, with each of data.parts' fields ({field: part key})
//                        filled in with a blob URL of that part's bytes
//   host.set(name, v)    a custom message {type: "set", name, value} to the kernel (the widget's Python side),
//                        then the synced trait `reported` ({name, n, t}) set from the page: a reactive notebook
//                        (marimo's mo.ui.anywidget) reruns the cells that read the widget on a change the page
//                        makes to its state, as Streamlit reruns on setStateValue. The report itself stays a
//                        custom message (a drawing's raster is no state a saved notebook should keep)
//   host.send(name, v)   the custom message alone, with type "send" (hover and other passing events: no rerun)
//   host.on("data", fn)  fn(data) once the parts are here, and on every later change of `data`
//   host.request(url, {signal})  what the Streamlit host's HTTP routes answer, asked of the kernel instead: a custom
//                        message {type: "request", id, url}, answered by {type: "response", id, ok, mime, error}
//                        with the body as its one buffer; a Blob, or an Error
// Bytes (onnxruntime-web's module and .wasm, the model's ONNX files) never sit in a synced trait, which a saved
// notebook would keep: the page asks for the parts it lacks ({type: "need", keys}) and the kernel answers with
// custom-message buffers ({type: "parts", keys}, one buffer per key). They are kept once per page
// (window.__vaeWidgetParts), so a second widget of the same model, or any second widget's runtime, sends none.
// The module is loaded from a blob URL, where onnxruntime cannot fetch its .wasm relative to itself: the host
// hands the module and the binary over (common/ort.js provideOrt) before the component first asks for them.

import { provideOrt } from "../common/ort.js";

export const ORT_MODULE = "ort.wasm.bundle.min.mjs"; // the part keys of onnxruntime-web (the asset file names)
export const ORT_WASM = "ort-wasm-simd-threaded.wasm";

const PARTS = (window.__vaeWidgetParts ??= { bytes: new Map(), urls: new Map(), waiting: new Map() });
PARTS.log ??= []; // {what: "need" | "parts" | "setup", t, keys, bytes}: when the parts crossed (for the tests)
PARTS.reports ??= 0; // host.set calls on this page: `reported` differs on every one

function keep(key, buffer) {
  const bytes = view(buffer);
  PARTS.bytes.set(key, bytes);
  const type = key.endsWith(".mjs") ? "text/javascript" : "application/octet-stream";
  PARTS.urls.set(key, URL.createObjectURL(new Blob([bytes], { type })));
  for (const resolve of PARTS.waiting.get(key) ?? []) resolve();
  PARTS.waiting.delete(key);
}

// resolves when every key is on the page, asking the kernel (through `model`) for those that are not
function ensure(model, keys) {
  const missing = keys.filter((key) => !PARTS.urls.has(key));
  const asked = missing.filter((key) => !PARTS.waiting.has(key));
  const arrived = missing.map((key) => new Promise((resolve) => {
    if (!PARTS.waiting.has(key)) PARTS.waiting.set(key, []);
    PARTS.waiting.get(key).push(resolve);
  }));
  if (asked.length) {
    PARTS.log.push({ what: "need", t: performance.now(), keys: asked });
    model.send({ type: "need", keys: asked });
  }
  return Promise.all(arrived);
}

const view = (buffer) => (buffer instanceof DataView ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  : new Uint8Array(buffer.buffer ?? buffer));

/** The bytes of a part already on the page (a Uint8Array; undefined before it arrived). */
export function partBytes(key) {
  return PARTS.bytes.get(key);
}

function withParts(data) {
  const out = { ...data };
  for (const [field, key] of Object.entries(data.parts ?? {})) out[field] = PARTS.urls.get(key);
  return out;
}

/** The module anywidget loads: `setup(host)` runs once per view, then every change of `data` emits "data". */
export function anywidgetModule(setup) {
  return {
    render({ model, el }) {
      el.dataset.rendered = String(performance.now()); // when this view began (tests time its first paint from it)
      const listeners = { data: [] };
      const asked = new Map(); // request id -> {resolve, reject}
      let ready = false, seq = 0;
      const host = {
        root: el,
        get: () => withParts(model.get("data")),
        // the trait follows the message once it is sent (marimo's send is a promise; Jupyter's comm keeps order),
        // so the kernel has the report when a cell that reads the widget reruns
        set: (name, value) => Promise.resolve(model.send({ type: "set", name, value })).then(() => {
          model.set("reported", { name, n: ++PARTS.reports, t: Date.now() });
          model.save_changes();
        }),
        send: (name, value) => model.send({ type: "send", name, value }),
        request: (url, { signal } = {}) => new Promise((resolve, reject) => {
          const id = ++seq;
          asked.set(id, { resolve, reject });
          signal?.addEventListener("abort", () => { asked.delete(id); reject(new DOMException("aborted", "AbortError")); });
          model.send({ type: "request", id, url });
        }),
        on(event, fn) {
          if (!listeners[event]) throw new Error(`unknown host event ${event}: expected one of ${Object.keys(listeners)}`);
          listeners[event].push(fn);
        },
      };
      const emit = () => { for (const fn of listeners.data) fn(host.get()); };
      const onMessage = (msg, buffers) => {
        if (msg?.type === "parts") {
          PARTS.log.push({ what: "parts", t: performance.now(), keys: msg.keys, bytes: buffers.map((b) => b.byteLength) });
          msg.keys.forEach((key, i) => { if (!PARTS.urls.has(key)) keep(key, buffers[i]); });
        }
        if (msg?.type === "response" && asked.has(msg.id)) {
          const { resolve, reject } = asked.get(msg.id);
          asked.delete(msg.id);
          if (msg.ok) resolve(new Blob([view(buffers[0])], { type: msg.mime ?? "application/octet-stream" }));
          else reject(new Error(msg.error ?? "the kernel could not answer"));
        }
      };
      // every part the current data names is here before the component sees that data. The runtime is provided at
      // once but asked for only once that data is handed over, and not waited for (the component's loadOrt waits):
      // its 14 MB then cross after the map's first frame, not while the page indexes and paints the points
      const refresh = async () => {
        const data = model.get("data");
        const parts = ensure(model, Object.values(data.parts ?? {}));
        let askOrt = () => {};
        if (!globalThis.__vaeOrt) {
          const ort = new Promise((resolve) => { askOrt = resolve; }).then(() => ensure(model, [ORT_MODULE, ORT_WASM]));
          provideOrt(() => ort.then(() => import(PARTS.urls.get(ORT_MODULE))),
            ort.then(() => PARTS.bytes.get(ORT_WASM).slice().buffer));
        }
        try {
          await parts;
          if (model.get("data") !== data) return; // a newer `data` came meanwhile: its own refresh emits it
          if (!ready) { ready = true; PARTS.log.push({ what: "setup", t: performance.now() }); setup(host); }
          emit();
        } finally {
          askOrt();
        }
      };
      model.on("msg:custom", onMessage);
      model.on("change:data", refresh);
      refresh();
      return () => {
        model.off("msg:custom", onMessage);
        model.off("change:data", refresh);
      };
    },
  };
}
