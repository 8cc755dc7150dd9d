"""What the engine reports about images: plain data, no Docker client behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BaseImage:
    """Facts about a base image that planning needs, read without running it."""

    reference: str  # as resolved (normalized)
    image_id: str
    user: str
    labels: dict[str, str]
    env: dict[str, str]
    os: str
    architecture: str
    os_release: str | None  # text of /etc/os-release (or /usr/lib/os-release), None if absent
    binaries: frozenset[str] = field(default_factory=frozenset)  # probed package-manager paths


@dataclass(frozen=True)
class BuiltImage:
    names: tuple[str, ...]
    digest: str  # registry manifest digest when published, else the local image id
    labels: dict[str, str]
    published: bool


@dataclass(frozen=True)
class PhaseRun:
    """One run of an extension executable (detect or generate) in a container."""

    image: str
    command: tuple[str, ...]
    env: dict[str, str]
    mounts: tuple[tuple[Path, str, bool], ...]  # host path, container path, read-only
    user: str
    workdir: str
    timeout: float
    platform: str | None = None


@dataclass(frozen=True)
class PhaseResult:
    exit_code: int | None  # None when it was killed for taking too long
    output: str  # the last lines of its output
    timed_out: bool
