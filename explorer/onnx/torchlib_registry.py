"""Build torch.onnx's table of ATen -> ONNX functions once per process, not on every dynamo export.

`torch.onnx.export(..., dynamo=True)` calls `ONNXRegistry.from_torchlib()` each time, and that re-reads the source of
onnxscript's ~500 torchlib functions (inspect + ast) to build the same table again: 1.2 s of a 2.4 s export of a small
conv VAE on 2 cores. The app and the tests export many small graphs in one process, so this keeps the first table
per opset and hands each export a copy of it (an export may add to its table: `custom_translation_table`).

This reaches into torch.onnx's private exporter module (no public hook takes a registry), so it does nothing when
that module or method is not where torch 2.5-2.14 keep it: exports are then as slow as before, never different.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_installed = False


def reuse_torchlib_registry() -> bool:
    """Make `ONNXRegistry.from_torchlib` build each opset's table once in this process; True when it is in place."""
    global _installed
    with _lock:
        if _installed:
            return True
        try:
            from torch.onnx._internal.exporter import _registration
        except ImportError:
            return False
        registry_class: Any = getattr(_registration, "ONNXRegistry", None)
        build = getattr(registry_class, "from_torchlib", None)
        if build is None or not hasattr(registry_class(), "functions"):
            return False
        built: dict[Any, Any] = {}

        def from_torchlib(cls, *args: Any, **kwargs: Any):
            key = (cls, args, tuple(sorted(kwargs.items())))
            with _lock:
                if key not in built:
                    built[key] = build.__func__(cls, *args, **kwargs)
                first = built[key]
            copy = cls.__new__(cls)
            copy.__dict__.update(first.__dict__)
            copy.functions = {op: list(metas) for op, metas in first.functions.items()}  # one list per op: appendable
            return copy

        registry_class.from_torchlib = classmethod(from_torchlib)
        _installed = True
        return True
