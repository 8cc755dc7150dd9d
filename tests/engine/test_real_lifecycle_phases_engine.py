"""What cnbext makes, built by the real lifecycle's five phases, as pack runs an untrusted builder.

analyzer, detector, restorer, builder and exporter (lifecycle 0.21.17, CNB_PLATFORM_API=0.14)
run one after another in containers of the builder `cnbext create-builder` made, sharing a
volume at /layers and publishing to the loopback registry; each app is then run.

- A packaged image extension (wants-run-alt: a run.Dockerfile with only FROM) is run by the
  real detector; the run-image switch shows in analyzed.toml and in the app's
  io.buildpacks.lifecycle.metadata, and the app runs on the other run image.
- `cnbext extend-builder` publishes the run image on the auth registry and its mirror on the
  open one. With credentials for both, the analyzer picks the one on the app's registry (the
  mirror), and the app records it (its reference) with the run image and its mirrors. For an
  app on neither registry (the open registry under its other name, 127.0.0.1: another registry
  to the lifecycle, which compares registries by name) it takes the first it can read: the
  primary with credentials, the mirror without them (401), and the app builds from it.
- A primary that is gone (404) is not "cannot be read" to the lifecycle: it is still picked,
  with no digest, and the exporter fails.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from python_on_whales import DockerClient

from tests.engine.conftest import Cli, EngineEnv
from tests.fixtures.lifecycle_run import (
    APP_METADATA,
    Daemon,
    PhaseDirs,
    app_labels,
    insecure,
    phase,
    phase_dirs,
    phase_steps,
    recorded_run_image,
    run_app,
    run_phase,
    run_phases,
    served_digests,
)
from tests.fixtures.real_lifecycle import (
    LIFECYCLE_APPS,
    Made,
    RealLifecycle,
    builder_toml,
    extension_toml,
)

pytestmark = pytest.mark.engine

WANTS_RUN_ALT = LIFECYCLE_APPS / "wants-run-alt"
EXTENSIONS = extension_toml(WANTS_RUN_ALT, "cnbext-tests/wants-run-alt")


@pytest.fixture(scope="module")
def created(engine: EngineEnv, real_cli: tuple[Cli, RealLifecycle], daemon: Daemon) -> Made:
    """create-builder with the wants-run-alt extension, on the example stack."""
    cli, lifecycle = real_cli
    made = Made(engine.name("rl-ext-builder"), engine.run_image, "")
    toml = builder_toml(
        lifecycle, engine.build_image, engine.run_image, extend="", extensions=EXTENSIONS
    )
    config = cli.write("builder.toml", toml)
    cli("create-builder", made.builder, "-c", str(config), "--publish", check=True)
    daemon.note(made.builder)
    return made


def other_name(engine: EngineEnv) -> str:
    """The loopback registry under its other name: another registry to the lifecycle."""
    if not engine.registry.startswith("localhost:"):
        pytest.skip(f"the test registry {engine.registry} has no second name")
    return engine.registry.replace("localhost:", "127.0.0.1:", 1)


def basic_auth(engine: EngineEnv) -> str:
    token = f"{engine.auth_user}:{engine.auth_password}".encode()
    return "Basic " + base64.b64encode(token).decode()


def registry_auth(engine: EngineEnv) -> dict[str, str]:
    """The lifecycle's credentials for the auth registry, as pack passes them."""
    return {"CNB_REGISTRY_AUTH": json.dumps({engine.auth_registry: basic_auth(engine)})}


@pytest.fixture(scope="module")
def mirrored(
    engine: EngineEnv,
    created: Made,
    real_cli: tuple[Cli, RealLifecycle],
    daemon: Daemon,
    tmp_path_factory: pytest.TempPathFactory,
) -> Made:
    """extend-builder: the run image (tree added) on the auth registry, its mirror on the open
    one, where the apps go."""
    cli, _ = real_cli
    docker_config = tmp_path_factory.mktemp("docker-config")
    DockerClient(config=str(docker_config)).login(
        engine.auth_registry, engine.auth_user, engine.auth_password
    )
    primary = engine.name("rl-primary", registry=engine.auth_registry)
    made = Made(engine.name("rl-mirrored"), primary, engine.name("rl-mirror"))
    config = cli.write(
        "extend-builder.toml",
        f'[extend]\nimage = "{created.builder}"\n[extend.metadata.run]\npackages = ["tree"]\n',
    )
    cli.with_env(DOCKER_CONFIG=str(docker_config))(
        "extend-builder", made.builder, "-e", str(config), "--run-image", made.run_image,
        "--run-image-mirror", made.mirror, "--publish", check=True,
    )  # fmt: skip
    daemon.note(made.builder, made.run_image, made.mirror)
    return made


@pytest.fixture
def source(app_source: Path) -> Iterator[PhaseDirs]:
    """A fresh /layers volume for the module's app."""
    with phase_dirs(app_source) as dirs:
        yield dirs


def repository(reference: str) -> str:
    return re.split(r"@|:(?=[^/]*$)", reference)[0]


def assert_built_on(reference: str, image: str) -> None:
    """``reference`` is a digest reference of what ``image`` serves."""
    name, digest = reference.split("@")
    assert name == repository(image)
    assert digest in served_digests(image)


def test_the_real_detector_runs_a_packaged_extension_that_switches_the_run_image(
    engine: EngineEnv, created: Made, daemon: Daemon, tmp_path: Path
) -> None:
    alt = f"{engine.registry}/cnbext-examples/run-alt:bookworm"
    app_dir = tmp_path / "wants-alt"
    app_dir.mkdir()
    (app_dir / "run-image").write_text(alt + "\n")
    app_dir.chmod(0o755)
    app = engine.name("rl-app-alt")

    with phase_dirs(app_dir) as dirs:
        runs = run_phases(daemon, created.builder, app, dirs, [engine.registry])

    # The analyzer took the builder's run image; the detector ran the extension's detect and
    # generate, and its FROM switched the run image (no extension of it: FROM only).
    assert runs["analyzer"].analyzed["run-image"]["image"] == created.run_image
    assert re.search(r"^cnbext-tests/wants-run-alt +0\.0\.1$", runs["detector"].output, re.M)
    switched = runs["detector"].analyzed["run-image"]
    assert (switched["image"], switched["reference"]) == (alt, alt)
    assert not switched.get("extend", False)
    # The restorer resolved it to a digest and read its target.
    restored = runs["restorer"].analyzed["run-image"]
    assert_built_on(restored["reference"], alt)
    assert restored["target"]["os"] == "linux"

    metadata = recorded_run_image(app)
    assert metadata["image"] == alt and not metadata.get("mirrors")
    assert metadata["reference"] == restored["reference"]
    labels = app_labels(app)
    assert labels["io.cnbext.examples.variant"] == "alt"  # the run-alt image's own label
    build = labels["io.buildpacks.build.metadata"]
    assert '"id":"cnbext-tests/wants-run-alt"' in build
    assert "hello from a cnbext example builder" in run_app(daemon, app)
    variant = run_app(daemon, app, "/etc/cnbext-run-variant", entrypoint="cat")
    assert variant.strip() == "alternative run image"


def test_an_app_records_the_run_image_mirror_on_its_own_registry(
    engine: EngineEnv, mirrored: Made, daemon: Daemon, source: PhaseDirs
) -> None:
    app = engine.name("rl-app-mirror")
    registries = [engine.registry, engine.auth_registry]

    # The primary can be read (the lifecycle has its credentials) but is on another registry.
    runs = run_phases(daemon, mirrored.builder, app, source, registries, registry_auth(engine))

    assert runs["analyzer"].analyzed["run-image"]["image"] == mirrored.mirror
    assert_records_mirror(app, mirrored)
    report = run_app(daemon, app, "-c", "command -v tree", entrypoint="sh")
    assert report.strip() == "/usr/bin/tree"  # the run package of the extended run image
    assert "hello from a cnbext example builder" in run_app(daemon, app)


def assert_records_mirror(app: str, made: Made) -> None:
    """The app names the run image and its mirrors, and was built on the mirror."""
    run_image = recorded_run_image(app)
    assert (run_image["image"], run_image["mirrors"]) == (made.run_image, [made.mirror])
    assert_built_on(run_image["reference"], made.mirror)
    assert APP_METADATA in app_labels(app)


def analyzed_run_image(
    daemon: Daemon, made: Made, app: str, dirs: PhaseDirs, registries: list[str], **env: str
) -> dict[str, Any]:
    """The run image the analyzer alone picks for ``app``."""
    analyzer = run_phase(
        daemon, made.builder, "analyzer", dirs, [*insecure(registries), app], root=True, env=env
    )
    dirs.remove()
    run_image: dict[str, Any] = analyzer.analyzed["run-image"]
    return run_image


def test_an_app_builds_from_the_mirror_when_the_run_image_cannot_be_read(
    engine: EngineEnv, mirrored: Made, daemon: Daemon, source: PhaseDirs
) -> None:
    # An app on neither registry: the lifecycle takes the first run image it may read.
    other = other_name(engine)
    app = engine.name("rl-app-fallback", registry=other)
    registries = [other, engine.registry, engine.auth_registry]
    # With its credentials, the primary.
    picked = analyzed_run_image(daemon, mirrored, app, source, registries, **registry_auth(engine))
    assert picked["image"] == mirrored.run_image

    # Without them the primary answers 401: the mirror, and the app builds on it.
    runs = run_phases(daemon, mirrored.builder, app, source, registries)

    assert runs["analyzer"].analyzed["run-image"]["image"] == mirrored.mirror
    assert_records_mirror(app, mirrored)
    assert "hello from a cnbext example builder" in run_app(daemon, app)


MANIFEST_TYPES = ", ".join(
    f"application/vnd.{kind}"
    for kind in (
        "oci.image.index.v1+json",
        "oci.image.manifest.v1+json",
        "docker.distribution.manifest.list.v2+json",
        "docker.distribution.manifest.v2+json",
    )
)


def delete_from_registry(engine: EngineEnv, reference: str) -> None:
    """Removes ``reference``'s manifest from the auth registry (by digest: its tag goes too)."""
    registry, path = reference.split("/", 1)
    manifests = f"http://{registry}/v2/{repository(path)}/manifests"
    auth = {"Authorization": basic_auth(engine)}
    tag = path.rsplit(":", 1)[1]
    head = urllib.request.Request(
        f"{manifests}/{tag}", method="HEAD", headers={**auth, "Accept": MANIFEST_TYPES}
    )
    with urllib.request.urlopen(head) as response:
        digest = response.headers["Docker-Content-Digest"]
    delete = urllib.request.Request(f"{manifests}/{digest}", method="DELETE", headers=auth)
    with urllib.request.urlopen(delete) as response:
        assert response.status == 202, response.read()


def test_a_run_image_that_is_gone_is_still_picked_and_the_export_fails(
    engine: EngineEnv, mirrored: Made, daemon: Daemon, source: PhaseDirs
) -> None:
    """Not found is not "cannot be read" to the lifecycle (only 401 and 403 are): it keeps the
    primary, with no digest, and the exporter stops. Runs last: it deletes the primary."""
    other = other_name(engine)
    app = engine.name("rl-app-gone", registry=other)
    registries = [other, engine.registry, engine.auth_registry]
    delete_from_registry(engine, mirrored.run_image)

    auth = registry_auth(engine)
    steps = phase_steps(app, registries)
    runs = {
        name: run_phase(
            daemon, mirrored.builder, name, source, args, root=root, env=auth if root else None
        )
        for name, (args, root) in steps.items()
        if name != "exporter"
    }
    args, _ = steps["exporter"]
    exporter = phase(
        daemon, mirrored.builder, "exporter", args, dirs=source, root=True, env=auth, check=False
    )

    assert f'Image with name "{mirrored.run_image}" not found' in runs["analyzer"].output
    picked = runs["analyzer"].analyzed["run-image"]
    assert (picked["image"], picked["reference"]) == (mirrored.run_image, "")
    assert runs["restorer"].analyzed["run-image"]["reference"] == ""  # nor has the restorer
    assert exporter.returncode != 0
    assert "run image not found in analyzed metadata" in exporter.stdout + exporter.stderr
    assert not engine.in_registry(app)
