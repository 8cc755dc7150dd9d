"""Engine tests run real builds: the session starts the local engine and example stack itself.

`scripts/engine.sh up` is idempotent (about a second when everything is up), so running
`pytest` alone works on a fresh Debian machine as well as after `make engine`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from python_on_whales import DockerClient

from tests.fixtures.daemon_health import answers, daemon_socket, log_tail
from tests.fixtures.http_server import serve_directory
from tests.fixtures.lifecycle_fixture import make_lifecycle_archive
from tests.fixtures.lifecycle_run import Daemon
from tests.fixtures.real_lifecycle import RealLifecycle, verified_real_lifecycle

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EngineEnv:
    registry: str
    auth_registry: str
    auth_user: str
    auth_password: str
    fixture_image: str
    run_image: str
    build_image: str
    multiarch_run_image: str | None  # None where the engine has no arm64 emulation
    docker: DockerClient
    multiarch_build_image: str | None = None  # as multiarch_run_image
    buildkit_image: str | None = None  # None where ../shared/buildkit is absent

    def name(self, label: str, tag: str = "test", registry: str | None = None) -> str:
        """A fresh image name per call, so tests never see each other's images."""
        return f"{registry or self.registry}/cnbext-tests/{label}-{uuid.uuid4().hex[:10]}:{tag}"

    def labels(self, reference: str) -> dict[str, str]:
        image = self.docker.image.inspect(reference)
        return dict(image.config.labels or {})

    def registry_digest(self, reference: str) -> str:
        out = subprocess.run(
            [
                "docker",
                "buildx",
                "imagetools",
                "inspect",
                "--format",
                "{{json .Manifest}}",
                reference,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return str(json.loads(out.stdout)["digest"])

    def registry_config(self, reference: str) -> dict[str, Any]:
        out = subprocess.run(
            ["docker", "buildx", "imagetools", "inspect", "--format", "{{json .Image}}", reference],
            capture_output=True,
            text=True,
            check=True,
        )
        config: dict[str, Any] = json.loads(out.stdout)
        return config

    def in_registry(self, reference: str) -> bool:
        return _in_registry(reference)

    def image_list(self) -> set[str]:
        """Every image in the daemon, dangling ones included: ``<id> <repository>:<tag>``."""
        out = subprocess.run(
            [
                "docker",
                "image",
                "ls",
                "-a",
                "--no-trunc",
                "--format",
                "{{.ID}} {{.Repository}}:{{.Tag}}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return set(out.stdout.split("\n")) - {""}

    def run(self, reference: str, command: str) -> str:
        output = self.docker.run(reference, ["sh", "-c", command], remove=True)
        return str(output)


def _in_registry(reference: str) -> bool:
    result = subprocess.run(
        ["docker", "buildx", "imagetools", "inspect", reference], capture_output=True
    )
    return result.returncode == 0


@pytest.fixture(autouse=True)
def daemon_still_answers(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each engine test: end the session if the daemon stopped answering, naming the
    test and showing the daemon's last log lines, instead of failing every later test."""
    yield
    path = daemon_socket()
    if path is not None and not answers(path):
        pytest.exit(
            f"the Docker daemon on {path} stopped answering during or after "
            f"{request.node.nodeid}; its log ends:\n{log_tail()}",
            returncode=3,
        )


@pytest.fixture(scope="session")
def engine() -> Iterator[EngineEnv]:
    """The engine every engine test uses. When the session ends, the names its tests made in
    the daemon (``…/cnbext-tests/…``: the docker driver keeps what it pushes, and a failed
    test cleans up nothing) are removed: the daemon holds what it held before."""
    made_before = _test_names()
    yield _engine_env()
    left = sorted(_test_names() - made_before)
    if left:
        subprocess.run(["docker", "image", "rm", "--force", *left], capture_output=True)


def _test_names() -> set[str]:
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
    )
    return {name for name in listed.stdout.split() if "/cnbext-tests/" in name}


def _engine_env() -> EngineEnv:
    for script in ("engine.sh", "example-stack.sh"):
        args = ["bash", str(REPO / "scripts" / script)] + (["up"] if script == "engine.sh" else [])
        result = subprocess.run(args, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"{script} failed:\n{result.stdout}\n{result.stderr}")
    env_lines = subprocess.run(
        ["bash", str(REPO / "scripts" / "engine.sh"), "env"], capture_output=True, text=True
    ).stdout.splitlines()
    values = dict(line.split("=", 1) for line in env_lines if "=" in line)
    registry = values["CNBEXT_TEST_REGISTRY"]
    multiarch = f"{registry}/cnbext-examples/run-multiarch:bookworm"
    multiarch_build = f"{registry}/cnbext-examples/build-multiarch:bookworm"
    buildkit = values["CNBEXT_TEST_BUILDKIT_IMAGE"]
    return EngineEnv(
        registry=registry,
        auth_registry=values["CNBEXT_TEST_AUTH_REGISTRY"],
        auth_user=values["CNBEXT_TEST_REGISTRY_USER"],
        auth_password=values["CNBEXT_TEST_REGISTRY_PASSWORD"],
        fixture_image=values["CNBEXT_TEST_BASE_IMAGE"],
        run_image=f"{registry}/cnbext-examples/run:bookworm",
        build_image=f"{registry}/cnbext-examples/build:bookworm",
        multiarch_run_image=multiarch if _in_registry(multiarch) else None,
        docker=DockerClient(),
        multiarch_build_image=multiarch_build if _in_registry(multiarch_build) else None,
        buildkit_image=buildkit if _in_registry(buildkit) else None,
    )


@dataclass
class Cli:
    """Runs the installed CLI for real (`python -m cnbext`), as a user would."""

    workdir: Path
    env: dict[str, str]

    def __call__(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "cnbext", *args],
            capture_output=True,
            text=True,
            cwd=self.workdir,
            env=self.env,
            timeout=900,
        )
        if check and result.returncode != 0:
            pytest.fail(f"cnbext {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def with_env(self, **values: str) -> Cli:
        """The same CLI with more environment (e.g. DOCKER_CONTEXT) for one call."""
        return Cli(self.workdir, {**self.env, **values})

    def write(self, name: str, text: str) -> Path:
        path = self.workdir / name
        path.write_text(text)
        return path


@pytest.fixture
def cnbext(tmp_path: Path, engine: EngineEnv) -> Iterator[Cli]:
    env = {**os.environ, "CNBEXT_NETWORK": os.environ.get("CNBEXT_NETWORK", "host")}
    yield Cli(tmp_path, env)


def extend_toml(image: str, metadata: str) -> str:
    return f'[extend]\nimage = "{image}"\n\n[extend.metadata]\n{metadata}'


def assert_locked_gone(
    cnbext: Cli, engine: EngineEnv, name: str, args: list[str], spec: str, command: str = "extend"
) -> None:
    """``cnbext <command> name *args`` (a lock with ``spec``, a version the repositories do
    not have, and --locked) fails cleanly: exit 5, the spec named, nothing published."""
    failed = cnbext(command, name, *args)
    assert failed.returncode == 5, failed.stderr
    assert f"locked versions are no longer available: {spec}" in failed.stderr
    assert "nothing was published" in failed.stderr
    assert not engine.docker.image.exists(name)


EXAMPLES = REPO / "builder-examples"


@pytest.fixture
def leftovers(engine: EngineEnv) -> Iterator[list[str]]:
    """Names the test publishes; the docker driver also keeps what it pushes in the daemon,
    removed afterwards."""
    names: list[str] = []
    yield names
    present = [name for name in names if engine.docker.image.exists(name)]
    if present:
        engine.docker.image.remove(present, force=True)


@pytest.fixture(scope="session")
def lifecycle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lifecycle-releases")
    # One archive per architecture (each distinct), and an older release for version shorthands.
    for arch in ("amd64", "arm64"):
        make_lifecycle_archive(root / "v0.21.0", version="0.21.0", arch=arch)
    make_lifecycle_archive(root / "v0.20.0", version="0.20.0")
    with serve_directory(root) as served:
        yield served.base_url


@pytest.fixture
def builder_cli(cnbext: Cli, lifecycle_server: str, tmp_path: Path) -> Cli:
    cnbext.env["CNBEXT_LIFECYCLE_BASE_URL"] = lifecycle_server
    cnbext.env["CNBEXT_CACHE_DIR"] = str(tmp_path / "cache")
    return cnbext


@pytest.fixture(scope="session")
def example_builder(
    engine: EngineEnv, lifecycle_server: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """The example builder and its extended run image, built once for every test."""
    work = tmp_path_factory.mktemp("example-builder")
    cli = Cli(
        work,
        {
            **os.environ,
            "CNBEXT_NETWORK": "host",
            "CNBEXT_LIFECYCLE_BASE_URL": lifecycle_server,
            "CNBEXT_CACHE_DIR": str(work / "cache"),
        },
    )
    builder, run = engine.name("builder"), engine.name("run")
    cli(
        "create-builder",
        builder,
        "-c",
        str(EXAMPLES / "builder.toml"),
        "--run-image",
        run,
        check=True,
    )
    return builder, run


def label_json(engine: EngineEnv, image: str, name: str) -> Any:
    return json.loads(engine.labels(image)[name])


def layers_rebasable(labels: dict[str, str]) -> Any:
    """cnbext's judgement of an image's own layers, as its provenance records it: the image
    itself carries no io.buildpacks.rebasable of cnbext's (apps would inherit it)."""
    return json.loads(labels["io.cnbext.provenance"]).get("rebasable")


# The real lifecycle (test_real_lifecycle*_engine.py): one set per module.


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    pulled = Daemon()
    yield pulled
    pulled.clean()


@pytest.fixture(scope="module")
def real_cli(
    engine: EngineEnv, tmp_path_factory: pytest.TempPathFactory, daemon: Daemon
) -> Iterator[tuple[Cli, RealLifecycle]]:
    lifecycle = verified_real_lifecycle()
    work = tmp_path_factory.mktemp("real-lifecycle")
    env = {
        **os.environ,
        "CNBEXT_NETWORK": "host",
        "CNBEXT_LIFECYCLE_BASE_URL": str(lifecycle.folder),
        "CNBEXT_CACHE_DIR": str(work / "cache"),
    }
    yield Cli(work, env), lifecycle


@pytest.fixture(scope="module")
def app_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("app")
    (source / "README").write_text("a tiny app: the buildpacks need nothing from it\n")
    source.chmod(0o755)  # the phases run as the CNB user, with /workspace as their cwd
    return source
