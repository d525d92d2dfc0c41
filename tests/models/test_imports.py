"""explorer.models is the bottom layer above a few leaf utilities: it imports nothing above it (analysis, data,
checkpoint, training, the app), and importing the pu pooling does not load torch.compile's machinery (that happens
only when asked for)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "explorer" / "models"
# leaf utilities below the models: atomic writes, cache paths and the child-process ONNX check (which the ONNX
# pair loader must pass before it opens a file); they import nothing of explorer but each other
LEAVES = ("explorer.files", "explorer.cache", "explorer.onnx.trust")
ALLOWED = ("explorer.models", "explorer.distributions", "explorer.losses", "explorer.text", *LEAVES)  # and what they hold
ABOVE = ("explorer.analysis", "explorer.data", "explorer.checkpoint", "explorer.training", "ui")


def package_of(path: Path) -> str:
    """The package a file under explorer/ belongs to, e.g. explorer.models.pu for pu/model.py and pu/__init__.py."""
    return ".".join(path.relative_to(MODELS.parents[1]).parts[:-1])


def imported_modules(source: str, package: str) -> list[str]:
    """Every module a file of `package` imports, anywhere in it (inside functions too), relative imports resolved."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]  # `from explorer import data` too
    return names


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


FILES = sorted(MODELS.rglob("*.py"))


def test_the_walk_sees_the_packages():
    assert MODELS / "pu" / "model.py" in FILES and MODELS / "base.py" in FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(MODELS)))
def test_models_import_nothing_above_them(path):
    names = imported_modules(path.read_text(), package_of(path))
    above = [n for n in names if any(_within(n, a) for a in ABOVE)]
    assert not above, f"{path} imports {above}"
    ours = [n for n in names if _within(n, "explorer") and n != "explorer"]
    stray = [n for n in ours if not any(_within(n, a) for a in ALLOWED)]
    assert not stray, f"{path} imports {stray}; explorer.models may only use {ALLOWED}"


@pytest.mark.parametrize("leaf", LEAVES)
def test_the_leaf_utilities_import_only_each_other(leaf):
    path = MODELS.parents[1] / Path(*leaf.split(".")).with_suffix(".py")
    names = imported_modules(path.read_text(), "explorer")
    ours = [n for n in names if _within(n, "explorer") and n != "explorer"]
    stray = [n for n in ours if not any(_within(n, other) for other in LEAVES)]
    assert not stray, f"{path} imports {stray}; a leaf utility may only use {LEAVES}"


def test_the_walk_catches_upward_imports_anywhere():
    source = ("import torch\n"
              "def f():\n    from explorer.analysis.evaluation import scoring_inputs\n"
              "class A:\n    def g(self):\n        from ... import data\n        import explorer.checkpoint\n"
              "from . import pooling\n")
    names = imported_modules(source, package_of(MODELS / "pu" / "model.py"))
    assert {"explorer.analysis.evaluation", "explorer.data", "explorer.checkpoint", "explorer.models.pu.pooling"} <= set(names)


def test_importing_the_pooling_leaves_torch_compile_unloaded():
    code = ("import sys, explorer.models.pu.pooling, explorer.models\n"
            "loaded = [m for m in ('torch._dynamo', 'torch._inductor') if m in sys.modules]\n"
            "print(','.join(loaded))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=MODELS.parents[1])
    assert out.stdout.strip() == "", f"importing the pooling loaded {out.stdout.strip()}"
