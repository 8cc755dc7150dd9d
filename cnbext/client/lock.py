"""``--lock FILE`` and ``--locked``: write what was resolved, install exactly it.

The versions come from ``io.cnbext.packages`` (what each platform's build added or upgraded,
read from the result), pinned in the package manager's own syntax. ``--locked`` replaces the
config's ``packages`` by the lock's pins before planning, so the planner checks them against
the distro's manager and the Dockerfile installs exactly them. A pinned version the
repositories no longer have fails the build, so nothing is published; the error names each
such package.

One lock serves every command: ``platforms`` is what the image the command names installed
(extend's image; extend-builder's and create-builder's build image), ``run-image.platforms``
what a builder command's extended run image (``--run-image``) installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from cnbext.cnb.installed import PACKAGES_LABEL, Package, parse_packages_label
from cnbext.cnb.package_managers import ALL_MANAGERS, unavailable_packages
from cnbext.config.builder import BuilderConfig
from cnbext.config.extend import ExtendConfig
from cnbext.config.extend_builder import ExtendBuilderConfig
from cnbext.config.lock import (
    Lock,
    LockedPins,
    LockedPlatform,
    Resolved,
    load_lock,
    lock_text,
)
from cnbext.errors import BuildError, ConfigProblem, UsageError

if TYPE_CHECKING:
    from cnbext.client.publish import ImageResult
    from cnbext.engine.protocol import Engine
    from cnbext.plan.builder_options import BuilderOptions
    from cnbext.plan.model import Plan
    from cnbext.progress import Reporter

    # cnbext.client.usecase's, which runs this module (so it is not imported from there)
    PlanWith = Callable[[Engine, Reporter, Path], Plan]


class Made(Protocol):
    """What a use case returns (cnbext.client.usecase.Result), as far as a lock reads it."""

    @property
    def plan(self) -> Plan: ...

    @property
    def images(self) -> tuple[ImageResult, ...]: ...


Result = TypeVar("Result", bound=Made)

RUN_IMAGE_ROLE = "run image"  # the builder commands' extended run image: `run-image` in a lock
BuilderLike = TypeVar("BuilderLike", ExtendBuilderConfig, BuilderConfig)


@dataclass(frozen=True)
class LockedConfig(ExtendConfig):
    """An extend.toml whose packages are a lock's pins: a rejected pin is located there."""

    lock: Lock | None = None
    platform: str = ""

    def package_problem(self, index: int, message: str) -> ConfigProblem:
        assert self.lock is not None
        return self.lock.spec_problem(self.platform, index, message)


def locked_config(config: ExtendConfig, lock_path: Path, platforms: Sequence[str]) -> ExtendConfig:
    """``config`` installing exactly the lock's pins for ``platforms`` (every platform of
    the lock when none are given)."""
    lock = load_lock(lock_path, str(lock_path))
    wanted, specs = _pins(lock.platforms, lock_path, platforms, "")
    metadata = {**config.metadata, "packages": list(specs)}
    fields = {f: getattr(config, f) for f in ("source", "image", "warnings", "extensions")}
    return LockedConfig(**fields, metadata=metadata, lock=lock, platform=wanted)


def locked_builder_config(
    config: BuilderLike, lock_path: Path, platforms: Sequence[str], *, extend_run: bool
) -> BuilderLike:
    """A builder command's config whose build scope installs exactly the lock's
    ``platforms`` pins and, when the run image is extended, whose run scope installs exactly
    its ``run-image`` pins; a pin the manager rejects is located in the lock."""
    lock = load_lock(lock_path, str(lock_path))
    build_field, run_field = (
        ("build_metadata", "run_metadata")
        if isinstance(config, ExtendBuilderConfig)
        else ("extend_build", "extend_run")
    )
    build, build_platform = _pinned(
        getattr(config, build_field), lock.platforms, lock_path, platforms, ""
    )
    changes: dict[str, Any] = {build_field: build}
    run_platform = ""
    if extend_run:
        changes[run_field], run_platform = _pinned(
            getattr(config, run_field), lock.run_platforms, lock_path, platforms, "run-image."
        )
    return replace(config, **changes, pins=LockedPins(lock, build_platform, run_platform))


def as_locked(config: BuilderLike, options: BuilderOptions, *, extend_run: bool) -> BuilderLike:
    """``config`` as --locked asks (:func:`locked_builder_config`); as it is without."""
    if not (options.locked and options.lock is not None):
        return config
    return locked_builder_config(config, options.lock, options.platforms, extend_run=extend_run)


def _pinned(
    metadata: Mapping[str, Any],
    table: Mapping[str, LockedPlatform],
    lock_path: Path,
    platforms: Sequence[str],
    section: str,
) -> tuple[dict[str, Any], str]:
    """``metadata`` with the lock table's pins as its packages (as it is, when it installs
    nothing and the lock pins nothing for it), and the platform whose pins it took."""
    if not metadata.get("packages") and not table:
        return dict(metadata), ""
    if not table:
        raise UsageError(f"{lock_path} has no {section}platforms: it was not locked with them")
    platform, specs = _pins(table, lock_path, platforms, section)
    return {**metadata, "packages": list(specs)}, platform


def _pins(
    table: Mapping[str, LockedPlatform], lock_path: Path, platforms: Sequence[str], section: str
) -> tuple[str, tuple[str, ...]]:
    """The first wanted platform and its pins. One Dockerfile serves every platform, so they
    must have been resolved alike."""
    wanted = list(platforms) or sorted(table)
    missing = [p for p in wanted if p not in table]
    if missing or not wanted:
        raise UsageError(
            f"{lock_path} has no {section}versions for {', '.join(missing) or 'any platform'}"
        )
    specs = {p: table[p].specs for p in wanted}
    if len(set(specs.values())) > 1:
        raise UsageError(
            f"{lock_path}: the platforms resolved different versions, which one install line "
            "cannot pin; lock and build them one platform at a time"
        )
    return wanted[0], specs[wanted[0]]


def run_with_lock(
    run: Callable[[PlanWith], Result],
    plan_with: PlanWith,
    *,
    lock: Path | None,
    locked: bool,
    dry_run: bool,
) -> Result:
    """``run(plan_with)`` under ``--lock FILE``/``--locked``: locked, a gone pin is named;
    else the lock is written after a build that succeeded (never on a dry run)."""
    if locked:
        return locked_run(plan_with, run)
    result = run(plan_with)
    if lock is not None and not dry_run:
        write_lock(lock, result)
    return result


def locked_run(plan_with: PlanWith, run: Callable[[PlanWith], Result]) -> Result:
    """``run(plan_with)``; a build that failed because pinned versions are gone says which
    (each build's manager read from the plan, once planned)."""
    managers: list[str] = []

    def recording(engine: Engine, reporter: Reporter, work_dir: Path) -> Plan:
        plan = plan_with(engine, reporter, work_dir)
        managers.extend(b.package_manager for b in plan.builds if b.package_manager)
        return plan

    try:
        return run(recording)
    except BuildError as err:
        gone = [g for m in dict.fromkeys(managers) for g in unavailable_packages(m, err.message)]
        if not gone:
            raise
        raise BuildError(
            "locked versions are no longer available: " + ", ".join(dict.fromkeys(gone)),
            hint="nothing was published; re-resolve with --lock FILE (without --locked)",
        ) from None


def write_lock(path: Path, result: Made) -> None:
    """Write the versions the result's package-installing builds resolved, per platform:
    the run image's (a builder command's) under ``run-image``, the other image's at the top.
    Nothing when no build installed anything."""
    installing = {b.role: b for b in result.plan.builds if b.packages}
    if not installing:
        return
    resolved: dict[str, Resolved] = {}
    for image in result.images:
        build = installing.get(image.role)
        if build is not None and build.package_manager:
            resolved[image.role] = _resolved(image, build.package_manager)
    run = resolved.pop(RUN_IMAGE_ROLE, None)
    platforms = next(iter(resolved.values()), {})
    if RUN_IMAGE_ROLE in installing and len(result.plan.builds) == 1 and path.exists():
        # A run image upgraded by its own name: its builder's versions stay as locked.
        platforms = _locked_packages(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(lock_text(platforms, run))
    temporary.replace(path)  # never a half-written lock


def _locked_packages(path: Path) -> Resolved:
    """The top ``platforms`` of the lock at ``path``, as :func:`lock_text` writes them."""
    data = load_lock(path, str(path)).source.data()
    return {
        str(platform): (
            str(entry["database"]),
            str(entry["manager"]),
            [
                (str(p["spec"]), Package(p["name"], p["version"], p["architecture"], p["name"]))
                for p in entry["packages"]
            ],
        )
        for platform, entry in data["platforms"].items()
    }


def _resolved(image: ImageResult, manager_name: str) -> Resolved:
    manager = next(m for m in ALL_MANAGERS if m.name == manager_name)
    changes = parse_packages_label(image.labels.get(PACKAGES_LABEL)) or {}

    def pins(packages: list[Package]) -> list[tuple[str, Package]]:
        return [(manager.pin(p.name, p.version), p) for p in sorted(packages)]

    return {
        platform: (
            change.database,
            manager.name,
            pins([*change.added, *(u.package for u in change.upgraded)]),
        )
        for platform, change in changes.items()
    }
