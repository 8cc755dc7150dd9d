"""Where downloads (lifecycle archives, remote buildpacks and extensions) are kept between runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$CNBEXT_CACHE_DIR, else $XDG_CACHE_HOME/cnbext, else ~/.cache/cnbext."""
    configured = os.environ.get("CNBEXT_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cnbext"
