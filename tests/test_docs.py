"""The README as a runway and docs/ as the manual: the site builds with `mkdocs build --strict` (no broken link,
missing anchor or page left out of the nav), the README stays short with the set-up commands on its first screen,
every results table in docs/ says how to reproduce each row, and the committed pictures are current and small."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SETUP_COMMANDS = ("bash scripts/app.sh", "bash scripts/test.sh")
FIRST_SCREEN = 30  # lines
README_MAX_LINES, README_MAX_BYTES, MAX_LINE = 150, 14_000, 160
SCREENSHOT_MAX_BYTES = 400_000
# a figure that is a measurement: a decimal number outside code spans ("91.89", "0.42 s"); option defaults such as
# `--lr` (1e-3) and counts such as "4,500 / 500" are not results
RESULT = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")


def fenced_split(text: str) -> list[tuple[bool, str]]:
    """(inside a ``` fence, line) for every line of a Markdown text."""
    out, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            out.append((True, line))
            continue
        out.append((fence, line))
    return out


def cells(row: str) -> list[str]:
    """The cells of one Markdown table row (escaped pipes stay inside their cell)."""
    parts = re.split(r"(?<!\\)\|", row.strip())
    return [c.strip() for c in parts[1:-1]]


def tables(text: str) -> list[tuple[int, list[str], list[list[str]]]]:
    """Every table outside code fences: (line number of its header, header cells, body rows' cells)."""
    found, rows, start = [], [], 0
    for number, (fenced, line) in enumerate(fenced_split(text) + [(False, "")], start=1):
        if not fenced and line.lstrip().startswith("|"):
            if not rows:
                start = number
            rows.append(cells(line))
            continue
        if len(rows) >= 2 and all(re.fullmatch(r":?-{3,}:?", c) for c in rows[1]):
            found.append((start, rows[0], rows[2:]))
        rows = []
    return found


def is_results_table(body: list[list[str]]) -> bool:
    """A table holds results when a body cell has a measured figure outside its code spans."""
    return any(RESULT.search(re.sub(r"`[^`]*`", "", cell)) for row in body for cell in row)


def test_tables_parse_and_classify():
    text = ("| option | meaning |\n|---|---|\n| `--lr` (1e-3) | rate |\n\n```\n| not | a table |\n```\n"
            "| run | command | nats |\n|---|---|---|\n| a | `python x.py --k 0.5` | 91.89 |\n")
    (_, head1, body1), (_, head2, body2) = tables(text)
    assert head1 == ["option", "meaning"] and not is_results_table(body1)
    assert head2 == ["run", "command", "nats"] and is_results_table(body2)
    assert cells(r"| a \| b | c |") == [r"a \| b", "c"]


def test_every_results_table_in_docs_has_a_command_column():
    missing = []
    for page in sorted(DOCS.rglob("*.md")):
        for line, head, body in tables(page.read_text(encoding="utf-8")):
            if is_results_table(body) and not any(re.search(r"\bcommand\b", c, re.I) for c in head):
                missing.append(f"{page.relative_to(ROOT)}:{line} {head}")
    assert not missing, "results tables without a command column:\n" + "\n".join(missing)


def test_readme_is_a_runway():
    raw = README.read_bytes()
    lines = raw.decode("utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"
    assert len(raw) <= README_MAX_BYTES, f"README.md has {len(raw)} bytes (at most {README_MAX_BYTES})"
    long = [f"{n}: {len(line)} characters" for n, (fenced, line) in enumerate(fenced_split(raw.decode()), 1)
            if not fenced and len(line) > MAX_LINE]
    assert not long, f"README.md lines over {MAX_LINE} characters: {long}"
    first = "\n".join(lines[:FIRST_SCREEN])
    for command in SETUP_COMMANDS:
        assert command in first, f"{command!r} is not in README.md's first {FIRST_SCREEN} lines"


def test_readme_test_command_is_what_ci_runs():
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()
          if ln.strip() and not ln.lstrip().startswith("#") and not ln.startswith(("set ", "cd "))]
    assert ci == ["bash scripts/test.sh"], f".ci/run runs {ci}"
    first_block = []
    for fenced, line in fenced_split(README.read_text(encoding="utf-8")):
        if fenced and not line.lstrip().startswith("```"):
            first_block.append(line.split("#")[0].strip())
        elif first_block:
            break
    assert ci[0] in first_block, f"README.md's first commands {first_block} do not include {ci[0]!r}"


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert targets, "README.md links nowhere"
    missing = [t for t in targets if t and not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_architecture_svg_is_what_its_source_draws():
    source = DOCS / "diagrams" / "architecture.py"
    spec = importlib.util.spec_from_file_location("architecture_diagram", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (DOCS / "diagrams" / "architecture.svg").read_text(encoding="utf-8")
    assert module.svg() == committed, f"run `python {source.relative_to(ROOT)}` and commit architecture.svg"


def test_screenshots_are_small_pngs():
    shots = sorted((DOCS / "screenshots").glob("*"))
    assert shots
    for shot in shots:
        assert shot.suffix == ".png" and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot.name
        assert shot.stat().st_size <= SCREENSHOT_MAX_BYTES, f"{shot.name}: {shot.stat().st_size} bytes"


def test_readme_lists_every_shipped_model():
    shipped = sorted(p.parent.name for p in (ROOT / "pretrained").glob("*/config.json"))
    listed = set(re.findall(r"^\| \[([\w.-]+)\]\(pretrained/\1/README\.md\) \|", README.read_text(), re.M))
    assert shipped and not set(shipped) - listed, f"shipped but not in README's table: {sorted(set(shipped) - listed)}"


# a source cited by the project's working names rather than by its paper or its reason: "seed 000" (the documents
# the project was made from), "the issue", "issue 28"
WORKING_NAMES = re.compile(r"\bseed\s*0\d\d(?!\d)|\bthe\s+issue\b|\bissue\s*#?\d+\b|\bissue\s+\"", re.IGNORECASE)
# a string literal continued on the next line (Python's implicit concatenation): joined before the search
CONTINUED = re.compile(r"[\"']\s*\n\s*f?[\"']")
TEXT_SUFFIXES = {".py", ".md", ".sh", ".js", ".ts", ".yml", ".yaml", ".toml", ".txt", ".cfg"}


def test_text_cites_papers_and_reasons_not_working_names():
    """Code, docs, model cards and scripts say the paper (Doersch's tutorial, Pu et al.) or the reason, not which
    seed document or issue a line came from: a reader has neither."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    found = []
    for name in listed.splitlines():
        path = ROOT / name
        if path.suffix not in TEXT_SUFFIXES or name == "tests/test_docs.py" or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        joined = CONTINUED.sub(lambda m: " " * len(m.group()), text)  # same length: positions keep their lines
        for hit in WORKING_NAMES.finditer(joined):
            number = text.count("\n", 0, hit.start()) + 1
            found.append(f"{name}:{number}: {' '.join(hit.group().split())}")
    assert not found, "working names instead of a paper or a reason:\n" + "\n".join(found)


def test_model_cards_are_not_copied_into_docs():
    cards = {p.parent.name for p in (ROOT / "pretrained").glob("*/README.md")}
    copies = [p for p in DOCS.rglob("*.md") if p.parent.name in cards or p.stem in cards]
    assert not copies, f"model cards reach the site through docs/hooks/model_cards.py, not copies: {copies}"


def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                          str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    # every shipped card is a page, with its images, through the hook
    for card in sorted((ROOT / "pretrained").glob("*/README.md")):
        page = site / "cards" / card.parent.name / "index.html"
        assert page.is_file(), f"no page for {card}"
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card.read_text(encoding="utf-8")):
            assert (page.parent / image).is_file(), f"{card}: {image} not in the site"
    # the site works offline: no web fonts or scripts from elsewhere
    html = "\n".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    remote = sorted(set(re.findall(r"""(?:src|href)=["'](https?://[^"']+\.(?:js|css)[^"']*)""", html)))
    assert not remote and "fonts.googleapis" not in html, f"the site loads from elsewhere: {remote}"
