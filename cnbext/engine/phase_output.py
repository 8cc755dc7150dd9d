"""Copying an extension phase's output out of its container: a tar stream, written into the
host's output folder as cnbext's own user, at most a byte cap.

The stream is what ``docker cp`` reads from the phase's tmpfs: a stranger's tree. Nothing in
it is followed: links are written as links (whatever they point at; cnbext's checks of the
output refuse them later, naming the file, and never follow them), folders are only made by
folder entries, a name under a link or with ``..`` is refused, files are created with
``O_EXCL | O_NOFOLLOW``, and devices, fifos and sockets become empty fifos (never opened), so
the output checks refuse them by name. Every file counts its size (a hard link its file's),
and the copy stops as soon as the total passes the cap; each file is charged to the command's
disk budget too.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path
from typing import IO

from cnbext.errors import BuildError
from cnbext.sources import disk


def extract_output(stream: IO[bytes], dest: Path, max_bytes: int) -> int:
    """Write the tree ``stream`` holds (below its top folder) into ``dest``; the bytes its
    files take, which is over ``max_bytes`` only when the copy stopped there."""
    written = 0
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            parts = _parts(member.name)
            if not parts:
                continue  # the copied folder itself
            parent = _real_folder(dest, parts[:-1], member.name)
            target = parent / parts[-1]
            if member.isdir():
                target.mkdir(mode=0o755)
            elif member.issym():
                target.symlink_to(member.linkname)
            elif member.isreg() or member.islnk():
                linked = _linked_file(dest, member.linkname) if member.islnk() else None
                size = member.size if linked is None else _file_size(linked)
                written += size
                if written > max_bytes:
                    return written
                disk.charge(size, f"the phase's output {'/'.join(parts)}")
                _write(tar, member, target, linked)
            else:
                os.mkfifo(target, 0o600)
    return written


def _parts(name: str) -> list[str]:
    if "\x00" in name or name.startswith("/"):
        raise BuildError(f"the phase's output holds an impossible name {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")][1:]  # below the copied folder
    if ".." in parts:
        raise BuildError(f"the phase's output holds an impossible name {name!r}")
    return parts


def _real_folder(dest: Path, parts: list[str], name: str) -> Path:
    folder = dest
    for part in parts:
        folder = folder / part
        if not stat.S_ISDIR(folder.lstat().st_mode):  # a link or a file: never gone through
            raise BuildError(f"the phase's output names {name!r} under something not a folder")
    return folder


def _linked_file(dest: Path, linkname: str) -> Path:
    """Where a hard link's file was written (through real folders only)."""
    parts = _parts(linkname)
    return _real_folder(dest, parts[:-1], linkname) / parts[-1] if parts else dest


def _file_size(path: Path) -> int:
    status = path.lstat()
    return status.st_size if stat.S_ISREG(status.st_mode) else 0


def _write(
    tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, linked: Path | None
) -> None:
    """``member``'s bytes (for a hard link: ``linked``'s, the file written before it) into a
    new ``target``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    descriptor = os.open(target, flags, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        if linked is not None:
            source: IO[bytes] | None = os.fdopen(os.open(linked, os.O_RDONLY | os.O_NOFOLLOW), "rb")
        else:
            source = tar.extractfile(member)
        if source is not None:
            with source:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
        os.fchmod(out.fileno(), member.mode & 0o7777 or 0o644)
