"""Normalized copies of modules: the same module always gives a byte-identical layer.

Container layers are addressed by content; if mtimes or the umask of a checkout leaked into a
layer, the same buildpack would give a new layer digest on every machine and every run,
defeating layer reuse in registries and in the builder itself. :func:`stage_module` therefore
writes fixed modes and mtime 0, and :func:`tree_digest` hashes exactly what staging keeps, so a
module already on a base image can be recognised.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from cnbext.sources import disk
from cnbext.sources.archive import remove
from cnbext.sources.descriptor import ModuleError
from cnbext.sources.download import file_sha256

if TYPE_CHECKING:
    from cnbext.sources.descriptor import Module


def stage_module(module: Module, dest_root: Path) -> Path:
    """Write a normalized copy at ``dest_root`` + ``module.install_path``; return that folder.

    Folders 0755, files 0755 when any execute bit was set else 0644, symlinks kept, and every
    mtime 0 (also of ``cnb/``, ``cnb/buildpacks/`` and the id folder, which end up in the
    layer too), so the same module always gives a byte-identical layer.
    """
    relative = module.install_path.relative_to("/")
    staged = dest_root.joinpath(*relative.parts)
    remove(staged)  # a previous staging must not leave stale files behind
    staged.parent.mkdir(parents=True, exist_ok=True)
    _copy_normalized(
        module.root, staged, owner=f"{module.descriptor.id}@{module.descriptor.version}"
    )
    for folder, dirnames, filenames in os.walk(staged, topdown=False):
        # Links to folders are listed with the folders; follow_symlinks=False keeps utime on
        # the link itself, whose mtime is part of the layer too.
        for name in [*dirnames, *filenames]:
            os.utime(Path(folder, name), (0, 0), follow_symlinks=False)
        os.utime(folder, (0, 0), follow_symlinks=False)
    for depth in range(len(relative.parts) - 1, 0, -1):
        ancestor = dest_root.joinpath(*relative.parts[:depth])
        ancestor.chmod(0o755)
        os.utime(ancestor, (0, 0))
    return staged


def _copy_normalized(source: Path, dest: Path, *, owner: str, prefix: str = "") -> None:
    dest.mkdir()
    dest.chmod(0o755)
    for entry, status in _entries(source, owner):
        target = dest / entry.name
        if stat.S_ISLNK(status.st_mode):
            target.symlink_to(entry.readlink())
        elif stat.S_ISDIR(status.st_mode):
            _copy_normalized(entry, target, owner=owner, prefix=f"{prefix}{entry.name}/")
        else:
            disk.charge(disk.file_bytes(status), f"{owner}: {prefix}{entry.name}")
            shutil.copyfile(entry, target, follow_symlinks=False)
            target.chmod(normalized_mode(status.st_mode, f"{prefix}{entry.name}"))


def _entries(folder: Path, owner: str) -> list[tuple[Path, os.stat_result]]:
    """A folder's entries, sorted, each with its lstat; special files are refused."""
    result = []
    for path in sorted(folder.iterdir()):
        status = path.lstat()
        if not (
            stat.S_ISLNK(status.st_mode)
            or stat.S_ISDIR(status.st_mode)
            or stat.S_ISREG(status.st_mode)
        ):
            raise ModuleError(
                f"{owner}: {path} is a special file (device, fifo "
                "or socket), which cannot go into an image layer",
                hint="remove it from the module's folder",
            )
        result.append((path, status))
    return result


# pack's calcFileMode (pkg/buildpack/buildpack.go) makes these executable whatever their mode.
EXECUTABLES = frozenset({"bin/build", "bin/detect", "bin/generate"})


def normalized_mode(st_mode: int, relative: str = "") -> int:
    """The permission bits staging gives an entry of this mode at ``relative`` (its path in
    the module), as pack packs a module: folders, anything executable, and bin/build,
    bin/detect and bin/generate 0755; other files 0644."""
    if stat.S_ISLNK(st_mode):
        return 0o777
    if stat.S_ISDIR(st_mode) or st_mode & 0o111 or relative in EXECUTABLES:
        return 0o755
    return 0o644


def tree_digest(root: Path) -> str:
    """``sha256:<hex>`` of a folder's content as :func:`stage_module` would write it.

    Covers each relative path with its type, normalized mode and content (the target for
    symlinks); mtimes, owners and the source's exact permission bits do not count.
    """
    digest = hashlib.sha256()
    pending: list[tuple[Path, str]] = [(root, "")]
    entries: list[tuple[str, os.stat_result, Path]] = []
    while pending:
        folder, prefix = pending.pop()
        for path, status in _entries(folder, str(root)):
            relative = f"{prefix}{path.name}"
            entries.append((relative, status, path))
            if stat.S_ISDIR(status.st_mode):
                pending.append((path, relative + "/"))
    for relative, status, path in sorted(entries, key=lambda item: item[0]):
        if stat.S_ISLNK(status.st_mode):
            kind, content = b"l", hashlib.sha256(os.fsencode(path.readlink())).hexdigest()
        elif stat.S_ISDIR(status.st_mode):
            kind, content = b"d", ""
        else:
            kind, content = b"f", file_sha256(path)
        name = os.fsencode(relative)
        # Length-prefixed names: no two different trees can serialize to the same bytes.
        digest.update(
            b"%s %o %d:%s %s\n"
            % (kind, normalized_mode(status.st_mode, relative), len(name), name, content.encode())
        )
    return f"sha256:{digest.hexdigest()}"
