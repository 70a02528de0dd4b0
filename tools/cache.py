"""The per-user cache folder for derived files (the tool index, the assistant's trained intent model)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``ORDERPILOT_CACHE_DIR``, else ``~/.cache/orderpilot``; safe to delete at any time."""
    return Path(os.environ.get("ORDERPILOT_CACHE_DIR") or Path.home() / ".cache" / "orderpilot")
