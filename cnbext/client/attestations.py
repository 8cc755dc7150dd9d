"""Attestations: the SLSA provenance and the SBOM of each published image, signed with cosign.

An attestation, like a signature, lives beside the image in its own repository (the tag
``sha256-<hex>.att``), so each repository an image is published to gets its own, where it is
signed. The provenance predicate (cnbext.cnb.slsa) describes the image's digest, the one its
names serve; the SBOM (the document of the image's SBOM layer, docs/sbom.md) describes each
platform's image, whose digest is what a scanner or an admission policy sees for that
platform. Every name is then verified (the statement signed by the key, its subject the
digest): one that does not verify fails the publish before the next image is named.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cnbext.client.concurrency import concurrently
from cnbext.cnb.imageref import parse_reference
from cnbext.cnb.provenance import Provenance, has_own_sbom
from cnbext.cnb.sbom import SBOM_PATH
from cnbext.cnb.slsa import (
    COSIGN_TYPES,
    CYCLONEDX_TYPE,
    PROVENANCE_TYPE,
    NoProvenanceError,
    encode,
    provenance_predicate,
)
from cnbext.engine.protocol import Engine
from cnbext.errors import CnbextError, PublishError

_LIMIT = 4  # cosign processes at a time: registry round trips, on a machine others share


@dataclass(frozen=True)
class Attestation:
    """One predicate to attach: about ``digest`` (the image's, or one platform's)."""

    predicate_type: str
    digest: str
    predicate: bytes
    platform: str | None = None  # the platform whose image ``digest`` is; None: the image's

    @property
    def kind(self) -> str:
        return COSIGN_TYPES[self.predicate_type]

    def label(self) -> str:
        what = "provenance" if self.predicate_type == PROVENANCE_TYPE else "sbom"
        return f"{what} ({self.platform})" if self.platform else what


def image_attestations(
    labels: Mapping[str, str], digest: str, sboms: Mapping[str, tuple[str, bytes]]
) -> tuple[Attestation, ...]:
    """What an image carries: its provenance (when it has cnbext's) about ``digest``, and each
    platform's SBOM document (``sboms``: platform -> (that image's digest, document))."""
    found = []
    with contextlib.suppress(NoProvenanceError):  # not made by cnbext: nothing to say how
        found.append(Attestation(PROVENANCE_TYPE, digest, encode(provenance_predicate(labels))))
    for platform, (platform_digest, document) in sorted(sboms.items()):
        found.append(Attestation(CYCLONEDX_TYPE, platform_digest, document, platform))
    return tuple(found)


def attest_names(
    engine: Engine, names: Sequence[str], attestations: Sequence[Attestation], key: str
) -> None:
    """Attach every attestation in the repository of each of ``names`` (once per repository),
    then verify each under every name; any that does not verify fails the publish."""
    repositories = dict.fromkeys(parse_reference(n).repository for n in names)
    # Attestations of one digest share its .att tag, which each attest rewrites: those run
    # one after the other, different digests at the same time.
    by_reference: dict[str, list[Attestation]] = {}
    for repo in repositories:
        for attestation in attestations:
            by_reference.setdefault(f"{repo}@{attestation.digest}", []).append(attestation)

    def attach(reference: str, each: list[Attestation]) -> None:
        for attestation in each:
            engine.attest(reference, key, attestation.predicate, attestation.kind)

    concurrently([partial(attach, r, each) for r, each in by_reference.items()], _LIMIT)
    failing = unverified_attestations(engine, names, attestations, key)
    if failing:
        raise PublishError(
            f"the attestations of {names[0]} do not verify under "
            + "; ".join(f"{n}: {why}" for n, why in failing.items()),
            hint="the registry may refuse or drop attestation tags (sha256-<hex>.att)",
        )


def unverified_attestations(
    engine: Engine, names: Sequence[str], attestations: Sequence[Attestation], key: str
) -> dict[str, str]:
    """Why each name whose repository lacks a verified attestation fails (the first one that
    does not verify); the names where all verify are left out."""
    failing: dict[str, str] = {}
    for name, states in attestation_states(engine, names, attestations, key).items():
        problems = [f"{what}: {why}" for what, why in states.items() if why != "verified"]
        if problems:
            failing[name] = problems[0]
    return failing


def attestation_problem(
    engine: Engine, name: str, attestation: Attestation, key: str
) -> str | None:
    """None when ``name``'s repository holds a statement of the attestation's type about its
    digest that ``key`` verifies; else why not (missing, another key, another digest)."""
    reference = f"{parse_reference(name).repository}@{attestation.digest}"
    try:
        found = engine.verify_attestations(reference, key, attestation.kind)
    except CnbextError as err:  # e.g. the key's public half cannot be read
        return err.message.splitlines()[0]
    if found.why is not None:
        return (found.why.splitlines() or ["does not verify"])[0]
    digests = {d for s in found.statements for d in _subject_digests(s)}
    if attestation.digest not in digests:
        about = ", ".join(sorted(digests)) or "no digest"
        return f"stale: made for {about}, not {attestation.digest}"
    return None


def published_attestations(
    engine: Engine,
    reference: str,
    labels: Mapping[str, str],
    provenance: Provenance,
    *,
    documents: bool,
) -> tuple[Attestation, ...]:
    """What the published image ``reference`` (``repository@digest``, labels ``labels``)
    should carry: its provenance, and with its own SBOM layer each platform's document, read
    out of that platform's image when ``documents`` (to attach them again), else left empty
    (to check them: only the digests matter)."""
    repository, _, digest = reference.partition("@")
    sboms: dict[str, tuple[str, bytes]] = {}
    if has_own_sbom(provenance):
        registry = engine.registry()
        for platform, one in registry.platform_manifests(registry.manifest(reference)).items():
            own = f"{repository}@{one.digest}"
            sboms[platform] = (one.digest, read_sbom(engine, own, platform) if documents else b"")
    return image_attestations(labels, digest, sboms)


def read_sbom(engine: Engine, reference: str, platform: str) -> bytes:
    """The SBOM document in ``reference``'s layer (copied out, never run)."""
    with tempfile.TemporaryDirectory(prefix="cnbext-sbom-") as tmp:
        folder = SBOM_PATH.rsplit("/", 1)[0]
        engine.export_tree(reference, [folder], Path(tmp), platform=platform)
        path = Path(tmp) / SBOM_PATH.lstrip("/")
        if not path.is_file():
            raise PublishError(f"{reference} ({platform}) has no {SBOM_PATH} to attest")
        return path.read_bytes()


def attestation_states(
    engine: Engine, names: Sequence[str], attestations: Sequence[Attestation], key: str
) -> dict[str, dict[str, str]]:
    """Per name, per attestation (``provenance``, ``sbom (os/arch)``): "verified" or why not."""
    checks = [(n, a) for n in names for a in attestations]
    checking = [partial(attestation_problem, engine, n, a, key) for n, a in checks]
    reasons = concurrently(checking, _LIMIT)
    states: dict[str, dict[str, str]] = {name: {} for name in names}
    for (name, attestation), why in zip(checks, reasons, strict=True):
        states[name][attestation.label()] = why or "verified"
    return states


def _subject_digests(statement: Mapping[str, object]) -> list[str]:
    subjects = statement.get("subject")
    found = []
    for subject in subjects if isinstance(subjects, list) else []:
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digest, dict) and isinstance(digest.get("sha256"), str):
            found.append(f"sha256:{digest['sha256']}")
    return found
