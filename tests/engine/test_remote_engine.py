"""Remote engines: every command publishes through a second Docker daemon (reached by
DOCKER_HOST, by a docker context, by --context) while the default daemon gains no image and
the remote one no base image: bases are read from the registry, never pulled into a daemon.

(--builder selects a builder made with `docker buildx create`, which needs a BuildKit image
or daemon this engine does not have; tests/engine/test_docker_commands.py checks that the
name reaches every buildx call.)"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import EXAMPLES, Cli, EngineEnv, extend_toml
from tests.fixtures.buildpacks import write_extension
from tests.fixtures.docker_daemon import Daemon, second_daemon

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def remote(engine: EngineEnv) -> Iterator[Daemon]:
    with second_daemon() as daemon:
        yield daemon


@pytest.fixture
def context(remote: Daemon) -> Iterator[str]:
    """A docker context for the second daemon, under a unique name, removed afterwards."""
    name = f"cnbext-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "context", "create", name, "--docker", f"host={remote.host}"],
        capture_output=True,
        check=True,
    )
    yield name
    subprocess.run(["docker", "context", "rm", "-f", name], capture_output=True)


def image_names(docker_args: tuple[str, ...] = ()) -> set[str]:
    """Every image a daemon lists (the default one without arguments), named or not."""
    listing = subprocess.run(
        [
            "docker",
            *docker_args,
            "image",
            "ls",
            "-a",
            "--format",
            "{{.Repository}}:{{.Tag}}@{{.ID}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(listing.split())


def remote_names(daemon: Daemon) -> set[str]:
    return {entry.split("@", 1)[0] for entry in image_names(("--host", daemon.host))}


def gained_only(daemon: Daemon, before: set[str], published: set[str]) -> set[str]:
    """What the remote daemon gained besides the names published through it (the docker
    driver's exporter pushes from the daemon's image store, so it keeps those): no base."""
    return remote_names(daemon) - before - published - {"<none>:<none>"}


def build_records(daemon: Daemon) -> int:
    """How many build cache records the daemon's BuildKit holds: it did the builds."""
    listing = daemon.docker("buildx", "du", "--verbose")
    return len([line for line in listing.splitlines() if line.startswith("ID:")])


def single_config(engine: EngineEnv, name: str) -> Any:
    """A published image's config; for an index of one platform, that platform's."""
    config: Any = engine.registry_config(name)
    if "history" not in config:
        (config,) = config.values()
    return config


def layers(engine: EngineEnv, name: str) -> list[str]:
    return list(single_config(engine, name)["rootfs"]["diff_ids"])


def published(cli: Cli, *args: str) -> list[dict[str, object]]:
    result = cli(*args, "--publish", "-o", "json", check=True)
    images: list[dict[str, object]] = json.loads(result.stdout)["images"]
    assert all(image["published"] for image in images)
    return images


def test_extend_publishes_through_docker_host(
    engine: EngineEnv, cnbext: Cli, remote: Daemon
) -> None:
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    name = engine.name("remote-host")
    before, records, remote_before = image_names(), build_records(remote), remote_names(remote)
    cnbext.env["DOCKER_HOST"] = remote.host
    (image,) = published(cnbext, "extend", name, "--config", "extend.toml")
    assert engine.registry_digest(name) == image["digest"]
    assert image_names() == before  # the default daemon gained nothing
    assert gained_only(remote, remote_before, {name}) == set()  # the remote one pulled no base
    assert build_records(remote) > records  # it built there


def test_extend_publishes_through_a_context_and_the_global_flag(
    engine: EngineEnv, cnbext: Cli, remote: Daemon, context: str
) -> None:
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["tree"]\n'))
    before, records, remote_before = image_names(), build_records(remote), remote_names(remote)
    by_env, by_flag = engine.name("remote-ctx-env"), engine.name("remote-ctx-flag")
    published(cnbext.with_env(DOCKER_CONTEXT=context), "extend", by_env, "-c", "extend.toml")
    published(cnbext, "--context", context, "extend", by_flag, "-c", "extend.toml")
    # The same build both ways (the provenance label names each image, so digests differ).
    assert layers(engine, by_env) == layers(engine, by_flag)
    assert image_names() == before
    assert gained_only(remote, remote_before, {by_env, by_flag}) == set()
    assert build_records(remote) > records


def test_builder_commands_publish_through_the_context(
    engine: EngineEnv, builder_cli: Cli, remote: Daemon, context: str
) -> None:
    before, remote_before = image_names(), remote_names(remote)
    builder, run = engine.name("remote-cb"), engine.name("remote-cb-run")
    created = published(
        builder_cli,
        "create-builder",
        builder,
        "-c",
        str(EXAMPLES / "builder.toml"),
        "--run-image",
        run,
        "--context",
        context,
    )
    assert [image["names"] for image in created] == [[run], [builder]]
    config = builder_cli.write(
        "extend-builder.toml",
        (EXAMPLES / "extend-builder" / "extend-builder.toml")
        .read_text()
        .replace("localhost:5000/examples/builder:bookworm", builder),
    )
    extended, extended_run = engine.name("remote-xb"), engine.name("remote-xb-run")
    mirror = engine.name("remote-xb-mirror")
    images = published(
        builder_cli.with_env(DOCKER_CONTEXT=context),
        "extend-builder",
        extended,
        "-e",
        str(config),
        "--run-image",
        extended_run,
        "--run-image-mirror",
        mirror,
    )
    assert [image["names"] for image in images] == [[extended_run, mirror], [extended]]
    assert engine.registry_digest(mirror) == engine.registry_digest(extended_run)
    assert image_names() == before
    published_names = {builder, run, extended, extended_run}
    assert gained_only(remote, remote_before, published_names) == set()


def test_extension_steps_build_through_the_context(
    engine: EngineEnv, cnbext: Cli, remote: Daemon, context: str, tmp_path: Path
) -> None:
    # The base exported as an OCI layout and each step built on it go to the remote engine's
    # BuildKit like every other build: the default daemon gains nothing.
    ext = write_extension(tmp_path / "ext", "test/remote", "1.0.0", detect_script=None)
    (ext / "generate").mkdir()
    (ext / "generate" / "run.Dockerfile").write_text(
        "ARG base_image\nFROM ${base_image}\nUSER root\n"
        "RUN echo remote > /etc/cnbext-remote\n"
        "ARG user_id\nARG group_id\nUSER ${user_id}:${group_id}\n"
    )
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    name = engine.name("remote-ext")
    before, records, remote_before = image_names(), build_records(remote), remote_names(remote)
    args = ("extend", name, "-c", "extend.toml", "--extension", str(ext))
    (image,) = published(cnbext, "--context", context, *args)
    assert engine.registry_digest(name) == image["digest"]
    assert image_names() == before
    assert gained_only(remote, remote_before, {name}) == set()
    assert build_records(remote) > records
    history = [str(entry.get("created_by", "")) for entry in single_config(engine, name)["history"]]
    assert any("Created by extension: test/remote" in entry for entry in history), history


def test_inspect_and_upgrade_read_the_engine_their_own_context_names(
    engine: EngineEnv, cnbext: Cli, remote: Daemon, context: str
) -> None:
    # An image only the remote daemon holds: inspect and upgrade find it there by their own
    # --context flag, and not in the default engine.
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    name = engine.name("remote-day2")
    before = image_names()
    cnbext("extend", name, "-c", "extend.toml", "--context", context, check=True)
    assert name in remote_names(remote)
    shown = cnbext("inspect", name, "--context", context, "-o", "json", check=True)
    document = json.loads(shown.stdout)
    assert document["source"] == "daemon"
    assert document["names"] == [name]  # its daemon tags
    assert cnbext("inspect", name).returncode == 4  # the default engine has no such image
    checked = cnbext("upgrade", "--check", name, "--context", context, "-o", "json", check=True)
    assert [image["state"] for image in json.loads(checked.stdout)["images"]] == ["up to date"]
    assert image_names() == before
