"""File times in the layers an extension step added, clamped to SOURCE_DATE_EPOCH.

An image extension's Dockerfile is its own: nothing in it sets the times of the files its
``RUN`` writes, so each build's layer differs by them alone. BuildKit's ``rewrite-timestamp``
would clamp them, but on a step built on a named context (an OCI layout) it rewrites the base
image's layers too (BuildKit 0.13 finds no base image config there), which would copy the
whole base into new layers and make the image impossible to rebase. So the layout is
rewritten here instead, and only the layers after the ones the step was built on: every
entry newer than the epoch gets the epoch (as rewrite-timestamp does), the tar is written
again and gzip-compressed without a time of its own, and the layer's digest, the config's
diffID, the manifest and the index are recomputed. Layers of the base are never touched.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from cnbext.engine.extension_steps import LayoutImage, _Layout, _platform, read_layout
from cnbext.engine.models import INDEX_TYPES

_GZIP = (
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
)
_TAR = ("application/vnd.oci.image.layer.v1.tar", "application/vnd.docker.image.rootfs.diff.tar")
_CHUNK = 1 << 20
_UNCOMPRESSED = "containerd.io/uncompressed"  # a layer annotation that names its diffID


def clamp_new_layers(image: LayoutImage, keep: Mapping[str, int], epoch: int) -> LayoutImage:
    """``image`` with the file times of each platform's layers after the first
    ``keep[platform]`` clamped to ``epoch``; the new digests are returned."""
    layout = _Layout(image.path)
    top = layout.top()
    _rewrite(layout, top, keep, epoch)
    layout.save_top(top)
    return read_layout(image.path)


def _rewrite(
    layout: _Layout, descriptor: dict[str, Any], keep: Mapping[str, int], epoch: int
) -> None:
    document = layout.blob(descriptor["digest"])
    if descriptor["mediaType"] in INDEX_TYPES:
        for child in document.get("manifests", []):
            _rewrite(layout, child, keep, epoch)
    else:
        config = layout.blob(document["config"]["digest"])
        diff_ids = config.setdefault("rootfs", {}).setdefault("diff_ids", [])
        for index in range(keep.get(_platform(config), 0), len(document["layers"])):
            layer = document["layers"][index]
            if layer["mediaType"] not in (*_GZIP, *_TAR):
                continue  # e.g. zstd (not BuildKit's default): left as it was written
            digest, size, diff_id = _clamped_blob(layout, layer, epoch)
            layer.update(digest=digest, size=size, mediaType=_GZIP[0])
            if _UNCOMPRESSED in layer.get("annotations", {}):
                layer["annotations"][_UNCOMPRESSED] = diff_id
            diff_ids[index] = diff_id
        digest, size = layout.store(config)
        document["config"].update(digest=digest, size=size)
    digest, size = layout.store(document)
    descriptor.update(digest=digest, size=size)


def _clamped_blob(layout: _Layout, layer: dict[str, Any], epoch: int) -> tuple[str, int, str]:
    """(digest, size, diffID) of the layer written again with its times clamped."""
    source = layout._path(layer["digest"])
    blobs = layout.root / "blobs" / "sha256"
    with tempfile.TemporaryDirectory(dir=blobs, prefix=".clamp-") as tmp:
        tar_path, gz_path = Path(tmp) / "layer.tar", Path(tmp) / "layer.tar.gz"
        raw = _opened(source, gzipped=layer["mediaType"] in _GZIP)
        with raw, tarfile.open(fileobj=raw, mode="r|") as old, tar_path.open("wb") as out:
            _clamp_tar(old, out, epoch)
        diff_id = _sha256(tar_path)
        with tar_path.open("rb") as plain, gzip.GzipFile(gz_path, "wb", mtime=0) as packed:
            shutil.copyfileobj(plain, packed, _CHUNK)
        digest = _sha256(gz_path)
        size = gz_path.stat().st_size
        gz_path.replace(blobs / digest.removeprefix("sha256:"))
    return digest, size, diff_id


def _opened(path: Path, *, gzipped: bool) -> BinaryIO:
    if gzipped:
        return cast(BinaryIO, gzip.GzipFile(path, "rb"))
    return path.open("rb")


def _clamp_tar(old: tarfile.TarFile, out: IO[bytes], epoch: int) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as new:
        for member in old:
            member.mtime = min(int(member.mtime), epoch)
            headers = {k: v for k, v in member.pax_headers.items() if k not in ("atime", "ctime")}
            headers.pop("mtime", None)  # the clamped whole second above is what is written
            member.pax_headers = headers
            data = old.extractfile(member) if member.isreg() else None
            new.addfile(member, data)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
