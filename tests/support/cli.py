"""Console scripts' main(argv) called in the test's process, as the installed script would call it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable


def run_main(main: Callable[[list[str]], int | None], argv: list[str]) -> tuple[int | str | None, str]:
    """(exit status, what it wrote to stderr) of main(argv): its return value, or the code of the SystemExit it
    raised (argparse's refusals); what it writes to stdout is dropped."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
    return status, err.getvalue()
