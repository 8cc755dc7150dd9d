"""cnbext.engine.signing with the real cosign against an in-memory registry on loopback: a
signature is kept in the image's repository and verifies with the key's public half only; a
key without its password fails at once instead of prompting; a registry that refuses the
signature tag fails the signing. Not an engine test: cosign and HTTP on 127.0.0.1 only."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cnbext.engine.signing import Cosign
from cnbext.errors import PublishError
from tests.fixtures.oci_registry import MemoryRegistry, push_image, serve_registry

pytestmark = pytest.mark.skipif(shutil.which("cosign") is None, reason="cosign is not installed")

PASSWORD = "unit-key-password"


def key_pair(folder: Path, password: str = PASSWORD) -> Path:
    """A cosign key pair in ``folder`` (cosign.key, cosign.pub), encrypted with ``password``."""
    folder.mkdir()
    subprocess.run(
        ["cosign", "generate-key-pair"],
        cwd=folder,
        env={"COSIGN_PASSWORD": password, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    return folder / "cosign.key"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("keys")
    return key_pair(root / "signer"), key_pair(root / "other")


def test_a_signature_verifies_in_its_repository_with_its_key_only(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    key, other = keys
    with serve_registry() as registry:
        digest = push_image(registry, "acme/run", [b"layer"], tag="1").descriptor["digest"]
        push_image(registry, "mirror/run", [b"layer"], tag="1")
        reference = f"{registry.host}/acme/run@{digest}"
        assert Cosign().verify(reference, str(key)) is not None  # not signed yet
        Cosign().sign(reference, str(key))
        assert f"{digest.replace(':', '-')}.sig" in registry.manifests["acme/run"]
        assert Cosign().verify(reference, str(key)) is None
        assert Cosign().verify(reference, str(key.with_suffix(".pub"))) is None
        assert Cosign().verify(reference, str(other)) is not None
        # The same digest in another repository carries no signature until signed there.
        assert Cosign().verify(f"{registry.host}/mirror/run@{digest}", str(key)) is not None


def test_a_key_without_its_password_fails_at_once(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    with serve_registry() as registry:
        digest = push_image(registry, "acme/run", [b"layer"], tag="1").descriptor["digest"]
        started = time.monotonic()
        with pytest.raises(PublishError, match="cannot sign") as caught:
            Cosign().sign(f"{registry.host}/acme/run@{digest}", str(keys[0]))
    assert time.monotonic() - started < 60
    assert caught.value.hint is not None and "COSIGN_PASSWORD" in caught.value.hint
    assert PASSWORD not in caught.value.message


def test_a_registry_refusing_the_signature_tag_fails_the_signing(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    refusing = MemoryRegistry(refused_tags=re.compile(r"sha256-[0-9a-f]{64}\.sig"))
    with serve_registry(refusing) as registry:
        digest = push_image(registry, "acme/run", [b"layer"], tag="1").descriptor["digest"]
        with pytest.raises(PublishError, match="cannot sign"):
            Cosign().sign(f"{registry.host}/acme/run@{digest}", str(keys[0]))
