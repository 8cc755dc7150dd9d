"""Tests for cnbext.cnb.installed: package databases parsed, a build's changes, the label."""

from __future__ import annotations

import json

import pytest

from cnbext.cnb.installed import (
    APK_INSTALLED,
    DPKG_STATUS,
    RPMDB_PATHS,
    Installed,
    Package,
    PackageChanges,
    Upgrade,
    package_changes,
    packages_label,
    parse_apk_installed,
    parse_dpkg_status,
    parse_packages_label,
    read_installed,
    rebuild_changes,
)

# As dpkg writes it (bookworm): multi-line fields, a Source with a version, a package that
# was removed but left its config files, and a half-installed one.
DPKG = """\
Package: libonig5
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: libonig
Version: 6.9.8-1
Depends: libc6 (>= 2.14)
Description: regular expressions library
 Oniguruma is a regular expressions library.

Package: jq
Status: install ok installed
Architecture: amd64
Source: jq (1.6-2.1)
Version: 1.6-2.1
Conffiles:
 /etc/jq.conf 0123456789abcdef

Package: libc6
Status: install ok installed
Architecture: arm64
Version: 2.36-9+deb12u4

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: old-tool
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: broken
Status: install reinstreq half-installed
Architecture: amd64
Version: 2.0
"""

APK = """\
C:Q1abc=
P:musl
V:1.2.4_git20230717-r4
A:aarch64
o:musl
L:/lib

C:Q1def=
P:jq
V:1.7.1-r0
A:aarch64
o:jq
F:usr/bin
R:jq

C:Q1ghi=
P:oniguruma
V:6.9.9-r0
A:aarch64
"""


def test_dpkg_status_keeps_only_installed_packages_by_name_and_architecture() -> None:
    found = parse_dpkg_status(DPKG)
    assert sorted(found) == [
        ("jq", "amd64"),
        ("libc6", "amd64"),
        ("libc6", "arm64"),
        ("libonig5", "amd64"),
    ]
    assert found["libonig5", "amd64"] == Package("libonig5", "6.9.8-1", "amd64", "libonig")
    assert found["jq", "amd64"].source == "jq"  # "jq (1.6-2.1)": the name only
    assert found["libc6", "arm64"].source == "libc6"  # no Source: the package's own name


def test_apk_installed_reads_name_version_architecture_and_origin() -> None:
    found = parse_apk_installed(APK)
    assert found == {
        ("musl", "aarch64"): Package("musl", "1.2.4_git20230717-r4", "aarch64", "musl"),
        ("jq", "aarch64"): Package("jq", "1.7.1-r0", "aarch64", "jq"),
        ("oniguruma", "aarch64"): Package("oniguruma", "6.9.9-r0", "aarch64", "oniguruma"),
    }


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "\x00\xff garbage",
        "Package:\nVersion:\n",
        "Status:\n",
        "Package: x\nStatus: install ok installed\n",  # no version
        ":::\n\n\n:",
        "P:\nV:\n",
    ],
)
def test_malformed_databases_give_no_packages_and_never_fail(hostile: str) -> None:
    assert parse_dpkg_status(hostile) == {}
    assert parse_apk_installed(hostile) == {}


def no_rpm(data: bytes) -> dict[tuple[str, str], Package]:
    raise AssertionError("not an rpm database")


def test_the_database_is_chosen_by_the_files_the_image_has() -> None:
    dpkg = read_installed({DPKG_STATUS: DPKG.encode()}, no_rpm)
    assert dpkg is not None and dpkg.database == "dpkg" and len(dpkg.packages) == 4
    apk = read_installed({APK_INSTALLED: APK.encode()}, no_rpm)
    assert apk is not None and apk.database == "apk" and len(apk.packages) == 3
    rpm_package = Package("jq", "1.7.1-1.fc40", "x86_64", "jq")
    rpm = read_installed({RPMDB_PATHS[1]: b"db"}, lambda data: {rpm_package.key: rpm_package})
    assert rpm == Installed("rpm", {rpm_package.key: rpm_package})
    assert read_installed({"/etc/os-release": b"ID=scratch"}, no_rpm) is None


def test_only_the_database_of_the_installing_manager_is_read() -> None:
    # Debian with rpm and dnf installed: dpkg's status and an rpm database side by side.
    rpm_package = Package("cnbext-hello", "1.1-1", "noarch", "cnbext-hello")
    both = {DPKG_STATUS: DPKG.encode(), RPMDB_PATHS[1]: b"db"}
    rpm = read_installed(both, lambda data: {rpm_package.key: rpm_package}, "rpm")
    assert rpm == Installed("rpm", {rpm_package.key: rpm_package})
    dpkg = read_installed(both, no_rpm, "dpkg")
    assert dpkg is not None and dpkg.database == "dpkg" and len(dpkg.packages) == 4
    # The manager's database is absent: nothing is read, not the other one.
    assert read_installed({DPKG_STATUS: DPKG.encode()}, no_rpm, "rpm") is None
    assert read_installed({APK_INSTALLED: APK.encode()}, no_rpm, "dpkg") is None


def package(name: str, version: str, architecture: str = "amd64") -> Package:
    return Package(name, version, architecture, name)


def installed(*packages: Package, database: str = "dpkg") -> Installed:
    return Installed(database, {p.key: p for p in packages})


def test_changes_are_added_upgraded_and_removed_packages_sorted() -> None:
    base = installed(package("libc6", "2.36-9"), package("zlib1g", "1.2"), package("tar", "1.34"))
    result = installed(
        package("libc6", "2.36-9+deb12u4"),
        package("tar", "1.34"),
        package("jq", "1.6-2.1"),
        package("libonig5", "6.9.8-1"),
    )
    changes = package_changes(base, result)
    assert changes == PackageChanges(
        "dpkg",
        added=(package("jq", "1.6-2.1"), package("libonig5", "6.9.8-1")),
        upgraded=(Upgrade(package("libc6", "2.36-9+deb12u4"), "2.36-9"),),
        removed=(package("zlib1g", "1.2"),),
    )


def test_without_a_base_database_everything_is_added() -> None:
    result = installed(package("jq", "1.6-2.1"))
    assert package_changes(None, result).added == (package("jq", "1.6-2.1"),)
    other = installed(package("jq", "1.6-2.1"), database="apk")
    assert package_changes(other, result).added == (package("jq", "1.6-2.1"),)


def test_the_label_round_trips_and_is_the_same_for_the_same_packages() -> None:
    changes = {
        "linux/arm64": package_changes(None, installed(package("jq", "1.6-2.1", "arm64"))),
        "linux/amd64": package_changes(
            installed(package("libc6", "1")), installed(package("libc6", "2"))
        ),
    }
    label = packages_label(changes)
    assert label == packages_label(dict(reversed(changes.items())))
    decoded = json.loads(label)
    assert list(decoded["platforms"]) == ["linux/amd64", "linux/arm64"]
    assert decoded["platforms"]["linux/amd64"]["upgraded"] == [
        {
            "name": "libc6",
            "version": "2",
            "previous": "1",
            "architecture": "amd64",
            "source": "libc6",
        }
    ]
    assert parse_packages_label(label) == changes


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[]",
        '{"version": 2, "platforms": {}}',
        '{"version": 1}',
        '{"version": 1, "platforms": {"linux/amd64": {"database": "dpkg"}}}',
    ],
)
def test_a_foreign_or_malformed_label_reads_as_not_recorded(raw: str | None) -> None:
    assert parse_packages_label(raw) is None


def test_a_rebuild_reports_each_package_whose_installed_version_changed() -> None:
    before = {
        "linux/amd64": PackageChanges(
            "dpkg",
            added=(package("jq", "1.6-2.1"), package("libonig5", "6.9.8-1")),
            upgraded=(Upgrade(package("libc6", "2.36-9+u1"), "2.36-9"),),
        )
    }
    after = {
        "linux/amd64": PackageChanges(
            "dpkg",
            added=(package("jq", "1.6-2.2"), package("libonig5", "6.9.8-1"), package("new", "1")),
        ),
        "linux/arm64": PackageChanges("dpkg", added=(package("jq", "1.6-2.2", "arm64"),)),
    }
    assert rebuild_changes(before, after) == [
        {
            "platform": "linux/amd64",
            "name": "jq",
            "architecture": "amd64",
            "before": "1.6-2.1",
            "after": "1.6-2.2",
        },
        {
            "platform": "linux/amd64",
            "name": "libc6",
            "architecture": "amd64",
            "before": "2.36-9+u1",
            "after": None,
        },
        {
            "platform": "linux/amd64",
            "name": "new",
            "architecture": "amd64",
            "before": None,
            "after": "1",
        },
        {
            "platform": "linux/arm64",
            "name": "jq",
            "architecture": "arm64",
            "before": None,
            "after": "1.6-2.2",
        },
    ]
    assert rebuild_changes(before, before) == []
    assert rebuild_changes(None, None) == []
