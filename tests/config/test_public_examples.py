"""The example builder.toml files for public builders are valid (they need network to build,
so here they are validated: schema, pack's checks, [extend] scopes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnbext.config.builder import load_builder_config
from cnbext.config.extension import load_extension_config

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "builder-examples").rglob("*.toml"))
# builder.toml files only: extend.toml and extend-builder.toml have their own schemas.
BUILDERS = [
    p
    for p in EXAMPLES
    if not p.name.startswith("extend") and not {"buildpacks", "extensions"} & set(p.parts)
]
EXTENSIONS = [p for p in EXAMPLES if p.name == "extension.toml"]


@pytest.mark.parametrize("path", BUILDERS, ids=[p.name for p in BUILDERS])
def test_example_builder_configs_are_valid(path: Path) -> None:
    config = load_builder_config(path)
    assert config.build_image
    assert config.run_images
    assert config.extend_build or config.extend_run
    assert config.warnings == ()


def test_there_are_public_examples() -> None:
    public = [p for p in BUILDERS if "public" in p.parts]
    assert len(public) >= 2


@pytest.mark.parametrize("path", EXTENSIONS, ids=[p.parent.name for p in EXTENSIONS])
def test_example_extensions_are_valid(path: Path) -> None:
    config = load_extension_config(path)
    assert config.id.startswith("examples/")
    assert (path.parent / "bin" / "generate").stat().st_mode & 0o111


def test_there_are_three_example_extensions() -> None:
    assert {p.parent.name for p in EXTENSIONS} >= {"curl", "run-motd", "switch-run"}
