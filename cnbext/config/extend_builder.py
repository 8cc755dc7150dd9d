"""extend-builder.toml: the builder to extend and the metadata for it and its run image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnbext.cnb.imageref import ImageReference, parse_reference
from cnbext.config.builder import extend_scopes
from cnbext.config.extend import image_reference_problems
from cnbext.config.extension_request import ExtensionRequest, requests_from_config
from cnbext.config.lock import LockedPins
from cnbext.config.toml_source import JsonPath, TomlSource
from cnbext.config.validation import schema_problems
from cnbext.errors import ConfigError, ConfigProblem


@dataclass(frozen=True)
class ExtendBuilderConfig:
    source: TomlSource
    image: ImageReference  # the builder
    build_metadata: dict[str, Any]  # [extend.metadata] merged with [extend.metadata.build]
    run_metadata: dict[str, Any]  # [extend.metadata] merged with [extend.metadata.run]
    has_run_table: bool  # [extend.metadata.run] is written: the user asked for the run image
    warnings: tuple[ConfigProblem, ...]
    extensions: tuple[ExtensionRequest, ...] = ()  # [[extend.extensions]]
    pins: LockedPins | None = None  # --locked: the scopes install this lock's pins

    @property
    def source_dir(self) -> Path:
        """Relative extension uris are relative to the config file's folder."""
        return Path(self.source.display_name).resolve().parent

    def problem(self, path: JsonPath, message: str) -> ConfigProblem:
        return self.source.problem(path, message)


def load_extend_builder_config(path: Path, display_name: str | None = None) -> ExtendBuilderConfig:
    source = TomlSource.read(path, display_name)
    data = source.data()
    problems = schema_problems(source, "extend-builder")
    problems += image_reference_problems(source, data, ["extend", "image"])
    if problems:
        raise ConfigError(problems)
    build, run, warnings = extend_scopes(source, data)
    metadata = data["extend"].get("metadata", {})
    return ExtendBuilderConfig(
        source=source,
        image=parse_reference(data["extend"]["image"]),
        build_metadata=build,
        run_metadata=run,
        has_run_table="run" in metadata,
        warnings=tuple(warnings),
        extensions=requests_from_config(data["extend"].get("extensions", [])),
    )
