"""What an extension's detect and generate wrote, read as hostile input.

Detect and generate run in containers that write into a host folder cnbext reads afterwards.
Whatever they leave there could be a symlink to a host file (cnbext would read ``~/.ssh`` as a
Dockerfile or write the plan over a host file) or a context folder linking to a host folder
(``COPY . /x`` would then publish it in an image). So nothing here follows a link: files are
opened with ``O_NOFOLLOW``, symlinked outputs are refused, and a context may hold links only to
its own files. The containers have exited before anything here runs, so what is checked is
what is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cnbext.errors import GENERATE_OUTPUT_ERROR, ExtensionError
from cnbext.sources import disk
from cnbext.sources.archive import RefusedError, SafeWriter, remove
from cnbext.sources.limits import Budget
from cnbext.sources.safe_tree import tree_entries

MAX_OUTPUT_FILE_BYTES = 1 << 20  # a plan, a Dockerfile or extend-config.toml; more is not text
OUTPUT_FILES = ("build.Dockerfile", "run.Dockerfile", "extend-config.toml")
CONTEXT_FOLDERS = ("context", "context.build", "context.run")


def read_output_file(
    path: Path, *, owner: str, exit_code: int, root: Path | None = None
) -> str | None:
    """The text of an output file, None when absent; a link or special file is refused, and
    so is a link among the folders between ``root`` and the file."""
    if root is not None:
        folder = root
        for part in path.parent.relative_to(root).parts:
            folder = folder / part
            if folder.is_symlink():
                raise ExtensionError(
                    f"extension {owner}: {folder.relative_to(root)} is a symlink; outputs "
                    "must be plain files in plain folders",
                    exit_code=exit_code,
                )
    try:
        status = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode):
        what = "a symlink" if stat.S_ISLNK(status.st_mode) else "not a regular file"
        raise ExtensionError(
            f"extension {owner}: {path.name} is {what}; outputs must be plain files",
            exit_code=exit_code,
            hint="an extension's outputs may not point at files outside its output folder",
        )
    if status.st_size > MAX_OUTPUT_FILE_BYTES:
        raise ExtensionError(
            f"extension {owner}: {path.name} is {status.st_size} bytes, more than "
            f"{MAX_OUTPUT_FILE_BYTES}",
            exit_code=exit_code,
        )
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(MAX_OUTPUT_FILE_BYTES + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExtensionError(
            f"extension {owner}: {path.name} is not UTF-8 text", exit_code=exit_code
        ) from None


def check_generate_output(output_dir: Path, owner: str) -> None:
    """Refuse a generate output cnbext could not read without following links."""
    if not _real_folder(output_dir, owner, "its output folder"):
        return
    for name in OUTPUT_FILES:
        read_output_file(output_dir / name, owner=owner, exit_code=GENERATE_OUTPUT_ERROR)
    for name in CONTEXT_FOLDERS:
        if _real_folder(output_dir / name, owner, name):
            _check_context(output_dir / name, owner, name)


def _real_folder(path: Path, owner: str, what: str) -> bool:
    try:
        status = path.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(status.st_mode):
        raise ExtensionError(
            f"extension {owner}: {what} is "
            f"{'a symlink' if stat.S_ISLNK(status.st_mode) else 'not a folder'}",
            exit_code=GENERATE_OUTPUT_ERROR,
            hint="a context must be a folder generate wrote, never a link to another one",
        )
    return True


def _check_context(root: Path, owner: str, name: str) -> None:
    """Every entry plain, every link resolving inside ``root``, within the archive limits."""
    resolver = SafeWriter(root)
    budget = Budget.from_env()
    for entry in tree_entries(root):
        problem: str | None = None
        if entry.kind == "special":
            problem = "a device, fifo or socket"
        elif entry.mode & (stat.S_ISUID | stat.S_ISGID):
            problem = "setuid or setgid"
        elif entry.kind == "symlink":
            problem = _link_problem(resolver, entry.name, entry.linkname)
        problem = problem or budget.take_entry() or budget.take_bytes(entry.size)
        if problem is not None:
            raise ExtensionError(
                f"extension {owner}: {name}/{entry.name}: {problem}",
                exit_code=GENERATE_OUTPUT_ERROR,
                hint="a context may hold links only to its own files",
            )


def _link_problem(resolver: SafeWriter, name: str, target: str) -> str | None:
    if target.startswith("/"):
        return f"a symlink to the absolute path {target!r}"
    try:
        resolver.resolve(name.split("/"), follow_last=True)
    except RefusedError as err:
        return f"a symlink to {target!r}, which {err}"
    return None


def write_plan(path: Path, text: str) -> None:
    """Write the plan generate reads where detect could have left a link: whatever is at
    ``path`` is removed (never followed) and the file created anew."""
    remove(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o644)


def fresh_output_dir(path: Path) -> None:
    """An empty folder at ``path`` for generate, whatever detect left there (a link to a host
    folder would otherwise receive the copy of a static generate folder)."""
    remove(path)
    path.mkdir()


def copy_static_output(source: Path, dest: Path) -> None:
    """A static ``generate/`` folder, links kept as links (checked afterwards, never
    followed: an absolute link would otherwise copy a host file into the build context)."""
    disk.copy_tree(source, dest)  # charged to the command's disk budget
