"""Day 2 against a real engine and registry: provenance, inspect, upgrade --check, upgrade."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Cli, EngineEnv

pytestmark = pytest.mark.engine

ACCEPT = (
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json"
)


def push_base(
    engine: EngineEnv,
    name: str,
    tmp: Path,
    version: str,
    *,
    base: str | None = None,
    platforms: str | None = None,
) -> None:
    """A small non-root base: the fixture image plus one file naming its version."""
    context = tmp / f"base-{version}"
    context.mkdir(parents=True, exist_ok=True)
    (context / "version").write_text(version + "\n")
    (context / "Dockerfile").write_text(
        f"FROM {base or engine.fixture_image}\nCOPY version /base-version\nUSER 1000:1000\n"
    )
    args = ["docker", "buildx", "build", "-q", "--network", "host", "--provenance=false"]
    if platforms:
        args += ["--platform", platforms]
    subprocess.run([*args, "-t", name, "--push", str(context)], check=True, capture_output=True)


def manifest(reference: str) -> tuple[str, dict[str, Any]]:
    """(digest, document) the registry serves for ``reference``."""
    repository, _, tag = reference.rpartition(":")
    host, _, path = repository.partition("/")
    if "@" in reference:
        repository, _, tag = reference.partition("@")
        host, _, path = repository.partition("/")
    request = urllib.request.Request(
        f"http://{host}/v2/{path}/manifests/{tag}", headers={"Accept": ACCEPT}
    )
    with urllib.request.urlopen(request) as response:
        return response.headers["Docker-Content-Digest"], json.loads(response.read())


def layers(reference: str, platform: str = "linux/amd64") -> list[str]:
    """Layer digests of ``reference``'s image for ``platform``."""
    _, document = manifest(reference)
    if "manifests" in document:
        repository = reference.rsplit(":", 1)[0].split("@")[0]
        os_, arch = platform.split("/")
        entry = next(
            m
            for m in document["manifests"]
            if m.get("platform", {}).get("os") == os_
            and m.get("platform", {}).get("architecture") == arch
        )
        _, document = manifest(f"{repository}@{entry['digest']}")
    return [layer["digest"] for layer in document["layers"]]


def platforms_of(reference: str) -> set[str]:
    _, document = manifest(reference)
    return {
        f"{m['platform']['os']}/{m['platform']['architecture']}"
        for m in document.get("manifests", [])
        if m.get("platform", {}).get("os") not in (None, "unknown")
    }


def run_fresh(reference: str, command: str) -> str:
    """Run the registry's current image (the daemon's copy may be the old one)."""
    result = subprocess.run(
        ["docker", "run", "--rm", "--pull", "always", reference, "sh", "-c", command],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def inspect(cnbext: Cli, reference: str) -> dict[str, Any]:
    result = cnbext("inspect", reference, "-o", "json", check=True)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def upgrade(cnbext: Cli, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = cnbext("upgrade", *args, "-o", "json")
    try:
        images = json.loads(result.stdout)["images"]
    except (ValueError, KeyError):
        pytest.fail(f"upgrade {args} gave no JSON ({result.returncode}):\n{result.stderr}")
    return result.returncode, images


def extend_toml(image: str, metadata: str) -> str:
    return f'[extend]\nimage = "{image}"\n\n[extend.metadata]\n{metadata}'


def test_rebuild_path_image_follows_its_moved_base(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    base, name = engine.name("d2-base"), engine.name("d2-image")
    push_base(engine, base, tmp_path, "v1")
    v1_digest, _ = manifest(base)
    cnbext.write("extend.toml", extend_toml(base, 'packages = ["jq"]\n'))
    cnbext("extend", name, "-c", "extend.toml", "--publish", check=True)
    document = inspect(cnbext, name)
    assert document["kind"] == "extended image"
    assert document["provenance"]["base"] == {
        "reference": base,
        "digest": v1_digest,
        "platforms": {"linux/amd64": v1_digest},
    }
    assert document["status"]["state"] == "up to date"

    push_base(engine, base, tmp_path, "v2")
    v2_digest, _ = manifest(base)
    code, images = upgrade(cnbext, "--check", "--publish", name)
    assert code == 100
    assert images[0]["state"] == "needs upgrade" and "moved" in images[0]["reasons"][0]

    code, images = upgrade(cnbext, "--publish", name)
    assert code == 0, images
    assert (images[0]["state"], images[0]["method"]) == ("upgraded", "rebuild")
    assert run_fresh(name, "cat /base-version; jq --version").split() == ["v2", "jq-1.6"]
    document = inspect(cnbext, name)
    assert document["provenance"]["base"]["digest"] == v2_digest
    assert document["status"]["state"] == "up to date"

    before, _ = manifest(name)
    code, images = upgrade(cnbext, "--publish", name)
    assert code == 0
    assert images[0]["state"] == "up to date"
    assert manifest(name)[0] == before
    code, _ = upgrade(cnbext, "--check", "--publish", name)
    assert code == 0


def test_rebase_path_swaps_only_the_base_layers(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    base, name = engine.name("d2-rbase"), engine.name("d2-rimage")
    push_base(engine, base, tmp_path, "v1")
    v1_layers = layers(base)
    cnbext.write("extend.toml", extend_toml(base, 'packages = ["jq"]\nrebasable = true\n'))
    cnbext("extend", name, "-c", "extend.toml", "--publish", check=True)
    before = layers(name)
    assert before[: len(v1_layers)] == v1_layers
    own = before[len(v1_layers) :]
    assert own, "the package layer is on top of the base"

    push_base(engine, base, tmp_path, "v2")
    v2_layers = layers(base)
    code, images = upgrade(cnbext, "--publish", name)
    assert code == 0, images
    assert (images[0]["state"], images[0]["method"]) == ("upgraded", "rebase")
    after = layers(name)
    # The base layers are v2's; the image's own layers are the very same blobs: nothing was
    # installed again (a rebuild would have made a new package layer).
    assert after == [*v2_layers, *own]
    assert run_fresh(name, "cat /base-version; jq --version").split() == ["v2", "jq-1.6"]
    document = inspect(cnbext, name)
    assert document["status"]["state"] == "up to date"
    assert document["rebasable"] == "true"
    assert document["extendMetadata"] == {"packages": ["jq"], "rebasable": True}
