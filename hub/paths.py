"""Where the project's own files are when the hub runs from a source tree or an image."""

from __future__ import annotations

import os
from pathlib import Path

SCHEMAS_DIR_VARIABLE = "HUB_SCHEMAS_DIR"
# hub/paths.py -> the project root, which holds schemas/ beside hub/.
_SOURCE_SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def schemas_dir() -> Path:
    """The project's ``schemas/`` folder: ``HUB_SCHEMAS_DIR`` when set (an installed package,
    e.g. the Docker image, has no source tree beside it), else the source tree's."""
    configured = os.environ.get(SCHEMAS_DIR_VARIABLE)
    return Path(configured) if configured else _SOURCE_SCHEMAS
