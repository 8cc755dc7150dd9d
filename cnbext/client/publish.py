"""Applying a plan: build every image, publish in plan order, say what was published.

Where the engine can push by digest (every BuildKit driver but docker's), each image is built
once: every build pushes its result under no name, all at once, and the names are given
afterwards registry-side (``imagetools create``), in plan order. With the docker driver, the
first image is pushed while the others build into the cache, and each is pushed in turn.
The promise on failure: a builder is never out there before the run image it names (the run
image and its mirrors are named first, mirrors copied by digest, concurrently, and checked); an
error half-way says exactly which names were published and which were not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from cnbext.cnb.imageref import parse_reference
from cnbext.engine.models import BuiltImage
from cnbext.engine.protocol import Engine
from cnbext.errors import CnbextError, PublishError
from cnbext.plan.model import ImageBuild, Plan, PullPolicy


@dataclass(frozen=True)
class ImageResult:
    """One image a command made: loaded into the daemon, or published under every name."""

    role: str
    names: tuple[str, ...]
    digest: str  # the registry digest when published, else the local image id
    labels: dict[str, str]
    platforms: tuple[str, ...]
    published: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "names": list(self.names),
            "digest": self.digest,
            "platforms": list(self.platforms),
            "published": self.published,
            "labels": dict(self.labels),
        }


@dataclass
class _Progress:
    """Names published so far (name@digest) and names not published yet."""

    published: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # mirrors are copied concurrently

    def mark(self, name: str, digest: str) -> None:
        with self._lock:
            self.published.append(f"{name}@{digest}")
            if name in self.pending:
                self.pending.remove(name)


def apply_plan(engine: Engine, plan: Plan) -> tuple[ImageResult, ...]:
    """Build every image of the plan concurrently, each once; then name them in plan order."""
    pull = plan.pull_policy is PullPolicy.ALWAYS
    builds = [partial(engine.build, b, publish=plan.publish, pull=pull) for b in plan.builds]
    if not plan.publish:
        built = _concurrently(builds)
        return tuple(
            ImageResult(b.role, b.names, r.digest, r.labels, b.platforms, False)
            for b, r in zip(plan.builds, built, strict=True)
        )
    progress = _Progress(pending=[name for b in plan.builds for name in b.names])
    try:
        return tuple(_publish(engine, plan.builds, pull, progress))
    except CnbextError as err:
        raise _with_progress(err, progress) from None


def _publish(
    engine: Engine, builds: Sequence[ImageBuild], pull: bool, progress: _Progress
) -> list[ImageResult]:
    """Build and push every image, naming them in plan order (a builder command's run image
    and its mirrors before the builder that names it)."""
    if len(builds) > 1 and engine.pushes_by_digest():
        # Every image is built once and pushed under no name, all at once, so a failed build
        # publishes nothing; names are given afterwards, by digest.
        pushed = _concurrently(
            [partial(engine.build, b, publish=True, pull=pull, by_digest=True) for b in builds]
        )
        return [_name(engine, b, r, progress) for b, r in zip(builds, pushed, strict=True)]
    # The engine pushes by name (BuildKit's docker driver): the first image is built and
    # pushed while the others build into the cache; each of those is pushed (a cached solve
    # and the push) only once the images before it are named.
    first, *later = builds
    actions: list[Callable[[], BuiltImage | None]] = [
        partial(engine.build, first, publish=True, pull=pull),
        *[partial(engine.prebuild, b, pull=pull) for b in later],
    ]
    first_built = _concurrently(actions)[0]
    assert first_built is not None
    results = [_name(engine, first, first_built, progress)]
    for build in later:
        built = engine.build(build, publish=True, pull=pull)
        results.append(_name(engine, build, built, progress))
    return results


def _name(engine: Engine, build: ImageBuild, built: BuiltImage, progress: _Progress) -> ImageResult:
    """Give a pushed image its first name (as an index, see docs/architecture.md), then its
    other names (copies, concurrently), each checked to have the first name's digest."""
    repository = parse_reference(build.primary_name).repository
    digest = engine.copy_by_digest(repository, built.digest, build.primary_name)
    progress.mark(build.primary_name, digest)

    def copy(name: str) -> None:
        copied = engine.copy_by_digest(repository, digest, name)
        if copied != digest:
            raise PublishError(
                f"{name} has digest {copied} after the copy, but {build.primary_name} has {digest}"
            )
        progress.mark(name, copied)

    _concurrently([partial(copy, name) for name in build.copies])
    return ImageResult(build.role, build.names, digest, built.labels, build.platforms, True)


T = TypeVar("T")


def _concurrently(actions: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``actions`` in threads (each drives its own engine calls); results in order.
    The first failure is raised once every action has finished, so nothing keeps running."""
    if len(actions) <= 1:
        return [action() for action in actions]
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        futures = [pool.submit(action) for action in actions]
        wait(futures)
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]


def _with_progress(err: CnbextError, progress: _Progress) -> CnbextError:
    """Say exactly what is out there, so nobody has to guess after a half-finished publish.
    The error keeps its own type and exit code."""
    published = ", ".join(progress.published) if progress.published else "nothing"
    lines = [err.message, f"published: {published}"]
    if progress.pending:
        lines.append("not published: " + ", ".join(progress.pending))
    err.message = "\n".join(lines)
    err.args = (err.message,)
    return err
