"""The lifecycle a builder ships: where it comes from, which APIs it speaks, what it contains.

A builder is only as good as its lifecycle: the lifecycle decides which buildpack APIs run and
whether image extensions are supported at all (Platform API >= 0.13). pack takes it from
``[lifecycle] version`` (a GitHub release download) or ``[lifecycle] uri``; cnbext accepts the
same and more offline-friendly forms (a folder, ``file://``, ``docker://`` image), because
builders are often created where GitHub cannot be reached (pack#1391).

Everything is read from ``lifecycle.toml``, the descriptor in every release archive, and the
binaries the builder needs are checked up front: a builder without ``lifecycle/exporter`` would
only fail at the user's first build, far from the cause.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnbext.errors import CnbextError, ExitCode
from cnbext.sources.archive import extract_tar, find_root, fresh_dir, open_tar
from cnbext.sources.descriptor import parse_api
from cnbext.sources.download import download_to_cache, evict_on_error
from cnbext.sources.lifecycle_folder import release_archive, release_folder
from cnbext.sources.lifecycle_release import (
    BASE_URL_ENV,
    DEFAULT_DOWNLOAD_BASE_URL,
    DEFAULT_LIFECYCLE_VERSION,
)
from cnbext.sources.locate import Places, SourceTerms, locate
from cnbext.sources.safe_tree import ImageExporter
from cnbext.sources.toml_limits import load_toml
from cnbext.sources.uri import redact_url

# What pack checks for, plus the launcher every app image needs (lifecycle/platform.md).
REQUIRED_BINARIES = ("detector", "analyzer", "restorer", "builder", "exporter", "launcher")
OPTIONAL_BINARIES = ("creator", "extender", "rebaser", "lifecycle")

# The release archives' names use the GNU architecture spelling.
_ARCHIVE_ARCH = {"amd64": "x86-64", "arm64": "arm64"}
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "arm64/v8": "arm64"}
# ELF e_machine values, to catch an amd64 lifecycle in an arm64 builder before anyone runs it.
_ELF_MACHINES = {0x3E: "amd64", 0xB7: "arm64"}
_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
)


class LifecycleError(CnbextError):
    """The lifecycle cannot be fetched, or what was fetched is not a usable lifecycle."""

    exit_code = ExitCode.CONFIG


@dataclass(frozen=True)
class ApiSet:
    deprecated: tuple[str, ...]
    supported: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        """Deprecated APIs still run (the lifecycle only warns), so they count as usable."""
        return (*self.deprecated, *self.supported)


@dataclass(frozen=True)
class Lifecycle:
    version: str
    buildpack_apis: ApiSet
    platform_apis: ApiSet
    root: Path  # holds lifecycle.toml and lifecycle/<binaries>

    def supports_buildpack_api(self, api: str) -> bool:
        """The spec's compatibility rule, over supported and deprecated APIs.

        In 0.x every minor may break, so only the same version is compatible; from 1.0 on a
        lifecycle API of the same major and an equal or later minor is.
        """
        wanted = _api(api)
        for offered in map(_api, self.buildpack_apis.all):
            if wanted[0] == 0 and offered == wanted:
                return True
            if wanted[0] > 0 and offered[0] == wanted[0] and offered[1] >= wanted[1]:
                return True
        return False

    def platform_api_at_least(self, api: str) -> bool:
        """True when the lifecycle speaks some Platform API >= ``api`` (e.g. "0.13")."""
        wanted = _api(api)
        return any(_api(offered) >= wanted for offered in self.platform_apis.all)


def _api(value: str) -> tuple[int, int]:
    parsed = parse_api(value)
    if parsed is None:
        raise ValueError(f"not an API version: {value!r}")
    return parsed


def normalize_arch(arch: str) -> str:
    """``amd64`` or ``arm64`` from the spellings platforms and ``uname -m`` use."""
    arch = _ARCH_ALIASES.get(arch, arch)
    if arch not in _ARCHIVE_ARCH:
        raise LifecycleError(
            f"no lifecycle release exists for the architecture {arch!r} "
            f"(releases exist for {', '.join(_ARCHIVE_ARCH)})",
            hint='build one and set [lifecycle] uri = "<path or docker://image>"',
        )
    return arch


def lifecycle_archive_name(version: str, arch: str) -> str:
    """``lifecycle-v0.21.0+linux.x86-64.tgz``, the release asset for ``version`` and ``arch``."""
    return f"lifecycle-v{_release_version(version)}+linux.{_ARCHIVE_ARCH[normalize_arch(arch)]}.tgz"


def _release_version(version: str) -> str:
    plain = version[1:] if version.startswith("v") else version
    if not _SEMVER.fullmatch(plain):
        raise LifecycleError(
            f"lifecycle version {version!r} is not a valid semver "
            f"(like {DEFAULT_LIFECYCLE_VERSION})",
            hint="set [lifecycle] version to a released lifecycle version",
        )
    return plain


def fetch_lifecycle(
    *,
    version: str | None,
    uri: str | None,
    arch: str,
    base_dir: Path,
    work_dir: Path,
    cache_dir: Path,
    download_base_url: str = DEFAULT_DOWNLOAD_BASE_URL,
    image_exporter: ImageExporter | None = None,
    sha256: str | None = None,
) -> Lifecycle:
    """The lifecycle from ``uri``, or release ``version`` (default 0.21.0) downloaded for ``arch``.

    ``arch`` picks the release to download and is checked against the binaries' ELF headers;
    a lifecycle given by ``uri`` may be for an architecture without releases. ``sha256``: what
    the archive must hash to; without it a release download is checked against the
    ``.sha256`` file published beside it, when the download base serves one.
    """
    if version is not None and uri is not None:
        raise LifecycleError(
            "'lifecycle' can only declare 'version' or 'uri', not both",
            hint="remove one of them from [lifecycle]",
        )
    if uri is not None:
        root = _root_from_uri(
            uri,
            base_dir=base_dir,
            work_dir=work_dir,
            cache_dir=cache_dir,
            exporter=image_exporter,
            sha256=sha256,
        )
        arch = _ARCH_ALIASES.get(arch, arch)
        return _read_lifecycle(root, origin=redact_url(uri), arch=arch, expected_version=None)
    return _release(
        _release_version(version or DEFAULT_LIFECYCLE_VERSION),
        normalize_arch(arch),
        work_dir=work_dir,
        cache_dir=cache_dir,
        download_base_url=download_base_url,
        sha256=sha256,
    )


def _release(
    release: str,
    arch: str,
    *,
    work_dir: Path,
    cache_dir: Path,
    download_base_url: str,
    sha256: str | None,
) -> Lifecycle:
    """Release ``release`` for ``arch``: from a folder of release archives when the download
    base names one, else downloaded (and cached)."""
    name = lifecycle_archive_name(release, arch)
    hint = (
        'without access to GitHub, set [lifecycle] uri = "<path or docker://image>" to a '
        f"lifecycle you have, or point {BASE_URL_ENV} at a mirror of the lifecycle releases "
        f"or a folder holding them (now {redact_url(download_base_url)})"
    )
    folder = release_folder(download_base_url)
    if folder is not None:
        archive = release_archive(
            folder, release, name, sha256=sha256, error_type=LifecycleError, hint=hint
        )
        root = _extract(archive, origin=str(archive), work_dir=work_dir)
        return _read_lifecycle(root, origin=str(archive), arch=arch, expected_version=release)
    url = f"{download_base_url.rstrip('/')}/v{release}/{name}"
    archive = download_to_cache(
        url,
        cache_dir,
        error_type=LifecycleError,
        subject=f"lifecycle {release}",
        hint=hint,
        sha256=sha256,
        checksum_url=f"{url}.sha256",
    )
    with evict_on_error(archive, LifecycleError):
        root = _extract(archive, origin=redact_url(url), work_dir=work_dir)
    return _read_lifecycle(root, origin=redact_url(url), arch=arch, expected_version=release)


_TERMS = SourceTerms(
    error_type=LifecycleError,
    plural="lifecycles",
    docker_hint="use the lifecycle release archive (.tgz) or a folder as [lifecycle] uri",
    download_hint="for offline use, download it once and set [lifecycle] uri to its path",
    export_prefix="lifecycle-image-",
)


def _root_from_uri(
    raw_uri: str,
    *,
    base_dir: Path,
    work_dir: Path,
    cache_dir: Path,
    exporter: ImageExporter | None,
    sha256: str | None,
) -> Path:
    uri = redact_url(raw_uri)
    places = Places(base_dir, work_dir, cache_dir, exporter)
    with locate(raw_uri, _TERMS, places, sha256=sha256) as found:
        if found.kind == "image":
            return _image_root(found.path / "cnb", uri)
        if found.kind == "folder":
            return found.path
        return _extract(found.path, origin=uri, work_dir=work_dir)


def _image_root(cnb: Path, uri: str) -> Path:
    """``/cnb`` of a lifecycle image, with lifecycle.toml where a release archive has it."""
    descriptor = cnb / "lifecycle.toml"
    inside = cnb / "lifecycle" / "lifecycle.toml"
    if not descriptor.is_file() and inside.is_file():
        shutil.copyfile(inside, descriptor)
    if not descriptor.is_file():
        raise LifecycleError(
            f"{uri}: the image has no lifecycle.toml (looked for /cnb/lifecycle.toml and "
            "/cnb/lifecycle/lifecycle.toml) and no io.buildpacks.lifecycle.version label, so "
            "its version and APIs are unknown",
            hint="use a lifecycle image (buildpacksio/lifecycle), the release archive "
            "(lifecycle-v<version>+linux.<arch>.tgz) as [lifecycle] uri, or [lifecycle] version",
        )
    return cnb


def _extract(archive: Path, *, origin: str, work_dir: Path) -> Path:
    dest = fresh_dir(work_dir, "lifecycle-")
    hint = "give a lifecycle release archive (.tgz) or a folder laid out like one"
    with open_tar(archive, origin, LifecycleError, hint=hint) as tar:
        extract_tar(tar, dest, source=origin, error_type=LifecycleError)
    return find_root(dest, "lifecycle.toml")


def _read_lifecycle(
    root: Path, *, origin: str, arch: str, expected_version: str | None
) -> Lifecycle:
    path = root / "lifecycle.toml"
    hint = "use a lifecycle release archive, or a folder laid out like one"
    if not path.is_file():
        raise LifecycleError(
            f"{origin}: no lifecycle.toml found; a lifecycle holds lifecycle.toml and "
            "lifecycle/<binaries>, as in the release archive",
            hint=hint,
        )
    try:
        data = load_toml(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise LifecycleError(
            f"{origin}: lifecycle.toml is not valid TOML: {err}", hint=hint
        ) from err

    problems: list[str] = []
    apis = data.get("apis")
    if isinstance(apis, dict):
        buildpack = _api_set(apis.get("buildpack"), "apis.buildpack", problems)
        platform = _api_set(apis.get("platform"), "apis.platform", problems)
    elif isinstance(data.get("api"), dict):
        # Lifecycles before 0.7 declared a single API of each kind: [api] buildpack, platform.
        buildpack = _single_api(data["api"].get("buildpack"), "api.buildpack", problems)
        platform = _single_api(data["api"].get("platform"), "api.platform", problems)
    else:
        problems.append("no APIs declared ([apis.buildpack] and [apis.platform], or [api])")
        buildpack = platform = ApiSet((), ())

    version = _declared_version(data, expected_version, problems)
    if problems:
        raise LifecycleError(f"{origin}: lifecycle.toml: " + "; ".join(problems), hint=hint)

    missing = [
        name
        for name in REQUIRED_BINARIES
        if not ((root / "lifecycle" / name).is_file() or (root / "lifecycle" / name).is_symlink())
    ]
    if missing:
        raise LifecycleError(
            f"{origin}: lifecycle/ lacks {', '.join(missing)}, which every builder needs",
            hint="use a complete lifecycle release archive",
        )
    _check_arch(root, origin, arch)
    assert version is not None
    return Lifecycle(version=version, buildpack_apis=buildpack, platform_apis=platform, root=root)


def _declared_version(
    data: dict[str, Any], expected_version: str | None, problems: list[str]
) -> str | None:
    """``[lifecycle] version``, checked against the version asked for (if any)."""
    table = data.get("lifecycle", {})
    declared = table.get("version") if isinstance(table, dict) else None
    if declared is None:
        if expected_version is None:
            problems.append("lifecycle.version is missing, so the lifecycle's version is unknown")
        return expected_version
    if not isinstance(declared, str) or not _SEMVER.fullmatch(declared.removeprefix("v")):
        problems.append(f"lifecycle.version must be a semver, got {declared!r}")
    elif expected_version is not None and declared.removeprefix("v") != expected_version:
        problems.append(f"lifecycle.version is {declared}, but {expected_version} was asked for")
    else:
        return declared.removeprefix("v")
    return expected_version


def _api_set(value: Any, key: str, problems: list[str]) -> ApiSet:
    if not isinstance(value, dict):
        problems.append(f"[{key}] is missing")
        return ApiSet((), ())
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("deprecated", "supported"):
        entries = value.get(name, [])
        if not isinstance(entries, list) or not all(
            isinstance(entry, str) and parse_api(entry) is not None for entry in entries
        ):
            problems.append(f'{key}.{name} must be a list of API versions like "0.10"')
            entries = []
        lists[name] = tuple(entries)
    if not lists["supported"] and not lists["deprecated"]:
        problems.append(f"{key} lists no API")
    return ApiSet(deprecated=lists["deprecated"], supported=lists["supported"])


def _single_api(value: Any, key: str, problems: list[str]) -> ApiSet:
    if not isinstance(value, str) or parse_api(value) is None:
        problems.append(f'{key} must be an API version like "0.3", got {value!r}')
        return ApiSet((), ())
    return ApiSet(deprecated=(), supported=(value,))


def _check_arch(root: Path, origin: str, arch: str) -> None:
    """Refuse native binaries for another architecture; scripts and unknown machines pass."""
    for name in (*REQUIRED_BINARIES, *OPTIONAL_BINARIES):
        binary = root / "lifecycle" / name
        try:
            with binary.open("rb") as handle:
                header = handle.read(20)
        except OSError:
            continue  # a link into the image's root cannot be read here
        if len(header) < 20 or header[:4] != b"\x7fELF":
            continue
        # EI_DATA (byte 5) says how e_machine (bytes 18-19) is encoded: 1 little, 2 big endian.
        machine = header[18:20]
        number = int.from_bytes(machine, "little" if header[5] == 1 else "big")
        found = _ELF_MACHINES.get(number)
        if found is not None and found != arch:
            raise LifecycleError(
                f"{origin}: lifecycle/{name} is built for {found}, but the builder is {arch}",
                hint=f"use the lifecycle release for {arch}, "
                f"lifecycle-v<version>+linux.{_ARCHIVE_ARCH.get(arch, arch)}.tgz",
            )
