"""``--lock FILE`` and ``--locked`` for extend: write what was resolved, install exactly it.

The versions come from ``io.cnbext.packages`` (what each platform's build added or upgraded,
read from the result), pinned in the package manager's own syntax. ``--locked`` replaces the
config's ``packages`` by the lock's pins before planning, so the planner checks them against
the distro's manager (problems located in the lock file) and the Dockerfile installs exactly
them. A pinned version the repositories no longer have fails the build, so nothing is
published; the error names each such package.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnbext.client.usecase import Result
from cnbext.cnb.installed import PACKAGES_LABEL, parse_packages_label
from cnbext.cnb.package_managers import ALL_MANAGERS, unavailable_packages
from cnbext.config.extend import ExtendConfig
from cnbext.config.lock import Lock, load_lock, lock_text
from cnbext.errors import BuildError, ConfigProblem, UsageError


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
    the lock when none are given). One Dockerfile serves every platform, so they must have
    been resolved alike."""
    lock = load_lock(lock_path, str(lock_path))
    wanted = list(platforms) or sorted(lock.platforms)
    missing = [p for p in wanted if p not in lock.platforms]
    if missing:
        raise UsageError(f"{lock_path} has no versions for {', '.join(missing)}")
    specs = {p: lock.platforms[p].specs for p in wanted}
    if len(set(specs.values())) > 1:
        raise UsageError(
            f"{lock_path}: the platforms resolved different versions, which one install line "
            "cannot pin; lock and build them one platform at a time"
        )
    metadata = {**config.metadata, "packages": list(specs[wanted[0]])}
    fields = {f: getattr(config, f) for f in ("source", "image", "warnings", "extensions")}
    return LockedConfig(**fields, metadata=metadata, lock=lock, platform=wanted[0])


def run_locked(run: Callable[[], Result], manager_of: Callable[[], str | None]) -> Result:
    """``run()``; a build that failed because pinned versions are gone says which."""
    try:
        return run()
    except BuildError as err:
        gone = unavailable_packages(manager_of() or "", err.message)
        if not gone:
            raise
        raise BuildError(
            "locked versions are no longer available: " + ", ".join(gone),
            hint="nothing was published; re-resolve with --lock FILE (without --locked)",
        ) from None


def write_lock(path: Path, result: Result) -> None:
    """Write the versions the result's builds resolved (the extended image's platforms)."""
    (build,) = result.plan.builds
    manager = next(m for m in ALL_MANAGERS if m.name == build.package_manager)
    image = result.images[0]
    changes = parse_packages_label(image.labels.get(PACKAGES_LABEL)) or {}
    platforms = {
        platform: (
            change.database,
            manager.name,
            [
                (manager.pin(p.name, p.version), p)
                for p in sorted([*change.added, *(u.package for u in change.upgraded)])
            ],
        )
        for platform, change in changes.items()
    }
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(lock_text(platforms))
    temporary.replace(path)  # never a half-written lock
