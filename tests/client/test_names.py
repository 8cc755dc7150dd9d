"""The names record kept beside a published image (cnbext.client.names) and how upgrade reads
which names to republish: the record, the daemon's tags, or a format-1 label's list."""

from __future__ import annotations

import json
from dataclasses import replace

from cnbext.client.names import (
    ANNOTATION,
    ARTIFACT_TYPE,
    names_tag,
    record_names,
    recorded_names,
    saved_names,
)
from cnbext.cnb.provenance import BaseRecord, Provenance
from cnbext.engine.models import ImageView, Manifest, digest_of
from tests.client.fake_registry import FakeRegistry

IMAGE = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
DIGEST = digest_of(IMAGE)
NAMES = ("localhost:5000/a/run:1", "localhost:5001/mirror/run:1")
PROVENANCE = Provenance(
    command="extend",
    role="image",
    tool_version="0",
    base=BaseRecord("reg/base:1"),
    platforms=(),
    metadata={},
)


def registry_with_image() -> FakeRegistry:
    registry = FakeRegistry({})
    for name in NAMES:
        repository = name.rsplit(":", 1)[0]
        image = Manifest(
            repository, DIGEST, "application/vnd.oci.image.manifest.v1+json", IMAGE, {}
        )
        registry.uploaded[f"{repository}@{DIGEST}"] = image
    return registry


def view(source: str, digest: str | None = DIGEST, tags: tuple[str, ...] = ()) -> ImageView:
    return ImageView(NAMES[1], source, digest, (), {}, "", {}, tags=tags)


def test_the_record_stands_beside_the_image_in_every_names_repository() -> None:
    registry = registry_with_image()
    record_names(registry, NAMES, DIGEST)
    for name in NAMES:
        repository = name.rsplit(":", 1)[0]
        record = registry.uploaded[f"{repository}:{names_tag(DIGEST)}"]
        assert record.document["artifactType"] == ARTIFACT_TYPE
        assert record.document["subject"] == {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": DIGEST,
            "size": len(IMAGE),
        }
        assert json.loads(record.document["annotations"][ANNOTATION]) == list(NAMES)
        assert recorded_names(registry, name, DIGEST) == NAMES
    assert names_tag(DIGEST) == f"sha256-{DIGEST[7:]}.names"


def test_a_record_of_another_digest_or_none_at_all_is_no_record() -> None:
    registry = registry_with_image()
    assert recorded_names(registry, NAMES[0], DIGEST) is None
    record_names(registry, NAMES, DIGEST)
    repository = NAMES[0].rsplit(":", 1)[0]
    moved = "sha256:" + "f" * 64
    # Someone copied the record's tag onto another image's: it does not describe that one.
    registry.uploaded[f"{repository}:{names_tag(moved)}"] = registry.uploaded[
        f"{repository}:{names_tag(DIGEST)}"
    ]
    assert recorded_names(registry, NAMES[0], moved) is None


def test_upgrade_republishes_the_recorded_names_with_the_one_it_was_given_first() -> None:
    registry = registry_with_image()
    record_names(registry, NAMES, DIGEST)
    assert saved_names(NAMES[1], PROVENANCE, view("registry"), registry) == (
        NAMES[1],
        NAMES[0],
    )
    assert (
        saved_names(NAMES[1], PROVENANCE, view("registry", "sha256:" + "0" * 64), registry) is None
    )


def test_in_the_daemon_the_images_tags_are_its_names() -> None:
    tags = ("localhost:5000/a/run:1", "localhost:5000/a/run:latest", "<none>:<none>")
    names = saved_names(tags[1], PROVENANCE, view("daemon", tags=tags), FakeRegistry({}))
    assert names == ("localhost:5000/a/run:latest", "localhost:5000/a/run:1")


def test_a_format_1_label_lists_its_names_itself() -> None:
    old = replace(
        PROVENANCE, format_version=1, names=("reg/image:1", "reg/image:latest", "mirror/image:1")
    )
    names = saved_names("docker.io/reg/image:latest", old, view("registry"), FakeRegistry({}))
    assert names == (
        "docker.io/reg/image:latest",
        "docker.io/reg/image:1",
        "docker.io/mirror/image:1",
    )
