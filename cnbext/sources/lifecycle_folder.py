"""Lifecycle releases served from a local folder: ``CNBEXT_LIFECYCLE_BASE_URL=/path`` or ``file://``.

Air-gapped machines and test rigs have the release archives on disk, not behind a web server.
The folder may mirror GitHub's download tree (``v<version>/lifecycle-v<version>+linux.<arch>.tgz``)
or simply hold the downloaded assets side by side; both are looked for, in that order. The
archive is read where it lies (nothing is copied into the cache: it is already local), and it is
checked as a download would be: against a pinned ``sha256``, else the ``<archive>.sha256`` file
published beside it when there is one.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from cnbext.errors import CnbextError
from cnbext.sources.download import checksum_in, file_sha256

_CHECKSUM_FILE_BYTES = 4096


def release_folder(base_url: str) -> Path | None:
    """The folder ``base_url`` names (a ``file://`` URL or a path), or None for a web URL."""
    parsed = urllib.parse.urlparse(base_url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None  # file://host/... is not this machine's folder; let download refuse it
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme == "" and base_url:
        return Path(base_url).expanduser()
    return None


def release_archive(
    folder: Path,
    release: str,
    name: str,
    *,
    sha256: str | None,
    error_type: type[CnbextError],
    hint: str,
) -> Path:
    """``name`` of release ``release`` in ``folder``, its checksum verified."""
    candidates = (folder / f"v{release}" / name, folder / name)
    archive = next((path for path in candidates if path.is_file()), None)
    if archive is None:
        looked = " and ".join(str(path) for path in candidates)
        raise error_type(f"lifecycle {release}: no release archive at {looked}", hint=hint)
    expected = sha256 or _published_checksum(Path(f"{archive}.sha256"), error_type, hint)
    if expected is not None and (actual := file_sha256(archive)) != expected:
        raise error_type(
            f"lifecycle {release}: {archive}: its sha256 is {actual}, but {expected} was expected",
            hint="the archive or its .sha256 file is damaged or was replaced: fetch both again",
        )
    return archive


def _published_checksum(path: Path, error_type: type[CnbextError], hint: str) -> str | None:
    """The sha256 of ``<archive>.sha256``; None without one, an error when it is unreadable
    (a checksum file that says nothing usable must not pass as "no checksum")."""
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        digest = checksum_in(handle.read(_CHECKSUM_FILE_BYTES).decode("ascii", "replace"))
    if digest is None:
        raise error_type(f"{path}: not a sha256 checksum file", hint=hint)
    return digest
