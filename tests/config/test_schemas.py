"""The shipped schemas are valid JSON Schema 2020-12 (checked here, not at every run)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from cnbext.config.validation import load_schema, schema_names


@pytest.mark.parametrize("name", schema_names())
def test_shipped_schemas_are_valid(name: str) -> None:
    Draft202012Validator.check_schema(load_schema(name))


def test_every_config_kind_has_a_schema() -> None:
    assert set(schema_names()) >= {
        "builder",
        "buildpack",
        "common",
        "extend",
        "extend-builder",
        "extend-config",
        "extension",
        "plan",
    }
