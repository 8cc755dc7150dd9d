"""The one fact-gathering path: read the base image, read the run image, run the image
extensions, and read the run image an extension switched to.

Every command gathers its :class:`~cnbext.plan.facts.ImageFacts` here, so what each command
reads, and when a run.Dockerfile's switch applies, is decided once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from cnbext.client import fact_cache
from cnbext.client.extensions import ExtensionRun, extension_plans
from cnbext.client.image_checks import checked_facts
from cnbext.client.origin import with_origin
from cnbext.cnb.dockerfile import DockerfileKind
from cnbext.cnb.package_managers import PROBE_PATHS
from cnbext.config.extension_request import ExtensionRequest
from cnbext.engine.protocol import Engine
from cnbext.plan.extend import extension_kind
from cnbext.plan.facts import BaseImage, ImageFacts
from cnbext.plan.model import PullPolicy
from cnbext.progress import Reporter


class FactOptions(Protocol):
    """The options every command has that decide what is read (ExtendOptions, BuilderOptions)."""

    @property
    def pull_policy(self) -> PullPolicy: ...
    @property
    def platforms(self) -> tuple[str, ...]: ...
    @property
    def extensions(self) -> tuple[ExtensionRequest, ...]: ...
    @property
    def platform_env(self) -> dict[str, str]: ...
    @property
    def app_dir(self) -> Path | None: ...


def gather_image_facts(
    engine: Engine,
    reporter: Reporter,
    options: FactOptions,
    *,
    image: str,
    run_image_of: Callable[[BaseImage], str] | None,
    extend_run: bool,
    config_extensions: Sequence[ExtensionRequest],
    base_dir: Path,
    work_dir: Path,
) -> ImageFacts:
    """Read ``image`` and what planning on it needs.

    ``run_image_of`` names the run image a builder (or build image) goes with; None means the
    image is its own run image (``cnbext extend``: extensions detect and generate in it, and a
    run.Dockerfile's switch replaces it when it is a run image). The run image is read when it
    is extended (``extend_run``) or extensions need its target facts. Extensions run with
    their outputs under ``work_dir``, which must outlive applying the plan.
    """
    platform = options.platforms[0] if options.platforms else None

    def resolve(reference: str) -> BaseImage:
        # With where it came from (the digests the provenance label records).
        base = read_image(engine, reporter, reference, options, platform)
        return with_origin(base, reference, engine.registry())

    base = resolve(image)
    requests = (*config_extensions, *options.extensions)
    if run_image_of is None:
        extend_run = extension_kind(base) is DockerfileKind.RUN
        run: BaseImage | None = base
    else:
        run = resolve(run_image_of(base)) if extend_run or requests else None
    plans = None
    if requests and run is not None:
        running = _extension_run(options, requests, base, run, base_dir, work_dir)
        plans = extension_plans(engine, reporter, running)
        if plans.run.switched_to and extend_run:
            # The run image is now the one the switch names: plan (labels, user, distro) on
            # top of it, not on the run image the builder named.
            run = resolve(plans.run.switched_to)
    if run_image_of is None:
        assert run is not None
        return ImageFacts(base=run, run=None, extensions=plans)
    return ImageFacts(base=base, run=run if extend_run else None, extensions=plans)


def _extension_run(
    options: FactOptions,
    requests: tuple[ExtensionRequest, ...],
    build_image: BaseImage,
    run_image: BaseImage,
    base_dir: Path,
    work_dir: Path,
) -> ExtensionRun:
    """The extensions run in ``build_image`` for ``run_image``, outputs under ``work_dir``."""
    return ExtensionRun(
        requests=requests,
        build_image=build_image,
        run_image=run_image,
        platform_env=options.platform_env,
        app_dir=options.app_dir,
        base_dir=base_dir,
        work_dir=work_dir / "extensions",
    )


def read_image(
    engine: Engine,
    reporter: Reporter,
    reference: str,
    options: FactOptions,
    platform: str | None,
) -> BaseImage:
    """An image's facts: from the fact cache when its content digest was read before, else
    read by the engine (and kept). Locating costs one metadata lookup; reading, a build."""
    source = engine.locate_image(reference, options.pull_policy, platform)
    use_cache = engine.settings.fact_cache and fact_cache.enabled()
    if use_cache:
        cached = fact_cache.load(source, platform, PROBE_PATHS)
        if cached is not None:
            reporter.build_log(f"facts of {reference} from the cache ({source.digest[:19]})")
            return checked_facts(cached)
    facts = checked_facts(engine.read_base(source, platform))
    fact_cache.store(source, platform, PROBE_PATHS, facts)
    return facts
