"""Reading images without running them and without pulling them into the daemon.

An image is read from the daemon's copy when there is one and the pull policy lets it be used
(the copy BuildKit's docker driver would build on), else from its registry: the config through
the registry's API (cnbext.engine.registry) and the files by a ``FROM scratch`` BuildKit build
that copies them out (BuildKit fetches the layers it needs into its own store; the daemon's
image list is untouched). Either way the content digest comes first, so the caller can skip
the read when it has seen it.
"""

from __future__ import annotations

import platform as platform_module
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from cnbext.engine.failures import last_lines
from cnbext.engine.models import (
    ImageSource,
    NotFoundError,
    config_section,
    config_text,
    env_dict,
    image_config,
    label_dict,
    refusals_naming,
)
from cnbext.errors import ImageError
from cnbext.plan.facts import BaseImage
from cnbext.plan.model import PullPolicy

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from cnbext.engine.registry import Registry

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")


class ImageReader:
    """The reading half of the Docker engine, sharing its client and builder."""

    def __init__(self, docker: DockerClient, builder: str | None, registry: Registry) -> None:
        self.docker = docker
        self.builder = builder
        # Configs and digests of registry images come from the registry's API directly (a
        # few requests), not through a `buildx imagetools inspect` process each.
        self.registry = registry

    def locate(
        self, reference: str, pull_policy: PullPolicy, platform: str | None, *, daemon: bool
    ) -> ImageSource:
        """The daemon's copy when ``daemon`` (the builds use it) and the policy allows, or
        always with ``never``; else the registry's."""
        use_daemon = pull_policy is PullPolicy.NEVER or (
            daemon and pull_policy is not PullPolicy.ALWAYS
        )
        if use_daemon:
            from python_on_whales.exceptions import NoSuchImage

            try:
                image_id = self.docker.image.inspect(reference).id
            except NoSuchImage:
                pass
            else:
                return ImageSource(reference, image_id, in_daemon=True)
        if pull_policy is PullPolicy.NEVER:
            raise ImageError(
                f"{reference} is not in the daemon and --pull-policy is never",
                hint="pull it first, or use --pull-policy if-not-present",
            )
        try:
            digest = self.registry.manifest(reference).digest
        except NotFoundError:
            raise ImageError(f"cannot read {reference}: not found in its registry") from None
        except ImageError as err:
            raise ImageError(f"cannot read {reference}: {err.message}", hint=err.hint) from None
        return ImageSource(reference, digest, in_daemon=False)

    def read(self, source: ImageSource, platform: str | None, probes: Sequence[str]) -> BaseImage:
        reference = source.reference
        if source.in_daemon:
            config = self._daemon_config(reference)
        else:
            # By digest: the content located is the content read, even if the tag moves.
            config = self.registry_config(_by_digest(reference, source.digest), platform)
            reference = _by_digest(reference, source.digest)
        files = self.read_files(reference, [*OS_RELEASE_PATHS, *probes], platform=platform)
        os_release = next((files[p] for p in OS_RELEASE_PATHS if p in files), None)
        with refusals_naming(source.reference):
            section = config_section(config.get("config"))
            user = config_text(section.get("User"), "User")
            labels = label_dict(section.get("Labels"))
            env = env_dict(section.get("Env"))
            os_name = config_text(config.get("os"), "os") or "linux"
            architecture = config_text(config.get("architecture"), "architecture")
        return BaseImage(
            reference=source.reference,
            image_id=str(config.get("id") or source.digest),
            user=user,
            labels=labels,
            env=env,
            os=os_name,
            architecture=architecture,
            os_release=os_release.decode("utf-8", "replace") if os_release is not None else None,
            binaries=frozenset(p for p in files if p not in OS_RELEASE_PATHS),
            # The digest the provenance label records: the daemon's repository digests, or
            # the registry digest it was read by.
            repo_digests=tuple(config.get("repo_digests") or ())
            or ((_by_digest(source.reference, source.digest),) if not source.in_daemon else ()),
        )

    def _daemon_config(self, reference: str) -> dict[str, Any]:
        image = self.docker.image.inspect(reference)
        config = image.config
        return {
            "repo_digests": list(image.repo_digests or []),
            "id": image.id,
            "os": image.os,
            "architecture": image.architecture,
            "config": {
                "User": (config.user if config else "") or "",
                "Labels": dict((config.labels or {}) if config else {}),
                "Env": list((config.env or []) if config else []),
            },
        }

    def config_section(self, reference: str, platform: str | None) -> dict[str, Any]:
        """The config section (User, Env, Labels) of the daemon's image, else of the one its
        registry serves."""
        if self.docker.image.exists(reference):
            section: dict[str, Any] = self._daemon_config(reference)["config"]
        else:
            section = self.registry_config(reference, platform).get("config", {})
        return section

    def registry_config(self, reference: str, platform: str | None) -> dict[str, Any]:
        """The OCI image config a registry serves for ``reference`` (the ``platform`` entry
        of an index; without one, this machine's platform, else the first)."""
        per_platform = self.registry.platform_manifests(self.registry.manifest(reference))
        if not per_platform:
            raise ImageError(f"{reference} has no image manifest for any platform")
        wanted = platform or _native_platform()
        manifest = per_platform.get(wanted) or next(iter(per_platform.values()))
        return image_config(self.registry, manifest)

    def read_files(
        self, reference: str, paths: Sequence[str], *, platform: str | None = None
    ) -> dict[str, bytes]:
        """Files of an image that exist, by absolute path; read by copying, never running it.

        Every path becomes a pattern that matches it (``/[e]tc/os-release*``): BuildKit accepts
        a pattern that matches nothing, while a plain path whose directory is missing fails the
        build. So one build answers "which of these exist" for any image, even one without a
        shell or a /sbin.
        """
        by_dir: dict[str, list[str]] = {}
        for path in paths:
            posix = PurePosixPath(path)
            by_dir.setdefault(str(posix.parent), []).append(posix.name)
        lines = [f"FROM {reference} AS source", "FROM scratch"]
        for directory, names in sorted(by_dir.items()):
            sources = " ".join(match_pattern(f"{directory}/{name}") for name in names)
            lines.append(f"COPY --from=source {sources} /found{directory}/")
        with tempfile.TemporaryDirectory(prefix="cnbext-read-") as tmp:
            out = Path(tmp, "out")
            self.copy_out(reference, lines, out, platform)
            found: dict[str, bytes] = {}
            for path in paths:
                candidate = out / "found" / path.lstrip("/")
                if candidate.is_file():
                    found[path] = candidate.read_bytes()
            return found

    def export_tree(
        self, reference: str, paths: Sequence[str], dest: Path, *, platform: str | None = None
    ) -> None:
        """Copy directories out of an image into ``dest`` (``dest/<path>``), never running it;
        paths the image lacks are simply absent."""
        lines = [f"FROM {reference} AS source", "FROM scratch"]
        for path in paths:
            lines.append(f"COPY --from=source {match_pattern(path)} {path.rstrip('/')}/")
        self.copy_out(reference, lines, dest, platform)

    def copy_out(
        self, reference: str, lines: Sequence[str], dest: Path, platform: str | None
    ) -> None:
        """Run a ``FROM scratch`` Dockerfile that copies from ``reference`` into ``dest``."""
        with tempfile.TemporaryDirectory(prefix="cnbext-copy-out-") as tmp:
            context = context_dir(tmp)
            context.mkdir()
            (context / "Dockerfile").write_text("\n".join(lines) + "\n")
            from python_on_whales.exceptions import DockerException

            try:
                self.docker.buildx.build(
                    context,
                    output={"type": "local", "dest": str(dest)},
                    platforms=[platform] if platform else None,
                    builder=self.builder,
                    progress=False,
                )
            except DockerException as err:
                raise ImageError(f"cannot read {reference}: {last_lines(err)}") from None


def context_dir(tmp: str) -> Path:
    """A build context folder named uniquely. BuildKit keeps a synced copy of a context per
    folder name and re-sends only files whose path, size, mode or mtime changed; our trees
    all have mtime 0, so a same-sized file with other content (a module built per platform,
    an order.toml naming another version) would silently keep the old content."""
    return Path(tmp, f"context-{uuid.uuid4().hex}")


def _native_platform() -> str:
    machine = platform_module.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm/v7"}.get(machine, machine)
    return f"linux/{arch}"


def match_pattern(path: str) -> str:
    """``/usr/bin/dnf`` -> ``/[u]sr/[b]in/dnf*``: a glob that matches the path or nothing."""
    parts = [part for part in PurePosixPath(path).parts if part != "/"]
    globbed = [f"[{part[0]}]{part[1:]}" if part[0].isalnum() else part for part in parts[:-1]]
    return "/" + "/".join([*globbed, parts[-1] + "*"])


def _by_digest(reference: str, digest: str) -> str:
    """``host/a/b:tag`` (or ``@sha256:...``) -> ``host/a/b@digest``."""
    name = reference.split("@", 1)[0]
    head, slash, tail = name.rpartition("/")
    return f"{head}{slash}{tail.split(':', 1)[0]}@{digest}"
