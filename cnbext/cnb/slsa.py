"""The SLSA provenance (v1) predicate of an image cnbext made, from its own labels. Pure.

https://slsa.dev/provenance/v1: ``buildDefinition`` says what was asked for (the request
cnbext records whole in ``io.cnbext.provenance``, which is already free of credentials: URLs
lose user info and query, secret-looking env values keep only their name) and what it resolved
to (``resolvedDependencies``: the base and run-image bases by digest, each image extension by
content digest, each buildpack and extension layer of a builder by diffID, each package the
build added or upgraded); ``runDetails`` names cnbext and its version. Everything comes from
the image's labels, so the predicate of an image is the same bytes whenever it is made: at
publish, at a re-sign, after a rebase. No time is written unless the request fixed one
(``source_date_epoch``): a build time would make each run's attestation differ.

cosign wraps the predicate in an in-toto statement whose subject is the digest it attests;
:func:`statement` is that statement (the tests' fake engine makes it so), as in-toto
Statement v1; cosign 2.5 still writes ``_type`` ``https://in-toto.io/Statement/v0.1`` with
the same fields, so readers go by ``predicateType`` and ``subject``.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cnbext.cnb.installed import PACKAGES_LABEL, parse_packages_label
from cnbext.cnb.provenance import BaseRecord, Provenance, read_provenance

PROVENANCE_TYPE = "https://slsa.dev/provenance/v1"
CYCLONEDX_TYPE = "https://cyclonedx.org/bom"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
# cosign's --type names for the two predicates.
COSIGN_TYPES = {PROVENANCE_TYPE: "slsaprovenance1", CYCLONEDX_TYPE: "cyclonedx"}
BUILDER_ID = "https://cnbext.dev/slsa/builder/v1"
BUILD_TYPE = "https://cnbext.dev/slsa/build-types/{command}/v1"
_LAYER_LABELS = {
    "buildpack": "io.buildpacks.buildpack.layers",
    "extension": "io.buildpacks.extension.layers",
}
_PURL_TYPES = {"dpkg": "deb", "rpm": "rpm", "apk": "apk"}


class NoProvenanceError(ValueError):
    """The image has no readable cnbext provenance to describe."""


def provenance_predicate(labels: Mapping[str, str]) -> dict[str, Any]:
    """The SLSA v1 predicate of the image whose labels are ``labels``."""
    try:
        provenance = read_provenance(labels)
    except (ValueError, KeyError) as err:
        raise NoProvenanceError(f"unreadable provenance: {err}") from None
    if provenance is None:
        raise NoProvenanceError("the image has no cnbext provenance")
    request = provenance.request or {}
    options = request.get("options") or {}
    definition = {
        "buildType": BUILD_TYPE.format(command=provenance.command),
        "externalParameters": {
            "command": provenance.command,
            "options": options,
            "config": request.get("config") or {},
            "extensions": [e.to_dict() for e in provenance.extensions],
        },
        "internalParameters": {
            # what was applied: with --locked, the lock's pins as the packages
            "metadata": provenance.metadata,
            "role": provenance.role,
            "platforms": list(provenance.platforms),
            "provenanceFormat": provenance.format_version,
        },
        "resolvedDependencies": resolved_dependencies(provenance, labels),
    }
    metadata: dict[str, Any] = {}
    epoch = options.get("source_date_epoch")
    if isinstance(epoch, int) and not isinstance(epoch, bool):
        when = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata = {"startedOn": when, "finishedOn": when}
    builder = {"id": BUILDER_ID, "version": {"cnbext": provenance.tool_version}}
    return {"buildDefinition": definition, "runDetails": {"builder": builder, "metadata": metadata}}


def resolved_dependencies(provenance: Provenance, labels: Mapping[str, str]) -> list[Any]:
    """Every input by digest, in a fixed order: bases, extensions, module layers, packages."""
    found: list[dict[str, Any]] = [*_image(provenance.base, "base")]
    if provenance.run_image is not None and provenance.run_image.base is not None:
        found += _image(provenance.run_image.base, "run image base")
    for extension in provenance.extensions:
        entry: dict[str, Any] = {"uri": extension.uri, "name": f"extension {extension.id or '?'}"}
        if extension.digest:
            entry["digest"] = _digest_set(extension.digest)
        found.append(entry)
    found += _module_layers(labels)
    options = (provenance.request or {}).get("options") or {}
    if options.get("locked") and isinstance(options.get("lock"), str):
        # Its pins are in the metadata applied and its packages below, by version.
        found.append({"uri": f"file://{options['lock']}", "name": "lock"})
    found += _packages(labels)
    return found


def _image(record: BaseRecord, role: str) -> list[dict[str, Any]]:
    """The base as given (index digest), then each platform's manifest (BuildKit's style of
    naming images: ``pkg:docker/NAME?platform=os%2Farch``)."""
    reference = record.reference.split("@", 1)[0]
    entries: list[dict[str, Any]] = [{"uri": f"pkg:docker/{reference}", "name": role}]
    if record.digest:
        entries[0]["digest"] = _digest_set(record.digest)
    for platform, digest in sorted(record.platforms.items()):
        query = urllib.parse.urlencode({"platform": platform})
        entries.append(
            {"uri": f"pkg:docker/{reference}?{query}", "name": role, "digest": _digest_set(digest)}
        )
    return entries


def _module_layers(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """A builder's buildpacks and extensions, each as the layer (diffID) that holds it."""
    found = []
    for kind, label in _LAYER_LABELS.items():
        try:
            layers = json.loads(labels.get(label) or "{}")
        except ValueError:
            continue
        if not isinstance(layers, dict):
            continue
        for module_id, versions in sorted(layers.items()):
            for version, layer in sorted((versions or {}).items()):
                diff_id = layer.get("layerDiffID") if isinstance(layer, dict) else None
                if isinstance(diff_id, str) and diff_id.startswith("sha256:"):
                    found.append(
                        {
                            "uri": f"urn:cnb:{kind}:{module_id}@{version}",
                            "name": f"{kind} {module_id}@{version}",
                            "digest": _digest_set(diff_id),
                        }
                    )
    return found


def _packages(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each package the build added or upgraded, per platform, as its package URL."""
    changes = parse_packages_label(labels.get(PACKAGES_LABEL)) or {}
    found = []
    for platform, change in sorted(changes.items()):
        kind = _PURL_TYPES.get(change.database, change.database)
        installed = [*change.added, *(u.package for u in change.upgraded)]
        for package in sorted(installed):
            query = urllib.parse.urlencode(
                {"arch": package.architecture, "platform": platform}
                if package.architecture
                else {"platform": platform}
            )
            name = urllib.parse.quote(package.name, safe="+")
            version = urllib.parse.quote(package.version, safe="+:~")
            found.append({"uri": f"pkg:{kind}/{name}@{version}?{query}", "name": package.name})
    return found


def _digest_set(digest: str) -> dict[str, str]:
    algorithm, _, value = digest.partition(":")
    return {algorithm: value} if value else {"sha256": algorithm}


def statement(
    subjects: Sequence[tuple[str, str]], predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """The in-toto statement of ``predicate`` about ``subjects`` ((repository, digest))."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": _digest_set(digest)} for name, digest in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def encode(predicate: Mapping[str, Any]) -> bytes:
    """The predicate's bytes: sorted keys, so the same image gives the same file."""
    return (json.dumps(predicate, sort_keys=True, indent=1) + "\n").encode()
