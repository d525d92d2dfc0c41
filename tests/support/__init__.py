"""Helpers shared by the tests and the benchmarks in bench/: free ports, serving a Streamlit script until it is healthy
(forked from the test worker's warm pool, warm_servers.py), tiny checkpoints and data sets, AppTest helpers, bad and
fuzzed files, foreign-format models, stored encodings built fast and the big-map demo's points.

How it is imported, everywhere the same way: `from tests.support import checkpoints` (or `from tests.support.serve
import served`). `tests/` has no `__init__.py`, so `tests` is a namespace package found from the checkout's top
folder, with no sys.path edit (tests/test_packaging.py forbids them):
- pytest: pytest.ini's `pythonpath = .` puts the top folder on the path. Only the top folder: with `tests` on the
  path too, `import checkpoints` would also resolve, and a module imported under two names runs twice (the
  test-only model families would register twice).
- bench/: run the benchmarks as modules from the checkout's top folder, `python -m bench.NAME`; `-m` puts the
  current folder first on the path, so `bench` and `tests` are both found. `python bench/NAME.py` puts only bench/
  on the path and cannot import them.
- Streamlit scripts started by these helpers (ui.components.devserver, `python -c`) run with the checkout as their
  working folder, which `-c` puts first on the path, so they import `tests.support` the same way.

Nothing here is shipped: the wheel holds only explorer/ and ui/ (setup.py).
"""
