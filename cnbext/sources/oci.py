"""Image layouts inside a tar: an OCI image layout, or what ``docker save`` writes.

Every blob read is checked against the digest that names it, so a layout cannot show one
content to the descriptor and another to the extractor; an index may nest only
:data:`~cnbext.sources.limits.MAX_INDEX_DEPTH` deep, so an index that lists itself ends.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from dataclasses import dataclass
from typing import IO, Any

from cnbext.sources.archive import plain_name
from cnbext.sources.limits import MAX_INDEX_DEPTH

_HEX_DIGEST = re.compile(r"[a-f0-9]{32,128}")
_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}
# A manifest, index or config is small; a larger one is not JSON anyone meant to write.
MAX_JSON_BYTES = 4 << 20


class LayoutError(Exception):
    """What is wrong with the layout, in words; the caller names the archive."""


@dataclass(frozen=True)
class Blob:
    """A layer to apply: its member name and, in OCI layouts, the digest it must have."""

    name: str
    digest: str | None


@dataclass(frozen=True)
class ImageLayout:
    layers: tuple[Blob, ...]
    config: Any  # the parsed image config


class LayoutReader:
    """Reads the JSON documents and blobs of a layout inside ``tar``."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.files = {plain_name(m.name): m for m in tar.getmembers() if m.isreg()}

    def open(self, name: str) -> IO[bytes]:
        member = self.files.get(name)
        handle = self.tar.extractfile(member) if member is not None else None
        if handle is None:
            raise LayoutError(f"{name} is missing")
        return handle

    def verify(self, blob: Blob) -> None:
        """Hash the blob's bytes and compare with its digest; nothing is written before."""
        if blob.digest is None:
            return
        algorithm, _, expected = blob.digest.partition(":")
        digest = hashlib.new(algorithm)
        with self.open(blob.name) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            raise LayoutError(f"{blob.name} does not match its digest {blob.digest}")

    def read_json(self, name: str, digest: str | None = None) -> Any:
        member = self.files.get(name)
        if member is not None and member.size > MAX_JSON_BYTES:
            raise LayoutError(f"{name} is {member.size} bytes, too large for a JSON document")
        if digest is not None:
            self.verify(Blob(name, digest))
        with self.open(name) as handle:
            try:
                return json.loads(handle.read())
            except ValueError as err:
                raise LayoutError(f"{name} is not JSON: {err}") from err


def blob_of(descriptor: Any) -> Blob:
    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    algorithm, _, hex_digest = digest.partition(":") if isinstance(digest, str) else ("", "", "")
    if len(hex_digest) != _DIGEST_LENGTHS.get(algorithm) or not _HEX_DIGEST.fullmatch(hex_digest):
        raise LayoutError(f"invalid descriptor {descriptor!r}")
    return Blob(f"blobs/{algorithm}/{hex_digest}", f"{algorithm}:{hex_digest}")


def read_layout(reader: LayoutReader) -> ImageLayout:
    """The single image a layout holds: its layers in order and its config."""
    if "oci-layout" in reader.files:
        return _oci_image(reader)
    return _saved_image(reader)


def _oci_image(reader: LayoutReader) -> ImageLayout:
    manifest = reader.read_json("index.json")
    depth = 0
    # index.json may point at a manifest directly or at nested image indexes.
    while isinstance(manifest, dict) and "manifests" in manifest:
        depth += 1
        if depth > MAX_INDEX_DEPTH:
            raise LayoutError(
                f"image indexes nest more than {MAX_INDEX_DEPTH} deep (an index that lists itself?)"
            )
        entries = manifest["manifests"]
        if not isinstance(entries, list) or len(entries) != 1:
            count = len(entries) if isinstance(entries, list) else 0
            raise LayoutError(
                f"expected one image manifest, found {count}; cnbext reads "
                "single-platform buildpackages"
            )
        blob = blob_of(entries[0])
        manifest = reader.read_json(blob.name, blob.digest)
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(layers, list):
        raise LayoutError("the image manifest has no layers list")
    config = blob_of(manifest.get("config"))
    return ImageLayout(tuple(map(blob_of, layers)), reader.read_json(config.name, config.digest))


def _saved_image(reader: LayoutReader) -> ImageLayout:
    """``docker save`` format: manifest.json lists the config and layer files by name."""
    saved = reader.read_json("manifest.json")
    if not isinstance(saved, list) or len(saved) != 1 or not isinstance(saved[0], dict):
        raise LayoutError("manifest.json must describe exactly one image")
    layers = saved[0].get("Layers")
    if not isinstance(layers, list) or not all(isinstance(name, str) for name in layers):
        raise LayoutError("manifest.json has no Layers list")
    config = reader.read_json(plain_name(str(saved[0].get("Config", ""))))
    return ImageLayout(tuple(Blob(plain_name(name), None) for name in layers), config)
