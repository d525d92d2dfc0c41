// What every component's setup does with its host (hosts/streamlit.js, hosts/anywidget.js).

/** Each of the host's `data` (on this render and every later one) to `apply(data)`; an error thrown there goes to
 * `fail(message)`, so that the component says what failed rather than leaving the host's render broken. */
export function onData(host, apply, fail) {
  host.on("data", (data) => {
    try {
      apply(data);
    } catch (err) {
      fail(String(err?.message ?? err));
    }
  });
}
