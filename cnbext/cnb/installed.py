"""What an image has installed: its OS package database, parsed, and what a build changed.

The databases are read from the images themselves (copied out, never run: see
cnbext.client.installed) and are hostile input: any bytes, any size the reader allowed. Each
parser takes only the fields it needs, ignores what it does not know, and never fails on
malformed text (a malformed entry is skipped). dpkg's ``status`` and apk's ``installed`` are
plain text; the rpm database is read by cnbext.cnb.rpmdb.

The difference of a build is recorded per platform in the label ``io.cnbext.packages``
(compact, key-sorted JSON, so the same packages always give the same label):

    {"version": 1, "platforms": {"linux/amd64": {"database": "dpkg",
        "added": [{"name": "jq", "version": "1.6-2.1", "architecture": "amd64",
                   "source": "jq"}],
        "upgraded": [{"name": ..., "version": NEW, "previous": OLD, ...}],
        "removed": [...]}}}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PACKAGES_LABEL = "io.cnbext.packages"
LABEL_VERSION = 1

DPKG_STATUS = "/var/lib/dpkg/status"
APK_INSTALLED = "/lib/apk/db/installed"
# rpm 4.16+ keeps its database in sqlite; Fedora 36+ and openSUSE moved it under sysimage.
RPMDB_PATHS = ("/usr/lib/sysimage/rpm/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite")


@dataclass(frozen=True, order=True)
class Package:
    name: str
    version: str
    architecture: str
    source: str  # the source package (dpkg Source, apk origin, rpm SOURCERPM's name)

    @property
    def key(self) -> tuple[str, str]:
        # dpkg installs one package of the same name per architecture (multi-arch).
        return (self.name, self.architecture)

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "source": self.source,
        }


@dataclass(frozen=True)
class Upgrade:
    package: Package  # as the result has it
    previous: str  # the version the base had

    def to_dict(self) -> dict[str, str]:
        return {**self.package.to_dict(), "previous": self.previous}


@dataclass(frozen=True)
class PackageChanges:
    """What a build did to one platform's package database."""

    database: str  # dpkg, apk or rpm
    added: tuple[Package, ...] = ()
    upgraded: tuple[Upgrade, ...] = ()  # any version change (a downgrade too)
    removed: tuple[Package, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "added": [p.to_dict() for p in self.added],
            "upgraded": [u.to_dict() for u in self.upgraded],
            "removed": [p.to_dict() for p in self.removed],
        }


@dataclass(frozen=True)
class Installed:
    """One platform's package database: which one it is and every installed package."""

    database: str
    packages: Mapping[tuple[str, str], Package]


def _paragraphs(text: str) -> Iterator[dict[str, str]]:
    """RFC 822-style stanzas (dpkg): ``Field: value`` lines, continuations indented, stanzas
    separated by blank lines. Only the first line of a multi-line field is kept."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields = {}
        elif not line[0].isspace():
            name, colon, value = line.partition(":")
            if colon:
                fields.setdefault(name.strip(), value.strip())
    if fields:
        yield fields


def parse_dpkg_status(text: str) -> dict[tuple[str, str], Package]:
    """Packages dpkg has fully installed (``Status: install ok installed``), by (name, arch)."""
    found: dict[tuple[str, str], Package] = {}
    for fields in _paragraphs(text):
        name, version = fields.get("Package", ""), fields.get("Version", "")
        if not name or not version or fields.get("Status", "").split()[-1:] != ["installed"]:
            continue
        # "Source: name" or "Source: name (version)" when it differs; absent: the package's own.
        source = fields.get("Source", "").split(" ", 1)[0] or name
        package = Package(name, version, fields.get("Architecture", ""), source)
        found[package.key] = package
    return found


def parse_apk_installed(text: str) -> dict[tuple[str, str], Package]:
    """apk's installed database: ``X:value`` lines (P name, V version, A arch, o origin),
    one block per package, blocks separated by blank lines."""
    found: dict[tuple[str, str], Package] = {}
    fields: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        if line.strip():
            key, colon, value = line.partition(":")
            if colon and len(key) == 1:
                fields.setdefault(key, value.strip())
            continue
        name, version = fields.get("P", ""), fields.get("V", "")
        if name and version:
            package = Package(name, version, fields.get("A", ""), fields.get("o", "") or name)
            found[package.key] = package
        fields = {}
    return found


def read_installed(
    files: Mapping[str, bytes],
    rpm_reader: Callable[[bytes], dict[tuple[str, str], Package]],
    database: str | None = None,
) -> Installed | None:
    """The package database among ``files`` (path -> content, as copied out of an image);
    None when the image has none cnbext reads. ``database`` (dpkg, apk or rpm: the one the
    build's package manager installs into) reads only that one: a Debian image with rpm
    installed has both, and the other one says nothing about this install. Without it the
    first one found is read. ``rpm_reader`` parses an rpm sqlite database's bytes (it needs
    a file on disk, which the caller owns)."""
    readers: dict[str, Callable[[], Installed | None]] = {
        "dpkg": lambda: _read_text(files, "dpkg", DPKG_STATUS, parse_dpkg_status),
        "apk": lambda: _read_text(files, "apk", APK_INSTALLED, parse_apk_installed),
        "rpm": lambda: next(
            (Installed("rpm", rpm_reader(files[p])) for p in RPMDB_PATHS if p in files), None
        ),
    }
    chosen = [readers[database]] if database in readers else list(readers.values())
    return next((found for read in chosen if (found := read()) is not None), None)


def _read_text(
    files: Mapping[str, bytes],
    database: str,
    path: str,
    parse: Callable[[str], dict[tuple[str, str], Package]],
) -> Installed | None:
    return Installed(database, parse(_text(files[path]))) if path in files else None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def package_changes(base: Installed | None, result: Installed) -> PackageChanges:
    """What the build changed: packages the result has and the base had not (added), had in
    another version (upgraded), or had and the result has not (removed)."""
    before = base.packages if base is not None and base.database == result.database else {}
    after = result.packages
    added = tuple(sorted(p for key, p in after.items() if key not in before))
    upgraded = tuple(
        Upgrade(p, before[key].version)
        for key, p in sorted(after.items())
        if key in before and before[key].version != p.version
    )
    removed = tuple(sorted(p for key, p in before.items() if key not in after))
    return PackageChanges(result.database, added, upgraded, removed)


def rebuild_changes(
    before: Mapping[str, PackageChanges] | None, after: Mapping[str, PackageChanges] | None
) -> list[dict[str, str | None]]:
    """What a rebuild changed in the packages its build installed, per platform and package:
    ``before`` and ``after`` versions (None where the package was not installed by it)."""

    def versions(changes: PackageChanges) -> dict[tuple[str, str], str]:
        touched = [*changes.added, *(u.package for u in changes.upgraded)]
        return {p.key: p.version for p in touched}

    rows: list[dict[str, str | None]] = []
    for platform in sorted({*(before or {}), *(after or {})}):
        old = versions(before[platform]) if before and platform in before else {}
        new = versions(after[platform]) if after and platform in after else {}
        for key in sorted({*old, *new}):
            if old.get(key) != new.get(key):
                name, architecture = key
                rows.append(
                    {
                        "platform": platform,
                        "name": name,
                        "architecture": architecture,
                        "before": old.get(key),
                        "after": new.get(key),
                    }
                )
    return rows


def packages_label(per_platform: Mapping[str, PackageChanges]) -> str:
    value = {
        "version": LABEL_VERSION,
        "platforms": {p: c.to_dict() for p, c in sorted(per_platform.items())},
    }
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def parse_packages_label(raw: str | None) -> dict[str, PackageChanges] | None:
    """The label's changes per platform; None when absent, of another version or malformed
    (a foreign value is shown as not recorded, never trusted)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
        if value.get("version") != LABEL_VERSION:
            return None
        return {str(p): _changes(c) for p, c in dict(value["platforms"]).items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _changes(value: Mapping[str, Any]) -> PackageChanges:
    def package(item: Mapping[str, Any]) -> Package:
        return Package(
            str(item["name"]), str(item["version"]), str(item["architecture"]), str(item["source"])
        )

    return PackageChanges(
        str(value["database"]),
        tuple(package(i) for i in value["added"]),
        tuple(Upgrade(package(i), str(i["previous"])) for i in value["upgraded"]),
        tuple(package(i) for i in value["removed"]),
    )
