// What the components tell their host and their test hooks (window.__liveLatent, window.__bigMap).

/** Append `item` to `list`, keeping only its last `cap` entries (the hooks' logs never grow without bound). */
export function push(list, item, cap) {
  list.push(item);
  if (list.length > cap) list.splice(0, list.length - cap);
}

/**
 * Tell the host the decode path of instance `inst` ({root, host, reported}): `status` ({path, ...}) goes out as
 * the "status" state value, once per distinct status; the root element's data-path always follows it.
 */
export function report(inst, status) {
  inst.root.dataset.path = status.path;
  const sig = JSON.stringify(status);
  if (inst.reported === sig) return;
  inst.reported = sig;
  inst.host?.set("status", status);
}
