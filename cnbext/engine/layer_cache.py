"""diffIDs of ``COPY --link`` layers measured before, keyed by their trees' content and the builder.

A ``--link`` layer is BuildKit's tar of one tree alone, whatever is below it: the same paths,
bytes, modes and link targets on the same BuildKit give the same diffID. Measuring one takes
a scratch build (~0.2-0.3 s), paid by every SBOM layer and by create-builder's module layers;
a tree seen before on the same builder is answered from
``$CNBEXT_CACHE_DIR/layers/`` instead. The key holds the builder's driver, BuildKit version
and snapshotter and the Docker server's version, since any of them may write another tar.

An entry that is wrong cannot go unnoticed: every build checks the diffIDs its labels name
against the image it built (cnbext.engine.builds.check_diff_ids). A damaged entry is a miss.
``--no-fact-cache`` measures again and rewrites the entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnbext.sources.cache import cache_dir

FORMAT = 1  # bump when what a key covers changes


def cache_key(trees: Mapping[str, Path], builder: str) -> str:
    """The entry's key: every tree's content (by its context path) on ``builder``."""
    parts = [FORMAT, builder, sorted((path, tree_digest(tree)) for path, tree in trees.items())]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def tree_digest(root: Path) -> str:
    """What of a tree a layer's tar holds: each entry's path, type, permission bits and its
    bytes or link target (times are zeroed before every build; owners are BuildKit's)."""
    digest = hashlib.sha256()
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = Path(directory, name)
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            digest.update(f"{relative}\0{info.st_mode:o}\0".encode())
            if stat.S_ISLNK(info.st_mode):
                digest.update(str(path.readlink()).encode())
            elif stat.S_ISREG(info.st_mode):
                digest.update(_file_digest(path).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _entry(key: str) -> Path:
    return cache_dir() / "layers" / f"{key}.json"


def load(key: str, paths: list[str]) -> dict[str, str] | None:
    """The diffIDs stored under ``key`` for exactly ``paths``, else None."""
    try:
        document: Any = json.loads(_entry(key).read_text())
        found = {str(path): str(document[path]) for path in paths}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(value.startswith("sha256:") for value in found.values()):
        return None
    return found


def store(key: str, diff_ids: Mapping[str, str]) -> None:
    """Keep ``diff_ids`` under ``key``; a cache that cannot be written is no error."""
    entry = _entry(key)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".layers-")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(dict(diff_ids), out)
        Path(temporary).replace(entry)  # whole or not at all, for a run beside this one
    except OSError:
        Path(temporary).unlink(missing_ok=True)
