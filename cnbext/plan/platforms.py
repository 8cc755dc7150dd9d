"""The platforms a base image has, and refusing a build for one it lacks.

BuildKit builds ``FROM base`` for a platform the base has no image for by falling back to
the one it has: an index published for linux/arm64 would hold x86_64 binaries, and nobody
learns it until arm64 nodes crash. So every build is checked against what its base's
registry serves, in the planner, before anything is built or published (``--dry-run`` too).

What a base has comes from its origin (:class:`cnbext.plan.facts.ImageOrigin`: the registry
digests the client gathered for provenance). An image only in the daemon, or one whose
registry could not be read, has no known list and is not refused here: its one config
says nothing about other platforms a local index might hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnbext.errors import ImageError
from cnbext.plan.facts import BaseImage


def serves(served: Sequence[str], platform: str) -> bool:
    """A platform without a variant is served by any variant of its os/arch (arm64 images
    often record v8); one with a variant needs exactly it."""
    return any(p == platform or p.startswith(platform + "/") for p in served)


def base_platforms(base: BaseImage) -> tuple[str, ...] | None:
    """The platforms ``base``'s registry serves for the image used; None when unknown."""
    origin = base.origin
    if origin is None or origin.digest is None or not origin.platforms:
        return None
    return tuple(origin.platforms)


def check_base_platforms(role: str, base: BaseImage, platforms: Sequence[str]) -> None:
    """Refuse building the ``role`` on ``base`` for a platform the base has no image for."""
    have = base_platforms(base)
    if have is None:
        return
    missing = [p for p in platforms if not serves(have, p)]
    if missing:
        given = base.origin.reference if base.origin else base.reference
        raise ImageError(
            f"the {role}'s base {given} has no image for {', '.join(missing)} "
            f"(it has {', '.join(have)}); BuildKit would build it from another platform's "
            "image",
            hint="use a base that is published for every --platform / target, or leave "
            "out the platforms it lacks",
        )
