// onnxruntime-web for every component: loaded once per page from beside the bundle, sessions cached per key.
//
// The module and its .wasm are served from the same folder as the bundle that imports this (build.mjs copies
// them there), so no component reaches into another's files. One thread: no SharedArrayBuffer without the
// COOP/COEP headers the app does not send. The promise is shared on globalThis (the window, or a Web Worker's own
// scope), so two components on one page load onnxruntime once.

/** Resolve to the onnxruntime-web module (wasm backend, one thread); rejects where WebAssembly is missing. */
export function loadOrt() {
  // the bundle's folder (this file is bundled into it); resolved here, not at load: a blob-URL module (a notebook
  // widget) has no folder, and its host provides onnxruntime first (provideOrt)
  globalThis.__vaeOrt ??= openOrt(() => import("./ort.wasm.bundle.min.mjs"), // external: resolved beside the bundle
    { wasm: new URL("./ort-wasm-simd-threaded.wasm", import.meta.url).href });
  return globalThis.__vaeOrt;
}

/**
 * For a host whose page cannot fetch files beside the bundle (a notebook widget, loaded from a blob URL):
 * `importModule()` resolves to onnxruntime-web's wasm-only module, `wasmBinary` (an ArrayBuffer, or a promise of
 * one: a host may paint before the runtime's bytes are here) is its .wasm.
 * The first call on a page wins, as loadOrt's: a second widget brings no second runtime.
 */
export function provideOrt(importModule, wasmBinary) {
  globalThis.__vaeOrt ??= openOrt(importModule, { binary: wasmBinary });
  return globalThis.__vaeOrt;
}

async function openOrt(importModule, wasm) {
  if (typeof WebAssembly !== "object" || WebAssembly === null || typeof WebAssembly.instantiate !== "function") {
    throw new Error("WebAssembly is not available in this browser");
  }
  const ort = await importModule();
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  // Only the .wasm is named (or handed over): a string prefix would make ort fetch its Emscripten glue as a
  // separate .mjs too, which the bundled module already holds.
  if (wasm.binary) ort.env.wasm.wasmBinary = await wasm.binary;
  else ort.env.wasm.wasmPaths = { wasm: wasm.wasm };
  ort.env.logLevel = "error";
  return ort;
}

/** The web version of a loaded onnxruntime module (null when unknown). */
export function ortVersion(ort) {
  return ort?.env?.versions?.web ?? null;
}

/** Promise<InferenceSession> for `key` (ONNX `bytes`, Uint8Array), made once and kept in `sessions` (a Map). */
export function sessionFor(sessions, ort, key, bytes) {
  if (!sessions.has(key)) {
    const made = ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    made.catch(() => sessions.delete(key)); // a failed session may be retried on a later render
    sessions.set(key, made);
  }
  return sessions.get(key);
}

/** Fetch `url` (same origin) as a Uint8Array; throws with the status on a failed answer. */
export async function fetchBytes(url, what = url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${what} answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Run a decoder `session` on one code float32 of shape `dims` (default (1, D)); returns its first output tensor
 * (dispose it after). */
export async function decode(ort, session, code, dims = [1, code.length]) {
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", code, dims) };
  return (await session.run(feeds))[session.outputNames[0]];
}

/** Run a decoder from code indices (explorer.onnx.discrete.IndexImageGraph) on one grid: `indices` a BigInt64Array
 * (N,) of every level's cells, flattened; returns its first output tensor (1, C, H, W) (dispose it after). */
export async function decodeIndices(ort, session, indices) {
  const feeds = { [session.inputNames[0]]: new ort.Tensor("int64", indices, [1, indices.length]) };
  return (await session.run(feeds))[session.outputNames[0]];
}
