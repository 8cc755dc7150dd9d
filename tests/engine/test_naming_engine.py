"""cnbext names, copies and joins images as ``docker buildx imagetools create`` does, byte for
byte: the same sources, joined both ways in the local registry, give the same digest (and
``--dry-run`` prints the same bytes cnbext builds). The sources are written straight into the
registry, each in a shape buildx must handle: OCI and Docker manifests, configs whose platform
needs normalizing (aarch64/v8, a bare arm) or carries an os.version, and an index whose entries
have annotations needing Go's escaping, os.version and os.features, unknown fields, an
attestation entry, and a digest another source names too."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from cnbext.engine.docker import DockerEngine
from cnbext.engine.indexes import joined_index
from cnbext.engine.models import digest_of
from cnbext.engine.naming import RegistryNaming
from cnbext.engine.registry import Registry
from cnbext.progress import SilentReporter
from tests.engine.conftest import EngineEnv

pytestmark = pytest.mark.engine

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def push(registry: Registry, repository: str, config: dict[str, Any], media_type: str) -> str:
    """A one-layer image of ``media_type`` with ``config``; its ``repository@digest``."""
    docker = media_type == DOCKER_MANIFEST
    layer = os.urandom(32)  # every image its own content
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json"
            if docker
            else "application/vnd.oci.image.config.v1+json",
            "digest": registry.put_blob(repository, json.dumps(config).encode()),
            "size": len(json.dumps(config).encode()),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"
                if docker
                else "application/vnd.oci.image.layer.v1.tar",
                "digest": registry.put_blob(repository, layer),
                "size": len(layer),
            }
        ],
    }
    raw = json.dumps(document, indent=3).encode()  # not Go's formatting: kept as it is
    return f"{repository}@{registry.put_manifest(repository, digest_of(raw), raw, media_type)}"


def sources(registry: Registry, repository: str) -> dict[str, str]:
    linux = {"os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    made = {
        "amd": push(registry, repository, {**linux, "architecture": "amd64"}, OCI_MANIFEST),
        "arm64": push(
            registry,
            repository,
            {**linux, "architecture": "aarch64", "variant": "v8", "os.version": "6.1"},
            OCI_MANIFEST,
        ),
        "arm": push(registry, repository, {**linux, "architecture": "arm"}, OCI_MANIFEST),
        "windows": push(
            registry,
            repository,
            {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"},
            OCI_MANIFEST,
        ),
        "docker": push(registry, repository, {**linux, "architecture": "s390x"}, DOCKER_MANIFEST),
    }
    made["index"] = _index(registry, repository, made)
    return made


def _index(registry: Registry, repository: str, made: dict[str, str]) -> str:
    """An index in the shape of a hand-edited one: fields out of order, extras, annotations."""
    amd = registry.manifest(made["amd"])
    attestation = registry.manifest(made["arm"])
    entries = [
        {
            "x-extra": {"kept": False},
            "platform": {
                "variant": "v2",
                "os.features": ["sse4"],
                "os.version": "1.0",
                "os": "linux",
                "architecture": "amd64",
            },
            "annotations": {"z": "last", "a": "<b&c>\u2028"},
            "size": len(amd.raw),
            "digest": amd.digest,
            "mediaType": OCI_MANIFEST,
        },
        {
            "mediaType": OCI_MANIFEST,
            "digest": attestation.digest,
            "size": len(attestation.raw),
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            "platform": {"architecture": "unknown", "os": "unknown"},
        },
    ]
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    return f"{repository}@{registry.put_manifest(repository, digest_of(raw), raw, OCI_INDEX)}"


CASES = {
    "one image": ["amd"],
    "one Docker image": ["docker"],
    "platforms to normalize": ["amd", "arm64", "arm", "windows"],
    "one index": ["index"],
    "an index among images, a digest twice": ["amd", "index", "docker"],
}


def imagetools_create(*args: str, env: dict[str, str] | None = None) -> bytes:
    result = subprocess.run(
        ["docker", "buildx", "imagetools", "create", *args],
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("case", list(CASES))
def test_an_index_is_the_one_buildx_makes(engine: EngineEnv, case: str) -> None:
    repository = f"{engine.registry}/cnbext-tests/naming-{uuid.uuid4().hex[:10]}"
    docker = DockerEngine(SilentReporter())
    registry = docker.registry()
    made = sources(registry, repository)
    refs = [made[key] for key in CASES[case]]
    manifests = [registry.manifest(ref) for ref in refs]
    configs = [
        None if m.is_index else registry.json_blob(m.repository, m.document["config"]["digest"])
        for m in manifests
    ]
    ours, _ = joined_index(
        [(m.media_type, m.raw, c) for m, c in zip(manifests, configs, strict=True)]
    )
    assert imagetools_create("--dry-run", *refs) == ours + b"\n"  # buildx prints it with "%s\n"

    imagetools_create("--progress", "plain", "-t", f"{repository}:buildx", *refs)
    made_by_buildx = registry.digest(f"{repository}:buildx")
    target = f"{engine.registry}/cnbext-tests/naming-mirror-{uuid.uuid4().hex[:10]}:cnbext"
    assert docker.create_index(target, refs) == made_by_buildx == digest_of(ours)
    assert registry.digest(target) == made_by_buildx


def test_a_copy_to_a_registry_that_needs_a_login_keeps_the_digest(
    engine: EngineEnv, tmp_path: Path
) -> None:
    """Across registries, with docker login credentials (a config of its own): the blobs are
    streamed over, the index keeps its bytes; buildx's copy gives the same digest."""
    auth = base64.b64encode(f"{engine.auth_user}:{engine.auth_password}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {engine.auth_registry: {"auth": auth}}})
    )
    registry = Registry(docker_config=tmp_path / "config.json")
    repository = f"{engine.registry}/cnbext-tests/naming-{uuid.uuid4().hex[:10]}"
    made = sources(registry, repository)
    source, digest = made["index"].split("@")
    mirror = f"{engine.auth_registry}/cnbext-tests/naming-{uuid.uuid4().hex[:10]}"
    copied = RegistryNaming(registry, SilentReporter()).copy_by_digest(
        source, digest, f"{mirror}:1"
    )
    assert copied == digest
    imagetools_create("-t", f"{mirror}:2", made["index"], env={"DOCKER_CONFIG": str(tmp_path)})
    assert registry.digest(f"{mirror}:2") == digest
    # A single image: the one-entry index buildx would make (its --dry-run), made there.
    one, one_digest = made["docker"].split("@")
    ours = RegistryNaming(registry, SilentReporter()).copy_by_digest(one, one_digest, f"{mirror}:3")
    assert ours == digest_of(imagetools_create("--dry-run", made["docker"])[:-1])
    assert registry.manifest(f"{mirror}:3").is_index
