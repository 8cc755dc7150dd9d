"""The lock of ``cnbext extend --lock FILE``: the package versions each platform resolved.

A TOML file, validated against ``schemas/lock.schema.json`` with every problem located
(``file:line:col``) like every other config. ``--lock FILE`` writes it after a build that
succeeded; ``--lock FILE --locked`` installs exactly the specs in it instead of the config's
``packages``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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

    def spec_problem(self, platform: str, index: int, message: str) -> ConfigProblem:
        return self.source.problem(["platforms", platform, "packages", index, "spec"], message)


def load_lock(path: Path, display_name: str | None = None) -> Lock:
    source = TomlSource.read(path, display_name)
    problems = schema_problems(source, "lock")
    if problems:
        raise ConfigError(problems)
    platforms = {
        str(name): LockedPlatform(
            str(entry["database"]),
            str(entry["manager"]),
            tuple(str(p["spec"]) for p in entry["packages"]),
        )
        for name, entry in source.data()["platforms"].items()
    }
    return Lock(source, platforms)


def lock_text(
    platforms: Mapping[str, tuple[str, str, Sequence[tuple[str, Package]]]],
) -> str:
    """The lock of ``platforms``: platform -> (database, manager, [(spec, package)])."""
    import tomlkit

    document = tomlkit.document()
    document.add(tomlkit.comment("Written by cnbext --lock: the versions each platform resolved."))
    document.add(tomlkit.comment("Install exactly these with --lock FILE --locked."))
    document["version"] = LOCK_VERSION
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
    document["platforms"] = table
    return tomlkit.dumps(document)
