"""The `vae-explorer` console script: Streamlit on the dashboard, with the project's Streamlit settings.

    vae-explorer                                   # http://127.0.0.1:8501, the shipped models
    vae-explorer --server.port 8600 -- --models runs/ --cache-dir /tmp/vae-cache

Options before `--` go to Streamlit (`streamlit run --help`), options after it to the app (ui/app/config.py). It serves
on 127.0.0.1 unless --server.address (or STREAMLIT_SERVER_ADDRESS) says otherwise. `streamlit run app.py` reads
.streamlit/config.toml from the current folder; an installed package cannot rely on that, so this script reads the
project's file (the checkout's, or the copy inside the wheel) and passes each setting as a --section.key flag, unless
the command line or a STREAMLIT_SECTION_KEY environment variable sets it already.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import tomllib

from explorer.cli.errors import run_click_checked
from ui.app.config import UI_DIR, app_parser, shipped

MAIN_SCRIPT = UI_DIR / "entry" / "streamlit_app.py"
SERVE_SCRIPT = UI_DIR / "entry" / "serve.py"  # MAIN_SCRIPT inside st.App, with the item-image route (ui/services/itemserver.py)
DEFAULT_ADDRESS = "127.0.0.1"


def streamlit_config_file() -> Path:
    """The project's Streamlit settings: .streamlit/config.toml of the checkout, or its copy in the package."""
    packaged = shipped("streamlit_config") / "config.toml"
    return packaged if packaged.is_file() else UI_DIR.parent / ".streamlit" / "config.toml"


def config_flags(path: Path) -> dict[str, object]:
    """'section.key' -> value of every setting in a Streamlit config.toml (nested tables joined with dots)."""
    flags: dict[str, object] = {}

    def walk(prefix: str, table: dict) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(name, value)
            else:
                flags[name] = value

    walk("", tomllib.loads(path.read_text(encoding="utf-8")))
    return flags


def _flag_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _given(name: str, args: list[str], env: dict[str, str]) -> bool:
    """Whether the user set the Streamlit option `name` (e.g. server.address) on the command line or in the environment."""
    flag = f"--{name}"
    if any(a == flag or a.startswith(flag + "=") for a in args):
        return True
    return bool(env.get("STREAMLIT_" + name.upper().replace(".", "_")))


def streamlit_argv(argv: list[str], env: dict[str, str] | None = None) -> list[str]:
    """The `streamlit run ...` command line (without the program name) for this script's arguments."""
    env = dict(os.environ) if env is None else env
    if "--" in argv:
        cut = argv.index("--")
        st_args, app_args = argv[:cut], argv[cut + 1:]
    else:
        st_args, app_args = list(argv), []
    defaults = {**config_flags(streamlit_config_file()), "server.address": DEFAULT_ADDRESS}
    extra = [f"--{name}={_flag_value(value)}" for name, value in defaults.items() if not _given(name, st_args, env)]
    return ["run", str(SERVE_SCRIPT), *extra, *st_args, "--", *app_args]


def _help() -> str:
    parser = app_parser()
    parser.prog = "vae-explorer [STREAMLIT OPTIONS] --"
    app_help = parser.format_help().strip()
    return (f"{__doc__.strip()}\n\nSettings applied from {streamlit_config_file()}.\n\n"
            f"App options (after --):\n{app_help}\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    before = argv[: argv.index("--")] if "--" in argv else argv
    if "-h" in before or "--help" in before:
        print(_help())
        return 0
    from streamlit.web import cli as stcli

    sys.argv = ["streamlit", *streamlit_argv(argv)]
    return run_click_checked(stcli.main, sys.argv[1:], "vae-explorer", app_parser())


if __name__ == "__main__":
    sys.exit(main())
