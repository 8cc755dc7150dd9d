"""What the engine reports about images: plain data, no Docker client behind it.

The base-image facts planning reads (`BaseImage`, `ImageOrigin`) are the plan's own models,
in cnbext.plan.facts: the engine fills them in, and the plan never imports the engine."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cnbext.errors import ImageError


@dataclass(frozen=True)
class Attestations:
    """The in-toto statements of one predicate type a key verifies on an image; ``why``
    there are none (missing, or signed by another key)."""

    statements: tuple[dict[str, Any], ...] = ()
    why: str | None = None


@dataclass(frozen=True)
class ImageView:
    """An image as it is now, read where it already is (the daemon or its registry)."""

    reference: str
    source: str  # "daemon" or "registry"
    digest: str | None  # registry digest (index or manifest); the daemon's repo digest if any
    platforms: tuple[str, ...]
    labels: dict[str, str]
    user: str
    env: dict[str, str]
    image_id: str | None = None  # daemon only
    platform_digests: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()  # daemon only: every name the daemon holds the image under


@dataclass(frozen=True)
class BuiltFiles:
    """Files copied out of one platform of a build's base and of its result, by path."""

    base: dict[str, bytes]
    result: dict[str, bytes]


@dataclass(frozen=True)
class ImageSource:
    """Where an image's facts are read from, and the content digest that names them.

    ``digest`` identifies the content: the image id in the daemon, the manifest or index digest
    in a registry. Facts read once are valid for as long as the digest (and platform) stay the
    same, so they are cached under it."""

    reference: str
    digest: str
    in_daemon: bool


@dataclass(frozen=True)
class BuiltImage:
    names: tuple[str, ...]
    digest: str  # registry manifest digest when published, else the local image id
    labels: dict[str, str]
    published: bool


@dataclass(frozen=True)
class PhaseRun:
    """One run of an extension executable (detect or generate) in a container."""

    image: str
    command: tuple[str, ...]
    env: dict[str, str]
    mounts: tuple[tuple[Path, str, bool], ...]  # host path, container path, read-only
    user: str
    workdir: str
    timeout: float
    platform: str | None = None
    memory_bytes: int | None = None  # the container's memory (and memory+swap) limit
    pids_limit: int | None = None  # how many processes and threads it may have
    # The host folder the container may write (its output mount) and the bytes it may put
    # there: each file is capped by the kernel (RLIMIT_FSIZE), the folder's total is
    # measured while it runs, and the container is killed when it passes.
    output: Path | None = None
    output_bytes: int | None = None


@dataclass(frozen=True)
class PhaseResult:
    exit_code: int | None  # None when it was killed for taking too long
    output: str  # the last lines of its output
    timed_out: bool
    over_output: bool = False  # killed (or finished) having written more than output_bytes


def env_dict(env: Iterable[object] | None) -> dict[str, str]:
    """An image config's ``Env`` list as a mapping."""
    if isinstance(env, (str, bytes, dict)) or not isinstance(env, Iterable | None):
        # A hostile registry's config: a string would be read character by character.
        raise ImageError("the image's config has an Env that is not a list of strings")
    # Split on the first '=' only: values may contain '=' (the spec's note on env files).
    result: dict[str, str] = {}
    for entry in env or ():
        name, _, value = str(entry).partition("=")
        result[name] = value
    return result


def label_dict(labels: object) -> dict[str, str]:
    """An image config's ``Labels`` as a mapping of strings (a registry's config is JSON
    anyone wrote: anything but an object of strings is refused, not coerced)."""
    if labels is None:
        return {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise ImageError("the image's config has Labels that are not an object of strings")
    return dict(labels)


@contextmanager
def refusals_naming(reference: str) -> Iterator[None]:
    """Prefix the image's name to what the config helpers above refuse."""
    try:
        yield
    except ImageError as err:
        raise ImageError(f"{reference}: {err.message}", hint=err.hint) from None


def config_section(value: object) -> dict[str, Any]:
    """An image config's ``config`` object (User, Env, Labels); missing is empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImageError("the image's config has a config that is not an object")
    return value


def config_text(value: object, field_name: str, where: str = "the image's config") -> str:
    """A string field of an image config (``User``, ``os``, ``architecture``) or of another
    registry document (``where``); missing (JSON null, which Go leaves unset) is ''."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImageError(f"{where} has a {field_name} that is not a string")
    return value


# -- registries ----------------------------------------------------------------------------

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)


class NotFoundError(ImageError):
    """The registry answered 404 for a manifest or blob."""


@dataclass(frozen=True)
class Manifest:
    repository: str  # domain/path
    digest: str
    media_type: str
    raw: bytes
    document: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


class JsonBlobs(Protocol):
    """What reading an image's config takes of a registry client (cnbext.engine.registry's,
    or the RegistryAccess of cnbext.engine.protocol)."""

    def json_blob(self, repository: str, digest: str) -> dict[str, Any]: ...


def image_config(registry: JsonBlobs, manifest: Manifest) -> dict[str, Any]:
    """The config blob an image manifest names, from the manifest's own repository."""
    return registry.json_blob(manifest.repository, manifest.document["config"]["digest"])


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_of(entry: dict[str, Any]) -> str:
    """``os/arch[/variant]`` of an index entry."""
    platform = entry.get("platform") or {}
    parts = [platform.get("os", ""), platform.get("architecture", "")]
    if platform.get("variant"):
        parts.append(platform["variant"])
    return "/".join(parts)
