"""The work folder of one command: made fresh, removed at the end even when something left
files in it that this user cannot remove.

Detect and generate write into a tmpfs in their container, which the engine copies into the
work folder as this user (cnbext.engine.phases), so no container's uid owns anything here. An
engine that still let one write here (a folder of another uid cannot be emptied by a user
other than root) must not turn a successful run into an error, nor leave it behind silently:
what cannot be removed is left, and a warning says where and why. The command's disk budget
(cnbext.sources.disk) is opened with the folder.
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
