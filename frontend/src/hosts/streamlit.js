// The Streamlit host (components v2, no iframe): the only module that touches Streamlit's component API.
//
// Streamlit calls a component's default export with { data, parentElement, setStateValue, setTriggerValue } on
// every mount and every change of `data`. This adapter turns that into one host object per parentElement:
//   host.root            the element (a ShadowRoot with isolate_styles) the component draws into
//   host.get()           the latest data from Python
//   host.set(name, v)    a state value back to Python (kept across reruns)
//   host.send(name, v)   a trigger value back to Python (seen by one rerun)
//   host.on("data", fn)  fn(data) on this call and on every later one with new data
//   host.request(url, {signal})  a Blob from one of the server's HTTP routes (the item route), or an Error
// A component's code reaches its host only through this object, so a notebook host can offer the same five.

const HOSTS = new WeakMap(); // parentElement -> host

function makeHost(root) {
  const listeners = { data: [] };
  const host = {
    root,
    args: null,
    get: () => host.args.data,
    set: (name, value) => host.args.setStateValue(name, value),
    send: (name, value) => host.args.setTriggerValue(name, value),
    request: async (url, { signal } = {}) => {
      const res = await fetch(url, { signal, credentials: "same-origin" });
      if (!res.ok) throw new Error(`${res.status} ${(await res.text()).slice(0, 120)}`);
      return res.blob();
    },
    on(event, fn) {
      if (!listeners[event]) throw new Error(`unknown host event ${event}: expected one of ${Object.keys(listeners)}`);
      listeners[event].push(fn);
    },
    emit: (event, value) => { for (const fn of listeners[event]) fn(value); },
  };
  return host;
}

/**
 * The default export for a Streamlit component: `setup(host)` runs once per parentElement (it registers its
 * listeners with host.on), then every Streamlit call emits "data".
 */
export function streamlitComponent(setup) {
  return function component(args) {
    let host = HOSTS.get(args.parentElement);
    const fresh = !host;
    if (fresh) {
      host = makeHost(args.parentElement);
      HOSTS.set(args.parentElement, host);
    }
    host.args = args;
    if (fresh) setup(host);
    host.emit("data", args.data);
    // Streamlit calls the returned function before every re-invocation (each rerun), so nothing is torn down
    // here: the component's instance, its sessions and canvases live on with the element.
    return () => {};
  };
}
