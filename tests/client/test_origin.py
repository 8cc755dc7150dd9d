"""Content digests of extensions for the provenance label, from where each one comes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cnbext.client.origin import registry_origin, with_digests
from cnbext.config.extension_request import ExtensionRequest
from cnbext.plan.facts import ImageOrigin
from tests.client.fake_engine import FakeEngine
from tests.client.fake_registry import FakeManifest, FakeRegistry
from tests.fixtures.buildpacks import make_buildpack_archive, write_buildpack
from tests.fixtures.http_server import send_bytes, serve_routes

pytestmark = pytest.mark.usefixtures("no_proxy")


def archive(tmp_path: Path) -> bytes:
    root = write_buildpack(tmp_path / "hello", "example/hello", "0.0.1")
    return make_buildpack_archive(root, tmp_path / "hello.tgz").read_bytes()


def test_a_downloaded_extension_records_the_archives_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNBEXT_CACHE_DIR", str(tmp_path / "cache"))
    body = archive(tmp_path)
    sha = hashlib.sha256(body).hexdigest()
    with serve_routes({"/ext.tgz": send_bytes(body)}) as server:
        url = f"{server.base_url}/ext.tgz"
        [request] = with_digests([ExtensionRequest(url)], tmp_path, FakeEngine())
        # Pinned, it is checked against the pin; a second look is a cache hit.
        [pinned] = with_digests([ExtensionRequest(url, sha256=sha)], tmp_path, FakeEngine())
    assert request.digest == pinned.digest == f"sha256:{sha}"
    assert server.hits["/ext.tgz"] == 1


def test_a_download_that_fails_records_no_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNBEXT_CACHE_DIR", str(tmp_path / "cache"))
    with serve_routes({"/ext.tgz": send_bytes(archive(tmp_path))}) as server:
        wrong = ExtensionRequest(f"{server.base_url}/ext.tgz", sha256="0" * 64)
        [request] = with_digests([wrong], tmp_path, FakeEngine())
    assert request.digest is None


def test_a_docker_extension_records_what_its_registry_serves() -> None:
    index, amd = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    tags = FakeRegistry({"reg/ext:1": FakeManifest(index, {"linux/amd64": amd})})
    assert registry_origin(tags, "reg/ext:1") == ImageOrigin(
        "reg/ext:1", index, {"linux/amd64": amd}
    )
    assert registry_origin(tags, "reg/gone:1") == ImageOrigin("reg/gone:1", None)
    engine = FakeEngine(served=tags)
    (request,) = with_digests([ExtensionRequest("docker://reg/ext:1")], Path.cwd(), engine)
    assert request.digest == index
