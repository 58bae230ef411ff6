"""Where the project's own files are when the hub runs from a source tree or an image."""

from __future__ import annotations

from pathlib import Path

# hub/paths.py -> the project root, which holds schemas/ beside hub/. This is only the
# default of ``Settings.schemas_dir`` (``HUB_SCHEMAS_DIR``): an installed package has no
# source tree beside it, so the Docker image names its copy in that setting.
PROJECT_SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
