"""Whether the engine answers (cnbext.engine.availability), against stand-in `docker`
executables: both questions asked at once, and each way of not answering named. Not an
engine test: no daemon is asked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cnbext.engine.availability import Probe, inspect_builder, parse_inspect
from cnbext.errors import EngineError

INSPECT = """Name:          default
Driver:        docker
Nodes:
Name:             default
BuildKit version: v0.13.2
Labels:
 org.mobyproject.buildkit.worker.snapshotter:          overlayfs
"""

# Each command marks that it started, then waits (up to 10 s) for the other's mark: asked one
# after the other, the first would wait in vain and fail.
TOGETHER = f"""#!{sys.executable}
import sys, time
from pathlib import Path
here = Path(sys.argv[0]).parent
me, other = ("version", "inspect") if sys.argv[1] == "version" else ("inspect", "version")
(here / me).touch()
deadline = time.monotonic() + 10
while not (here / other).exists():
    if time.monotonic() > deadline:
        sys.exit("the other command never started")
    time.sleep(0.01)
print("28.2.2" if me == "version" else {INSPECT!r})
"""


def stand_in(folder: Path, body: str) -> list[str]:
    docker = folder / "docker"
    docker.write_text(body)
    docker.chmod(0o755)
    return [str(docker)]


def failing(folder: Path, command: str, stderr: str) -> list[str]:
    """A docker whose ``command`` (version, buildx) prints ``stderr`` and exits 1."""
    return stand_in(
        folder,
        f"#!{sys.executable}\nimport sys\n"
        f"if sys.argv[1] == {command!r}:\n    sys.exit({stderr!r})\n"
        "print('28.2.2' if sys.argv[1] == 'version' else 'Name: b\\nDriver: docker')\n",
    )


def test_both_questions_are_asked_at_once_and_answered(tmp_path: Path) -> None:
    answers = Probe.start(stand_in(tmp_path, TOGETHER), "default").answers()
    assert answers.server_version == "28.2.2"
    assert answers.driver == "docker"
    assert answers.identity == "docker v0.13.2 overlayfs"


def test_no_docker_client_is_named(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="the docker client is not installed"):
        Probe.start([str(tmp_path / "no-docker")], None)


def test_a_daemon_that_does_not_answer_is_named_with_what_docker_said(tmp_path: Path) -> None:
    docker = failing(tmp_path, "version", "Cannot connect to the Docker daemon at unix:///x")
    with pytest.raises(EngineError, match="no Docker daemon answers: Cannot connect") as raised:
        Probe.start(docker, None).answers()
    assert raised.value.hint is not None and "make engine" in raised.value.hint


def test_a_missing_buildx_plugin_is_named(tmp_path: Path) -> None:
    docker = failing(tmp_path, "buildx", "docker: 'buildx' is not a docker command.")
    with pytest.raises(EngineError, match="docker buildx is not available"):
        Probe.start(docker, None).answers()
    # The same answer when only the builder is asked (an engine whose check was not run).
    with pytest.raises(EngineError, match="docker buildx is not available"):
        inspect_builder(docker, None)
    working = failing(tmp_path, "none", "")
    assert inspect_builder(working, "b") == ("docker", "docker  ")


def test_a_builder_that_reports_an_error_is_named() -> None:
    with pytest.raises(EngineError, match="the buildx builder far does not answer: refused"):
        parse_inspect("Name: far\nDriver: remote\nError: refused\n")
    with pytest.raises(EngineError, match="no driver"):
        parse_inspect("Name: far\n")
