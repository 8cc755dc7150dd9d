"""Several targets published as pack publishes them: one builder per platform, joined.

Pure: the per-platform builds are planned by :func:`cnbext.plan.create_builder.plan_create_builder`
from each platform's own facts and inputs; this module names them (pack's
--append-image-name-suffix), joins them into the one image NAME publishes, and checks that every
run image the builder names serves every target platform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from cnbext.cnb.imageref import suffixed_name
from cnbext.config.builder import BuilderConfig
from cnbext.errors import ConfigError
from cnbext.plan.model import ImageBuild
from cnbext.plan.platforms import serves


def join_platform_builds(
    builder: ImageBuild, per_platform: Sequence[ImageBuild], *, suffix: bool
) -> ImageBuild:
    """The builder NAME publishes: an index of ``per_platform`` (each planned for one platform),
    each named ``NAME-os-arch[-variant]`` with ``suffix``."""
    name = builder.primary_name
    ones = tuple(
        replace(
            one,
            names=(suffixed_name(name, one.platforms[0]) if suffix else name,),
        )
        for one in per_platform
    )
    return replace(builder, per_platform=ones, tag_platforms=suffix)


def check_run_image_platforms(
    config: BuilderConfig,
    platforms: Sequence[str],
    served: Mapping[str, tuple[str, ...] | None],
) -> tuple[str, ...]:
    """Every run image (and mirror) of builder.toml must serve every target platform: a
    builder for a platform whose run image lacks it would make apps that cannot start. One
    that cannot be read in its registry is pack's warning, not an error."""
    problems, warnings = [], []
    for entry in config.run_images:
        for reference in (entry.image, *entry.mirrors):
            have = served.get(reference)
            if have is None:
                warnings.append(f"run image {reference} is not accessible")
                continue
            missing = [p for p in platforms if not serves(have, p)]
            if missing:
                problems.append(
                    config.problem(
                        entry.path,
                        f"run image {reference} has no image for {', '.join(missing)} "
                        f"(it has {', '.join(have) or 'none'}); every target platform needs "
                        "one",
                    )
                )
    if problems:
        raise ConfigError(problems)
    return tuple(warnings)


def run_image_references(config: BuilderConfig) -> tuple[str, ...]:
    """The run images to read for :func:`check_run_image_platforms` (an extended run image is
    built for every target from the first of them, so it has them all when that one does)."""
    return tuple(r for entry in config.run_images for r in (entry.image, *entry.mirrors))
