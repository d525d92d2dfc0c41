// The latest-value-wins loop both components decode with: while one run is in flight, only the newest request
// waits (never a queue), and it runs when that run ends.

/**
 * Run `work(req)` on the request waiting in `inst[pending]` (taking it out), one at a time, until none waits or
 * `inst.session` is gone; `inst[busy]` is true meanwhile (callers start the loop only when it is false). An
 * error ends the loop and goes to `fail(err)`.
 */
export async function drainLatest(inst, { pending, busy }, work, fail) {
  inst[busy] = true;
  try {
    while (inst[pending] && inst.session) {
      const req = inst[pending];
      inst[pending] = null;
      await work(req);
    }
  } catch (err) {
    fail(err);
  } finally {
    inst[busy] = false;
  }
}
