"""Real BuildKit builders: a platform the base lacks is refused before anything is built."""

from __future__ import annotations

import pytest

from tests.engine.conftest import Cli, EngineEnv, extend_toml

pytestmark = pytest.mark.engine


def test_a_platform_the_base_lacks_is_refused_before_anything_is_built(
    engine: EngineEnv, cnbext: Cli
) -> None:
    # The example run image is published for linux/amd64 only: BuildKit would build the arm64
    # image FROM the amd64 one and publish x86_64 binaries as linux/arm64.
    name = engine.name("lacks-arm64")
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    before = engine.image_list()
    platforms = ("--platform", "linux/amd64", "--platform", "linux/arm64")
    for dry_run in ((), ("--dry-run",)):
        result = cnbext("extend", name, "-c", "extend.toml", "--publish", *platforms, *dry_run)
        assert result.returncode == 4, result.stderr
        assert (
            f"the image's base {engine.run_image} has no image for linux/arm64 "
            "(it has linux/amd64)" in " ".join(result.stderr.split())
        )
    assert not engine.in_registry(name)
    assert engine.image_list() == before
