"""Image configs are read into facts and views through these checks (every command's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnbext.cnb.image_config import check_image_config, check_platform_string

if TYPE_CHECKING:  # the day-2 views need neither the plan's facts nor extension steps
    from cnbext.engine.extension_steps import LayoutImage
    from cnbext.engine.models import ImageView
    from cnbext.plan.facts import BaseImage


def checked_facts(image: BaseImage) -> BaseImage:
    """``image``, once every field its config gave is one a real image can have: every
    command's facts pass here, so no path, Dockerfile, flag or label is made from a value
    that is not (cnbext.cnb.image_config)."""
    check_image_config(
        image.reference,
        os=image.os,
        architecture=image.architecture,
        user=image.user,
        env=image.env,
        labels=image.labels,
    )
    return image


def checked_view(view: ImageView) -> ImageView:
    """The same checks for the day-2 view of an image (inspect, upgrade)."""
    for platform in view.platforms:
        check_platform_string(view.reference, platform)
    check_image_config(
        view.reference, os="", architecture="", user=view.user, env=view.env, labels=view.labels
    )
    return view


def checked_layout(image: LayoutImage, name: str) -> LayoutImage:
    """The same checks for each platform's config in an OCI layout (an extension step's
    result, or the image a run.Dockerfile switched to)."""
    for config in image.configs:
        check_platform_string(name, config.platform)
        check_image_config(
            name, os="", architecture="", user=config.user, env={}, labels=config.labels
        )
    return image
