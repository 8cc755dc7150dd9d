"""The lock of ``--lock FILE``: the package versions each platform resolved.

``platforms`` holds what the image the command names installed (extend's image, the builder
commands' build image); ``run-image.platforms`` what the builder commands' extended run image
installed. A TOML file, validated against ``schemas/lock.schema.json`` with every problem located
(``file:line:col``) like every other config. ``--lock FILE`` writes it after a build that
succeeded; ``--lock FILE --locked`` installs exactly the specs in it instead of the config's
``packages``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnbext.cnb.installed import Package
from cnbext.config.toml_source import TomlSource
from cnbext.config.validation import schema_problems
from cnbext.errors import ConfigError, ConfigProblem

LOCK_VERSION = 1


@dataclass(frozen=True)
class LockedPlatform:
    database: str
    manager: str
    specs: tuple[str, ...]  # each package pinned in the manager's syntax, in file order


@dataclass(frozen=True)
class Lock:
    source: TomlSource
    platforms: dict[str, LockedPlatform]
    run_platforms: dict[str, LockedPlatform] = field(default_factory=dict)  # run-image

    def spec_problem(
        self, platform: str, index: int, message: str, *, run: bool = False
    ) -> ConfigProblem:
        """Pin ``index`` of ``platform`` (of ``run-image`` with ``run``), located."""
        section: list[str | int] = ["run-image"] if run else []
        path = [*section, "platforms", platform, "packages", index, "spec"]
        return self.source.problem(path, message)


@dataclass(frozen=True)
class LockedPins:
    """A builder command's scopes install a lock's pins: the platform whose pins each took."""

    lock: Lock
    build_platform: str
    run_platform: str

    def problem(self, scope: str, index: int, message: str) -> ConfigProblem:
        if scope == "run":
            return self.lock.spec_problem(self.run_platform, index, message, run=True)
        return self.lock.spec_problem(self.build_platform, index, message)


# platform -> (database, manager, [(spec, package)]), as lock_text writes it
Resolved = Mapping[str, tuple[str, str, Sequence[tuple[str, Package]]]]


def load_lock(path: Path, display_name: str | None = None) -> Lock:
    source = TomlSource.read(path, display_name)
    problems = schema_problems(source, "lock")
    if problems:
        raise ConfigError(problems)
    data = source.data()
    run = data.get("run-image", {}).get("platforms", {})
    return Lock(source, _platforms(data["platforms"]), _platforms(run))


def _platforms(table: Mapping[str, Any]) -> dict[str, LockedPlatform]:
    return {
        str(name): LockedPlatform(
            str(entry["database"]),
            str(entry["manager"]),
            tuple(str(p["spec"]) for p in entry["packages"]),
        )
        for name, entry in table.items()
    }


def lock_text(platforms: Resolved, run_platforms: Resolved | None = None) -> str:
    """The lock of ``platforms`` (and, for a builder command's extended run image,
    ``run_platforms``)."""
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment("Written by cnbext --lock: the versions each platform resolved."))
    document.add(tomlkit.comment("Install exactly these with --lock FILE --locked."))
    document["version"] = LOCK_VERSION
    document["platforms"] = _platforms_table(platforms)
    if run_platforms is not None:
        run = tomlkit.table(is_super_table=True)
        run["platforms"] = _platforms_table(run_platforms)
        document["run-image"] = run
    return tomlkit.dumps(document)


def _platforms_table(platforms: Resolved) -> Any:
    import tomlkit

    if not platforms:  # a builder whose run image alone installs: `platforms = {}`
        return tomlkit.inline_table()
    table = tomlkit.table(is_super_table=True)
    for name, (database, manager, packages) in sorted(platforms.items()):
        entry = tomlkit.table()
        entry["database"] = database
        entry["manager"] = manager
        rows = tomlkit.array()
        for spec, package in packages:
            row = tomlkit.inline_table()
            row.update(
                {
                    "spec": spec,
                    "name": package.name,
                    "version": package.version,
                    "architecture": package.architecture,
                }
            )
            rows.add_line(row)
        rows.add_line(indent="")
        entry["packages"] = rows
        table[name] = entry
    return table
