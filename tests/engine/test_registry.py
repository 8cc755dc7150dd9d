"""The registry client over an in-memory registry on loopback: reads, uploads, mounts and the
docker login challenge. Not an engine test: nothing but HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnbext.engine.models import NotFoundError, digest_of
from cnbext.engine.registry import INSECURE_ENV, Registry, plain_http
from cnbext.errors import ImageError
from tests.fixtures.oci_registry import (
    MemoryRegistry,
    push_image,
    push_index,
    serve_registry,
)

ATTESTATION = {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:" + "0" * 64,
    "size": 1,
    "platform": {"os": "unknown", "architecture": "unknown"},
}


@pytest.fixture
def served() -> Iterator[MemoryRegistry]:
    with serve_registry() as registry:
        yield registry


def client(
    tmp_path: Path, auths: dict[str, object] | None = None, name: str = "config.json"
) -> Registry:
    """A client with its own docker config (never the user's)."""
    config = tmp_path / name
    config.write_text(json.dumps(auths or {}))
    return Registry(docker_config=config)


def test_an_index_is_read_per_platform_skipping_attestations(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    amd = push_image(served, "base", [b"amd"], platform="linux/amd64")
    arm = push_image(served, "base", [b"arm"], platform="linux/arm/v7")
    index = push_index(served, "base", "1", [amd.descriptor, arm.descriptor, ATTESTATION])
    registry = client(tmp_path)

    manifest = registry.manifest(f"{served.host}/base:1")
    assert (manifest.digest, manifest.is_index) == (index, True)
    assert manifest.repository == f"{served.host}/base"
    platforms = registry.platform_manifests(manifest)
    assert {p: m.digest for p, m in platforms.items()} == {
        "linux/amd64": amd.descriptor["digest"],
        "linux/arm/v7": arm.descriptor["digest"],
    }
    assert platforms["linux/amd64"].document["layers"][0]["digest"] == digest_of(b"amd")
    assert registry.digest(f"{served.host}/base@{index}") == index


def test_a_single_manifest_is_keyed_by_its_configs_platform(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    image = push_image(served, "one", [b"x"], platform="linux/arm64", tag="1")
    registry = client(tmp_path)
    manifest = registry.manifest(f"{served.host}/one:1")
    assert not manifest.is_index
    assert list(registry.platform_manifests(manifest)) == ["linux/arm64"]
    config = registry.json_blob(manifest.repository, manifest.document["config"]["digest"])
    assert config["rootfs"]["diff_ids"] == list(image.layers)


def test_what_a_digest_names_is_read_once_per_repository(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    image = push_image(served, "one", [b"x"], platform="linux/amd64", tag="1")
    push_image(served, "two", [b"x"], platform="linux/amd64", tag="1")
    registry = client(tmp_path)
    config = digest_of(json.dumps(image.config).encode())
    by_digest = f"{served.host}/one@{image.descriptor['digest']}"
    for _ in range(3):
        registry.manifest(by_digest)
        registry.blob(f"{served.host}/one", config)
        registry.manifest(f"{served.host}/one:1")  # a tag may move: asked every time
    registry.blob(f"{served.host}/two", config)  # another repository is asked for itself
    gets = [path for method, path in served.requests if method == "GET"]
    assert gets.count(f"/v2/one/manifests/{image.descriptor['digest']}") == 1
    assert gets.count(f"/v2/one/blobs/{config}") == 1
    assert gets.count("/v2/one/manifests/1") == 3
    assert gets.count(f"/v2/two/blobs/{config}") == 1


def test_what_the_registry_lacks_is_not_found_or_none(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    registry = client(tmp_path)
    with pytest.raises(NotFoundError, match="is not in its registry"):
        registry.manifest(f"{served.host}/gone:1")
    assert registry.digest(f"{served.host}/gone:1") is None


def test_a_blob_that_does_not_match_its_digest_is_refused(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    digest = served.store_blob("repo", b"honest")["digest"]
    served.blobs["repo"][digest] = b"tampered"
    with pytest.raises(ImageError, match="does not match its digest"):
        client(tmp_path).blob(f"{served.host}/repo", digest)


def test_a_blob_is_uploaded_once(tmp_path: Path, served: MemoryRegistry) -> None:
    registry = client(tmp_path)
    digest = registry.put_blob(f"{served.host}/repo", b"config bytes")
    assert digest == digest_of(b"config bytes")
    assert served.blobs["repo"][digest] == b"config bytes"
    assert registry.put_blob(f"{served.host}/repo", b"config bytes") == digest
    assert len(served.uploads()) == 1


def test_a_blob_is_mounted_within_a_registry_and_copied_across(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    digest = served.store_blob("base", b"layer")["digest"]
    registry = client(tmp_path)
    registry.ensure_blob(f"{served.host}/app", digest, f"{served.host}/base")
    assert served.blobs["app"][digest] == b"layer"
    assert served.uploads() == []
    assert ("GET", f"/v2/base/blobs/{digest}") not in served.requests  # no bytes moved
    assert any(
        m == "POST" and f"mount={digest.replace(':', '%3A')}" in p for m, p in served.requests
    )
    with serve_registry() as other:
        registry.ensure_blob(f"{other.host}/app", digest, f"{served.host}/base")
        registry.ensure_blob(f"{other.host}/app", digest, f"{served.host}/base")
    assert other.blobs["app"][digest] == b"layer"
    assert len(other.uploads()) == 1  # the second call found it there


def test_a_manifest_is_stored_under_its_tag_or_refused_with_the_answer(
    tmp_path: Path, served: MemoryRegistry
) -> None:
    registry = client(tmp_path)
    raw = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"})
    media_type = "application/vnd.oci.image.index.v1+json"
    digest = registry.put_manifest(f"{served.host}/repo", "v1", raw.encode(), media_type)
    assert registry.digest(f"{served.host}/repo:v1") == digest == digest_of(raw.encode())
    with pytest.raises(ImageError, match=r"cannot store a manifest in .*/repo: 400 .*INVALID"):
        registry.put_manifest(f"{served.host}/repo", "v2", b"not json", media_type)


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_docker_login_credentials_answer_the_challenge(tmp_path: Path, scheme: str) -> None:
    with serve_registry(MemoryRegistry(auth=scheme)) as served:
        push_image(served, "private", [b"x"], tag="1")
        auth = base64.b64encode(b"tester:s3cret").decode()
        registry = client(tmp_path, {"auths": {served.host: {"auth": auth}}})
        first = registry.digest(f"{served.host}/private:1")
        assert first is not None
        assert registry.digest(f"{served.host}/private:1") == first
        anonymous = client(tmp_path, name="anonymous.json")
        with pytest.raises(ImageError, match="refused the credentials") as caught:
            anonymous.digest(f"{served.host}/private:1")
    assert caught.value.hint == f"run `docker login {served.host}`"
    tokens = [p for _, p in served.requests if p.startswith("/token")]
    # One token for the logged-in client, kept for the scope; the anonymous one's is refused.
    assert len(tokens) == (2 if scheme == "bearer" else 0)


def test_a_credential_helper_is_asked_for_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper = tmp_path / "bin" / "docker-credential-test"
    helper.parent.mkdir()
    helper.write_text(
        '#!/bin/sh\nread host\necho "{\\"Username\\": \\"u-$host\\", \\"Secret\\": \\"s\\"}"\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{helper.parent}:/usr/bin:/bin")
    registry = client(tmp_path, {"credHelpers": {"reg.example": "test"}})
    assert registry.credentials("reg.example") == ("u-reg.example", "s")
    assert registry.credentials("other.example") == (None, "")


def test_an_unreachable_registry_is_named(tmp_path: Path) -> None:
    with serve_registry() as served:
        host = served.host
    with pytest.raises(ImageError, match=f"cannot reach the registry {host}"):
        client(tmp_path).manifest(f"{host}/repo:1")


def test_plain_http_is_for_loopback_and_the_registries_named_insecure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(INSECURE_ENV, raising=False)
    assert plain_http("localhost:5000") and plain_http("127.0.0.1") and plain_http("[::1]:5000")
    assert not plain_http("registry.lan:5000") and not plain_http("localhost.evil.example")
    monkeypatch.setenv(INSECURE_ENV, "registry.lan:5000, other.lan")
    assert plain_http("registry.lan:5000") and plain_http("other.lan")
    assert not plain_http("registry.lan") and not plain_http("third.lan")  # the port counts
