"""Building an image's extension steps before the image itself, the extender's way.

Each Dockerfile of the plan is built on the previous result (the first on the build's base, a
switching run.Dockerfile on the image it switches to) for every platform at once, through OCI
layouts in a scratch folder (cnbext.engine.extension_steps), so nothing enters the Docker
daemon. The extender's rules are cnbext.cnb.extender's: which args a step gets (its user from
the image it builds on), the rebasable reset before each run.Dockerfile, how new history
entries are named, the refusal of a root run image. The engine only builds and rewrites.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from cnbext.client.image_checks import checked_layout
from cnbext.cnb.dockerfile import SOURCE_DATE_EPOCH, DockerfileKind
from cnbext.cnb.extender import (
    ExtenderStep,
    check_final_user,
    history_name,
    labels_as_based,
    labels_before,
    step_build_args,
    still_rebasable,
    user_warning,
)
from cnbext.cnb.provenance import read_provenance
from cnbext.engine.extension_steps import (
    BASE_CONTEXT,
    LayoutImage,
    StepBuild,
    StepBuildError,
    rewrite_layout,
)
from cnbext.engine.layer_times import clamp_new_layers
from cnbext.engine.protocol import Engine
from cnbext.errors import EXTENSION_BUILD_ERROR, ExtensionError
from cnbext.plan.model import ImageBuild, Plan, PullPolicy
from cnbext.plan.provenance import with_provenance
from cnbext.progress import Reporter


def build_plan_steps(engine: Engine, reporter: Reporter, plan: Plan, scratch: Path) -> Plan:
    """``plan`` with every build's extension steps built under ``scratch``, which must
    outlive applying the plan (the builds name layouts in it)."""
    pull = plan.pull_policy is PullPolicy.ALWAYS
    builds = tuple(
        _with_steps(engine, reporter, build, scratch / str(index), pull=pull)
        for index, build in enumerate(plan.builds)
    )
    return replace(plan, builds=builds)


def _with_steps(
    engine: Engine, reporter: Reporter, build: ImageBuild, scratch: Path, *, pull: bool
) -> ImageBuild:
    """A builder published per target is built and pushed as its ``per_platform`` builds, so
    each of those gets its own steps (on its own platform's base); the joined build only
    names them."""
    if not build.per_platform:
        return build_extension_steps(engine, reporter, build, scratch, pull=pull)
    ones = tuple(
        build_extension_steps(engine, reporter, one, scratch / f"platform-{index}", pull=pull)
        for index, one in enumerate(build.per_platform)
    )
    return replace(build, per_platform=ones)


def build_extension_steps(
    engine: Engine, reporter: Reporter, build: ImageBuild, scratch: Path, *, pull: bool
) -> ImageBuild:
    """``build`` with its extension steps built: its ``base_context`` names their result, and
    a run image is rebasable (its provenance says) only if the built steps said so too; its
    io.buildpacks.rebasable is its base's. ``scratch`` must outlive the build of the image
    itself."""
    if not build.extension_steps:
        return build
    scratch.mkdir(parents=True, exist_ok=True)
    current: LayoutImage | None = None
    origin: dict[str, dict[str, str]] = {}  # the labels of the image the steps start from
    rebasable = True
    for index, step in enumerate(build.extension_steps):
        if current is None or step.switch_to:
            source = step.switch_to or build.base
            dest = scratch / f"{index}-base"
            current = checked_layout(
                engine.export_layout(source, build.platforms, dest, pull=pull), source
            )
            origin = {c.platform: dict(c.labels) for c in current.configs}
        current = rewrite_layout(current, labels=labels_before(step))
        if not step.extends:
            continue  # it only switches the run image: nothing to build
        result = _build_step(engine, build, step, index, current, scratch)
        epoch = build.build_args.get(SOURCE_DATE_EPOCH)
        if epoch is not None:  # the times of what the step's RUN wrote (layer_times)
            keep = {c.platform: len(c.diff_ids) for c in current.configs}
            result = clamp_new_layers(result, keep, int(epoch))
        if step.kind is DockerfileKind.RUN:
            rebasable = still_rebasable(rebasable, [c.labels for c in result.configs])
        warning = user_warning(step, _user(current), _user(result))
        if warning:
            reporter.warn(warning)
        current = rewrite_layout(
            result,
            keep_history={c.platform: c.history for c in current.configs},
            history_template=history_name(step.extension_id),
        )
    assert current is not None
    kind = build.extension_steps[0].kind
    check_final_user(kind, _user(current))
    if kind is not DockerfileKind.RUN:
        return replace(build, base_context=current.context)
    # The steps' judgement goes to the provenance; the image keeps its base's label.
    current = rewrite_layout(current, platform_labels=labels_as_based(origin))
    built = replace(
        build, base_context=current.context, rebasable=bool(build.rebasable) and rebasable
    )
    provenance = read_provenance(build.labels)
    return built if provenance is None else with_provenance(built, provenance)


def _build_step(
    engine: Engine,
    build: ImageBuild,
    step: ExtenderStep,
    index: int,
    base: LayoutImage,
    scratch: Path,
) -> LayoutImage:
    # A switching Dockerfile's FROM names the image itself: the same layout answers for it.
    names = [BASE_CONTEXT, *([step.switch_to] if step.switch_to else [])]
    request = StepBuild(
        title=f"applying the {step.title}",
        dockerfile=step.dockerfile,
        context=step.context or build.app_dir,
        build_args=step_build_args(
            step,
            build_id=build.extension_build_ids[index],
            user=_user(base),
            base_image=BASE_CONTEXT,
            source_date_epoch=build.build_args.get(SOURCE_DATE_EPOCH),
        ),
        contexts=dict.fromkeys(names, base),
        platforms=build.platforms,
    )
    try:
        return checked_layout(engine.build_layout(request, scratch / str(index)), step.title)
    except StepBuildError as err:
        raise ExtensionError(
            f"applying the {step.title} failed:\n{err.log}", exit_code=EXTENSION_BUILD_ERROR
        ) from None


def _user(image: LayoutImage) -> str:
    """The User every platform's config shares (the first platform's if they differ)."""
    return image.configs[0].user if image.configs else ""
