"""Which lifecycle release cnbext uses when a config names none, and where releases come from.

Kept apart from :mod:`cnbext.sources.lifecycle` (downloads, archives, trees) so that
``upgrade``'s staleness check can compare against the default without loading any of that.
"""

from __future__ import annotations

DEFAULT_LIFECYCLE_VERSION = "0.21.0"
DEFAULT_DOWNLOAD_BASE_URL = "https://github.com/buildpacks/lifecycle/releases/download"
BASE_URL_ENV = "CNBEXT_LIFECYCLE_BASE_URL"
