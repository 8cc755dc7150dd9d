"""Untrusted trees already on disk: folders exported from images and extension outputs.

An image's ``/cnb`` trees (``docker://`` lifecycles, buildpackages, extensions) are written by
the engine as the image holds them, and an extension's detect and generate write into a folder
cnbext later reads. Neither is trusted: exported trees are copied through the same
:class:`~cnbext.sources.archive.SafeWriter` as archives, and extension outputs are read
without following links.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from cnbext.errors import CnbextError
from cnbext.sources.archive import Entry, RefusedError, SafeWriter, fresh_dir, refusal, remove
from cnbext.sources.limits import Budget


def copy_tree(
    source_root: Path,
    dest: Path,
    *,
    source: str,
    error_type: type[CnbextError],
    budget: Budget | None = None,
) -> None:
    """Copy a tree exported from an image into ``dest`` through the same checks as archives.

    The engine writes what an image holds as it is; nothing of it is trusted until it has
    been through :class:`SafeWriter`. Links are copied as links, never followed.
    """
    writer = SafeWriter(dest, budget=budget)
    name = ""
    try:
        for entry in tree_entries(source_root):
            name = entry.name
            writer.add(entry)
        writer.finish()
    except RefusedError as err:
        raise refusal(error_type, source, err.name or name, str(err)) from None


def tree_entries(root: Path) -> Iterator[Entry]:
    """A folder's entries as archive entries, parents first, links never followed; a second
    name of an inode already seen is a hard link."""
    seen: dict[tuple[int, int], str] = {}
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            status = path.lstat()
            mode = status.st_mode
            if stat.S_ISLNK(mode):
                yield Entry(relative, "symlink", 0o777, linkname=str(path.readlink()))
            elif stat.S_ISDIR(mode):
                yield Entry(relative, "dir", stat.S_IMODE(mode))
            elif not stat.S_ISREG(mode):
                yield Entry(relative, "special", stat.S_IMODE(mode))
            elif status.st_nlink > 1 and (status.st_dev, status.st_ino) in seen:
                linked = seen[(status.st_dev, status.st_ino)]
                yield Entry(relative, "hardlink", stat.S_IMODE(mode), linkname=linked)
            else:
                seen.setdefault((status.st_dev, status.st_ino), relative)
                yield Entry(
                    relative,
                    "file",
                    stat.S_IMODE(mode),
                    status.st_size,
                    open=_nofollow_opener(path),
                )


def _nofollow_opener(path: Path) -> Callable[[], IO[bytes]]:
    def opener() -> IO[bytes]:
        return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")

    return opener


ImageExporter = Callable[[str, Path], None]
"""Writes an image's ``/cnb/...`` trees into a folder: ``exporter("repo/img:tag", dest)``."""


def export_image_tree(
    exporter: ImageExporter,
    image: str,
    *,
    work_dir: Path,
    prefix: str,
    source: str,
    error_type: type[CnbextError],
) -> Path:
    """What ``exporter`` writes for ``image``, copied through the archive checks into a fresh
    folder; the raw export is removed whatever happens."""
    raw = fresh_dir(work_dir, "export-")
    try:
        exporter(image, raw)
        tree = fresh_dir(work_dir, prefix)
        copy_tree(raw, tree, source=source, error_type=error_type)
    finally:
        remove(raw)
    return tree
