"""Validate a TOML config against its JSON Schema and report every problem with its position.

The schemas in ``cnbext/schemas/`` are the single source of truth for config files: this module
adds no rules of its own, only presentation. A schema may attach ``"x-message"`` to a subschema
to replace jsonschema's generic wording (``'a b' does not match '^...$'``) with one a user can act
on; unknown keys get a did-you-mean from the ``properties`` of the table they appear in.

A table whose schema carries ``"x-unknown-keys": "<who ignores them>"`` takes unknown keys as
warnings, not problems: pack warns "Ignoring unexpected key(s)" for a buildpack.toml or
extension.toml and builds, and the lifecycle decodes plan.toml and extend-config.toml without
looking at keys it does not know, so cnbext refuses only what they refuse. A subschema with
``"x-spec-rule": true`` is a rule of the spec that pack and the lifecycle do not check: its
failures are warnings too (docs/validate.md lists them).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from cnbext.config.toml_source import TomlSource
from cnbext.errors import ConfigProblem

SCHEMA_BASE_URI = "https://cnbext.dev/schemas/"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in the package, e.g. ``load_schema("extend")``."""
    text = resources.files("cnbext.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    # Checking a schema against the metaschema costs more than validating a large config
    # (validate is made for CI); the shipped schemas are checked by the unit tests instead.
    return schema


def schema_names() -> list[str]:
    files = resources.files("cnbext.schemas").iterdir()
    return sorted(f.name.removesuffix(".schema.json") for f in files if f.name.endswith(".json"))


@cache
def _registry() -> Registry[Any]:
    """Every shipped schema by its $id, so schemas can $ref each other's $defs."""
    resources_by_uri = [
        (SCHEMA_BASE_URI + f"{name}.schema.json", DRAFT202012.create_resource(load_schema(name)))
        for name in schema_names()
    ]
    registry: Registry[Any] = Registry().with_resources(resources_by_uri)
    return registry


def _ecma_pattern(pattern: str) -> str:
    """``pattern`` with each ``$`` anchor as ``\\Z``: JSON Schema patterns are ECMA-262, where
    ``$`` is the end of the string, while Python's ``$`` also matches before a final newline,
    so ``"id\\n"`` would pass ``^[a-z]+$``."""
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append("\\Z")
            continue
        out.append(char)
    return "".join(out)


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not re.search(_ecma_pattern(pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]


def validator_for(schema_name: str) -> Draft202012Validator:
    validator: Draft202012Validator = _Validator(load_schema(schema_name), registry=_registry())
    return validator


def schema_problems(source: TomlSource, schema_name: str) -> list[ConfigProblem]:
    """The problems only (for files whose schema has no warnings)."""
    return schema_check(source, schema_name)[0]


def schema_check(
    source: TomlSource, schema_name: str
) -> tuple[list[ConfigProblem], list[ConfigProblem]]:
    """The problems and the warnings (unknown keys where upstream ignores them)."""
    validator = validator_for(schema_name)
    problems: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []
    for error in validator.iter_errors(source.data()):
        for problem, warning in _describe(source, error):
            (warnings if warning else problems).append(problem)
    # Several schema branches can report the same spot in the same words.
    return (
        sorted(set(problems), key=ConfigProblem.sort_key),
        sorted(set(warnings), key=ConfigProblem.sort_key),
    )


def closest(word: str, candidates: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """For ``anyOf``/``oneOf`` failures, the branch errors that went deepest explain best."""
    own_message = isinstance(error.schema, dict) and "x-message" in error.schema
    if error.validator in ("anyOf", "oneOf") and error.context and not own_message:
        deepest = max(len(e.absolute_path) for e in error.context)
        if deepest > len(error.absolute_path):
            for sub in error.context:
                if len(sub.absolute_path) == deepest:
                    yield from _leaf_errors(sub)
            return
    yield error


def _describe(source: TomlSource, error: ValidationError) -> Iterator[tuple[ConfigProblem, bool]]:
    """Each located problem, and whether it is only a warning."""
    for leaf in _leaf_errors(error):
        path = list(leaf.absolute_path)
        schema: dict[str, Any] = leaf.schema if isinstance(leaf.schema, dict) else {}
        if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
            yield from _unknown_keys(source, path, schema, leaf.instance)
            continue
        # "x-spec-rule": the spec asks for it, pack and the lifecycle do not check it: a warning.
        for problem in _problems(source, leaf, path, schema):
            yield problem, bool(schema.get("x-spec-rule"))


def _unknown_keys(
    source: TomlSource, path: list[Any], schema: dict[str, Any], instance: dict[str, Any]
) -> Iterator[tuple[ConfigProblem, bool]]:
    known = sorted(schema.get("properties", {}))
    ignored_by = schema.get("x-unknown-keys")
    for unknown in sorted(set(instance) - set(known)):
        suggestion = closest(unknown, known)
        if ignored_by:
            message = f"ignoring unexpected key {unknown!r} ({ignored_by})"
        else:
            message = f"unknown key {unknown!r}"
        if suggestion:
            message += f"; did you mean {suggestion!r}?"
        elif known and not ignored_by:
            message += f"; expected one of: {', '.join(known)}"
        yield source.problem([*path, unknown], message, key=True), bool(ignored_by)


def _problems(
    source: TomlSource, leaf: ValidationError, path: list[Any], schema: dict[str, Any]
) -> Iterator[ConfigProblem]:
    """The located problems of one failed check other than an unknown key."""
    if leaf.validator == "required":
        # jsonschema words it "'image' is a required property"; point at the table.
        missing = leaf.message.split("'")[1] if "'" in leaf.message else leaf.message
        where = "the top level" if not path else f"[{'.'.join(map(str, path))}]"
        yield source.problem(path, f"missing required key {missing!r} in {where}")
        return
    if leaf.validator == "uniqueItems" and isinstance(leaf.instance, list):
        yield from _duplicates(source, path, leaf.instance)
        return
    custom = schema.get("x-message")
    # A wrong type is best said plainly; x-message explains the value's format.
    if isinstance(custom, str) and leaf.validator != "type":
        yield source.problem(path, custom.format(value=_short(leaf.instance)))
        return
    yield source.problem(path, _generic_message(leaf))


def _duplicates(source: TomlSource, path: list[Any], items: list[Any]) -> Iterator[ConfigProblem]:
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        marker = json.dumps(item, sort_keys=True)
        if marker in first_index:
            yield source.problem(
                [*path, index],
                f"{_short(item)} is repeated (first at index {first_index[marker]}); "
                "items must be unique",
            )
        else:
            first_index[marker] = index


def _generic_message(error: ValidationError) -> str:
    if error.validator == "type":
        expected: Any = error.validator_value
        names = [str(n) for n in (expected if isinstance(expected, list) else [expected])]
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return f"expected {wanted}, found {_toml_type(error.instance)}"
    if error.validator == "enum":
        values: Any = error.validator_value
        allowed = ", ".join(json.dumps(v) for v in values)
        return f"{_short(error.instance)} is not allowed; expected one of: {allowed}"
    if error.validator == "minItems" and error.validator_value == 1:
        return "must not be empty"
    if error.validator == "minLength" and error.validator_value == 1:
        return "must not be empty"
    return error.message


_TYPE_NAMES = {
    "object": "a table",
    "array": "an array",
    "string": "a string",
    "boolean": "a boolean (true or false)",
    "integer": "an integer",
    "number": "a number",
}


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    return type(value).__name__


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
