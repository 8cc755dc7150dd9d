"""extend.toml: which image to extend and the metadata to extend it with (RFC PR #23)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnbext.cnb.imageref import ImageReference, InvalidReferenceError, parse_reference
from cnbext.config.extension_request import ExtensionRequest, requests_from_config
from cnbext.config.toml_source import TomlSource
from cnbext.config.validation import closest, schema_problems
from cnbext.errors import ConfigError, ConfigProblem

KNOWN_METADATA_KEYS = ["packages", "rebasable"]


@dataclass(frozen=True)
class ExtendConfig:
    source: TomlSource
    image: ImageReference
    metadata: dict[str, Any]
    warnings: list[ConfigProblem] = field(default_factory=list)
    extensions: tuple[ExtensionRequest, ...] = ()  # [[extend.extensions]]

    @property
    def source_dir(self) -> Path:
        """Relative extension uris are relative to the config file's folder."""
        return Path(self.source.display_name).resolve().parent

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(self.metadata.get("packages", ()))

    @property
    def rebasable(self) -> bool:
        return bool(self.metadata.get("rebasable", False))

    def package_problem(self, index: int, message: str) -> ConfigProblem:
        return self.source.problem(["extend", "metadata", "packages", index], message)


def image_reference_problems(
    source: TomlSource, data: dict[str, Any], path: list[str | int]
) -> list[ConfigProblem]:
    """The reference grammar is richer than a schema pattern can say well; check it here."""
    value: Any = data
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    if not isinstance(value, str) or value == "":
        return []  # the schema has already reported it (wrong type, empty)
    try:
        parse_reference(value)
    except InvalidReferenceError as err:
        return [source.problem(path, err.reason)]
    return []


def metadata_warnings(
    source: TomlSource,
    metadata: dict[str, Any],
    prefix: Sequence[str | int] = ("extend", "metadata"),
) -> list[ConfigProblem]:
    """Free-form keys are kept, but a near miss of a known key is almost always a typo.

    ``prefix`` is where ``metadata`` sits in the file: builder.toml has scoped tables too
    (``[extend.metadata.build]``, ``[extend.metadata.run]``).
    """
    warnings = []
    for key in metadata:
        if key in KNOWN_METADATA_KEYS:
            continue
        suggestion = closest(key, KNOWN_METADATA_KEYS)
        if suggestion:
            warnings.append(
                source.problem(
                    [*prefix, key],
                    f"{key!r} is not understood by cnbext and is only recorded in the label; "
                    f"did you mean {suggestion!r}?",
                    key=True,
                )
            )
    return warnings


def load_extend_config(path: Path, display_name: str | None = None) -> ExtendConfig:
    source = TomlSource.read(path, display_name)
    data = source.data()
    problems = schema_problems(source, "extend")
    problems += image_reference_problems(source, data, ["extend", "image"])
    if problems:
        raise ConfigError(problems)
    extend = data["extend"]
    metadata: dict[str, Any] = extend.get("metadata", {})
    return ExtendConfig(
        source=source,
        image=parse_reference(extend["image"]),
        metadata=metadata,
        warnings=metadata_warnings(source, metadata),
        extensions=requests_from_config(extend.get("extensions", [])),
    )
