"""The public API: every documented name importable from ``cnbext``, and importing it cheap."""

from __future__ import annotations

import subprocess
import sys

import cnbext


def test_every_public_name_resolves() -> None:
    for name in cnbext.__all__:
        assert getattr(cnbext, name) is not None
    assert callable(cnbext.extend) and callable(cnbext.create_builder)


def test_unknown_names_are_attribute_errors() -> None:
    try:
        cnbext.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as err:
        assert "no_such_thing" in str(err)
    else:
        raise AssertionError("expected an AttributeError")


def test_import_cnbext_imports_no_docker_client_or_validator() -> None:
    code = (
        "import sys, cnbext; "
        "print(sorted(m for m in ('python_on_whales', 'jsonschema', 'typer') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
