"""extend-config.toml: the build args an image extension's generate writes for its Dockerfiles.

Validated by ``extend-config.schema.json`` like every other config, so a wrong shape or a
non-string value is reported at file:line:col instead of crashing; the lifecycle decodes the
file with types (``reading extend config``) and refuses the same inputs. The args the extender
sets itself first (``build_id``, ``user_id``, ``group_id``) are refused by the schema, as the
lifecycle's ``extend.ValidateConfig`` refuses them; ``base_image``, which the extender sets
after the extension's args (so it wins), and keys the lifecycle does not know are warnings.
"""

from __future__ import annotations

from typing import Any

from cnbext.config.toml_source import TomlSource
from cnbext.config.validation import schema_check
from cnbext.errors import ConfigError, ConfigProblem

KINDS = ("build", "run")


def load_extend_config(text: str, display_name: str) -> dict[str, dict[str, str]]:
    """Args by kind (``{"build": {...}, "run": {...}}``), in file order; a later arg of the
    same name replaces an earlier one, as a later ``--build-arg`` does. Raises ConfigError."""
    return read_extend_config(text, display_name)[0]


def read_extend_config(
    text: str, display_name: str
) -> tuple[dict[str, dict[str, str]], list[ConfigProblem]]:
    """The args by kind and the warnings. Raises ConfigError."""
    return extend_config_args(TomlSource.parse(text, display_name))


def extend_config_args(
    source: TomlSource,
) -> tuple[dict[str, dict[str, str]], list[ConfigProblem]]:
    """:func:`read_extend_config` of a parsed file."""
    problems, warnings = schema_check(source, "extend-config")
    if problems:
        raise ConfigError(problems)
    data: dict[str, Any] = source.data()
    args: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    for kind in KINDS:
        for index, arg in enumerate(data.get(kind, {}).get("args", [])):
            if arg["name"] == "base_image":
                message = (
                    'arg with name "base_image" is ignored: the extender sets base_image after '
                    "the extension's args, to the image the Dockerfile extends"
                )
                warnings.append(source.problem([kind, "args", index, "name"], message))
            args[kind][arg["name"]] = arg.get("value", "")
    return args, sorted(warnings, key=ConfigProblem.sort_key)
