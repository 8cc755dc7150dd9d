"""Whether the engine answers: the Docker server's version and the buildx builder's driver.

Both are questions to other processes (`docker version`, `docker buildx inspect`), ~0.1 s of
waiting together; python-on-whales and pydantic under it are ~0.2 s of imports that every
build needs. So the two commands are started first, at the same time, and the caller
imports meanwhile (``Probe.start`` then ``Probe.answers``): a command pays for the slower
of the two instead of their sum.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from cnbext.errors import EngineError

_DAEMON_HINT = "start Docker (on a Debian machine as root: `make engine`)"


@dataclass(frozen=True)
class Answers:
    server_version: str
    driver: str
    identity: str  # driver, BuildKit version and snapshotter: what may change a layer's tar


class Probe:
    """`docker version` and `docker buildx inspect [BUILDER]`, running."""

    def __init__(self, version: subprocess.Popen[str], inspect: subprocess.Popen[str]) -> None:
        self._version = version
        self._inspect = inspect

    @classmethod
    def start(cls, docker: Sequence[str], builder: str | None) -> Probe:
        """Start both commands with ``docker`` (the client and its global flags)."""
        try:
            version = _spawn([*docker, "version", "--format", "{{.Server.Version}}"])
        except FileNotFoundError:
            raise EngineError("the docker client is not installed") from None
        return cls(version, _spawn(_inspect_command(docker, builder)))

    def answers(self) -> Answers:
        """What both said; EngineError naming what does not answer."""
        out, err = self._version.communicate()
        inspected, inspect_err = self._inspect.communicate()
        if self._version.returncode != 0:
            raise EngineError("no Docker daemon answers: " + _tail(err or out), hint=_DAEMON_HINT)
        driver, identity = _builder_answer(self._inspect.returncode, inspected, inspect_err)
        return Answers(out.strip(), driver, identity)


def inspect_builder(docker: Sequence[str], builder: str | None) -> tuple[str, str]:
    """The builder's driver and identity from `docker buildx inspect` alone (a caller that
    did not ask ``Probe``); EngineError as ``Probe.answers`` raises it."""
    inspect = _spawn(_inspect_command(docker, builder))
    output, errors = inspect.communicate()
    return _builder_answer(inspect.returncode, output, errors)


def _builder_answer(returncode: int, output: str, errors: str) -> tuple[str, str]:
    if returncode != 0:
        if "is not a docker command" in errors:
            raise EngineError(
                "docker buildx is not available", hint="install the docker-buildx plugin"
            )
        raise EngineError(f"the buildx builder does not answer: {_tail(errors)}")
    return parse_inspect(output)


def parse_inspect(output: str) -> tuple[str, str]:
    """The driver of `docker buildx inspect`'s builder, and its identity (driver, BuildKit
    version, snapshotter); EngineError when it reports an error or no driver."""
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in output.splitlines())
    )
    if fields.get("Error") or not fields.get("Driver"):
        raise EngineError(
            f"the buildx builder {fields.get('Name', '')} does not answer: "
            f"{fields.get('Error') or 'no driver'}"
        )
    buildkit = fields.get("BuildKit version") or fields.get("Buildkit") or ""
    snapshotter = fields.get("org.mobyproject.buildkit.worker.snapshotter", "")
    return fields["Driver"], f"{fields['Driver']} {buildkit} {snapshotter}"


def _inspect_command(docker: Sequence[str], builder: str | None) -> list[str]:
    return [*docker, "buildx", "inspect", *([builder] if builder else [])]


def _spawn(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _tail(text: str, lines: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"
