"""Applying a plan: build every image, publish in plan order, say what was published.

The promise on failure: a builder is never out there before the run image it names (the run
image and its mirrors are published first, mirrors copied by digest and checked), and an error
half-way says exactly which names were published and which were not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from cnbext.cnb.imageref import parse_reference
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

    def mark(self, name: str, digest: str) -> None:
        self.published.append(f"{name}@{digest}")
        if name in self.pending:
            self.pending.remove(name)


def apply_plan(engine: Engine, plan: Plan) -> tuple[ImageResult, ...]:
    """Build every image of the plan concurrently; publish them in plan order."""
    pull = plan.pull_policy is PullPolicy.ALWAYS
    if not plan.publish:
        built = _concurrently(
            [partial(engine.build, b, publish=False, pull=pull) for b in plan.builds]
        )
        return tuple(
            ImageResult(b.role, b.names, r.digest, r.labels, b.platforms, False)
            for b, r in zip(plan.builds, built, strict=True)
        )
    progress = _Progress(pending=[name for b in plan.builds for name in _names(b)])
    try:
        first, *later = plan.builds
        # The first image is pushed while the others build into the cache; their pushes
        # wait, so e.g. a builder is never out there before the run image it names.
        actions: list[Callable[[], ImageResult | None]] = [
            partial(_publish, engine, first, pull, progress),
            *[
                partial(engine.prebuild, one, pull=pull)
                for b in later
                for one in (b.per_platform or (b,))
            ],
        ]
        first_result = _concurrently(actions)[0]
        assert first_result is not None
        results = [first_result]
        for build in later:
            results.append(_publish(engine, build, pull, progress))
    except CnbextError as err:
        raise _with_progress(err, progress) from None
    return tuple(results)


def _names(build: ImageBuild) -> tuple[str, ...]:
    """Every name publishing ``build`` writes (per-platform names first, as they go first)."""
    own = tuple(b.primary_name for b in build.per_platform) if build.tag_platforms else ()
    return (*own, *build.names)


def _publish(engine: Engine, build: ImageBuild, pull: bool, progress: _Progress) -> ImageResult:
    if build.per_platform:
        digest, labels = _publish_per_platform(engine, build, pull, progress), build.result_labels
    else:
        built = engine.build(build, publish=True, pull=pull)
        digest, labels = built.digest, built.labels
    progress.mark(build.primary_name, digest)
    repository = parse_reference(build.primary_name).repository
    for name in build.copies:
        _check_copy(name, engine.copy_by_digest(repository, digest, name), build, digest)
        progress.mark(name, digest)
    return ImageResult(build.role, build.names, digest, labels, build.platforms, True)


def _publish_per_platform(
    engine: Engine, build: ImageBuild, pull: bool, progress: _Progress
) -> str:
    """pack's multi-arch publish: each platform's image pushed under its own name (or, as
    pack does without --append-image-name-suffix, under the build's name, which the index
    then replaces), then all joined into one image index under the build's name. Own names
    differ from it only in their tag, so every image is in the index's repository."""
    sources = []
    for one in build.per_platform:
        digest = engine.push_platform_image(one, pull=pull)
        if build.tag_platforms:
            progress.mark(one.primary_name, digest)
        sources.append(f"{parse_reference(one.primary_name).repository}@{digest}")
    return engine.create_index(build.primary_name, sources)


def _check_copy(name: str, digest: str, build: ImageBuild, expected: str) -> None:
    if digest != expected:
        raise PublishError(
            f"{name} has digest {digest} after the copy, but {build.primary_name} has {expected}"
        )


T = TypeVar("T")


def _concurrently(actions: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``actions`` in threads (each drives its own engine calls); results in order.
    The first failure is raised once every action has finished, so nothing keeps running."""
    if len(actions) == 1:
        return [actions[0]()]
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
