"""The client API behind the commands: plan with facts from the engine, then apply plans.

Commands stay thin (parse flags, print results); this layer owns the order of work and what
is promised when something fails half-way, like pack's pkg/client over its domain packages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnbext.config.extend import ExtendConfig
from cnbext.errors import PublishError
from cnbext.extend import ExtendOptions, check_options, plan_extend
from cnbext.imageref import parse_reference
from cnbext.plan import ExtendPlan, ImageBuild, PullPolicy
from cnbext.progress import Reporter

if TYPE_CHECKING:
    from cnbext.engine.docker import Engine


@dataclass(frozen=True)
class ImageResult:
    role: str
    names: tuple[str, ...]
    digest: str
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


class Client:
    def __init__(self, reporter: Reporter, *, network: str | None = None) -> None:
        self.reporter = reporter
        self.network = network
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            # Imported here so commands that never reach Docker never import its client.
            from cnbext.engine.docker import Engine

            engine = Engine(self.reporter, network=self.network)
            engine.ensure_available()
            self._engine = engine
        return self._engine

    def plan_extend(self, config: ExtendConfig, options: ExtendOptions) -> ExtendPlan:
        check_options(options)
        platform = options.platforms[0] if options.platforms else None
        base = self.engine.resolve_base(str(config.image), options.pull_policy, platform)
        return plan_extend(config, options, base)

    def apply(self, plan: ExtendPlan) -> list[ImageResult]:
        results = []
        published: list[str] = []
        for build in plan.builds:
            results.append(self._apply_build(build, plan, published))
        return results

    def _apply_build(
        self, build: ImageBuild, plan: ExtendPlan, published: list[str]
    ) -> ImageResult:
        pull = plan.pull_policy is PullPolicy.ALWAYS
        if not plan.publish:
            built = self.engine.build(build, publish=False, pull=pull)
            return ImageResult(
                build.role, build.names, built.digest, built.labels, build.platforms, False
            )
        try:
            built = self.engine.build(build, publish=True, pull=pull)
        except PublishError as err:
            raise _with_progress(err, published, list(build.names)) from None
        published.append(f"{build.primary_name}@{built.digest}")
        repository = parse_reference(build.primary_name).repository
        for index, name in enumerate(build.copies):
            not_yet = list(build.copies[index:])
            try:
                digest = self.engine.copy_by_digest(repository, built.digest, name)
            except PublishError as err:
                raise _with_progress(err, published, not_yet) from None
            if digest != built.digest:
                raise _with_progress(
                    PublishError(
                        f"{name} has digest {digest} after the copy, but {build.primary_name} "
                        f"has {built.digest}"
                    ),
                    published,
                    not_yet,
                )
            published.append(f"{name}@{digest}")
        return ImageResult(
            build.role, build.names, built.digest, built.labels, build.platforms, True
        )


def _with_progress(
    err: PublishError, published: list[str], not_published: list[str]
) -> PublishError:
    """Say exactly what is out there, so nobody has to guess after a half-finished publish."""
    lines = [err.message]
    lines.append("published: " + (", ".join(published) if published else "nothing"))
    if not_published:
        lines.append("not published: " + ", ".join(not_published))
    return PublishError("\n".join(lines), hint=err.hint)
