"""Draw docs/diagrams/architecture.svg: the layers and the import / data flow app -> ui -> explorer -> models.

    python docs/diagrams/architecture.py          # rewrites architecture.svg beside this file

Plain SVG written by hand (no graphviz, nothing loaded from a CDN), so the site builds offline and the picture is
byte-for-byte what this file writes; tests/test_docs.py checks that the committed SVG is up to date.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

OUT = Path(__file__).with_suffix(".svg")
W, H = 920, 640
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"
# fill colours per layer: entry, ui, frontend, explorer, models
COLOURS = {"entry": "#fde2b8", "ui": "#cfe3fb", "front": "#e4d7f5", "lib": "#d3efd6", "models": "#b8e2bf"}


def box(x: int, y: int, w: int, h: int, title: str, lines: tuple[str, ...] = (), kind: str = "ui",
        bold: bool = True) -> str:
    """A rounded box with a title and up to a few lines of small text."""
    parts = [f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='8' fill='{COLOURS[kind]}' stroke='#4a4a4a'/>",
             f"<text x='{x + w / 2:g}' y='{y + 20}' text-anchor='middle' font-size='14' "
             f"{'font-weight=' + repr('bold') if bold else ''}>{escape(title)}</text>"]
    for i, line in enumerate(lines):
        parts.append(f"<text x='{x + w / 2:g}' y='{y + 38 + 15 * i}' text-anchor='middle' font-size='11.5'>"
                     f"{escape(line)}</text>")
    return "\n".join(parts)


def group(x: int, y: int, w: int, h: int, label: str) -> str:
    """A dashed frame around one layer, labelled at its top left."""
    return (f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='12' fill='none' stroke='#888' "
            f"stroke-dasharray='6 4'/>\n<text x='{x + 12}' y='{y + 18}' font-size='13' fill='#333' "
            f"font-style='italic'>{escape(label)}</text>")


def arrow(x1: float, y1: float, x2: float, y2: float, label: str = "", dashed: bool = False) -> str:
    """An arrow from (x1, y1) to (x2, y2): 'imports and calls'."""
    dash = " stroke-dasharray='5 4'" if dashed else ""
    out = (f"<line x1='{x1:g}' y1='{y1:g}' x2='{x2:g}' y2='{y2:g}' stroke='#333' stroke-width='1.6' "
           f"marker-end='url(#head)'{dash}/>")
    if label:
        out += (f"\n<text x='{(x1 + x2) / 2 + 6:g}' y='{(y1 + y2) / 2 + 4:g}' font-size='11' fill='#333'>"
                f"{escape(label)}</text>")
    return out


def svg() -> str:
    """The whole picture as an SVG document."""
    e = []
    # entry points
    e.append(box(40, 20, 250, 52, "app.py · vae-explorer", ("the dashboard's entry (ui/entry/)",), "entry"))
    e.append(box(600, 20, 280, 52, "train.py · vae-train · vae-evaluate", ("command lines",), "entry"))
    # ui wings, in import order: main -> pages -> shared -> app -> services / components
    e.append(group(20, 96, 560, 300, "ui/  (Streamlit)"))
    e.append(text(330, 114, "imports point down the chain only"))
    e.append(box(40, 124, 250, 50, "main.py", ("navigation: the only importer of pages/",)))
    e.append(box(40, 190, 250, 50, "pages/<page>/", ("one folder per page, its panels inside",)))
    e.append(box(40, 256, 250, 50, "shared/", ("panels several pages use",)))
    e.append(box(40, 322, 250, 62, "app/", ("the frame: sidebar, context,", "catalogue, data views, config")))
    e.append(box(310, 256, 250, 50, "components/", ("the browser components' wrappers",)))
    e.append(box(310, 322, 250, 62, "services/", ("threads, subprocesses, HTTP routes:", "jobs, workers, the item route")))
    e.append(box(620, 256, 200, 50, "frontend/", ("browser code, one build",), "front"))
    # explorer
    e.append(group(20, 416, 860, 210, "explorer/  (the library: no Streamlit)"))
    e.append(box(620, 124, 260, 50, "explorer/cli/", ("train.py, evaluate.py: parse, then call",), "lib"))
    e.append(box(40, 446, 400, 66, "analysis/ · training.py", ("checkpoint.py · onnx/ · runtime/",
                                                                "evaluation, maps, stores; the trainer"), "lib"))
    e.append(box(460, 446, 400, 66, "latent.py · data/ · distributions/", ("losses.py · pca.py",
                                                                          "codes, walks; loaders; posteriors; maths"),
                 "lib"))
    e.append(box(40, 540, 820, 70, "models/", ("base.py (the VAE interface, Capabilities) · registry.py",
                                              "conv/ mlp/ cvae/ pu/ vaegan/ autoencoder_kl/ · foreign/ (diffusers, "
                                              "ONNX, trusted code) · blocks/"), "models"))
    # the data flow app -> ui -> explorer -> models
    e.append(arrow(165, 72, 165, 122))
    e.append(arrow(165, 174, 165, 188))
    e.append(arrow(165, 240, 165, 254))
    e.append(arrow(165, 306, 165, 320))
    e.append(arrow(290, 353, 308, 353))
    e.append(arrow(290, 336, 308, 296))
    e.append(arrow(560, 281, 618, 281, dashed=True))
    e.append(text(568, 274, "assets"))
    e.append(arrow(435, 384, 300, 444))
    e.append(arrow(435, 384, 560, 444))
    e.append(text(540, 404, "ui/ calls the library"))
    e.append(arrow(740, 72, 740, 122))
    e.append(arrow(850, 174, 850, 444))
    e.append(text(720, 360, "training, scoring"))
    e.append(arrow(440, 479, 458, 479))
    e.append(arrow(240, 512, 240, 538))
    e.append(arrow(660, 512, 660, 538))
    body = "\n".join(e)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' viewBox='0 0 {W} {H}' {FONT}>\n"
            "<title>Architecture: entry points, ui/ wings, frontend/, explorer/, models/</title>\n"
            "<defs><marker id='head' markerWidth='9' markerHeight='9' refX='8' refY='4.5' orient='auto'>"
            "<path d='M0,0 L9,4.5 L0,9 z' fill='#333'/></marker></defs>\n"
            f"<rect width='{W}' height='{H}' fill='white'/>\n{body}\n</svg>\n")


def text(x: int, y: int, s: str) -> str:
    """A free label."""
    return f"<text x='{x}' y='{y}' font-size='11' fill='#333'>{escape(s)}</text>"


def main() -> int:
    OUT.write_text(svg(), encoding="utf-8")
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
