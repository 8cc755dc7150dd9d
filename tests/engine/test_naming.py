"""Naming, copying and joining by digest over an in-memory registry on loopback (not an engine
test: nothing but HTTP on 127.0.0.1). What buildx itself writes for the same sources is
compared byte for byte in test_naming_engine.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cnbext.engine.indexes import DOCKER_LIST, OCI_INDEX, go_json, joined_index
from cnbext.engine.models import digest_of
from cnbext.engine.naming import RegistryNaming
from cnbext.engine.registry import Registry
from cnbext.errors import ImageError, PublishError
from cnbext.progress import SilentReporter
from tests.fixtures.oci_registry import MemoryRegistry, push_image, push_index, serve_registry

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def served() -> Iterator[MemoryRegistry]:
    with serve_registry() as registry:
        yield registry


def naming(tmp_path: Path) -> RegistryNaming:
    config = tmp_path / "config.json"
    config.write_text("{}")
    return RegistryNaming(Registry(docker_config=config), SilentReporter())


def stored(served: MemoryRegistry, repository: str, tag: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(served.manifests[repository][tag][1])
    return document


def test_a_single_image_is_named_as_a_one_entry_index_of_its_configs_platform(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    image = push_image(served, "app", [b"a", b"b"], platform="linux/arm")
    digest = naming(tmp_path).copy_by_digest(
        f"{served.host}/app", image.descriptor["digest"], f"{served.host}/app:1"
    )
    media_type, raw = served.manifests["app"]["1"]
    assert (media_type, digest) == (OCI_INDEX, digest_of(raw))
    entry = image.descriptor | {"platform": {"architecture": "arm", "os": "linux", "variant": "v7"}}
    assert stored(served, "app", "1") == {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry],
    }
    assert raw.startswith(b'{\n  "schemaVersion": 2,\n  "mediaType": ')  # MarshalIndent
    assert served.uploads() == []  # same repository: nothing copied


def test_a_copy_within_a_registry_mounts_every_blob_and_keeps_an_index_as_it_is(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    amd = push_image(served, "app", [b"amd"], platform="linux/amd64")
    arm = push_image(served, "app", [b"arm"], platform="linux/arm64")
    index = push_index(served, "app", "1", [amd.descriptor, arm.descriptor])
    names = naming(tmp_path)
    copied = names.copy_by_digest(f"{served.host}/app", index, f"{served.host}/mirror:2")
    assert copied == index  # the index's bytes, unchanged
    assert served.manifests["mirror"]["2"] == served.manifests["app"][index]
    for image in (amd, arm):
        assert image.descriptor["digest"] in served.manifests["mirror"]
        assert set(served.blobs["mirror"]) >= set(image.layers)
    assert served.uploads() == []  # mounted, no bytes moved
    mounts = [p for m, p in served.requests if m == "POST" and "mount=" in p]
    assert len(mounts) == 4  # two layers, two configs
    before = len(served.requests)
    assert names.copy_by_digest(f"{served.host}/app", index, f"{served.host}/mirror:3") == index
    # The mirror had both manifests: neither their blobs nor they are asked for again.
    assert not [p for m, p in served.requests[before:] if m == "POST"]


def test_a_copy_to_another_registry_streams_the_blobs_and_checks_them(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    image = push_image(served, "app", [b"x" * 100_000], platform="linux/amd64")
    index = push_index(served, "app", "1", [image.descriptor])
    with serve_registry() as other:
        copied = naming(tmp_path).copy_by_digest(
            f"{served.host}/app", index, f"{other.host}/copy:1"
        )
        assert copied == index
        assert other.blobs["copy"][image.layers[0]] == b"x" * 100_000
        assert len(other.uploads()) == 2  # the layer and the config
        tampered = push_image(served, "bad", [b"honest"])
        served.blobs["bad"][tampered.layers[0]] = b"tampered"
        with pytest.raises(PublishError) as raised:
            naming(tmp_path).copy_by_digest(
                f"{served.host}/bad", tampered.descriptor["digest"], f"{other.host}/bad:1"
            )
    assert raised.value.message.startswith(f"cannot copy to {other.host}/bad:1: blob ")
    assert "does not match its digest" in raised.value.message
    assert "1" not in other.manifests.get("bad", {})  # nothing named


def test_images_are_joined_in_order_and_a_digest_seen_twice_is_merged(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    amd = push_image(served, "app", [b"amd"], platform="linux/amd64")
    arm = push_image(served, "app", [b"arm"], platform="linux/arm64/v8")
    listed = dict(arm.descriptor, annotations={"b": "2", "a": "<1&>"})
    inner = push_index(served, "app", "inner", [listed])
    sources = [f"{served.host}/app@{d}" for d in (amd.descriptor["digest"], inner)]
    sources.append(f"{served.host}/app@{arm.descriptor['digest']}")
    digest = naming(tmp_path).create_index(f"{served.host}/app:all", sources)
    document = stored(served, "app", "all")
    assert digest == digest_of(served.manifests["app"]["all"][1])
    assert [e["digest"] for e in document["manifests"]] == [
        amd.descriptor["digest"],
        arm.descriptor["digest"],
    ]
    merged = document["manifests"][1]
    # The later, single-image source's platform (its config's, v8 normalized away) and the
    # index entry's annotations, sorted and escaped as Go writes them.
    assert merged["platform"] == {"architecture": "arm64", "os": "linux"}
    assert list(merged) == ["mediaType", "digest", "size", "annotations", "platform"]
    assert list(merged["annotations"]) == ["a", "b"]
    assert b'"a": "\\u003c1\\u0026\\u003e"' in served.manifests["app"]["all"][1]


def test_an_index_entry_is_written_back_as_gos_descriptor() -> None:
    entry = {
        "platform": {"variant": "v7", "os.version": "10", "os": "linux", "architecture": "arm"},
        "x-unknown": True,
        "size": 7,
        "digest": "sha256:" + "a" * 64,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "annotations": {},
    }
    index = json.dumps({"mediaType": OCI_INDEX, "manifests": [entry]}).encode()
    raw, media_type = joined_index(
        [(OCI_INDEX, index, None), (DOCKER_MANIFEST, b"{}", {"os": "linux", "architecture": "x"})]
    )
    document = json.loads(raw)
    assert media_type == OCI_INDEX  # not every entry is a Docker type
    assert document["manifests"][0] == {
        "mediaType": entry["mediaType"],
        "digest": entry["digest"],
        "size": 7,
        "platform": {"architecture": "arm", "os": "linux", "os.version": "10", "variant": "v7"},
    }
    assert list(document["manifests"][0]["platform"]) == [
        "architecture",
        "os",
        "os.version",
        "variant",
    ]
    docker_only, docker_type = joined_index(
        [(DOCKER_MANIFEST, b"{}", {"os": "Linux", "architecture": "x86_64", "variant": "v1"})]
    )
    assert docker_type == DOCKER_LIST
    assert json.loads(docker_only)["manifests"][0]["platform"] == {
        "architecture": "amd64",
        "os": "linux",
    }


def test_go_json_is_marshal_indent() -> None:
    value = {"z": [], "a": {}, "s": '\u2028\x01"\\\n', "n": [1, True]}
    assert go_json(value) == (
        '{\n  "z": [],\n  "a": {},\n  "s": "\\u2028\\u0001\\"\\\\\\n",\n'
        '  "n": [\n    1,\n    true\n  ]\n}'
    )
    with pytest.raises(ImageError):
        go_json({"f": 1.5})


def test_what_a_registry_serves_is_read_without_buildx(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    amd = push_image(served, "app", [b"amd"], platform="linux/amd64")
    arm = push_image(served, "app", [b"arm1", b"arm2"], platform="linux/arm/v7")
    attestation = dict(amd.descriptor, platform={"os": "unknown", "architecture": "unknown"})
    attestation["digest"] = push_image(served, "app", [b"att"]).descriptor["digest"]
    index = push_index(served, "app", "1", [amd.descriptor, arm.descriptor, attestation])
    names = naming(tmp_path)
    assert names.digest(f"{served.host}/app:1") == index
    assert names.platforms(f"{served.host}/app:1") == ("linux/amd64", "linux/arm/v7")
    assert names.platforms(f"{served.host}/app@{arm.descriptor['digest']}") == ("linux/arm/v7",)
    assert names.platforms(f"{served.host}/app:absent") is None
    assert names.diff_ids(f"{served.host}/app:1") == [list(amd.layers), list(arm.layers)]
    with pytest.raises(PublishError) as raised:
        names.digest(f"{served.host}/app:absent")
    assert raised.value.message == (
        f"cannot inspect {served.host}/app:absent: {served.host}/app:absent is not in its registry"
    )
