"""What a page cuts off, read in the browser: text elements whose content is wider than their box (scrollWidth >
clientWidth) where the box hides the rest (or ends it with an ellipsis), and text set under 12 px.

Used by the browser test that visits every page (tests/browser/test_every_page.py) and by nothing in the app.
"""

from __future__ import annotations

MIN_FONT_PX = 12.0

# Every visible element with text of its own (a non-blank text node child) in the app's main area and sidebar.
# Its text is cut when the text's extent (a Range over its own text nodes) reaches past the inner edge of the
# element itself or of any ancestor that clips or scrolls (overflow other than visible), or when the element is
# wider inside than its box and ends in an ellipsis. Boxes of 2 px or less are visually hidden on purpose (the
# "Skip to main content" link, icon ligatures) and skipped. A font under minFont px is too small to read.
CUT_JS = """(minFont) => {
  const out = [];
  const root = document.querySelector("[data-testid='stApp']");
  const where = el => el.closest("[data-testid]")?.dataset.testid ?? "";
  for (const el of root.querySelectorAll("*")) {
    const nodes = [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim());
    if (!nodes.length) continue;
    const own = el.getBoundingClientRect();
    if (own.width <= 2 || own.height <= 2) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || el.closest("[aria-hidden='true'], [data-testid='stTooltipContent']")) continue;
    const text = nodes.map(n => n.textContent.trim()).join(" ").slice(0, 80);
    let left = Infinity, right = -Infinity;
    for (const n of nodes) {
      const range = document.createRange();
      range.selectNodeContents(n);
      for (const r of range.getClientRects()) { left = Math.min(left, r.left); right = Math.max(right, r.right); }
    }
    let cut = null;
    for (let a = el; a && a !== root; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX === "visible" && s.textOverflow !== "ellipsis") continue;
      if (a.clientWidth <= 2) break;
      const box = a.getBoundingClientRect();
      const inner = {left: box.left + a.clientLeft, right: box.left + a.clientLeft + a.clientWidth};
      if (right > inner.right + 1 || left < inner.left - 1 || (s.textOverflow === "ellipsis" && a.scrollWidth > a.clientWidth + 1)) {
        cut = {clip: where(a), over: Math.round(Math.max(right - inner.right, inner.left - left))};
        break;
      }
    }
    if (cut) out.push({kind: "cut", text, tag: el.tagName, testid: where(el), ...cut});
    const px = parseFloat(style.fontSize);
    if (px < minFont) out.push({kind: "small", text, tag: el.tagName, testid: where(el), px});
  }
  return out;
}"""


def cut_text(pg) -> list[dict]:
    """Every cut-off or too-small text element on the page `pg` now: dicts with kind ("cut" or "small"), text,
    tag, the nearest data-testid, and the widths or the font size."""
    return pg.evaluate(CUT_JS, MIN_FONT_PX)
