"""Attestations on publish, for real: an extend published with --sign under two names carries,
in each name's repository, a signed SLSA provenance of the image's digest and each platform's
CycloneDX SBOM on that platform's digest, which `cosign verify-attestation --key` accepts and
another key does not; inspect shows them verified; a deleted one is reported by
`upgrade --check` and attached again by the upgrade. A run-image mirror that refuses
attestations stops the builder."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Cli, EngineEnv, extend_toml
from tests.engine.test_day2_engine import inspect, manifest, upgrade
from tests.engine.test_extend_builder_engine import extend_builder_toml
from tests.engine.test_signing_engine import (
    RUN_ONLY,
    key_pair,
    signing,  # noqa: F401 (a fixture)
    verifies,
)
from tests.fixtures.oci_registry import MemoryRegistry, serve_registry

pytestmark = pytest.mark.engine

PROVENANCE = "https://slsa.dev/provenance/v1"
CYCLONEDX = "https://cyclonedx.org/bom"


def statements(reference: str, public_key: Path, kind: str) -> list[dict[str, Any]] | None:
    """The in-toto statements ``cosign verify-attestation`` accepts; None when it refuses."""
    result = subprocess.run(
        [
            *("cosign", "verify-attestation", "--key", str(public_key)),
            *("--insecure-ignore-tlog=true", "--type", kind, reference),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return None
    return [
        json.loads(base64.b64decode(json.loads(line)["payload"]))
        for line in result.stdout.splitlines()
        if line.strip()
    ]


def repository(name: str) -> str:
    return name.rsplit(":", 1)[0]


def test_every_name_carries_verified_provenance_and_sboms(
    engine: EngineEnv,
    cnbext: Cli,
    signing: Path,  # noqa: F811
    tmp_path: Path,
    leftovers: list[str],
) -> None:
    image, platforms = engine.run_image, ["linux/amd64"]
    if engine.multiarch_run_image is not None:
        image, platforms = engine.multiarch_run_image, ["linux/amd64", "linux/arm64"]
    name, mirror = engine.name("att-a"), engine.name("att-m")
    leftovers += [name, mirror]
    cnbext.write("extend.toml", extend_toml(image, 'packages = ["jq"]\n'))
    flags = [arg for platform in platforms for arg in ("--platform", platform)]
    cnbext(
        *("extend", name, mirror, "-c", "extend.toml", "--publish", "--sbom", "cdx", *flags),
        *("--sign", "--sign-key", str(signing)),
        check=True,
    )
    public = signing.with_suffix(".pub")
    other = key_pair(tmp_path / "other").with_suffix(".pub")
    digest, index = manifest(name)
    own = {
        "/".join((m["platform"]["os"], m["platform"]["architecture"])): m["digest"]
        for m in index.get("manifests", [])
    } or {platforms[0]: digest}
    assert sorted(own) == platforms
    for each in (name, mirror):
        assert manifest(each)[0] == digest
        [made] = statements(each, public, "slsaprovenance1") or pytest.fail(each)
        assert made["predicateType"] == PROVENANCE
        assert made["subject"] == [{"name": repository(each), "digest": {"sha256": digest[7:]}}]
        definition = made["predicate"]["buildDefinition"]
        assert definition["externalParameters"]["options"]["sign_key"] == str(signing)
        bases = [d for d in definition["resolvedDependencies"] if d["name"] == "base"]
        assert all(d["digest"]["sha256"] for d in bases) and bases
        assert any(d["name"] == "jq" for d in definition["resolvedDependencies"])
        assert statements(each, other, "slsaprovenance1") is None
        for platform, platform_digest in own.items():
            reference = f"{repository(each)}@{platform_digest}"
            [sbom] = statements(reference, public, "cyclonedx") or pytest.fail(reference)
            assert sbom["predicateType"] == CYCLONEDX
            assert sbom["subject"][0]["digest"] == {"sha256": platform_digest[7:]}
            components = {c["name"]: c for c in sbom["predicate"]["components"]}
            assert "jq" in components, platform
            assert f"arch={platform.split('/')[1]}" in components["jq"]["purl"]
    shown = inspect(cnbext, name)["attestations"]["names"]
    expected = {"provenance": "verified", **{f"sbom ({p})": "verified" for p in platforms}}
    assert shown == {name: expected, mirror: expected}

    # The mirror's provenance deleted: --check names it, the upgrade (a re-sign, nothing
    # built) attaches it again, and it verifies.
    assert upgrade(cnbext, "--check", "--publish", name)[0] == 0
    delete_tag(mirror, digest.replace(":", "-") + ".att")
    code, images = upgrade(cnbext, "--check", "--publish", name)
    assert code == 100
    assert any(f"attestations missing or stale under {mirror}" in r for r in images[0]["reasons"])
    code, images = upgrade(cnbext, "--publish", name)
    assert (code, images[0]["method"], images[0]["digestAfter"]) == (0, "re-sign", digest)
    assert statements(mirror, public, "slsaprovenance1")


def test_a_mirror_that_refuses_attestations_stops_the_builder(
    engine: EngineEnv,
    example_builder: tuple[str, str],
    cnbext: Cli,
    signing: Path,  # noqa: F811
    leftovers: list[str],
) -> None:
    cnbext.write("extend-builder.toml", extend_builder_toml(example_builder[0], RUN_ONLY))
    builder, run = engine.name("att-builder"), engine.name("att-run")
    leftovers += [builder, run]
    refusing = MemoryRegistry(refused_tags=re.compile(r"sha256-[0-9a-f]{64}\.att"))
    with serve_registry(refusing) as mirror_registry:
        mirror = f"{mirror_registry.host}/cnbext-tests/att-mirror:1"
        result = cnbext(
            *("extend-builder", builder, "-e", "extend-builder.toml", "--publish"),
            *("--run-image", run, "--run-image-mirror", mirror),
            *("--sign", "--sign-key", str(signing)),
        )
        # The mirror took the image and its signature, not its attestation.
        tags = refusing.manifests["cnbext-tests/att-mirror"]
        assert any(t.endswith(".sig") for t in tags)
        assert not any(t.endswith(".att") for t in tags)
    assert result.returncode == 6, result.stderr
    assert "cannot attest" in result.stderr and "att-mirror" in result.stderr
    assert f"published: {run}@sha256:" in result.stderr
    assert f"not published: {builder}" in result.stderr
    assert not engine.in_registry(builder)
    public = signing.with_suffix(".pub")
    assert verifies(run, public) and statements(run, public, "slsaprovenance1")


def delete_tag(name: str, tag: str) -> None:
    """Delete the manifest ``tag`` names in ``name``'s repository."""
    target, _ = manifest(f"{repository(name)}:{tag}")
    host, _, path = repository(name).partition("/")
    url = f"http://{host}/v2/{path}/manifests/{target}"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE")) as response:
        assert response.status == 202
