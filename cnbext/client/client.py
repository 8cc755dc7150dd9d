"""The client API behind the commands: plan with facts from the engine, then apply plans.

Commands stay thin (parse flags, print results); this layer owns the order of work and what
is promised when something fails half-way, like pack's pkg/client over its domain packages.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cnbext.client.progress import Reporter
from cnbext.cnb.imageref import parse_reference
from cnbext.config.builder import BuilderConfig
from cnbext.config.extend import ExtendConfig
from cnbext.config.extend_builder import ExtendBuilderConfig
from cnbext.errors import CnbextError, PublishError
from cnbext.plan.create_builder import BuilderOptions, plan_create_builder
from cnbext.plan.create_builder import check_options as check_builder_options
from cnbext.plan.extend import ExtendOptions, check_options, extension_kind, plan_extend
from cnbext.plan.extend_builder import check_options as check_extend_builder_options
from cnbext.plan.extend_builder import plan_extend_builder, read_builder
from cnbext.plan.model import ImageBuild, Plan, PullPolicy

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

    def plan_extend(
        self, config: ExtendConfig, options: ExtendOptions, work_dir: Path | None = None
    ) -> Plan:
        """Read the base image, run any image extensions on it (their outputs live under
        ``work_dir``, which must outlive :meth:`apply`), then plan."""
        from cnbext.client.extensions import ExtensionRun, extension_plans
        from cnbext.cnb.dockerfile import DockerfileKind

        check_options(options)
        platform = options.platforms[0] if options.platforms else None
        base = self.engine.resolve_base(str(config.image), options.pull_policy, platform)
        requests = (*config.extensions, *options.extensions)
        if not requests:
            return plan_extend(config, options, base)
        if work_dir is None:
            raise ValueError("extensions need a work_dir that outlives apply()")
        # The image is its own build image here: detect and generate run in it, as its user.
        plans = extension_plans(
            self.engine,
            self.reporter,
            ExtensionRun(
                requests=requests,
                build_image=base,
                run_image=base,
                platform_env=options.platform_env,
                app_dir=options.app_dir,
                base_dir=config.source_dir,
                work_dir=work_dir,
            ),
        )
        if extension_kind(base) is DockerfileKind.RUN and plans.run.switched_to:
            base = self.engine.resolve_base(plans.run.switched_to, options.pull_policy, platform)
        return plan_extend(config, options, base, plans)

    def plan_create_builder(
        self, config: BuilderConfig, options: BuilderOptions, work_dir: Path
    ) -> Plan:
        """Read the base images, fetch and stage every module and the lifecycle under
        ``work_dir`` (which must outlive :meth:`apply`), then plan."""
        from cnbext.client.builder_inputs import gather_builder_inputs

        check_builder_options(options, config)
        inputs = gather_builder_inputs(self.engine, self.reporter, config, options, work_dir)
        return plan_create_builder(config, options, inputs)

    def plan_extend_builder(
        self, config: ExtendBuilderConfig, options: BuilderOptions, work_dir: Path
    ) -> Plan:
        """Read the builder and the run image it names, run any image extensions (their
        outputs live under ``work_dir``, which must outlive :meth:`apply`), then plan."""
        from cnbext.client.extensions import ExtensionRun, extension_plans

        check_extend_builder_options(options, config)
        platform = options.platforms[0] if options.platforms else None
        builder = self.engine.resolve_base(str(config.image), options.pull_policy, platform)
        requests = (*config.extensions, *options.extensions)
        run_base = None
        if options.run_image is not None or requests:
            run_image = read_builder(builder).run_image
            run_base = self.engine.resolve_base(run_image, options.pull_policy, platform)
        plans = None
        if requests and run_base is not None:
            plans = extension_plans(
                self.engine,
                self.reporter,
                ExtensionRun(
                    requests=requests,
                    build_image=builder,
                    run_image=run_base,
                    platform_env=options.platform_env,
                    app_dir=options.app_dir,
                    base_dir=config.source_dir,
                    work_dir=work_dir,
                ),
            )
            if plans.run.switched_to and options.run_image is not None:
                # The run image is now the one the switch names: plan (labels, user, distro)
                # on top of it, not on the run image the builder named.
                run_base = self.engine.resolve_base(
                    plans.run.switched_to, options.pull_policy, platform
                )
        run_for_plan = run_base if options.run_image is not None else None
        return plan_extend_builder(config, options, builder, run_for_plan, plans)

    def apply(self, plan: Plan) -> list[ImageResult]:
        """Build every image of the plan concurrently; publish them in plan order. Image
        extension steps are built first, into a scratch folder removed on any exit."""
        from cnbext.client.extension_chain import build_extension_steps

        pull = plan.pull_policy is PullPolicy.ALWAYS
        with tempfile.TemporaryDirectory(prefix="cnbext-steps-") as scratch:
            steps = [
                partial(
                    build_extension_steps,
                    self.engine,
                    self.reporter,
                    build,
                    Path(scratch, str(index)),
                    pull=pull,
                )
                for index, build in enumerate(plan.builds)
            ]
            built = tuple(_concurrently(steps))
            return self._apply(replace(plan, builds=built), pull)

    def _apply(self, plan: Plan, pull: bool) -> list[ImageResult]:
        if not plan.publish:
            built = _concurrently(
                [partial(self.engine.build, b, publish=False, pull=pull) for b in plan.builds]
            )
            return [
                ImageResult(b.role, b.names, r.digest, r.labels, b.platforms, False)
                for b, r in zip(plan.builds, built, strict=True)
            ]
        published: list[str] = []
        pending = [name for b in plan.builds for name in b.names]
        try:
            first, *later = plan.builds
            # The first image is pushed while the others build into the cache; theirs pushes
            # wait, so e.g. a builder is never out there before the run image it names.
            actions: list[Callable[[], ImageResult | None]] = [
                partial(self._publish, first, pull, published, pending),
                *[partial(self.engine.prebuild, b, pull=pull) for b in later],
            ]
            first_result = _concurrently(actions)[0]
            assert first_result is not None
            results = [first_result]
            for build in later:
                results.append(self._publish(build, pull, published, pending))
        except CnbextError as err:
            raise _with_progress(err, published, pending) from None
        return results

    def _publish(
        self, build: ImageBuild, pull: bool, published: list[str], pending: list[str]
    ) -> ImageResult:
        built = self.engine.build(build, publish=True, pull=pull)
        _mark_published(published, pending, build.primary_name, built.digest)
        repository = parse_reference(build.primary_name).repository
        for name in build.copies:
            digest = self.engine.copy_by_digest(repository, built.digest, name)
            if digest != built.digest:
                raise PublishError(
                    f"{name} has digest {digest} after the copy, but {build.primary_name} "
                    f"has {built.digest}"
                )
            _mark_published(published, pending, name, digest)
        return ImageResult(
            build.role, build.names, built.digest, built.labels, build.platforms, True
        )


T = TypeVar("T")


def _concurrently(actions: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``actions`` in threads (each drives its own docker subprocess); results in order.
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


def _mark_published(published: list[str], pending: list[str], name: str, digest: str) -> None:
    published.append(f"{name}@{digest}")
    if name in pending:
        pending.remove(name)


def _with_progress(err: CnbextError, published: list[str], not_published: list[str]) -> CnbextError:
    """Say exactly what is out there, so nobody has to guess after a half-finished publish.
    The error keeps its own type and exit code."""
    lines = [err.message]
    lines.append("published: " + (", ".join(published) if published else "nothing"))
    if not_published:
        lines.append("not published: " + ", ".join(not_published))
    err.message = "\n".join(lines)
    err.args = (err.message,)
    return err
