"""The facts every planner takes: what the client read and ran before planning.

One value, gathered by one path (:func:`cnbext.client.facts.gather_image_facts`), so "read
the run image, run the extensions, maybe switch the run image" is decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnbext.cnb.extender import ExtensionPlans
from cnbext.engine.models import BaseImage


@dataclass(frozen=True)
class ImageFacts:
    # The image the command extends: the image (extend), the builder (extend-builder) or the
    # build image (create-builder). For extend, the image a run.Dockerfile switched to.
    base: BaseImage
    # The builder's run image when the command extends it (--run-image), read after any
    # switch an extension asked for; None when the run image is not extended.
    run: BaseImage | None = None
    # What the image extensions generated, as the extender's plans; None without extensions.
    extensions: ExtensionPlans | None = None
