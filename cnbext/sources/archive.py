"""Reading untrusted tar archives: the one place cnbext writes what an archive holds.

Archives come from the network and from other people's CI, so members with absolute names,
``..`` or links that leave the extraction folder are refused, and the extractor writes every
file itself (Python's ``tarfile`` filters differ between 3.11 patch releases, and buildpackage
layers need names like ``/cnb/...`` taken relative to the image root, which the filters refuse).
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from cnbext.errors import CnbextError


def open_tar(
    path: Path, source: str, error_type: type[CnbextError], *, hint: str
) -> tarfile.TarFile:
    """``path`` as a tar archive, gzipped or not (detected from its content, not its name)."""
    try:
        return tarfile.open(path, mode="r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise error_type(f"{source}: not a readable tar archive ({err})", hint=hint) from err


def open_tar_stream(handle: Any, source: str, error_type: type[CnbextError]) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=handle, mode="r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise error_type(f"{source}: not a readable tar archive ({err})") from err


def plain_name(name: str) -> str:
    """An archive member's name without ``./`` or leading ``/``, for lookups."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def extract_tar(
    tar: tarfile.TarFile,
    dest: Path,
    *,
    source: str,
    error_type: type[CnbextError],
    image_layer: bool = False,
) -> None:
    """Extract ``tar`` into ``dest``, refusing anything that would write or point outside it.

    ``image_layer``: names are relative to the image root, so a leading ``/`` is dropped
    (pack writes ``/cnb/buildpacks/...``) and OCI whiteouts delete what earlier layers wrote.
    """
    dest.mkdir(parents=True, exist_ok=True)
    dest_real = os.path.realpath(dest)
    folders: list[tuple[Path, int]] = []

    def refuse(name: str, why: str) -> CnbextError:
        return error_type(
            f"{source}: refusing archive member {name!r}: {why}",
            hint="the archive is unsafe or corrupt; re-create it from the module's folder",
        )

    def inside(path: str) -> bool:
        return path == dest_real or path.startswith(dest_real + os.sep)

    def member_parts(name: str) -> list[str]:
        if image_layer:
            name = name.lstrip("/")
        elif name.startswith("/"):
            raise refuse(name, "absolute paths are not allowed")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise refuse(name, "'..' would leave the extraction folder")
        return parts

    try:
        for member in tar:
            parts = member_parts(member.name)
            if not parts:
                continue  # the archive's own root folder
            target = dest.joinpath(*parts)
            if image_layer and parts[-1].startswith(".wh."):
                _apply_whiteout(target)
                continue
            # Checked at write time: an earlier member may have made a parent a symlink.
            if not inside(os.path.realpath(target.parent)):
                raise refuse(member.name, "its folder is a link that leaves the extraction folder")
            if member.isdir():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                target.mkdir(parents=True, exist_ok=True)
                # Owner rwx always, so extraction can go on and the folder can be removed.
                folders.append((target, (member.mode & 0o777) | 0o700))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if member.issym():
                link = member.linkname
                if link.startswith("/"):
                    # On the host an absolute link would point outside; it cannot be checked.
                    raise refuse(member.name, f"symlink to the absolute path {link!r}")
                pointed = os.path.normpath(PurePosixPath(*parts[:-1], link))
                if pointed == ".." or pointed.startswith("../"):
                    raise refuse(member.name, f"symlink to {link!r} points outside the archive")
                _remove(target)
                target.symlink_to(link)
            elif member.islnk():
                # A hard link names an earlier member; it is written as a copy of that file.
                linked = dest.joinpath(*member_parts(member.linkname))
                if linked.is_symlink() or not linked.is_file():
                    raise refuse(member.name, f"hard link to {member.linkname!r}, not a file")
                if not inside(os.path.realpath(linked)):
                    raise refuse(
                        member.name, f"hard link to {member.linkname!r} leaves the archive"
                    )
                _remove(target)
                shutil.copyfile(linked, target)
                target.chmod(stat.S_IMODE(linked.stat().st_mode))
            elif member.isreg():
                _remove(target)
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - regular members always have data
                    raise refuse(member.name, "no data")
                with handle, target.open("wb") as out:
                    shutil.copyfileobj(handle, out)
                target.chmod((member.mode & 0o777) | 0o600)
            else:
                raise refuse(member.name, "devices, fifos and other special files are not allowed")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise error_type(f"{source}: the archive is corrupt or truncated ({err})") from err
    for folder, mode in reversed(folders):
        folder.chmod(mode)
    # Lexical checks cannot see through links made of other links (`a -> .`, `b -> a/..`), so
    # every link is finally resolved for real and must stay inside.
    for symlink in _symlinks(dest):
        if not inside(os.path.realpath(symlink)):
            relative = symlink.relative_to(dest).as_posix()
            raise refuse(relative, f"symlink to {str(symlink.readlink())!r} resolves outside it")


def _symlinks(root: Path) -> Iterator[Path]:
    for folder, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(folder, name)
            if path.is_symlink():
                yield path


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _apply_whiteout(marker: Path) -> None:
    if marker.name == ".wh..wh..opq":  # opaque folder: hide what earlier layers put there
        if marker.parent.is_dir() and not marker.parent.is_symlink():
            for child in marker.parent.iterdir():
                _remove(child)
        return
    _remove(marker.with_name(marker.name[len(".wh.") :]))


def remove(path: Path) -> None:
    """Remove a file, link or folder at ``path`` without following a link."""
    _remove(path)


def fresh_dir(work_dir: Path, prefix: str) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=work_dir))


def find_root(folder: Path, marker: str) -> Path:
    """``folder``, or its single top folder when the archive wrapped everything in one."""
    if (folder / marker).exists():
        return folder
    entries = list(folder.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return folder
