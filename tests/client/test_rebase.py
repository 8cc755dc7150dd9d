"""The registry-side rebase over an in-memory registry on loopback, through the real registry
client: what the rebased image is made of, what was uploaded, and what is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from cnbext.client.rebase import RebaseImpossibleError, rebase
from cnbext.cnb.provenance import PROVENANCE, BaseRecord, Provenance, read_provenance
from cnbext.engine.models import digest_of
from cnbext.engine.registry import Registry
from tests.fixtures.oci_registry import (
    OCI_MANIFEST,
    MemoryRegistry,
    push_image,
    push_index,
    serve_registry,
)

PLATFORMS = ("linux/amd64", "linux/arm64")
ATTESTATION = {
    "mediaType": OCI_MANIFEST,
    "digest": "sha256:" + "0" * 64,
    "size": 1,
    "platform": {"os": "unknown", "architecture": "unknown"},
    "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
}


@dataclass(frozen=True)
class Published:
    served: MemoryRegistry
    registry: Registry
    provenance: Provenance
    name: str


def push_base(served: MemoryRegistry, text: str) -> tuple[str, dict[str, str]]:
    """``base:1`` as an index with one layer per platform; its digest and platforms'."""
    images = [push_image(served, "base", [f"{text} {p}".encode()], platform=p) for p in PLATFORMS]
    index = push_index(served, "base", "1", [i.descriptor for i in images])
    return index, {p: i.descriptor["digest"] for p, i in zip(PLATFORMS, images, strict=True)}


@pytest.fixture
def published(tmp_path: Path) -> Iterator[Published]:
    """``app:1`` (an index, with an attestation entry) on ``base:1``, whose tag then moved."""
    with serve_registry() as served:
        digest, platforms = push_base(served, "old base")
        record = BaseRecord(f"{served.host}/base:1", digest, platforms)
        provenance = Provenance("extend", "image", "0.1.0", record, PLATFORMS, {})
        labels = {PROVENANCE: provenance.encode(), "org.example.team": "ops"}
        entries = [
            push_image(
                served,
                "app",
                [f"old base {p}".encode(), f"app {p}".encode()],
                platform=p,
                labels=labels,
            ).descriptor
            for p in PLATFORMS
        ]
        push_index(served, "app", "1", [*entries, ATTESTATION])
        push_base(served, "new base")
        served.requests.clear()
        registry = Registry(docker_config=tmp_path / "config.json")
        yield Published(served, registry, provenance, f"{served.host}/app:1")


def image_of(published: Published, platform: str) -> tuple[list[str], dict[str, Any]]:
    """The layer digests and config of ``app:1`` for ``platform``, as the registry serves them."""
    registry = published.registry
    manifest = registry.platform_manifests(registry.manifest(published.name))[platform]
    config = registry.json_blob(manifest.repository, manifest.document["config"]["digest"])
    return [layer["digest"] for layer in manifest.document["layers"]], config


def test_each_platform_gets_the_new_base_under_its_own_layers(published: Published) -> None:
    rebased = rebase(published.name, published.provenance, published.registry)

    assert (rebased.platforms, rebased.reused_layers) == (PLATFORMS, 2)
    index = json.loads(published.served.manifests["app"]["1"][1])
    assert digest_of(published.served.manifests["app"]["1"][1]) == rebased.digest
    assert len(index["manifests"]) == 2  # the attestation described the old manifests
    new_base = published.registry.manifest(f"{published.served.host}/base:1")
    for platform in PLATFORMS:
        layers, config = image_of(published, platform)
        new, own = digest_of(f"new base {platform}".encode()), digest_of(f"app {platform}".encode())
        assert layers == config["rootfs"]["diff_ids"] == [new, own]
        assert [h["created_by"] for h in config["history"]] == [
            f"new base {platform}",
            f"app {platform}",
        ]
        assert config["config"]["User"] == "1000:1000"
        labels = config["config"]["Labels"]
        assert labels["org.example.team"] == "ops"
        recorded = read_provenance(labels)
        assert recorded is not None
        assert recorded.base.digest == new_base.digest
        assert sorted(recorded.base.platforms) == list(PLATFORMS)
        assert recorded == replace(published.provenance, base=recorded.base)
        assert published.served.blobs["app"][new] == f"new base {platform}".encode()
    # Only the two configs were uploaded: base layers were mounted, the image's own kept.
    assert len(published.served.uploads()) == 2
    fetched = {p.rsplit("/", 1)[1] for m, p in published.served.requests if m == "GET"}
    moved = {digest_of(f"{b} {p}".encode()) for b in ("new base", "app") for p in PLATFORMS}
    assert not fetched & moved  # no layer was downloaded
    assert sum(1 for m, p in published.served.requests if m == "POST" and "mount=" in p) == 2


def test_a_single_manifest_is_rebased_under_its_tag(tmp_path: Path) -> None:
    with serve_registry() as served:
        old = push_image(served, "base", [b"old base"], tag="1")
        record = BaseRecord(f"{served.host}/base:1", old.descriptor["digest"])
        provenance = Provenance("extend", "image", "0.1.0", record, ("linux/amd64",), {})
        labels = {PROVENANCE: provenance.encode()}
        push_image(served, "app", [b"old base", b"app"], labels=labels, tag="1")
        new = push_image(served, "base", [b"new base"], tag="1")
        registry = Registry(docker_config=tmp_path / "config.json")
        rebased = rebase(f"{served.host}/app:1", provenance, registry)
        manifest = registry.manifest(f"{served.host}/app:1")
    assert (manifest.digest, manifest.is_index) == (rebased.digest, False)
    assert [d["digest"] for d in manifest.document["layers"]] == [*new.layers, digest_of(b"app")]


def test_an_image_not_on_its_recorded_base_is_not_rebased(published: Published) -> None:
    before = dict(published.served.manifests["app"])
    other, platforms = push_base(published.served, "another base")
    moved = BaseRecord(published.provenance.base.reference, other, platforms)
    with pytest.raises(RebaseImpossibleError, match="bottom layers are not the recorded base"):
        rebase(published.name, replace(published.provenance, base=moved), published.registry)
    assert published.served.manifests["app"] == before  # nothing was rewritten


def test_a_base_without_a_digest_or_a_platform_is_not_rebased(published: Published) -> None:
    local = replace(published.provenance, base=BaseRecord("base:local"))
    with pytest.raises(RebaseImpossibleError, match="no registry digest"):
        rebase(published.name, local, published.registry)
    amd64_only = push_image(published.served, "base", [b"new base linux/amd64"])
    push_index(published.served, "base", "1", [amd64_only.descriptor])
    with pytest.raises(RebaseImpossibleError, match="the old or new base has no linux/arm64 image"):
        rebase(published.name, published.provenance, published.registry)


def test_a_builder_is_rebased_only_where_its_bases_config_is_unchanged(
    published: Published,
) -> None:
    # The builder's labels (its modules, its lifecycle, the base's own labels it keeps)
    # describe the layers it adds: a base whose labels moved too needs a rebuild.
    builder = replace(published.provenance, command="create-builder", role="builder")
    rebased = rebase(published.name, builder, published.registry, same_config=True)
    assert rebased.platforms == PLATFORMS
    relabelled = [
        push_image(
            published.served,
            "base",
            [f"newer base {p}".encode()],
            platform=p,
            labels={"io.buildpacks.base.sbom": "sha256:" + "1" * 64},
        )
        for p in PLATFORMS
    ]
    push_index(published.served, "base", "1", [i.descriptor for i in relabelled])
    moved = read_provenance(image_of(published, "linux/amd64")[1]["config"]["Labels"])
    assert moved is not None
    with pytest.raises(RebaseImpossibleError, match="config changed, not only its files"):
        rebase(published.name, replace(moved, role="builder"), published.registry, same_config=True)
