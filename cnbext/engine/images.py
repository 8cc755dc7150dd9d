"""Reading an image's config where it already is (the daemon or its registry), never pulling.

The Docker side of :meth:`cnbext.engine.protocol.Engine.read_image`; client code reaches it
only through an Engine.

``cnbext inspect`` and ``upgrade --check`` must leave the daemon as they found it, so a name
the daemon does not hold is read from its registry's manifests and config blob.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnbext.cnb.imageref import parse_reference
from cnbext.engine.models import (
    ImageView,
    Manifest,
    NotFoundError,
    config_section,
    config_text,
    env_dict,
    image_config,
    label_dict,
    refusals_naming,
)
from cnbext.engine.registry import Registry
from cnbext.errors import ImageError

if TYPE_CHECKING:
    from python_on_whales import DockerClient


def read_image(reference: str, registry: Registry, docker: DockerClient | None = None) -> ImageView:
    """The registry's image, or the daemon's copy when it has one (and ``daemon``).

    A daemon copy that came from (or was pushed to) the reference's registry is only a cache
    that may be out of date: the registry is asked then, and the copy is used only when the
    registry no longer has the name. A daemon-only image causes no registry traffic.
    Without ``docker`` only the registry is read.
    """
    local = daemon_image(reference, docker) if docker is not None else None
    if local is not None and local.digest is None:
        return local
    try:
        manifest = registry.manifest(reference)
    except NotFoundError:
        if local is not None:
            return local
        where = (
            "neither in the daemon nor in its registry"
            if docker is not None
            else "not in its registry"
        )
        raise ImageError(f"{reference} is {where}") from None
    except ImageError:
        if local is not None:
            return local
        raise
    return registry_view(reference, manifest, registry)


def registry_view(reference: str, manifest: Manifest, registry: Registry) -> ImageView:
    per_platform = registry.platform_manifests(manifest)
    if not per_platform:
        raise ImageError(f"{reference} has no image manifest for any platform")
    first = next(iter(per_platform.values()))
    config = image_config(registry, first)
    with refusals_naming(reference):
        section = config_section(config.get("config"))
        labels, env = label_dict(section.get("Labels")), env_dict(section.get("Env"))
        user = config_text(section.get("User"), "User")
    return ImageView(
        reference=reference,
        source="registry",
        digest=manifest.digest,
        platforms=tuple(per_platform),
        labels=labels,
        user=user,
        env=env,
        platform_digests={p: m.digest for p, m in per_platform.items()},
    )


def daemon_image(reference: str, docker: DockerClient) -> ImageView | None:
    if not docker.image.exists(reference):
        return None
    image = docker.image.inspect(reference)
    repository = parse_reference(reference).repository
    digest = next(
        (
            entry.rsplit("@", 1)[1]
            for entry in image.repo_digests or ()
            if entry.rsplit("@", 1)[0] == repository
        ),
        None,
    )
    config = image.config
    return ImageView(
        reference=reference,
        source="daemon",
        digest=digest,
        platforms=(f"{image.os or 'linux'}/{image.architecture}",),
        labels=dict((config.labels or {}) if config else {}),
        user=(config.user or "") if config else "",
        env=env_dict(config.env if config else None),
        image_id=image.id,
        tags=tuple(image.repo_tags or ()),
    )
