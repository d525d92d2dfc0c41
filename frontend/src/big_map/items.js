// The hovered item's original image from the server: the item route (one GET), or a rerun.
import { G, log } from "./state.js";

// The hovered item's original from the item route (host.request: an HTTP GET on Streamlit, a kernel message in a
// notebook); a newer hover aborts an older request. A failed request (a proxy without the route, an expired
// token) falls back to the rerun path for this instance.
export async function fetchItem(inst, url, index) {
  inst.itemAbort?.abort();
  const ctl = (inst.itemAbort = new AbortController());
  try {
    const blob = await inst.host.request(url + index, { signal: ctl.signal });
    if (ctl.signal.aborted) return;
    URL.revokeObjectURL(inst.itemObjectUrl ?? "");
    inst.itemObjectUrl = URL.createObjectURL(blob);
    showServerImage(inst, index, inst.itemObjectUrl);
  } catch (err) {
    if (err?.name === "AbortError") return;
    inst.serverCaption.textContent = `item ${index}: ${String(err?.message ?? err).slice(0, 160)}`;
    inst.itemRouteFailed = true;
    inst.host?.send("hover", { index, t: Date.now() });
  }
}

export function showServerImage(inst, index, src) {
  inst.serverImg.src = src;
  inst.serverImg.hidden = false;
  inst.serverImg.dataset.index = String(index);
  inst.serverCaption.textContent = `item ${index}'s image (server)`;
  inst.serverCaption.dataset.index = String(index);
  if (inst.serverShown !== index) log(G.serverImages, { index, t: performance.now() });
  inst.serverShown = index;
}
