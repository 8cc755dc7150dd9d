"""The one place cnbext writes what an untrusted archive or image tree holds.

Archives (``.tgz``/``.tar``, buildpackage layers) and trees exported from images go through the
same :class:`SafeWriter`. Before anything is written, chmod-ed or deleted, the entry's final
path is resolved for real, following the links earlier entries already wrote, and must stay
inside the destination; links must resolve inside it too, and are resolved again once
everything is written (a later entry can change where an earlier link leads). Folder modes are
fixed last, through file descriptors opened without following links. Sizes and entry counts
are capped (:mod:`cnbext.sources.limits`), hard links counting as what they would cost to copy.

Python's ``tarfile`` data filter is applied to every member too, as a floor under these rules;
it is not enough alone: it checks names, not where links already written lead, and knows
nothing of whiteouts or limits. Image layers name members from the image root (``/cnb/...``),
so their leading ``/`` is dropped first.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from cnbext.errors import CnbextError
from cnbext.sources import disk
from cnbext.sources.limits import MAX_LINK_HOPS, Budget
from cnbext.sources.tar_walk import walk_members

EntryKind = Literal["dir", "file", "symlink", "hardlink", "special"]
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
_OPAQUE = ".wh..wh..opq"
CORRUPT = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


@dataclass(frozen=True)
class Entry:
    """One member of an archive or exported tree, whatever it came from."""

    name: str
    kind: EntryKind
    mode: int
    size: int = 0
    linkname: str = ""
    open: Callable[[], IO[bytes]] | None = None


class RefusedError(Exception):
    """Why an entry is refused; turned into the caller's error type with the entry's name."""

    def __init__(self, why: str, name: str | None = None) -> None:
        super().__init__(why)
        self.name = name


class SafeWriter:
    """Writes entries into ``dest``, refusing any that would reach outside it."""

    def __init__(
        self,
        dest: Path,
        *,
        image_layer: bool = False,
        budget: Budget | None = None,
        data_filter: bool = True,
    ) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.dest = Path(os.path.realpath(dest))
        self.image_layer = image_layer
        self.budget = budget if budget is not None else Budget.from_env()
        self.data_filter = data_filter
        self.folder_modes: dict[tuple[str, ...], int] = {}
        self.member: tarfile.TarInfo | None = None

    # -- resolving paths -----------------------------------------------------------------------

    def parts(self, name: str) -> list[str]:
        """A member name as path components; absolute names and ``..`` are refused."""
        if self.image_layer:
            name = name.lstrip("/")
        elif name.startswith("/"):
            raise RefusedError("absolute paths are not allowed")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise RefusedError("'..' would leave the extraction folder")
        return parts

    def resolve(self, parts: list[str], *, follow_last: bool) -> list[str]:
        """Where ``parts`` lead inside ``dest``, following links already written.

        Components that do not exist yet are taken as written. Raises Refused when the path
        leaves ``dest``, loops, or goes through something that is not a folder.
        """
        pending, hops = list(parts), 0
        real: list[str] = []
        missing: list[str] = []
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not (missing or real):
                    raise RefusedError("leads outside the extraction folder")
                (missing or real).pop()
                continue
            if missing:
                missing.append(part)
                continue
            try:
                status = os.lstat(self.dest.joinpath(*real, part))
            except FileNotFoundError:
                missing.append(part)
                continue
            if stat.S_ISLNK(status.st_mode) and (pending or follow_last):
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise RefusedError("a loop of symlinks")
                target = str(self.dest.joinpath(*real, part).readlink())
                if target.startswith("/"):
                    raise RefusedError(f"goes through the symlink {part!r} to an absolute path")
                pending = [*target.split("/"), *pending]
                continue
            if pending and not stat.S_ISDIR(status.st_mode):
                raise RefusedError(f"{'/'.join([*real, part])!r} is not a folder")
            real.append(part)
        return [*real, *missing]

    # -- writing ----------------------------------------------------------------------------

    def add(self, entry: Entry, member: tarfile.TarInfo | None = None) -> None:
        """Write one entry; every check happens before anything is written."""
        reason = self.budget.take_entry()
        if reason is not None:
            raise RefusedError(reason)
        parts = self.parts(entry.name)
        if not parts:
            return  # the archive's own root folder
        if entry.mode & _SPECIAL_BITS:
            raise RefusedError("setuid, setgid and sticky bits are not allowed")
        if self.image_layer and parts[-1].startswith(".wh."):
            self._whiteout(parts)
            return
        if entry.kind == "special":
            raise RefusedError("devices, fifos and other special files are not allowed")
        parent = self.resolve(parts[:-1], follow_last=True)
        target = self.dest.joinpath(*parent, parts[-1])
        self.member = member
        write = {
            "dir": self._dir,
            "file": self._file,
            "symlink": self._symlink,
            "hardlink": self._hardlink,
        }[entry.kind]
        write(entry, parent, target)

    def _prepare(self, parent: list[str], target: Path, *, keep_dir: bool = False) -> None:
        """Create the missing folders up to ``target`` and clear what is in its place."""
        if self.member is not None:  # our own checks passed; the library's come last
            self.floor(self.member)
        folder = self.dest
        for part in parent:
            folder = folder / part
            if not folder.exists():  # resolve() proved no link is in the way
                folder.mkdir(mode=0o700)
                self.folder_modes.setdefault(_key(self.dest, folder), 0o755)
        present = target.is_symlink() or target.exists()
        if present and not (keep_dir and target.is_dir() and not target.is_symlink()):
            remove(target)

    def _dir(self, entry: Entry, parent: list[str], target: Path) -> None:
        self._prepare(parent, target, keep_dir=True)
        if not target.is_dir():
            target.mkdir(mode=0o700)
        # Owner rwx always, so extraction can go on and the folder can be removed.
        self.folder_modes[_key(self.dest, target)] = (entry.mode & 0o777) | 0o700

    def _file(self, entry: Entry, parent: list[str], target: Path) -> None:
        reason = self.budget.take_bytes(entry.size) or disk.take(entry.size)
        if reason is not None:
            raise RefusedError(reason)
        if entry.open is None:  # pragma: no cover - regular entries always have data
            raise RefusedError("no data")
        self._prepare(parent, target)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        descriptor = os.open(target, flags, (entry.mode & 0o777) | 0o600)
        with entry.open() as source, os.fdopen(descriptor, "wb") as out:
            left = entry.size
            while left > 0 and (chunk := source.read(min(left, 1 << 20))):
                out.write(chunk)
                left -= len(chunk)
            os.fchmod(out.fileno(), (entry.mode & 0o777) | 0o600)

    def _symlink(self, entry: Entry, parent: list[str], target: Path) -> None:
        link = entry.linkname
        if link.startswith("/"):
            # On the host an absolute link points outside; nothing could check where it leads.
            raise RefusedError(f"symlink to the absolute path {link!r}")
        try:
            self.resolve([*parent, *link.split("/")], follow_last=True)
        except RefusedError:
            raise RefusedError(f"symlink to {link!r} points outside the archive") from None
        self._prepare(parent, target)
        target.symlink_to(link)

    def _hardlink(self, entry: Entry, parent: list[str], target: Path) -> None:
        linked_parts = self.parts(entry.linkname)
        linked = self.dest.joinpath(*self.resolve(linked_parts, follow_last=False))
        if not linked.is_file() or linked.is_symlink():
            raise RefusedError(f"hard link to {entry.linkname!r}, not a file written before it")
        # A hard link costs nothing here, but every later copy of the tree writes it in full:
        # a thousand links to one big file is a bomb, so each counts as the file's size.
        size = linked.stat().st_size
        reason = self.budget.take_bytes(size) or disk.take(size)
        if reason is not None:
            raise RefusedError(reason)
        if linked == target:
            return
        self._prepare(parent, target)
        os.link(linked, target, follow_symlinks=False)

    def _whiteout(self, parts: list[str]) -> None:
        """OCI whiteouts delete what earlier layers wrote, only ever inside ``dest``."""
        name = parts[-1]
        parent = self.dest.joinpath(*self.resolve(parts[:-1], follow_last=True))
        if name == _OPAQUE:  # opaque folder: hide what earlier layers put there
            if parent.is_dir() and not parent.is_symlink():
                for child in parent.iterdir():
                    remove(child)
            return
        hidden = name[len(".wh.") :]
        if hidden in ("", ".", "..") or "/" in hidden:
            raise RefusedError(f"whiteout of {hidden!r} names no file")
        remove(parent / hidden)

    # -- finishing ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Check every link once more, then fix folder modes without following links."""
        for link in _symlinks(self.dest):
            relative = link.relative_to(self.dest)
            try:
                self.resolve(list(relative.parts), follow_last=True)
            except RefusedError as err:
                target = str(link.readlink())
                why = f"symlink to {target!r} resolves outside it ({err})"
                raise RefusedError(why, relative.as_posix()) from None
        for folder, _, _ in os.walk(self.dest):  # os.walk never descends into links
            mode = self.folder_modes.get(_key(self.dest, Path(folder)))
            if mode is None:
                continue
            descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.fchmod(descriptor, mode)
            finally:
                os.close(descriptor)

    def floor(self, member: tarfile.TarInfo) -> None:
        """Python's own data filter, on the member as it will be written."""
        if not self.data_filter:
            return
        name = member.name.lstrip("/") if self.image_layer else member.name
        linkname = member.linkname.lstrip("/") if member.islnk() else member.linkname
        try:
            tarfile.data_filter(member.replace(name=name, linkname=linkname), str(self.dest))
        except tarfile.FilterError as err:
            raise RefusedError(f"refused by Python's tarfile data filter: {err}") from None


def _key(dest: Path, folder: Path) -> tuple[str, ...]:
    return folder.relative_to(dest).parts


def _symlinks(root: Path) -> Iterator[Path]:
    for folder, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(folder, name)
            if path.is_symlink():
                yield path


def remove(path: Path) -> None:
    """Remove a file, link or folder at ``path`` without following a link."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def refusal(error_type: type[CnbextError], source: str, name: str, why: str) -> CnbextError:
    return error_type(
        f"{source}: refusing archive member {name!r}: {why}",
        hint="the archive or image is unsafe or corrupt; re-create it from the module's folder",
    )


# --- tar archives ----------------------------------------------------------------------------


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


def tar_entry(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Entry:
    kind: EntryKind = (
        "dir"
        if member.isdir()
        else "symlink"
        if member.issym()
        else "hardlink"
        if member.islnk()
        else "file"
        if member.isreg()
        else "special"
    )

    def opener() -> IO[bytes]:
        handle = tar.extractfile(member)
        if handle is None:  # pragma: no cover - regular members always have data
            raise RefusedError("no data")
        return handle

    return Entry(member.name, kind, member.mode, member.size, member.linkname, opener)


def extract_tar(
    tar: tarfile.TarFile,
    dest: Path,
    *,
    source: str,
    error_type: type[CnbextError],
    image_layer: bool = False,
    budget: Budget | None = None,
) -> None:
    """Extract ``tar`` into ``dest``, refusing anything that would write or point outside it.

    ``image_layer``: names are relative to the image root, so a leading ``/`` is dropped
    (pack writes ``/cnb/buildpacks/...``) and OCI whiteouts delete what earlier layers wrote.
    ``budget`` is shared by the layers of one image, so their sum is what is capped.
    """
    writer = SafeWriter(dest, image_layer=image_layer, budget=budget)
    name = ""
    try:
        for member in walk_members(tar, source, error_type):
            name = member.name
            writer.add(tar_entry(tar, member), member)
        writer.finish()
    except RefusedError as err:
        raise refusal(error_type, source, err.name or name, str(err)) from None
    except CORRUPT as err:
        raise error_type(f"{source}: the archive is corrupt or truncated ({err})") from err


# --- folders ------------------------------------------------------------------------------------


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
