"""The facts every planner takes: what the client read and ran before planning.

`BaseImage` is what the engine reads from an image (it fills this model in; planning owns
it, so the plan never imports the engine).

One value, gathered by one path (:func:`cnbext.client.facts.gather_image_facts`), so "read
the run image, run the extensions, maybe switch the run image" is decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnbext.cnb.extender import ExtensionPlans


@dataclass(frozen=True)
class ImageOrigin:
    """Where a base image came from: the reference as given and the registry digests of the
    image that was used (index or manifest, and each platform's manifest)."""

    reference: str
    digest: str | None  # None: the image is not from a registry (built or loaded locally)
    platforms: dict[str, str] = field(default_factory=dict)  # os/arch -> manifest digest


@dataclass(frozen=True)
class BaseImage:
    """Facts about a base image that planning needs, read without running it."""

    reference: str  # as resolved (normalized)
    image_id: str
    user: str
    labels: dict[str, str]
    env: dict[str, str]
    os: str
    architecture: str
    os_release: str | None  # text of /etc/os-release (or /usr/lib/os-release), None if absent
    binaries: frozenset[str] = field(default_factory=frozenset)  # probed package-manager paths
    repo_digests: tuple[str, ...] = ()  # repository@digest the daemon knows it by
    origin: ImageOrigin | None = None  # gathered by the client for provenance


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
