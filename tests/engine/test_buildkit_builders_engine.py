"""Every command through real BuildKit builders: buildx's docker-container driver and its
remote driver (buildkitd in a container on 127.0.0.1, mutual TLS), selected with
``--builder`` and with ``BUILDX_BUILDER``. Both push by digest: each image is built once,
pushed under no name, and named registry-side in publish order.

Each builder lives for the session (one at a time) and is removed afterwards; every test
leaves the daemon's images, builders, containers and volumes as it found them.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Cli, EngineEnv, extend_toml
from tests.engine.test_create_builder_pack_engine import TWO_TARGETS, builder_toml
from tests.engine.test_day2_engine import layers, platforms_of, push_base, run_fresh, upgrade
from tests.fixtures.buildkit_builders import (
    Builder,
    container_builder,
    daemon_state,
    docker,
    remote_builder,
)
from tests.fixtures.buildpacks import write_extension

pytestmark = pytest.mark.engine

BOTH = ("--platform", "linux/amd64", "--platform", "linux/arm64")
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
# An image extension whose run.Dockerfile records the machine its RUN step ran as.
GENERATE = """#!/bin/sh
set -eu
cat >"$CNB_OUTPUT_DIR/run.Dockerfile" <<'DOCKERFILE'
ARG base_image
FROM ${base_image}
USER root
RUN uname -m >/cnbext-ext-machine
USER 1001:1000
DOCKERFILE
"""


@pytest.fixture(scope="session", params=["docker-container", "remote"])
def builder(request: pytest.FixtureRequest, engine: EngineEnv) -> Iterator[Builder]:
    """One real builder at a time (pytest groups the tests by it), removed afterwards with
    nothing left in the daemon."""
    if engine.buildkit_image is None:
        pytest.skip(
            "no BuildKit image: ../shared/buildkit is not beside the clone, so "
            "scripts/engine.sh up could not make it"
        )
    if engine.multiarch_run_image is None or engine.multiarch_build_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    before = daemon_state()
    make = container_builder if request.param == "docker-container" else remote_builder
    with make(engine.buildkit_image) as made:
        yield made
    assert daemon_state() == before


@pytest.fixture
def as_found(engine: EngineEnv, builder: Builder) -> Iterator[None]:
    """Images a test pulled (to run what it published) are removed; then everything must be
    as it was: images, builders, containers, volumes. (Tests hold the engine lock, so what
    was added is theirs.)"""
    images, state = engine.image_list(), daemon_state()
    yield
    added = sorted(engine.image_list() - images)
    names = [e.split(" ", 1)[1] for e in added if not e.endswith("<none>:<none>")]
    ids = [e.split(" ", 1)[0] for e in added if e.endswith("<none>:<none>")]
    if names or ids:
        docker("image", "rm", "-f", *names, *ids)
    assert engine.image_list() == images
    assert daemon_state() == state


def selected(cnbext: Cli, builder: Builder, how: str) -> tuple[Cli, tuple[str, ...]]:
    """The CLI and the flags that choose ``builder``: ``--builder`` or ``BUILDX_BUILDER``."""
    if how == "flag":
        return cnbext, ("--builder", builder.name)
    return cnbext.with_env(BUILDX_BUILDER=builder.name), ()


def machines(name: str, command: str = "uname -m") -> dict[str, str]:
    """What ``command`` prints in each platform's image of ``name``, run under emulation."""
    return {
        platform: docker(
            *("run", "--rm", "--pull", "always", "--platform", platform, name, "sh", "-c"),
            command,
        ).strip()
        for platform in MACHINES
    }


def pushed_to(name: str, login: tuple[str, str] | None = None) -> bool:
    """Whether any push reached ``name``'s repository (the registry lists a repository once a
    layer is in it, tagged or not: a push by digest makes it without a tag); ``login`` for a
    registry that wants one."""
    repository = name.rsplit(":", 1)[0]
    host, _, path = repository.partition("/")
    headers = {}
    if login is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(login).encode()).decode()
    last = ""
    while True:
        url = f"http://{host}/v2/_catalog?n=1000&last={urllib.parse.quote(last)}"
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            page: list[str] = json.loads(response.read()).get("repositories") or []
        if path in page:
            return True
        if len(page) < 1000:
            return False
        last = page[-1]


def published(result: Any) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    images: list[dict[str, Any]] = json.loads(result.stdout)["images"]
    return images


def test_a_platform_the_base_lacks_is_refused_before_anything_is_built(
    engine: EngineEnv, cnbext: Cli
) -> None:
    # The example run image is published for linux/amd64 only: BuildKit would build the arm64
    # image FROM the amd64 one and publish x86_64 binaries as linux/arm64. (The docker driver.)
    name = engine.name("lacks-arm64")
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    before = engine.image_list()
    for dry_run in ((), ("--dry-run",)):
        result = cnbext("extend", name, "-c", "extend.toml", "--publish", *BOTH, *dry_run)
        assert result.returncode == 4, result.stderr
        assert (
            f"the image's base {engine.run_image} has no image for linux/arm64 "
            "(it has linux/amd64)" in " ".join(result.stderr.split())
        )
    assert not pushed_to(name)
    assert engine.image_list() == before


@pytest.mark.usefixtures("as_found")
def test_a_platform_the_base_lacks_is_refused_on_the_builder(
    engine: EngineEnv, cnbext: Cli, builder: Builder
) -> None:
    name = engine.name("lacks-arm64")
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    result = cnbext(
        "extend", name, "-c", "extend.toml", "--publish", *BOTH, "--builder", builder.name
    )
    assert result.returncode == 4, result.stderr
    assert "has no image for linux/arm64 (it has linux/amd64)" in " ".join(result.stderr.split())
    assert not pushed_to(name)


@pytest.mark.usefixtures("as_found")
def test_extend_one_and_two_platforms_with_an_extension(
    engine: EngineEnv, cnbext: Cli, builder: Builder, tmp_path: Path
) -> None:
    assert engine.multiarch_run_image is not None
    extension = write_extension(tmp_path / "ext", "test/machine", "1.0.0", generate_script=GENERATE)
    cnbext.write(
        "extend.toml",
        extend_toml(engine.multiarch_run_image, 'owner = "ops"\n')
        + f'\n[[extend.extensions]]\nuri = "{extension}"\n',
    )
    primary, mirror = engine.name("bk-two"), engine.name("bk-two-mirror")
    cli, flags = selected(cnbext, builder, "flag")
    (image,) = published(
        cli(
            "extend", primary, mirror, "-c", "extend.toml", "--publish", *BOTH, *flags, "-o", "json"
        )
    )
    assert engine.registry_digest(primary) == engine.registry_digest(mirror) == image["digest"]
    assert platforms_of(mirror) == set(MACHINES)
    # Each platform's userland and the extension's RUN step ran as that machine.
    expected = {p: f"{m}\n{m}" for p, m in MACHINES.items()}
    assert machines(mirror, "uname -m; cat /cnbext-ext-machine") == expected

    one = engine.name("bk-one")
    cnbext.write("one.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    cli, flags = selected(cnbext, builder, "env")
    (image,) = published(cli("extend", one, "-c", "one.toml", "--publish", *flags, "-o", "json"))
    assert engine.registry_digest(one) == image["digest"]
    assert run_fresh(one, "jq --version; id -u").split()[1] == "1001"


@pytest.mark.usefixtures("as_found")
def test_create_builder_targets_then_extend_builder_with_a_mirror(
    engine: EngineEnv, builder_cli: Cli, builder: Builder
) -> None:
    assert engine.multiarch_build_image is not None and engine.multiarch_run_image is not None
    made, run = engine.name("bk-builder"), engine.name("bk-run")
    builder_cli.write(
        "builder.toml",
        builder_toml(engine.multiarch_build_image, engine.multiarch_run_image, TWO_TARGETS)
        + '[extend.metadata.run]\nowner = "ops"\n',
    )
    cli, flags = selected(builder_cli, builder, "env")
    args = ("create-builder", made, "-c", "builder.toml", "--run-image", run, "--publish")
    images = published(cli(*args, *flags, "-o", "json"))
    assert [i["role"] for i in images] == ["run image", "builder"]
    assert platforms_of(made) == platforms_of(run) == set(MACHINES)
    assert machines(made) == MACHINES

    extended, run2, mirror = (engine.name(n) for n in ("bk-xbuilder", "bk-xrun", "bk-xmirror"))
    builder_cli.write(
        "extend-builder.toml",
        f'[extend]\nimage = "{made}"\n[extend.metadata.run]\nteam = "platform"\n'
        '[extend.metadata.build]\nteam = "build"\n',
    )
    # `cnbext --builder B CMD`: the global form.
    result = builder_cli(
        *("--builder", builder.name, "extend-builder", extended, "-e", "extend-builder.toml"),
        *("--run-image", run2, "--run-image-mirror", mirror, "--publish", *BOTH, "-o", "json"),
    )
    run_image, new_builder = published(result)
    assert engine.registry_digest(run2) == engine.registry_digest(mirror) == run_image["digest"]
    assert engine.registry_digest(extended) == new_builder["digest"]
    metadata = json.loads(new_builder["labels"]["io.buildpacks.builder.metadata"])
    assert metadata["images"][0] == {"image": run2, "mirrors": [mirror]}
    assert platforms_of(extended) == platforms_of(mirror) == set(MACHINES)
    assert machines(extended) == MACHINES


@pytest.mark.usefixtures("as_found")
def test_upgrade_rebases_and_rebuilds_through_the_builder(
    engine: EngineEnv, cnbext: Cli, builder: Builder, tmp_path: Path
) -> None:
    base, name = engine.name("bk-base"), engine.name("bk-upgraded")
    push_base(engine, base, tmp_path, "v1")
    cnbext.write("extend.toml", extend_toml(base, 'owner = "ops"\nrebasable = true\n'))
    cli, flags = selected(cnbext, builder, "flag")
    published(cli("extend", name, "-c", "extend.toml", "--publish", *flags, "-o", "json"))

    push_base(engine, base, tmp_path, "v2")
    # upgrade has no --builder of its own: the global `cnbext --builder B upgrade` form.
    result = cnbext("--builder", builder.name, "upgrade", "--publish", name, "-o", "json")
    (image,) = published(result)
    assert (image["state"], image["method"]) == ("upgraded", "rebase")
    assert layers(name)[: len(layers(base))] == layers(base)

    push_base(engine, base, tmp_path, "v3")
    cli, _ = selected(cnbext, builder, "env")
    code, images = upgrade(cli, "--publish", "--rebase", "never", name)
    assert (code, images[0]["method"]) == (0, "rebuild"), images
    assert engine.registry_digest(name) == images[0]["digestAfter"] != images[0]["digestBefore"]
    assert run_fresh(name, "cat /base-version").strip() == "v3"


@pytest.mark.usefixtures("as_found")
def test_a_failed_build_names_nothing_and_moves_no_tag(
    engine: EngineEnv, builder_cli: Cli, builder: Builder
) -> None:
    # The run image (metadata only) is built and pushed by digest; the builder's push is
    # refused (a registry that wants a login nobody gave). Nothing may be named: the run
    # image's push by digest reached its repository but the name is not there, the mirror
    # keeps the digest it had, and there is no builder. (A failing install no longer gets this
    # far: what the builds install is read before anything is pushed.)
    run, mirror = (engine.name(n) for n in ("bk-fail-run", "bk-fail-m"))
    made = engine.name("bk-fail-builder", registry=engine.auth_registry)
    docker("buildx", "imagetools", "create", "-t", mirror, engine.run_image)
    mirror_digest = engine.registry_digest(mirror)
    builder_cli.write(
        "builder.toml",
        builder_toml(engine.build_image, engine.run_image)
        + '[extend.metadata.run]\nowner = "ops"\n',
    )
    result = builder_cli(
        *("create-builder", made, "-c", "builder.toml", "--run-image", run),
        *("--run-image-mirror", mirror, "--publish", "--builder", builder.name),
    )
    assert result.returncode == 6, result.stderr
    assert "not published" in result.stderr, result.stderr
    assert pushed_to(run) and not engine.in_registry(run)
    assert engine.registry_digest(mirror) == mirror_digest
    assert not pushed_to(made, (engine.auth_user, engine.auth_password))


@pytest.mark.usefixtures("as_found")
def test_a_reproducible_extend_with_an_extension_keeps_the_base_layers_on_the_builder(
    engine: EngineEnv, cnbext: Cli, builder: Builder, tmp_path: Path
) -> None:
    """With --source-date-epoch the image exporter clamps file times (rewrite-timestamp):
    two cold builds, the builder's cache pruned before each, are the same per platform, and
    each platform's base layers are still the base's own (so the image can be rebased)."""
    from tests.engine.test_reproducible_engine import EPOCH, platform_digests

    assert engine.multiarch_run_image is not None
    base = engine.multiarch_run_image
    extension = write_extension(tmp_path / "ext", "test/machine", "1.0.0", generate_script=GENERATE)
    cnbext.write("extend.toml", extend_toml(base, 'owner = "ops"\n'))
    made = []
    for label in ("bk-repro-a", "bk-repro-b"):
        docker("buildx", "prune", "-af", "--builder", builder.name)
        made.append(engine.name(label))
        result = cnbext(
            *("extend", made[-1], "-c", "extend.toml", "--publish", *BOTH),
            *("--extension", str(extension), "--builder", builder.name),
            *("--source-date-epoch", EPOCH, "--build-id", "fixed"),
        )
        assert result.returncode == 0, result.stderr
    first, second = (platform_digests(engine, name) for name in made)
    assert first == second and sorted(first) == sorted(MACHINES)
    based_on = platform_digests(engine, base)
    for platform, digest in second.items():
        config = engine.registry_config(f"{made[1].rsplit(':', 1)[0]}@{digest}")
        own = engine.registry_config(f"{base.rsplit(':', 1)[0]}@{based_on[platform]}")
        count = len(own["rootfs"]["diff_ids"])
        assert config["rootfs"]["diff_ids"][:count] == own["rootfs"]["diff_ids"], platform
