"""Command-line errors as one or two lines: the option, the value given and what is accepted; exit status 2.

Every console script builds its parser with `CliParser` (argparse's usage block, 54 lines for train.py, is
replaced by a pointer to --help) and runs its body through `run_main`, which turns the errors a user can cause into
`error: ...` lines. A bug still raises with its traceback: only the exception types listed here are the user's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

T = TypeVar("T")

USAGE_ERROR = 2  # argparse's own exit status for bad input
# the errors a command line can cause: a bad value, a missing or unwritable file
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                                                PermissionError, FileExistsError)


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are two lines: `prog: error: ...` and where to read the options."""

    help_command: str | None = None  # the command that lists the options, when not `prog --help`

    def error(self, message: str) -> NoReturn:
        shown = self.help_command or f"{self.prog} --help"
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n(see {shown} for every option)\n")


def parse_option(option: str, value: str, parse: Callable[[str], T]) -> T:
    """parse(value), its ValueError prefixed with the option and the value given (`--maps bogus: ...`)."""
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"{option} {value}: {exc}") from None


def first_line(exc: BaseException) -> str:
    """`error: <the exception's first line>` (its type name when it has no message)."""
    text = str(exc).strip()
    return f"error: {text.splitlines()[0]}" if text else f"error: {type(exc).__name__}"


def run_main(body: Callable[[list[str]], int], argv: Sequence[str] | None,
             errors: tuple[type[BaseException], ...] = USER_ERRORS, interrupted: str = "interrupted") -> int:
    """Run a console script's body on argv (sys.argv[1:] when None): its exit status; bad input prints one line
    `error: ...` to stderr and gives 2; argparse's own exits (--help, usage errors) give their status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return body(argv)
    except SystemExit as exc:  # argparse has printed --help (0) or its two-line error (2)
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    except errors as exc:
        print(first_line(exc), file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"\n{interrupted}", file=sys.stderr)
        return 130


def check_options(parser: argparse.ArgumentParser, argv: Sequence[str], prog: str | None = None,
                  help_command: str | None = None) -> argparse.Namespace:
    """Parse argv with another module's parser, answering bad input as CliParser does (two lines, exit 2)."""
    if not isinstance(parser, CliParser):
        parser.__class__ = type("Checked", (CliParser, type(parser)), {})
    parser.prog = prog or parser.prog
    parser.help_command = help_command
    return parser.parse_args(list(argv))


def run_click_checked(command: Callable[..., object], args: Sequence[str], prog: str,
                      app_parser: argparse.ArgumentParser | None = None) -> int:
    """Run a click command line (e.g. Streamlit's `streamlit run ...`, as args) with its usage errors in two lines
    `prog: error: ...` and exit status 2, after checking the options it hands on after `--` with app_parser."""
    import click  # lazy: only the app's launcher runs click (Streamlit's command line)

    args = list(args)
    if app_parser is not None:
        check_options(app_parser, args[args.index("--") + 1:] if "--" in args else [], prog=f"{prog} (after --)",
                      help_command=f"{prog} --help")
    try:
        result = command(args=args, prog_name=prog, standalone_mode=False)
    except click.UsageError as exc:
        print(f"{prog}: error: {exc.format_message()}\n(see {prog} --help for every option)", file=sys.stderr)
        return USAGE_ERROR
    except click.Abort:
        return 130
    return result if isinstance(result, int) else 0
