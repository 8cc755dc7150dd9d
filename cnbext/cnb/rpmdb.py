"""rpm package headers as rpm 4.16+ stores them in its sqlite database (``Packages.blob``).

A header blob is: the number of index entries and the data size (big-endian int32 each),
then the entries (tag, type, offset, count: four int32), then the data. Only the tags an
installed-package record needs are read; the blob is hostile, so every offset is checked
and a malformed header is skipped rather than trusted.
"""

from __future__ import annotations

import struct

from cnbext.cnb.installed import Package

_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
_INT32, _STRING, _I18NSTRING = 4, 6, 9
_WANTED = {_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _SOURCERPM}


def _entries(blob: bytes) -> dict[int, str | int] | None:
    if len(blob) < 8:
        return None
    count, size = struct.unpack(">II", blob[:8])
    data_start = 8 + 16 * count
    if count > 100_000 or data_start + size > len(blob):
        return None
    data = blob[data_start : data_start + size]
    values: dict[int, str | int] = {}
    for i in range(count):
        tag, kind, offset, _ = struct.unpack(">IIII", blob[8 + 16 * i : 24 + 16 * i])
        if tag not in _WANTED or offset >= len(data):
            continue
        if kind == _INT32 and offset + 4 <= len(data):
            values[tag] = struct.unpack(">I", data[offset : offset + 4])[0]
        elif kind in (_STRING, _I18NSTRING):
            end = data.find(b"\0", offset)
            if end >= 0:
                values[tag] = data[offset:end].decode("utf-8", "replace")
    return values


def parse_header(blob: bytes) -> Package | None:
    """The package a header describes (version as ``[epoch:]version-release``), or None."""
    values = _entries(blob)
    if values is None or not isinstance(values.get(_NAME), str):
        return None
    name = str(values[_NAME])
    if name == "gpg-pubkey":
        return None  # imported signing keys are stored as pseudo-packages
    version = f"{values.get(_VERSION, '')}-{values.get(_RELEASE, '')}"
    if isinstance(values.get(_EPOCH), int):
        version = f"{values[_EPOCH]}:{version}"
    source_rpm = str(values.get(_SOURCERPM, ""))
    # foo-1.2-3.src.rpm -> foo: the name is everything before the last two dashes.
    source = source_rpm.rsplit("-", 2)[0] if source_rpm.count("-") >= 2 else name
    return Package(name, version, str(values.get(_ARCH, "")), source)
