"""Which files the wheel holds (the project's metadata is in pyproject.toml).

Code: every package under explorer/ and ui/. Data: the dashboard's page scripts and main script, and two folders of
the checkout's top level mapped into the ui package, so that an installed app finds them next to its code:
    pretrained/             -> ui/pretrained/         the shipped checkpoints (ui.app.config.PRETRAINED)
    .streamlit/config.toml  -> ui/streamlit_config/   the Streamlit settings (ui.app.launch applies them)
In a checkout (plain or editable install) the code reads them from the top level instead.

frontend/assets/ is not in this wheel: it is its own distribution, vae-explorer-frontend (the browser components'
served files; Streamlit serves them only for an installed distribution that declares them, see its pyproject.toml).
"""

from setuptools import find_packages, setup

MODEL_FILES = ["*/config.json", "*/model.safetensors", "*/analysis.safetensors", "*/metrics.json", "*/README.md",
               "*/*.png", "*/vocab.json"]  # each model folder's own files, not the training state in checkpoint/ or logs/

setup(
    packages=find_packages(include=["explorer", "explorer.*", "ui", "ui.*"]) + ["ui.pretrained", "ui.streamlit_config"],
    package_dir={"ui.pretrained": "pretrained", "ui.streamlit_config": ".streamlit"},
    package_data={"ui": ["entry/*.py", "app/icon.png"], "ui.pretrained": MODEL_FILES, "ui.streamlit_config": ["config.toml"],
                  "explorer.models.foreign": ["configs/*/config.json"]},  # single-file presets (no weights)
    include_package_data=False,
)
