"""The rebase fast path: swap an image's base layers for its moved base's, registry-side.

As ``pack rebase`` and crane do (cnb-spec §9): the manifest keeps the layers above the old base
(same digests, never re-uploaded), the config's ``rootfs.diff_ids`` and ``history`` become the
new base's entries followed by the image's own, every other config field (labels, user, env)
is kept. New base layers reach the image's repository by cross-repository mount. Only the
provenance label changes, to record the new base digests. The result is read back and checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from cnbext.cnb.imageref import parse_reference
from cnbext.cnb.provenance import PROVENANCE, BaseRecord, Provenance
from cnbext.engine.models import Manifest, digest_of, image_config, platform_of
from cnbext.engine.protocol import RegistryAccess
from cnbext.errors import CnbextError, PublishError


class RebaseImpossibleError(CnbextError):
    """The image cannot be rebased (the caller rebuilds instead)."""


@dataclass(frozen=True)
class Rebased:
    digest: str
    platforms: tuple[str, ...]
    reused_layers: int  # the image's own layers kept byte-identical


@dataclass(frozen=True)
class _Parts:
    image: Manifest
    old: Manifest
    new: Manifest


def rebase(
    name: str, provenance: Provenance, registry: RegistryAccess, *, same_config: bool = False
) -> Rebased:
    """Rebase ``name`` (in its registry) onto what its recorded base reference serves now.
    With ``same_config`` (builders: their labels describe the layers they add to the base),
    only where the base's config (labels, env, user...) is unchanged."""
    record = provenance.base
    if record.digest is None:
        raise RebaseImpossibleError("the recorded base has no registry digest")
    base_repository = parse_reference(record.reference).repository
    image = registry.manifest(name)
    old = registry.manifest(f"{base_repository}@{record.digest}")
    new = registry.manifest(record.reference)
    image_platforms = registry.platform_manifests(image)
    old_platforms = registry.platform_manifests(old)
    new_platforms = registry.platform_manifests(new)
    new_record = BaseRecord(
        record.reference, new.digest, {p: m.digest for p, m in new_platforms.items()}
    )
    label = replace(provenance, base=new_record).encode()
    rebased: dict[str, tuple[str, int, int]] = {}
    reused = 0
    for platform, manifest in image_platforms.items():
        if platform not in old_platforms or platform not in new_platforms:
            raise RebaseImpossibleError(f"the old or new base has no {platform} image")
        parts = _Parts(manifest, old_platforms[platform], new_platforms[platform])
        if same_config and image_config(registry, parts.old).get("config") != image_config(
            registry, parts.new
        ).get("config"):
            raise RebaseImpossibleError(f"the base's {platform} config changed, not only its files")
        digest, size, kept = _rebase_one(name, parts, label, registry, tag=not image.is_index)
        rebased[platform] = (digest, size, kept)
        reused += kept
    if image.is_index:
        _put_index(name, image, rebased, registry)
    result = registry.manifest(name)
    _verify(result, image_platforms, new_platforms, registry)
    return Rebased(result.digest, tuple(rebased), reused)


def _rebase_one(
    name: str, parts: _Parts, label: str, registry: RegistryAccess, *, tag: bool
) -> tuple[str, int, int]:
    """One platform's manifest and config; returns (manifest digest, size, layers kept)."""
    ref = parse_reference(name)
    repository = ref.repository
    image_layers = parts.image.document["layers"]
    old_layers = parts.old.document["layers"]
    new_layers = parts.new.document["layers"]
    if [d["digest"] for d in image_layers[: len(old_layers)]] != [d["digest"] for d in old_layers]:
        raise RebaseImpossibleError("its bottom layers are not the recorded base's layers")
    config = image_config(registry, parts.image)
    old_config = image_config(registry, parts.old)
    new_config = image_config(registry, parts.new)
    old_ids = old_config["rootfs"]["diff_ids"]
    ids = config["rootfs"]["diff_ids"]
    if ids[: len(old_ids)] != old_ids:
        raise RebaseImpossibleError("its config's diff_ids do not start with the base's")
    top_layers = image_layers[len(old_layers) :]
    config["rootfs"]["diff_ids"] = [*new_config["rootfs"]["diff_ids"], *ids[len(old_ids) :]]
    old_history = old_config.get("history") or []
    config["history"] = [
        *(new_config.get("history") or []),
        *(config.get("history") or [])[len(old_history) :],
    ]
    section = config.setdefault("config", {})
    section["Labels"] = {**(section.get("Labels") or {}), PROVENANCE: label}
    raw_config = json.dumps(config, separators=(",", ":")).encode()
    new_repository = parts.new.repository
    for layer in new_layers:
        registry.ensure_blob(repository, layer["digest"], new_repository)
    config_digest = registry.put_blob(repository, raw_config)
    document: dict[str, Any] = dict(parts.image.document)
    document["config"] = {
        **document["config"],
        "digest": config_digest,
        "size": len(raw_config),
    }
    document["layers"] = [*new_layers, *top_layers]
    raw = json.dumps(document, separators=(",", ":")).encode()
    media_type = parts.image.media_type
    target = (ref.tag or "latest") if tag else None
    digest = registry.put_manifest(repository, target or digest_of(raw), raw, media_type)
    return digest, len(raw), len(top_layers)


def _put_index(
    name: str, index: Manifest, rebased: dict[str, tuple[str, int, int]], registry: RegistryAccess
) -> None:
    document = dict(index.document)
    entries = []
    for entry in document.get("manifests", []):
        platform = platform_of(entry)
        if platform not in rebased:
            continue  # attestations describe the old manifests: dropped, not left wrong
        digest, size, _ = rebased[platform]
        entries.append({**entry, "digest": digest, "size": size})
    document["manifests"] = entries
    raw = json.dumps(document, separators=(",", ":")).encode()
    ref = parse_reference(name)
    registry.put_manifest(ref.repository, ref.tag or "latest", raw, index.media_type)


def _verify(
    result: Manifest,
    before: dict[str, Manifest],
    new_bases: dict[str, Manifest],
    registry: RegistryAccess,
) -> None:
    """Base layers are the new base's, the rest byte-identical to the image's own layers."""
    after = registry.platform_manifests(result)
    if set(after) != set(before):
        raise PublishError(f"rebase changed the platforms: {sorted(before)} -> {sorted(after)}")
    for platform, manifest in after.items():
        layers = [d["digest"] for d in manifest.document["layers"]]
        base = [d["digest"] for d in new_bases[platform].document["layers"]]
        own = [d["digest"] for d in before[platform].document["layers"]]
        kept = len(layers) - len(base)
        if layers[: len(base)] != base or kept < 0 or layers[len(base) :] != own[len(own) - kept :]:
            raise PublishError(f"the rebased {platform} image does not have the expected layers")
        config = image_config(registry, manifest)
        if len(config["rootfs"]["diff_ids"]) != len(layers):
            raise PublishError(f"the rebased {platform} config does not match its layers")
