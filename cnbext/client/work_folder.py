"""The work folder of one command: made fresh, removed at the end even when a container left
files in it that this user cannot remove.

Detect and generate run as the build image's CNB user and write into host folders under the
work folder; a folder they create there belongs to that uid, and a user other than root cannot
empty it. Removing the work folder must not turn a successful run into an error, nor leave
it behind silently: what cannot be removed is left, and a warning says where and why.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnbext.progress import Reporter
from cnbext.sources.disk import disk_budget


@contextmanager
def work_folder(prefix: str, reporter: Reporter) -> Iterator[Path]:
    """A fresh folder under the temp folder, removed on any exit (Ctrl-C too); what the
    command copies into it (and into scratch build contexts) is charged to one disk budget."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with disk_budget():
            yield path
    finally:
        left = remove_tree(path)
        if left:
            reporter.warn(
                f"{left} file(s) in {path} belong to another user (written by an image "
                "extension's container) and were left behind; remove the folder as root"
            )


def remove_tree(path: Path) -> int:
    """Remove ``path`` (links are removed, never followed); how many files could not be."""

    def retry(function: Callable[..., Any], name: str, _: Any) -> None:
        # Our own folder may have lost its write bit; anything else is another uid's.
        parent = Path(name).parent
        try:
            status = parent.lstat()
            if status.st_uid == os.getuid() and stat.S_ISDIR(status.st_mode):
                parent.chmod(0o700)  # lstat says it is a folder, not a link
                function(name)
                return
        except OSError:
            pass  # left; counted below

    shutil.rmtree(path, onerror=retry)
    return sum(len(files) for _, _, files in os.walk(path))
