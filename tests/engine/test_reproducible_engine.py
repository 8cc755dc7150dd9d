"""Reproducible builds, for real: the same request with --source-date-epoch, built twice
without BuildKit's cache (--no-cache, so no one else's cache is pruned), gives the same image
digest, apt install included; without the epoch the same two builds differ."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv, extend_toml
from tests.engine.test_extension_chain_engine import static_extension

pytestmark = pytest.mark.engine

EPOCH = "1700000000"  # 2023-11-14T22:13:20Z


def publish_cold(cnbext: Cli, name: str, *epoch: str) -> str:
    result = cnbext(
        *("extend", name, "-c", "extend.toml", "--publish", "--no-cache"),
        *epoch,
        *("--build-id", "fixed", "-o", "json"),
        check=True,
    )
    return str(json.loads(result.stdout)["images"][0]["digest"])


def test_two_cold_builds_of_the_same_request_have_the_same_digest(
    engine: EngineEnv, cnbext: Cli, own_cache_dir: Path
) -> None:
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    epoch = ("--source-date-epoch", EPOCH)
    first, second = engine.name("repro-a"), engine.name("repro-b")
    digest = publish_cold(cnbext, first, *epoch)
    # The SBOM layer's diffID was measured once and kept: the second build takes it from the
    # layer cache, and the build's own check of its labels against its layers still passes.
    assert len(list((own_cache_dir / "layers").glob("*.json"))) == 1
    assert publish_cold(cnbext, second, *epoch) == digest
    config = engine.registry_config(second)
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert [h["created"] for h in config["history"][-3:]] == ["2023-11-14T22:13:20Z"] * 3
    assert engine.run(second, "jq --version").startswith("jq-")
    # The same two cold builds without the epoch: file and config times differ.
    plain = [publish_cold(cnbext, engine.name(f"repro-{n}")) for n in ("c", "d")]
    assert plain[0] != plain[1]


# An image extension whose RUN writes files (a new directory, a file, a symlink), as
# extensions installing things do.
WRITING_RUN = (
    "ARG base_image\nFROM ${base_image}\nARG build_id=0\nUSER root\n"
    "RUN mkdir -p /opt/cnbext-ext && echo made > /opt/cnbext-ext/file"
    " && ln -s file /opt/cnbext-ext/link && echo more >> /etc/cnbext-ext-written\n"
    "ARG user_id\nARG group_id\nUSER ${user_id}:${group_id}\n"
)


def prune_build_cache() -> None:
    """A cold build: BuildKit's cache emptied (the engine lock is held by the test run)."""
    subprocess.run(["docker", "buildx", "prune", "-af"], capture_output=True, check=True)


def platform_digests(engine: EngineEnv, name: str) -> dict[str, str]:
    """Each platform's manifest digest ``name`` serves (an index's children, or its own)."""
    from tests.engine.test_day2_engine import manifest

    digest, document = manifest(name)
    if "manifests" not in document:
        config = engine.registry_config(name)
        return {f"{config['os']}/{config['architecture']}": digest}
    return {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in document["manifests"]
    }


def test_two_cold_builds_with_an_image_extension_that_writes_files_are_the_same(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path, leftovers: list[str]
) -> None:
    """On linux/amd64 and, where the engine emulates it, linux/arm64 too."""
    ext = static_extension(tmp_path, "test/writes", run_Dockerfile=WRITING_RUN)
    base = engine.multiarch_run_image or engine.run_image
    platforms = ("linux/amd64", "linux/arm64") if engine.multiarch_run_image else ()
    cnbext.write("extend.toml", extend_toml(base, 'owner = "ops"\n'))
    made = []
    for label in ("repro-ext-a", "repro-ext-b"):
        prune_build_cache()
        name = engine.name(label)
        cnbext(
            *("extend", name, "-c", "extend.toml", "--publish", "--extension", str(ext)),
            *("--source-date-epoch", EPOCH, "--build-id", "fixed"),
            *(arg for p in platforms for arg in ("--platform", p)),
            check=True,
        )
        made.append(name)
        leftovers.append(name)
    first, second = (platform_digests(engine, name) for name in made)
    assert first == second and sorted(first) == sorted(platforms or ("linux/amd64",))
    repository = made[1].rsplit(":", 1)[0]
    based_on = platform_digests(engine, base)
    for platform, digest in second.items():
        config = engine.registry_config(f"{repository}@{digest}")
        # The base's layers are the base's own (only the extension's layer had its times set).
        own = engine.registry_config(f"{base.rsplit(':', 1)[0]}@{based_on[platform]}")
        assert (
            config["rootfs"]["diff_ids"][: len(own["rootfs"]["diff_ids"])]
            == (own["rootfs"]["diff_ids"])
        )
        entries = [
            h
            for h in config["history"]
            if "Created by extension: test/writes" in h.get("created_by", "")
        ]
        assert entries and {h["created"] for h in entries} == {"2023-11-14T22:13:20Z"}
    assert engine.run(made[1], "cat /opt/cnbext-ext/link").strip() == "made"


def test_two_cold_arm64_builds_under_emulation_have_the_same_digest(
    engine: EngineEnv, cnbext: Cli
) -> None:
    """The amd64 check above, for linux/arm64 (the install runs under emulation)."""
    if engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    cnbext.write("extend.toml", extend_toml(engine.multiarch_run_image, 'packages = ["jq"]\n'))
    arm64 = ("--platform", "linux/arm64", "--source-date-epoch", EPOCH)
    first, second = engine.name("repro-arm-a"), engine.name("repro-arm-b")
    assert publish_cold(cnbext, first, *arm64) == publish_cold(cnbext, second, *arm64)
    digests = platform_digests(engine, second)
    assert list(digests) == ["linux/arm64"]
    assert engine.registry_config(second)["created"] == "2023-11-14T22:13:20Z"
