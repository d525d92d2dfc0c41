// The component's page-wide state, window.__liveLatent (also the test and benchmark hook), and the one release
// listener.

import { prepareDigit } from "./prepare_digit.js";

export const MAX_FRAMES = 400;

export const G = (window.__liveLatent ??= {
  frames: [],            // the last MAX_FRAMES painted frames, all instances
  decoders: new Map(),   // model_key -> Uint8Array (the ONNX file)
  dots: new Map(),       // dots_key -> Float32Array (N*2: x0, y0, x1, y1, ...), the pad's background points
  sessions: new Map(),   // model_key -> Promise<InferenceSession>
  status: {},            // instance key -> {path, reason, modelKey, ...}
  received: [],          // {modelKey, bytes, how} each time decoder bytes reached the page
  ortVersion: null,
  events: 0,             // slider input events seen (each pointer move while dragging is one)
  seq: 0,
  draw: {},              // instance key -> {raster (side*side uint8), side, prepared (H*W float32), blank}
  strokeEvents: [],      // event.timeStamp of the last stroke events (pointer down / move while drawing)
});

G.prepareDigit ??= prepareDigit;

// A release anywhere ends every drag. One listener for the page, holding no instance: a listener per mount kept
// each unmounted instance (its canvas and sliders) alive for the page's life (bench/bench_soak.py: the DOM node
// count grew by ~400 a model switch while the document's own elements stayed at ~640).
// Instances are in G.mounted while rendered (mount() adds them on every render); a release drops the ones no
// longer in the document.
G.mounted ??= new Set();

if (!G.releaseListener) {
  G.releaseListener = true;
  window.addEventListener("pointerup", () => {
    for (const inst of G.mounted) {
      inst.dragging = false;
      if (!inst.root.isConnected) G.mounted.delete(inst);
    }
  });
}
