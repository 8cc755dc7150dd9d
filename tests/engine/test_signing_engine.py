"""Signing on publish, for real: cosign signs every published digest in the repository of each
name (key-based, no transparency log), `cosign verify --key` passes under every name and fails
with another key; an upgrade's rebuild and rebase sign their new digests (the rebase attaches
its new provenance too); a mirror registry that refuses the signature stops the builder."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv, extend_toml
from tests.engine.test_day2_engine import inspect, manifest, push_base, upgrade
from tests.engine.test_extend_builder_engine import extend_builder_toml
from tests.engine.test_signing import key_pair as make_key_pair
from tests.fixtures.oci_registry import MemoryRegistry, serve_registry

pytestmark = pytest.mark.engine

PASSWORD = "cnbext-test-key-password"
RUN_ONLY = '[extend.metadata.run]\nowner = "ops"\n'  # no packages: fast


def key_pair(folder: Path) -> Path:
    return make_key_pair(folder, PASSWORD)


def verifies(reference: str, public_key: Path) -> bool:
    result = subprocess.run(
        ["cosign", "verify", "--key", str(public_key), "--insecure-ignore-tlog=true", reference],
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


def delete_signature(name: str, digest: str) -> None:
    """Delete cosign's ``sha256-<hex>.sig`` manifest beside ``digest`` in ``name``'s repository."""
    repository = name.rsplit(":", 1)[0]
    signature, _ = manifest(f"{repository}:{digest.replace(':', '-')}.sig")
    host, _, path = repository.partition("/")
    url = f"http://{host}/v2/{path}/manifests/{signature}"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE")) as response:
        assert response.status == 202


@pytest.fixture
def signing(cnbext: Cli, tmp_path: Path) -> Path:
    if shutil.which("cosign") is None:
        pytest.skip("cosign is not installed (scripts/engine.sh installs it on Debian)")
    cnbext.env["COSIGN_PASSWORD"] = PASSWORD
    return key_pair(tmp_path / "keys")


def test_every_name_is_signed_and_each_upgrade_signs_what_it_publishes(
    engine: EngineEnv, cnbext: Cli, signing: Path, tmp_path: Path, leftovers: list[str]
) -> None:
    base, name, mirror = engine.name("sig-base"), engine.name("sig-a"), engine.name("sig-m")
    leftovers += [base, name, mirror]
    push_base(engine, base, tmp_path, "v1")
    cnbext.write("extend.toml", extend_toml(base, 'owner = "ops"\nrebasable = true\n'))
    cnbext(
        *("extend", name, mirror, "-c", "extend.toml", "--publish"),
        *("--sign", "--sign-key", str(signing)),
        check=True,
    )
    public, other = signing.with_suffix(".pub"), key_pair(tmp_path / "other").with_suffix(".pub")
    digest, _ = manifest(name)
    for reference in (name, mirror, f"{mirror.rsplit(':', 1)[0]}@{digest}"):
        assert verifies(reference, public), reference
        assert not verifies(reference, other), reference
    shown = inspect(cnbext, mirror)["signatures"]
    assert shown == {"key": str(signing), "names": {mirror: "verified", name: "verified"}}

    push_base(engine, base, tmp_path, "v2")
    code, images = upgrade(cnbext, "--publish", "--rebase", "never", name)
    assert (code, images[0]["state"]) == (0, "upgraded"), images
    new_digest, _ = manifest(mirror)
    assert new_digest != digest and manifest(name)[0] == new_digest
    assert verifies(name, public) and verifies(mirror, public)

    # A registry-side rebase signs its new digest too, with the recorded key.
    push_base(engine, base, tmp_path, "v3")
    code, images = upgrade(cnbext, "--publish", name)
    assert (code, images[0]["method"]) == (0, "rebase"), images
    rebased, _ = manifest(mirror)
    assert rebased not in (digest, new_digest)
    assert verifies(name, public) and verifies(mirror, public)
    # ... and attaches the new digest's provenance under both names (its new base in it).
    from tests.engine.test_attestations_engine import statements

    for each in (name, mirror):
        [made] = statements(each, public, "slsaprovenance1") or pytest.fail(each)
        assert made["subject"][0]["digest"] == {"sha256": rebased[7:]}
        dependencies = made["predicate"]["buildDefinition"]["resolvedDependencies"]
        [recorded] = [d for d in dependencies if d["uri"] == f"pkg:docker/{base}"]
        assert recorded["digest"] == {"sha256": manifest(base)[0][7:]}  # v3, rebased onto

    # Every signature verifies: --check finds nothing. With the mirror's signature deleted,
    # --check reports that name and an upgrade signs it again (the digest stays).
    assert upgrade(cnbext, "--check", "--publish", name)[0] == 0
    delete_signature(mirror, rebased)
    assert inspect(cnbext, name)["signatures"]["names"][mirror] != "verified"
    code, images = upgrade(cnbext, "--check", "--publish", name)
    assert code == 100 and f"signature missing or stale under {mirror}" in images[0]["reasons"][0]
    code, images = upgrade(cnbext, "--publish", name)
    assert (code, images[0]["method"], images[0]["digestAfter"]) == (0, "re-sign", rebased)
    assert verifies(mirror, public)


def test_a_mirror_that_refuses_the_signature_stops_the_builder(
    engine: EngineEnv,
    example_builder: tuple[str, str],
    cnbext: Cli,
    signing: Path,
    leftovers: list[str],
) -> None:
    cnbext.write("extend-builder.toml", extend_builder_toml(example_builder[0], RUN_ONLY))
    builder, run = engine.name("sig-builder"), engine.name("sig-run")
    leftovers += [builder, run]
    refusing = MemoryRegistry(refused_tags=re.compile(r"sha256-[0-9a-f]{64}\.sig"))
    with serve_registry(refusing) as mirror_registry:
        mirror = f"{mirror_registry.host}/cnbext-tests/sig-mirror:1"
        result = cnbext(
            *("extend-builder", builder, "-e", "extend-builder.toml", "--publish"),
            *("--run-image", run, "--run-image-mirror", mirror),
            *("--sign", "--sign-key", str(signing)),
        )
        # The mirror took the image (its digest checked) but not its signature.
        assert refusing.manifests["cnbext-tests/sig-mirror"]
        assert not any(t.endswith(".sig") for t in refusing.manifests["cnbext-tests/sig-mirror"])
    assert result.returncode == 6, result.stderr
    assert "sig-mirror" in result.stderr and "sign" in result.stderr
    assert f"published: {run}@sha256:" in result.stderr
    assert f"not published: {builder}" in result.stderr
    assert not engine.in_registry(builder)
    assert verifies(run, signing.with_suffix(".pub"))


def test_each_per_platform_suffix_name_is_signed_and_verifies(
    engine: EngineEnv, builder_cli: Cli, signing: Path, tmp_path: Path
) -> None:
    """create-builder --append-image-name-suffix: NAME-linux-amd64 and NAME-linux-arm64 serve
    each platform's image (its own digest), and verify like the index's names."""
    from tests.engine.test_create_builder_pack_engine import TWO_TARGETS, builder_toml

    if engine.multiarch_build_image is None or engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    builder = engine.name("sig-suffix-builder", tag="1.0")
    toml = builder_toml(engine.multiarch_build_image, engine.multiarch_run_image, TWO_TARGETS)
    builder_cli.write("builder.toml", toml)
    result = builder_cli(
        *("create-builder", builder, "-c", "builder.toml", "--publish"),
        *("--append-image-name-suffix", "--sign", "--sign-key", str(signing)),
    )
    assert result.returncode == 0, result.stderr
    public = signing.with_suffix(".pub")
    other = key_pair(tmp_path / "other").with_suffix(".pub")
    own = [f"{builder}-linux-{arch}" for arch in ("amd64", "arm64")]
    assert len({manifest(name)[0] for name in (builder, *own)}) == 3  # three digests
    for reference in (builder, *own):
        assert verifies(reference, public), reference
        assert not verifies(reference, other), reference
    # inspect and upgrade --check see each per-platform name by the digest it serves.
    assert inspect(builder_cli, builder)["signatures"]["names"] == dict.fromkeys(
        (builder, *own), "verified"
    )
    _, [checked] = upgrade(builder_cli, "--check", "--publish", builder)
    assert not [r for r in checked["reasons"] if r.startswith("signature")], checked
