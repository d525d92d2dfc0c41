// Slider mode: K range inputs, one per axis.

import { el } from "../common/dom.js";
import { release, request } from "./loop.js";
import { G } from "./state.js";

export function fmt(v) {
  return (v >= 0 ? "+" : "") + v.toFixed(2);
}

// empty the controls' box before a mode builds its own
export function clearControls(inst) {
  inst.sliderBox.replaceChildren();
  inst.inputs = [];
  inst.outputs = [];
}

export function buildSliders(inst) {
  const d = inst.data;
  clearControls(inst);
  d.labels.forEach((label, k) => {
    const [lo, hi] = d.ranges[k];
    const input = el("input", {
      type: "range", min: String(lo), max: String(hi), step: String((hi - lo) / 2000),
      "data-axis": String(k), "aria-label": label,
    });
    input.value = String(inst.values[k]);
    const out = el("output", {}, fmt(inst.values[k]));
    input.addEventListener("input", (ev) => {
      G.events++;
      inst.values[k] = Number(input.value);
      out.textContent = fmt(inst.values[k]);
      request(inst, ev.timeStamp);
    });
    input.addEventListener("change", () => release(inst));
    input.addEventListener("pointerdown", () => { inst.dragging = true; });
    inst.inputs.push(input);
    inst.outputs.push(out);
    inst.sliderBox.append(el("label", { class: "ll-row" }, el("span", { class: "ll-name" }, label), input, out));
  });
}
