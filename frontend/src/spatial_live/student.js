// Tier b on the main thread's side: hand the moved code to the student decoder's Web Worker (student_worker.js),
// latest wins (while the worker decodes, only the newest code waits), and paint each answer newer than the last one
// painted through `onFrame`.
// The worker gets the ONNX bytes once (a copy: the page keeps its own for a later worker).

const WORKER_URL = new URL("./spatial_student_worker.js", import.meta.url); // built beside the bundle (build.mjs)

function workerFor(inst, onFrame) {
  const s = inst.student;
  if (s.worker) return s.worker;
  s.worker = new Worker(WORKER_URL, { type: "module" });
  s.worker.onerror = (ev) => {
    inst.studentError = `The distilled preview's worker failed to start (${ev.message ?? "no message"}).`;
    inst.note.textContent = inst.studentError;
    console.warn(inst.studentError);
    inst.student = null;
  };
  s.worker.postMessage({ load: { key: s.key, bytes: s.bytes } });
  s.busy = false;
  s.pending = null;
  s.worker.onmessage = (msg) => {
    const m = msg.data;
    s.busy = false;
    if (m.error) {
      inst.studentError = `The distilled preview failed (${m.error}); the linear preview stands in.`;
      inst.note.textContent = inst.studentError;
      console.warn(inst.studentError);
      inst.student = null;
      return;
    }
    // a frame newer than the one shown is shown, even when a newer request already waits: while a slider moves at
    // 60 Hz every request is superseded before its frame is back, and showing only the latest request's frame left
    // the distilled tier blank for the whole drag
    if (m.seq > (s.shown ?? 0)) {
      s.shown = m.seq;
      onFrame(inst, m.image, m.shape, m.tEvent);
    }
    if (s.pending) post(s);
  };
  return s.worker;
}

function post(s) {
  const req = s.pending;
  s.pending = null;
  s.busy = true;
  s.worker.postMessage(req, [req.code.buffer]);
}

/** Ask for the student's decode of code + mask * move (C-vector; mask H*W or null); onFrame(inst, image, shape, tEvent). */
export function askStudent(inst, move, mask, tEvent, onFrame) {
  const s = inst.student;
  const [C, H, W] = inst.data.shape;
  const plane = H * W;
  const code = new Float32Array(inst.code);
  for (let c = 0; c < C; c++) {
    if (move[c] === 0) continue;
    for (let p = 0; p < plane; p++) code[c * plane + p] += (mask === null ? 1 : mask[p]) * move[c];
  }
  workerFor(inst, onFrame);
  s.seq = (s.seq ?? 0) + 1;
  s.pending = { key: s.key, code, dims: [1, C * H * W], seq: s.seq, tEvent };
  if (!s.busy) post(s);
}
