"""Applying a plan: build every image, publish in plan order, say what was published.

Where the engine can push by digest (every BuildKit driver but docker's), each image is built
once: every build pushes its result under no name, all at once, and the names are given
afterwards registry-side (``imagetools create``), in plan order. With the docker driver, the
first image is pushed while the others build into the cache, and each is pushed in turn.
A builder with several targets is one image per platform joined into an index under its name
(pack's way); its platforms' images are pushed by digest with the rest, or by name in its turn
(the docker driver, or own ``-os-arch`` names).
The promise on failure: a builder is never out there before the run image it names (the run
image and its mirrors are named first, mirrors copied by digest, concurrently, and checked); an
error half-way says exactly which names were published and which were not.
With a signing key, each image's digest is signed in the repository of every name (a cosign
signature lives beside the image, so a copy by digest has none) and verified under every name
before the next image is named: a name whose signature does not verify fails like a mirror
whose digest differs, and the builder is not named. Its attestations (cnbext.client.attestations:
the SLSA provenance, each platform's SBOM) are attached and verified the same way, after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cnbext.client.concurrency import concurrently
from cnbext.client.sbom import sbom_documents
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
        built = concurrently(builds)
        return tuple(
            ImageResult(b.role, b.names, r.digest, r.labels, b.platforms, False)
            for b, r in zip(plan.builds, built, strict=True)
        )
    progress = _Progress(pending=[name for b in plan.builds for name in _names(b)])
    name = partial(_name, engine, pull=pull, progress=progress, sign_key=plan.sign_key)
    try:
        return tuple(_publish(engine, plan.builds, pull, name))
    except CnbextError as err:
        raise _with_progress(err, progress) from None


def _names(build: ImageBuild) -> tuple[str, ...]:
    """Every name publishing ``build`` writes (per-platform names first, as they go first)."""
    own = tuple(b.primary_name for b in build.per_platform) if build.tag_platforms else ()
    return (*own, *build.names)


_Namer = Callable[[ImageBuild, "tuple[BuiltImage, ...] | None"], ImageResult]


def _publish(
    engine: Engine, builds: Sequence[ImageBuild], pull: bool, name: _Namer
) -> list[ImageResult]:
    """Build and push every image, naming them in plan order (a builder command's run image
    and its mirrors before the builder that names it)."""
    if len(builds) > 1 and engine.pushes_by_digest():
        # Every image is built once and pushed under no name, all at once, so a failed build
        # publishes nothing; names are given afterwards, by digest.
        pushed = concurrently([partial(_push_unnamed, engine, b, pull) for b in builds])
        return [name(b, r) for b, r in zip(builds, pushed, strict=True)]
    # The engine pushes by name (BuildKit's docker driver): the first image is built and
    # pushed while the others build into the cache; each of those is pushed (a cached solve
    # and the push) only once the images before it are named.
    first, *later = builds
    actions: list[Callable[[], ImageResult | None]] = [
        partial(name, first, None),
        *[
            partial(engine.prebuild, one, pull=pull)
            for b in later
            for one in (b.per_platform or (b,))
        ],
    ]
    first_result = concurrently(actions)[0]
    assert first_result is not None
    results = [first_result]
    for build in later:
        results.append(name(build, None))
    return results


def _push_unnamed(engine: Engine, build: ImageBuild, pull: bool) -> tuple[BuiltImage, ...]:
    """Push ``build`` under no name (each platform's image, for a per-platform build). A
    per-platform build whose images get their own names is only built into the cache: those
    names are pushed in plan order, as pack pushes them (a plain image, not a copy)."""
    if build.tag_platforms:
        concurrently([partial(engine.prebuild, one, pull=pull) for one in build.per_platform])
        return ()
    return tuple(
        concurrently(
            [
                partial(engine.build, one, publish=True, pull=pull, by_digest=True)
                for one in (build.per_platform or (build,))
            ]
        )
    )


def _name(
    engine: Engine,
    build: ImageBuild,
    pushed: tuple[BuiltImage, ...] | None,
    *,
    pull: bool,
    progress: _Progress,
    sign_key: str | None,
) -> ImageResult:
    """Give ``build`` its first name (an index, see docs/architecture.md), pushing it first
    when ``pushed`` is None; then its other names (copies, concurrently), each checked to have
    the first name's digest; then, with ``sign_key``, sign and verify it under every name."""
    repository = parse_reference(build.primary_name).repository
    platform_digests: dict[str, str] = {}
    if build.per_platform:
        digests = [p.digest for p in pushed] if pushed else None
        digest, platform_digests = _join_platforms(engine, build, digests, pull, progress)
        labels = dict(build.result_labels)
    else:
        built = pushed[0] if pushed else engine.build(build, publish=True, pull=pull)
        digest = engine.copy_by_digest(repository, built.digest, build.primary_name)
        labels = built.labels
    progress.mark(build.primary_name, digest)

    def copy(name: str) -> None:
        copied = engine.copy_by_digest(repository, digest, name)
        if copied != digest:
            raise PublishError(
                f"{name} has digest {copied} after the copy, but {build.primary_name} has {digest}"
            )
        progress.mark(name, copied)

    concurrently([partial(copy, name) for name in build.copies])
    if sign_key is not None:
        from cnbext.client.attestations import attest_names, image_attestations

        sign_names(engine, build.names, digest, sign_key)
        sboms = sbom_documents(build, digest, platform_digests)
        attest_names(engine, build.names, image_attestations(labels, digest, sboms), sign_key)
    return ImageResult(build.role, build.names, digest, labels, build.platforms, True)


def sign_names(engine: Engine, names: Sequence[str], digest: str, key: str) -> None:
    """Sign ``digest`` in the repository of each of ``names`` (once per repository: names
    that differ only in their tag share the signature), then verify it under every name; any
    name that does not verify fails the publish before anything after it."""
    by_name = {name: f"{parse_reference(name).repository}@{digest}" for name in names}
    concurrently([partial(engine.sign, ref, key) for ref in dict.fromkeys(by_name.values())])
    reasons = concurrently([partial(engine.verify_signature, ref, key) for ref in by_name.values()])
    unverified = [f"{n}: {why}" for n, why in zip(by_name, reasons, strict=True) if why]
    if unverified:
        raise PublishError(
            f"the signature of {names[0]}@{digest} does not verify under " + "; ".join(unverified),
            hint="the registry may refuse or drop signature tags (sha256-<hex>.sig)",
        )


def _join_platforms(
    engine: Engine,
    build: ImageBuild,
    digests: list[str] | None,
    pull: bool,
    progress: _Progress,
) -> tuple[str, dict[str, str]]:
    """pack's multi-arch publish: each platform's image pushed (under its own name, or, as
    pack does without --append-image-name-suffix, under the build's name, which the index
    then replaces; or already under no name: ``digests``), then all joined into one image
    index under the build's name. Own names differ from it only in their tag, so every image
    is in the index's repository. The index's digest, and each platform's image's."""
    if digests is None:
        digests = []
        for one in build.per_platform:
            digest = engine.push_platform_image(one, pull=pull)
            if build.tag_platforms:
                progress.mark(one.primary_name, digest)
            digests.append(digest)
    sources = [
        f"{parse_reference(one.primary_name).repository}@{digest}"
        for one, digest in zip(build.per_platform, digests, strict=True)
    ]
    own = {one.platforms[0]: d for one, d in zip(build.per_platform, digests, strict=True)}
    return engine.create_index(build.primary_name, sources), own


def nothing_published(err: CnbextError, plan: Plan) -> CnbextError:
    """``err`` from the work before the first push (extension steps, reading what the builds
    install), saying so: every name of the plan is still to be published."""
    return _with_progress(err, _Progress(pending=[n for b in plan.builds for n in _names(b)]))


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
