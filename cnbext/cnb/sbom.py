"""The SBOM layer of an image: a CycloneDX 1.6 JSON document of every OS package in it.

The CNB convention (buildpacks RFC 0095, structured SBOMs, and the run-image SBOM RFC; see
docs/sbom.md): a run
image carries its OS packages' SBOM in one layer at ``/cnb/sbom/bom.<ext>.json`` (``cdx`` for
CycloneDX), and the label ``io.buildpacks.base.sbom`` holds that layer's diffID. The document
lists what the package database of the result holds (base packages and what cnbext added,
each as a package URL: ``pkg:deb``, ``pkg:rpm``, ``pkg:apk``), plus every component of the
base's own CycloneDX SBOM that is not an OS package of that database (those are re-read from
the database, which is the truth after the install).

The same packages always give the same bytes: no timestamp, a serial number derived from the
content, components sorted. That is what keeps the layer's diffID, and the image, reproducible.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from cnbext.cnb.distro import Distro
from cnbext.cnb.installed import Package

SBOM_LABEL = "io.buildpacks.base.sbom"
SBOM_PATH = "/cnb/sbom/bom.cdx.json"
_PURL_TYPES = {"dpkg": "deb", "rpm": "rpm", "apk": "apk"}
_SERIAL_NAMESPACE = uuid.UUID("5b0f3b1e-6d4f-4c36-9a51-2f8e0c1d7a10")


class SbomError(ValueError):
    pass


def _purl(database: str, package: Package, distro: Distro | None) -> str:
    from packageurl import PackageURL

    qualifiers: dict[str, str] = {"arch": package.architecture} if package.architecture else {}
    version = package.version
    if database == "rpm" and ":" in version:
        # rpm's epoch is a qualifier of its purl, not part of the version.
        epoch, version = version.split(":", 1)
        qualifiers["epoch"] = epoch
    if distro is not None and distro.version_id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
    if package.source and package.source != package.name:
        qualifiers["upstream"] = package.source
    namespace = distro.id if distro is not None else None
    return str(
        PackageURL(
            type=_PURL_TYPES[database],
            namespace=namespace,
            name=package.name,
            version=version,
            qualifiers=qualifiers,
        )
    )


def sbom_document(
    database: str,
    packages: Iterable[Package],
    distro: Distro | None,
    base_sbom: bytes | None = None,
) -> bytes:
    """The CycloneDX 1.6 JSON document of ``packages`` (and the base's other components).
    SbomError when the base's components would make it invalid CycloneDX."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    bom = Bom()
    if distro is not None:
        bom.components.add(
            Component(
                name=distro.id,
                version=distro.version_id or None,
                type=ComponentType.OPERATING_SYSTEM,
                bom_ref=f"os:{distro.id}",
            )
        )
    for package in sorted(packages):
        purl = _purl(database, package, distro)
        bom.components.add(
            Component(
                name=package.name,
                version=package.version,
                type=ComponentType.LIBRARY,
                purl=_parse_purl(purl),
                bom_ref=purl,
            )
        )
    document: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string(indent=None))
    kept = _base_components(base_sbom, _PURL_TYPES[database])
    document["components"] = [*document.get("components", []), *kept]
    document.pop("dependencies", None)  # none are known; an empty entry per ref says nothing
    metadata = document.setdefault("metadata", {})
    metadata.pop("timestamp", None)  # a build time would make every build's layer differ
    document.pop("serialNumber", None)
    content = json.dumps(document, sort_keys=True, separators=(",", ":"))
    serial = uuid.uuid5(_SERIAL_NAMESPACE, hashlib.sha256(content.encode()).hexdigest())
    document["serialNumber"] = serial.urn
    text = json.dumps(document, sort_keys=True, indent=1) + "\n"
    if kept:
        # What cyclonedx-python-lib writes is valid by construction (the tests validate it);
        # components copied from a stranger's SBOM are not, and only then is the schema
        # check (~0.1 s, most of this function's time) worth paying on every build.
        validate_sbom(text)
    return text.encode()


def import_library() -> None:
    """Import what sbom_document uses (cyclonedx-python-lib, packageurl: ~0.1 s), so a
    caller can do it while it waits on something else."""
    for module in ("cyclonedx.model.bom", "cyclonedx.output.json", "packageurl"):
        importlib.import_module(module)


def _parse_purl(text: str) -> Any:
    from packageurl import PackageURL

    return PackageURL.from_string(text)


def _base_components(base_sbom: bytes | None, purl_type: str) -> list[Mapping[str, Any]]:
    """The base's components that are not packages of the database the document lists."""
    if base_sbom is None:
        return []
    try:
        document = json.loads(base_sbom)
        components = document.get("components") or []
    except (ValueError, AttributeError):
        raise SbomError(f"the base's {SBOM_PATH} is not a CycloneDX JSON document") from None
    if not isinstance(components, list):
        raise SbomError(f"the base's {SBOM_PATH} has no list of components")
    return [
        c
        for c in components
        if isinstance(c, dict)
        and c.get("type") != "operating-system"
        and not str(c.get("purl", "")).startswith(f"pkg:{purl_type}/")
    ]


def validate_sbom(text: str) -> None:
    """SbomError unless ``text`` is valid CycloneDX 1.6 JSON (the strict schema)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise SbomError(f"the SBOM is not valid CycloneDX 1.6: {str(error)[:300]}")
