"""The package's folders stand in pipeline order (docs/architecture.md, "Import rules"): a
module imports only its own folder and the folders below it, never one above, wherever the
import is written (module level, inside a function, or for type checking only)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnbext"
# Top to bottom. cnbext/__init__.py is the public API over the use cases; the ground floor
# (errors, progress, version) is used by every folder.
FLOORS = ["__main__", "cli", "__init__", "client", "engine", "plan", "config", "cnb", "sources"]
GROUND = {"errors", "progress", "version"}


def _floor(module: str) -> str:
    """``cnbext.plan.model`` -> ``plan``; ``cnbext`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imported(path: Path) -> Iterator[tuple[str, str | None]]:
    """Every absolute import in ``path``, wherever it is written: (module, name taken from it)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from ((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)


def _imports(path: Path) -> set[str]:
    return {
        module
        for module, _ in _imported(path)
        if module == "cnbext" or module.startswith("cnbext.")
    }


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _own_floor(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_back_up(path: Path) -> None:
    own = _own_floor(path)
    if own in GROUND:
        assert _imports(path) <= {"cnbext.errors"}, "the ground floor imports nothing above it"
        return
    upward = [
        module
        for module in _imports(path)
        if _floor(module) not in GROUND and FLOORS.index(_floor(module)) < FLOORS.index(own)
    ]
    assert upward == [], f"{own} imports from a folder above it"


def test_every_folder_has_a_floor() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - {"schemas"} <= set(FLOORS)


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _edges(path: Path, known: set[str]) -> set[str]:
    """The modules ``path`` imports (``from cnbext.a import b`` names module a.b when it is one)."""
    targets = {
        f"{module}.{name}" if f"{module}.{name}" in known else module
        for module, name in _imported(path)
    }
    return targets & known


def test_no_two_modules_import_each_other() -> None:
    paths = {_name(p): p for p in _modules()}
    graph = {name: _edges(path, set(paths)) - {name} for name, path in paths.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            loop = [*trail[trail.index(name) :], name]
            pytest.fail("import loop: " + " -> ".join(loop))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
