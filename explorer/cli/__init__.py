"""Command lines of the toolkit (installed as console scripts, see pyproject.toml)."""
