"""extend-config.toml: the build args an image extension's generate writes for its Dockerfiles.

Validated by ``extend-config.schema.json`` like every other config, so a wrong shape or a
non-string value is reported at file:line:col instead of crashing; the lifecycle decodes the
file with types (``reading extend config``) and refuses the same inputs. The args the extender
sets itself (``base_image``, ``build_id``, ``user_id``, ``group_id``) are refused by the schema.
"""

from __future__ import annotations

from typing import Any

from cnbext.config.toml_source import TomlSource
from cnbext.config.validation import schema_problems
from cnbext.errors import ConfigError

KINDS = ("build", "run")


def load_extend_config(text: str, display_name: str) -> dict[str, dict[str, str]]:
    """Args by kind (``{"build": {...}, "run": {...}}``), in file order; a later arg of the
    same name replaces an earlier one, as a later ``--build-arg`` does. Raises ConfigError."""
    source = TomlSource.parse(text, display_name)
    problems = schema_problems(source, "extend-config")
    if problems:
        raise ConfigError(problems)
    data: dict[str, Any] = source.data()
    args: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    for kind in KINDS:
        for arg in data.get(kind, {}).get("args", []):
            args[kind][arg["name"]] = arg.get("value", "")
    return args
