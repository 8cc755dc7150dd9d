"""Where a source uri's content is on this machine: the one dispatch modules and lifecycles share.

A uri is resolved (relative paths from the config's folder), its sha256 pin checked, and then
found as an image's exported files (``docker://``), a downloaded archive in the cache
(``http(s)://``, evicted again when what reads it fails) or a local folder or file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cnbext.errors import CnbextError
from cnbext.sources.download import download_to_cache, evict_on_error, verify_pin
from cnbext.sources.safe_tree import ImageExporter, export_image_tree
from cnbext.sources.uri import redact_url, resolve_uri


@dataclass(frozen=True)
class SourceTerms:
    """How a kind of source is named in its messages, and the error it raises."""

    error_type: type[CnbextError]
    plural: str  # "docker:// <plural> need an image engine"
    docker_hint: str  # what to give instead when there is no image engine
    download_hint: str  # how to work offline
    export_prefix: str  # the work folder's name prefix for an exported image


@dataclass(frozen=True)
class Places:
    """Where a source is looked for and put: relative paths from ``base_dir`` (the config's
    folder), exports in ``work_dir``, downloads in ``cache_dir``; images read by ``exporter``."""

    base_dir: Path
    work_dir: Path
    cache_dir: Path
    exporter: ImageExporter | None


@dataclass(frozen=True)
class Located:
    """A source's content: an image's exported files, a folder, or an archive file."""

    kind: Literal["image", "folder", "file"]
    path: Path


@contextmanager
def locate(
    raw_uri: str, terms: SourceTerms, places: Places, *, sha256: str | None
) -> Iterator[Located]:
    """Where ``raw_uri``'s content is; a download is evicted from the cache if reading it
    fails. Messages name the uri without any password it holds."""
    error_type, base_dir = terms.error_type, places.base_dir
    uri = redact_url(raw_uri)
    resolved = resolve_uri(raw_uri, base_dir=base_dir, error_type=error_type)
    verify_pin(uri, resolved.scheme, resolved.location, sha256, error_type)
    if resolved.scheme == "docker":
        if places.exporter is None:
            raise error_type(
                f"{uri}: docker:// {terms.plural} need an image engine, and none was given",
                hint=terms.docker_hint,
            )
        tree = export_image_tree(
            places.exporter,
            resolved.location,
            work_dir=places.work_dir,
            prefix=terms.export_prefix,
            source=uri,
            error_type=error_type,
        )
        yield Located("image", tree)
        return
    if resolved.scheme == "http":
        path = download_to_cache(
            raw_uri,
            places.cache_dir,
            error_type=error_type,
            hint=terms.download_hint,
            sha256=sha256,
        )
        with evict_on_error(path, error_type):
            yield Located("file", path)
        return
    path = Path(resolved.location)
    if path.is_dir():
        _refuse_special_files(path, uri, error_type)
        yield Located("folder", path)
        return
    if not path.exists():
        raise error_type(
            f"{uri}: {path} does not exist",
            hint=f"relative paths are taken from the folder of the config file ({base_dir})",
        )
    if not path.is_file():
        raise error_type(f"{uri}: {path} is neither a folder nor a file")
    yield Located("file", path)


def _refuse_special_files(folder: Path, uri: str, error_type: type[CnbextError]) -> None:
    """A folder's fifos, sockets and devices, refused before anything opens a file in it:
    reading a fifo blocks for ever (staging, the lifecycle's ELF check, lifecycle.toml), and
    a device has no place on a builder. Only ``lstat`` is used here; links are not followed."""
    for where, dirnames, filenames in os.walk(folder):
        for name in (*dirnames, *filenames):
            entry = Path(where, name)
            mode = entry.lstat().st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                shown = entry.relative_to(folder)
                raise error_type(
                    f"{uri}: {shown} is a fifo, socket or device, which a module or "
                    "lifecycle folder may not hold",
                    hint="remove it from the folder",
                )
