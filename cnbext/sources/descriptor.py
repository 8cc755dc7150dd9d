"""Buildpack and extension descriptors (``buildpack.toml`` / ``extension.toml``), checked.

Every problem of a descriptor is reported at once, each with its key, because descriptors come
from third parties and a user fixing one problem per run would give up. Ids and versions become
folder names under ``/cnb``, so anything that could leave a folder is refused here.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from cnbext.errors import CnbextError, ExitCode
from cnbext.sources.toml_limits import load_toml

ModuleKind = Literal["buildpack", "extension"]

DESCRIPTOR_NAMES: dict[ModuleKind, str] = {
    "buildpack": "buildpack.toml",
    "extension": "extension.toml",
}
INSTALL_DIRS: dict[ModuleKind, str] = {"buildpack": "buildpacks", "extension": "extensions"}

# "<major>.<minor>" or "<major>", no leading zeros (buildpack.md, "API versions").
# The lifecycle's api.NewVersion (api/version.go), which pack uses too: `^v?(\d+)\.?(\d*)$`, so
# "v0.10", "0.010" (0.10) and "010" (10.0) are versions there; the spec's form has no "v" and
# no leading zeros (SPEC_API_VERSION), which is a warning (cnbext.config.extension).
_API_VERSION = re.compile(r"v?([0-9]+)\.?([0-9]*)")
SPEC_API_VERSION = re.compile(r"(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?")
_UINT64 = 1 << 64
# Buildpack API 0.1 descriptors had no `api` key: pack reads a buildpack's or an extension's
# without one as 0.1 (dist.AssumedBuildpackAPIVersion).
ASSUMED_API = "0.1"
# buildpack.md asks ids to be letters, digits, '.', '/' and '-' (and not app, config, generated,
# sbom); pack and the lifecycle check neither, so cnbext only refuses what is unsafe as a folder
# name and a Dockerfile word (the spec's rules are warnings: the descriptor schemas). A buildpack
# id still may not be reserved: its layers folder would be the lifecycle's own (/layers/config).
_MODULE_ID = re.compile(r"[^\s\x00-\x1f\x7f\\\"'`$]+")
_RESERVED_IDS = frozenset({"app", "config", "generated", "sbom"})
# Versions become folder names; anything that could leave the folder is refused.
_MODULE_VERSION = re.compile(r"[A-Za-z0-9._+-]+")


class ModuleError(CnbextError):
    """A buildpack or extension source that cannot be used: unreachable, malformed or unsafe."""

    exit_code = ExitCode.CONFIG


def parse_api(value: str) -> tuple[int, int] | None:
    """``"0.10"`` -> ``(0, 10)``, ``"1"`` -> ``(1, 0)``, ``"v0.010"`` -> ``(0, 10)``; None
    when the lifecycle cannot parse it as an API version."""
    match = _API_VERSION.fullmatch(value)
    if match is None:
        return None
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    if major >= _UINT64 or minor >= _UINT64:
        return None  # strconv.ParseUint(..., 64) fails
    return major, minor


def canonical_api(value: str) -> str:
    """The API as written when in the spec's form, else as pack writes it (``"0.10"``)."""
    parsed = parse_api(value)
    if parsed is None or SPEC_API_VERSION.fullmatch(value):
        return value
    return f"{parsed[0]}.{parsed[1]}"


@dataclass(frozen=True)
class OrderRef:
    """An entry of a composite buildpack's ``[[order]] [[order.group]]``."""

    id: str
    version: str | None
    optional: bool


@dataclass(frozen=True)
class ModuleDescriptor:
    kind: ModuleKind
    api: str
    id: str
    version: str
    name: str | None
    homepage: str | None
    order: tuple[tuple[OrderRef, ...], ...]  # () unless a composite buildpack
    # Tables stay plain dicts (they are copied into labels as they are), so they are left out
    # of the hash: equal descriptors still compare equal, and descriptors stay hashable.
    stacks: tuple[dict[str, Any], ...] = field(hash=False)
    targets: tuple[dict[str, Any], ...] = field(hash=False)
    raw: dict[str, Any] = field(hash=False)  # the whole parsed descriptor

    @property
    def is_composite(self) -> bool:
        return bool(self.order)


def read_descriptor(root: Path, kind: ModuleKind) -> ModuleDescriptor:
    """Parse ``buildpack.toml`` / ``extension.toml`` at ``root``; ModuleError says what is wrong."""
    return load_descriptor(root, kind, origin=None)


def load_descriptor(root: Path, kind: ModuleKind, origin: str | None) -> ModuleDescriptor:
    file_name = DESCRIPTOR_NAMES[kind]
    path = root / file_name
    # Files extracted into a temporary folder are named by the uri the user wrote.
    where = f"{origin}: {file_name}" if origin else str(path)
    if not path.is_file():
        other: ModuleKind = "extension" if kind == "buildpack" else "buildpack"
        if (root / DESCRIPTOR_NAMES[other]).is_file():
            raise ModuleError(
                f"{where} not found: this is {_article(other)} {other} "
                f"({DESCRIPTOR_NAMES[other]} found), not {_article(kind)} {kind}",
                hint=f"list it under [[{other}s]] in builder.toml",
            )
        raise ModuleError(
            f"{where} not found: {_article(kind)} {kind} has its {file_name} at its root",
            hint=f"point the uri at the {kind}'s folder, or at an archive or buildpackage of it",
        )
    try:
        data = load_toml(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ModuleError(
            f"{where} is not valid TOML: {err}", hint=f"fix the {kind}'s {file_name}"
        ) from err
    except (OSError, UnicodeDecodeError) as err:
        raise ModuleError(f"{where} cannot be read: {err}") from err
    return parse_descriptor(data, kind, where=where)


def parse_descriptor(data: dict[str, Any], kind: ModuleKind, *, where: str) -> ModuleDescriptor:
    """Check a parsed descriptor and report every problem at once, each with its key."""
    problems: list[str] = []
    # Read as pack does, so the lifecycle compatibility check can reject it with a message
    # about the API.
    api = data.get("api", ASSUMED_API)
    if not isinstance(api, str) or parse_api(api) is None:
        problems.append(f'api must be a version string like "0.10", got {api!r}')
    table = data.get(kind)
    if not isinstance(table, dict):
        problems.append(f"[{kind}] table is missing")
        table = {}
    module_id = table.get("id")
    if not isinstance(module_id, str) or not _MODULE_ID.fullmatch(module_id):
        problems.append(
            f"{kind}.id must be a name without whitespace, quotes, '\\' or '$', got {module_id!r}"
        )
    elif (kind == "buildpack" and module_id in _RESERVED_IDS) or module_id.strip(".") == "":
        problems.append(f"{kind}.id {module_id!r} is reserved or not a name")
    version = table.get("version")
    if (
        not isinstance(version, str)
        or not _MODULE_VERSION.fullmatch(version)
        or version in {".", ".."}
    ):
        problems.append(f'{kind}.version must be a version like "1.2.3", got {version!r}')
    name = _optional_string(table, "name", kind, problems)
    homepage = _optional_string(table, "homepage", kind, problems)
    order: tuple[tuple[OrderRef, ...], ...] = ()
    if "order" in data and kind == "buildpack":
        # An extension's [[order]] is a key pack warns about and ignores, as the lifecycle does.
        order = _parse_order(data["order"], problems)
    stacks = _parse_tables(data, "stacks", problems) if kind == "buildpack" else ()
    targets = _parse_tables(data, "targets", problems)
    if order and (stacks or targets):
        # pack's validateBuildpackDescriptor
        problems.append("cannot have both 'targets'/'stacks' and an 'order' defined")
    if problems:
        raise ModuleError(
            f"{where}: " + "; ".join(problems),
            hint=f"fix the {kind}'s {DESCRIPTOR_NAMES[kind]} (see the Buildpack API spec)",
        )
    assert isinstance(api, str) and isinstance(module_id, str) and isinstance(version, str)
    return ModuleDescriptor(
        kind=kind,
        api=canonical_api(api),
        id=module_id,
        version=version,
        name=name,
        homepage=homepage,
        order=order,
        stacks=stacks,
        targets=targets,
        raw=data,
    )


def _optional_string(table: dict[str, Any], key: str, kind: str, problems: list[str]) -> str | None:
    value = table.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.append(f"{kind}.{key} must be a string, got {value!r}")
    return None


def _parse_order(value: Any, problems: list[str]) -> tuple[tuple[OrderRef, ...], ...]:
    if not isinstance(value, list) or not value:
        problems.append("order must be a non-empty array of tables ([[order]])")
        return ()
    groups: list[tuple[OrderRef, ...]] = []
    for index, entry in enumerate(value):
        group = entry.get("group") if isinstance(entry, dict) else None
        if not isinstance(group, list) or not group:
            problems.append(f"order[{index}].group must be a non-empty array of tables")
            continue
        refs: list[OrderRef] = []
        for position, ref in enumerate(group):
            where = f"order[{index}].group[{position}]"
            if not isinstance(ref, dict):
                problems.append(f"{where} must be a table")
                continue
            ref_id, ref_version = ref.get("id"), ref.get("version")
            optional = ref.get("optional", False)
            if not isinstance(ref_id, str) or not ref_id:
                problems.append(f"{where}.id must be a non-empty string, got {ref_id!r}")
            if ref_version is not None and not isinstance(ref_version, str):
                problems.append(f"{where}.version must be a string, got {ref_version!r}")
            if not isinstance(optional, bool):
                problems.append(f"{where}.optional must be true or false, got {optional!r}")
            if isinstance(ref_id, str) and ref_id:
                version = ref_version if isinstance(ref_version, str) else None
                refs.append(OrderRef(ref_id, version, optional is True))
        groups.append(tuple(refs))
    return tuple(groups)


def _parse_tables(
    data: dict[str, Any], key: str, problems: list[str]
) -> tuple[dict[str, Any], ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems.append(f"{key} must be an array of tables ([[{key}]])")
        return ()
    return tuple(value)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


@dataclass(frozen=True)
class Module:
    descriptor: ModuleDescriptor
    root: Path  # a local folder holding the module's files, descriptor at its root

    @property
    def install_path(self) -> PurePosixPath:
        """Where the lifecycle looks for it: ``/cnb/buildpacks/<id, / as _>/<version>``."""
        folder = self.descriptor.id.replace("/", "_")
        return PurePosixPath("/cnb", INSTALL_DIRS[self.descriptor.kind], folder) / (
            self.descriptor.version
        )
