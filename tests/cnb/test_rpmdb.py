"""Tests for cnbext.cnb.rpmdb: rpm header blobs as rpm's sqlite database stores them."""

from __future__ import annotations

import struct
from collections.abc import Mapping

import pytest

from cnbext.cnb.installed import Package
from cnbext.cnb.rpmdb import parse_header

NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM, SUMMARY = 1000, 1001, 1002, 1003, 1022, 1044, 1004


def header(tags: Mapping[int, str | int]) -> bytes:
    """A header blob as rpm writes one: entry count and data size, the index entries (tag,
    type, offset, count), then the data, int32s 4-byte aligned."""
    index, data = b"", b""
    for tag, value in sorted(tags.items()):
        if isinstance(value, int):
            data += b"\0" * (-len(data) % 4)
            index += struct.pack(">IIII", tag, 4, len(data), 1)
            data += struct.pack(">I", value)
        else:
            index += struct.pack(">IIII", tag, 6, len(data), 1)
            data += value.encode() + b"\0"
    return struct.pack(">II", len(tags), len(data)) + index + data


JQ: dict[int, str | int] = {
    NAME: "jq",
    VERSION: "1.7.1",
    RELEASE: "1.fc40",
    ARCH: "x86_64",
    SOURCERPM: "jq-1.7.1-1.fc40.src.rpm",
    SUMMARY: "Command-line JSON processor",
}


def test_a_header_gives_name_version_release_architecture_and_source() -> None:
    assert parse_header(header(JQ)) == Package("jq", "1.7.1-1.fc40", "x86_64", "jq")


def test_an_epoch_prefixes_the_version_and_the_source_rpm_name_is_kept_whole() -> None:
    blob = header({**JQ, NAME: "perl-Git", EPOCH: 2, SOURCERPM: "git-core-2.45.2-2.fc40.src.rpm"})
    assert parse_header(blob) == Package("perl-Git", "2:1.7.1-1.fc40", "x86_64", "git-core")


def test_signing_keys_are_not_packages() -> None:
    assert parse_header(header({**JQ, NAME: "gpg-pubkey"})) is None


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x00\x00",
        struct.pack(">II", 5, 10),  # more entries than bytes
        struct.pack(">II", 0xFFFFFFFF, 0),
        header({VERSION: "1"}),  # no name
        header(JQ)[:-5],  # data cut short
        struct.pack(">II", 1, 4) + struct.pack(">IIII", NAME, 6, 999, 1) + b"abcd",
    ],
)
def test_malformed_headers_are_skipped(blob: bytes) -> None:
    assert parse_header(blob) is None
