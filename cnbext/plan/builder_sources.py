"""A recorded builder.toml whose sources are gone, pointed at the published builder instead.

Everything a builder needs of its modules and lifecycle is in the builder itself, so upgrading
it must not need the folders and archives it was first made from. Where a recorded local
source no longer exists, the module tables (``[[buildpacks]]``, ``[[extensions]]``) become one
``docker://`` entry naming the published builder by digest, which exports exactly the
builder's ``/cnb/buildpacks`` or ``/cnb/extensions`` (each platform's own), and a gone
``[lifecycle] uri`` becomes the builder's ``/cnb/lifecycle``. Pure: whether a path exists is
asked through ``exists``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

_TABLES = ("buildpacks", "extensions")


def _gone(uri: Any, exists: Callable[[str], bool]) -> bool:
    if not isinstance(uri, str) or "://" in uri or uri.startswith("urn:"):
        return False
    return not exists(uri)


def from_builder(
    document: dict[str, Any], builder: str, exists: Callable[[str], bool]
) -> tuple[dict[str, Any], list[str]]:
    """``document`` with every table whose local sources are gone taken from ``builder``
    (``repository@digest``), and what was replaced, in words."""
    result = copy.deepcopy(document)
    replaced: list[str] = []
    for table in _TABLES:
        entries = result.get(table)
        if isinstance(entries, list) and any(
            isinstance(e, dict) and _gone(e.get("uri"), exists) for e in entries
        ):
            result[table] = [{"uri": f"docker://{builder}"}]
            replaced.append(f"[[{table}]]")
    lifecycle = result.get("lifecycle")
    if isinstance(lifecycle, dict) and _gone(lifecycle.get("uri"), exists):
        result["lifecycle"] = {"uri": f"docker://{builder}"}
        replaced.append("[lifecycle]")
    return result, replaced
