"""The import layers of docs/architecture.md, read from the code's own imports (module level, inside functions, and
`importlib.import_module` / `__import__` with literal names).

ui/ is in wings with one direction: entry -> main -> pages -> shared -> app -> services / components -> explorer.
explorer/ never imports ui/. There is no import circle in either, no module imports another module's underscore
names, and at most LAZY_BUDGET function-local imports of project modules remain, each marked `# lazy: <reason>`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("explorer", "ui")
SKIP = ("frontend/",)  # browser assets and sources, no Python modules of the app
LAZY_BUDGET = 20
# rank of each ui wing: a module may import its own wing and the wings ranked below it
WINGS = {"ui.entry": 6, "ui.main": 5, "ui.pages": 4, "ui.shared": 3, "ui.app": 2, "ui.services": 1,
         "ui.components": 1}


@dataclass
class Import:
    importer: str
    target: str  # the project module imported
    names: tuple[str, ...]  # names taken from it by `from target import a, b`
    line: int
    local: bool  # inside a function
    text: str  # the statement's source lines


@dataclass
class Graph:
    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that `name` (a module or a module's attribute) starts with."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in modules:
            return candidate
    return None


def _calls_with_literal(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    f = node.func
    called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    value = node.args[0].value
    return value if called in ("import_module", "__import__") and isinstance(value, str) else None


def build_graph() -> Graph:
    g = Graph()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not any(rel.startswith(s) for s in SKIP):
                g.modules[module_name(path)] = path
    for name, path in g.modules.items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        is_package = path.name == "__init__.py"

        def visit(node: ast.AST, local: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                found: list[tuple[str, tuple[str, ...]]] = []
                if isinstance(child, ast.Import):
                    found = [(a.name, ()) for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        anchor = name.split(".") if is_package else name.split(".")[:-1]
                        anchor = anchor[: len(anchor) - child.level + 1]
                        base = ".".join(anchor + ([base] if base else []))
                    for a in child.names:
                        sub = f"{base}.{a.name}"
                        found.append((sub, ()) if sub in g.modules else (base, (a.name,)))
                elif (literal := _calls_with_literal(child)) is not None:
                    found = [(literal, ())]
                for target_name, names in found:
                    target = _resolve(target_name, g.modules)
                    if target is not None:
                        line, end = getattr(child, "lineno", 0), getattr(child, "end_lineno", 0)
                        text = "\n".join(lines[line - 1: end]) if line else ""  # the whole statement
                        g.imports.append(Import(name, target, names, line, local, text))
                visit(child, inner)

        visit(tree, False)
    return g


GRAPH = build_graph()


def wing(module: str) -> str | None:
    return next((w for w in WINGS if module == w or module.startswith(w + ".")), None)


def _ancestor(a: str, b: str) -> bool:
    """b is a package above a (importing one's own package runs its __init__, which is no layer's business)."""
    return a.startswith(b + ".")


def test_the_graph_sees_both_packages():
    assert "explorer.models.base" in GRAPH.modules and "ui.main" in GRAPH.modules
    assert any(i.importer == "ui.main" and i.target.startswith("ui.pages") for i in GRAPH.imports)


def test_explorer_never_imports_ui():
    bad = [f"{i.importer}:{i.line} {i.target}" for i in GRAPH.imports
           if i.importer.startswith("explorer") and i.target.startswith("ui")]
    assert not bad, bad


def test_ui_wings_import_only_downward():
    bad = []
    for i in GRAPH.imports:
        a, b = wing(i.importer), wing(i.target)
        if a is None or b is None:
            continue
        if WINGS[b] > WINGS[a]:
            bad.append(f"{i.importer}:{i.line} imports {i.target} ({a} -> {b}, upward)")
        elif a == b == "ui.pages":
            if i.importer.split(".")[2] != i.target.split(".")[2]:
                bad.append(f"{i.importer}:{i.line} imports {i.target} (another page's module: move it to ui/shared)")
        elif b == "ui.pages" and a != "ui.main":
            bad.append(f"{i.importer}:{i.line} imports {i.target} (only ui/main.py imports pages)")
    assert not bad, "\n".join(sorted(set(bad)))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def test_no_import_circle():
    edges: dict[str, set[str]] = {}
    for i in GRAPH.imports:
        if i.target != i.importer and not _ancestor(i.importer, i.target):
            edges.setdefault(i.importer, set()).add(i.target)
    assert _cycles(edges) == []


def test_no_module_imports_another_modules_underscore_names():
    bad = [f"{i.importer}:{i.line} takes {n} from {i.target}" for i in GRAPH.imports for n in i.names
           if n.startswith("_") and not n.startswith("__") and i.target != i.importer]
    assert not bad, "\n".join(bad)


def test_function_local_imports_are_few_and_give_their_reason():
    local = [i for i in GRAPH.imports if i.local]
    unmarked = [f"{i.importer}:{i.line} {i.text.splitlines()[0].strip()}" for i in local if "# lazy:" not in i.text]
    assert not unmarked, f"{len(unmarked)} function-local imports without '# lazy: <reason>':\n" + "\n".join(unmarked)
    lines = {(i.importer, i.line) for i in local}
    assert len(lines) <= LAZY_BUDGET, f"{len(lines)} function-local imports of project modules (at most {LAZY_BUDGET})"


@pytest.mark.parametrize("text, expected", [
    ("import importlib\nimportlib.import_module('explorer.pca')\n", "explorer.pca"),
    ("def f():\n    __import__('explorer.latent')\n", "explorer.latent"),
])
def test_literal_dynamic_imports_are_read(tmp_path, text, expected):
    tree = ast.parse(text)
    found = [_calls_with_literal(n) for n in ast.walk(tree)]
    assert expected in found
