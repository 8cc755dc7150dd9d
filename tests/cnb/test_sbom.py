"""Tests for cnbext.cnb.sbom: the CycloneDX 1.6 document of an image's OS packages."""

from __future__ import annotations

import json

import pytest

from cnbext.cnb.distro import Distro
from cnbext.cnb.installed import Package
from cnbext.cnb.sbom import SbomError, sbom_document, validate_sbom

DEBIAN = Distro("debian", (), "12", "Debian GNU/Linux 12 (bookworm)")
FEDORA = Distro("fedora", (), "40", "Fedora Linux 40")
PACKAGES = [
    Package("libonig5", "6.9.8-1", "arm64", "libonig"),
    Package("jq", "1.6-2.1", "arm64", "jq"),
]


def components(document: bytes) -> dict[str, dict[str, object]]:
    return {str(c["name"]): c for c in json.loads(document)["components"]}


def test_every_package_is_a_component_with_its_purl_in_a_cyclonedx_1_6_document() -> None:
    text = sbom_document("dpkg", PACKAGES, DEBIAN)
    validate_sbom(text.decode())  # not checked at run time when nothing comes from the base
    document = json.loads(text)
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.6")
    found = {c["name"]: c for c in document["components"]}
    assert found["jq"]["version"] == "1.6-2.1"
    assert found["jq"]["purl"] == "pkg:deb/debian/jq@1.6-2.1?arch=arm64&distro=debian-12"
    assert found["libonig5"]["purl"] == (
        "pkg:deb/debian/libonig5@6.9.8-1?arch=arm64&distro=debian-12&upstream=libonig"
    )
    assert found["debian"]["type"] == "operating-system"


def test_rpm_epochs_are_qualifiers_and_apk_has_its_own_type() -> None:
    rpm = components(
        sbom_document("rpm", [Package("perl-Git", "2:2.45-1.fc40", "noarch", "git")], FEDORA)
    )
    assert rpm["perl-Git"]["purl"] == (
        "pkg:rpm/fedora/perl-Git@2.45-1.fc40?arch=noarch&distro=fedora-40&epoch=2&upstream=git"
    )
    apk = components(sbom_document("apk", [Package("jq", "1.7.1-r0", "aarch64", "jq")], None))
    for database, distro in (("rpm", FEDORA), ("apk", None)):
        validate_sbom(sbom_document(database, PACKAGES, distro).decode())
    assert apk["jq"]["purl"] == "pkg:apk/jq@1.7.1-r0?arch=aarch64"


def test_the_same_packages_give_the_same_bytes_with_no_time_in_them() -> None:
    first = sbom_document("dpkg", PACKAGES, DEBIAN)
    assert first == sbom_document("dpkg", list(reversed(PACKAGES)), DEBIAN)
    document = json.loads(first)
    assert "timestamp" not in document["metadata"]
    other = sbom_document("dpkg", PACKAGES[:1], DEBIAN)
    assert json.loads(other)["serialNumber"] != document["serialNumber"]


BASE_SBOM = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "components": [
        {"type": "library", "name": "jq", "version": "1.5", "purl": "pkg:deb/debian/jq@1.5"},
        {"type": "operating-system", "name": "debian", "version": "12"},
        {"type": "file", "name": "ca-bundle.crt", "bom-ref": "file:ca"},
        {"type": "library", "name": "left-pad", "purl": "pkg:npm/left-pad@1.3.0"},
    ],
}


def test_the_bases_other_components_are_kept_and_its_os_packages_reread() -> None:
    document = sbom_document("dpkg", PACKAGES, DEBIAN, json.dumps(BASE_SBOM).encode())
    found = json.loads(document)["components"]
    names = sorted(c["name"] for c in found)
    assert names == ["ca-bundle.crt", "debian", "jq", "left-pad", "libonig5"]
    (jq,) = [c for c in found if c["name"] == "jq"]
    assert jq["version"] == "1.6-2.1"  # the database's truth, not the base's stale entry


@pytest.mark.parametrize("base", [b"not json", b"[]", b'{"components": "x"}'])
def test_a_base_sbom_that_is_not_cyclonedx_json_is_an_error(base: bytes) -> None:
    with pytest.raises(SbomError):
        sbom_document("dpkg", PACKAGES, DEBIAN, base)


def test_a_base_component_cyclonedx_rejects_makes_the_document_invalid() -> None:
    bad = {"components": [{"type": "no-such-type", "name": "x"}]}
    with pytest.raises(SbomError, match=r"not valid CycloneDX 1\.6"):
        sbom_document("dpkg", PACKAGES, DEBIAN, json.dumps(bad).encode())
