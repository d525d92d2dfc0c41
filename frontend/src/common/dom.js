// DOM helpers shared by the components.

/** A new element `tag` with attributes `attrs` (name -> string) and children (nodes or strings). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** The instance an earlier render of this component kept on its root element (the child of `host.root` with class
 * `className`, as `root.__inst`), or null on a first render. */
export function mountedInstance(host, className) {
  // host.root is a ShadowRoot (isolate_styles), where `:scope >` matches nothing: look at the children
  const root = Array.from(host.root.children).find((node) => node.classList?.contains(className));
  return root?.__inst ?? null;
}

/** A canvas with a second one stacked over it for marks (cells, a brush), in a `<prefix>-stack` div; the component's
 * CSS places them (`<prefix>-canvas`, `<prefix>-overlay`). */
export function canvasStack(prefix, canvasTestId, overlayTestId) {
  const canvas = el("canvas", { class: `${prefix}-canvas`, "data-testid": canvasTestId });
  const overlay = el("canvas", { class: `${prefix}-overlay`, "data-testid": overlayTestId });
  return { stack: el("div", { class: `${prefix}-stack` }, canvas, overlay), canvas, overlay };
}
