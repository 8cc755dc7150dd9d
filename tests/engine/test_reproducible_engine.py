"""Reproducible builds, for real: the same request with --source-date-epoch, built twice
without BuildKit's cache (--no-cache, so no one else's cache is pruned), gives the same image
digest, apt install included; without the epoch the same two builds differ."""

from __future__ import annotations

import json

import pytest

from tests.engine.conftest import Cli, EngineEnv, extend_toml

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
    engine: EngineEnv, cnbext: Cli
) -> None:
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    epoch = ("--source-date-epoch", EPOCH)
    first, second = engine.name("repro-a"), engine.name("repro-b")
    digest = publish_cold(cnbext, first, *epoch)
    assert publish_cold(cnbext, second, *epoch) == digest
    config = engine.registry_config(second)
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert [h["created"] for h in config["history"][-3:]] == ["2023-11-14T22:13:20Z"] * 3
    assert engine.run(second, "jq --version").startswith("jq-")
    # The same two cold builds without the epoch: file and config times differ.
    plain = [publish_cold(cnbext, engine.name(f"repro-{n}")) for n in ("c", "d")]
    assert plain[0] != plain[1]
