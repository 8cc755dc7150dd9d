"""Every kind of TOML cnbext reads, fed wrong types and deep nesting, ends in the exit code
docs/exit-codes.md documents for it, never in "internal error" (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnbext.cli import app
from cnbext.cnb.extender import parse_detect_plan
from cnbext.config.extend_config import load_extend_config
from cnbext.errors import DETECT_PLAN_ERROR, CnbextError, ExitCode, ExtensionError
from cnbext.sources.descriptor import load_descriptor
from cnbext.sources.lifecycle import fetch_lifecycle
from cnbext.sources.toml_limits import nesting_depth
from tests.fixtures.lifecycle_fixture import write_lifecycle_tree

DEEP_ARRAYS = "x = " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_TABLES = "x = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n"
DEEP = [DEEP_ARRAYS, DEEP_TABLES]
WRONG_TYPES = {
    "builder.toml": '[build]\nimage = 3\n[[buildpacks]]\nuri = [1]\n[[order]]\ngroup = "x"\n'
    "[lifecycle]\nversion = {a = 1}\n[[targets]]\nos = 1\n",
    "extend.toml": "[extend]\nimage = [1]\nmetadata = 3\n",
    "extend-builder.toml": "[extend]\nimage = {a = 1}\n[extend.metadata]\nrun = 1\n",
    "extension.toml": "api = 1\n[extension]\nid = [1]\nversion = 2\n[[targets]]\nos = 3\n",
    "buildpack.toml": "api = [1]\n[buildpack]\nid = 1\nversion = {}\n[[order]]\ngroup = 1\n",
    "extend-config.toml": "[build]\nargs = 1\n[[run.args]]\nname = 1\nvalue = [2]\n",
    "plan.toml": "or = [1]\nprovides = 3\n",
}
runner = CliRunner()


CASES = [
    *((name, "wrong-types", body) for name, body in WRONG_TYPES.items()),
    *((name, f"deep-{index}", body) for name in WRONG_TYPES for index, body in enumerate(DEEP)),
]


@pytest.mark.parametrize(("name", "case", "body"), CASES, ids=[f"{n}-{c}" for n, c, _ in CASES])
def test_validate_answers_3_for_every_config_kind(
    tmp_path: Path, name: str, case: str, body: str
) -> None:
    path = tmp_path / name
    path.write_text(body)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize(
    "text", ["or = [1]", "provides = 3", "or = 3", "[[or]]\nprovides = 1", *DEEP]
)
def test_a_detect_plan_of_wrong_types_or_too_deep_is_refused_with_22(text: str) -> None:
    with pytest.raises(ExtensionError) as caught:
        parse_detect_plan(text, "ex/evil")
    assert caught.value.exit_code == DETECT_PLAN_ERROR
    assert "ex/evil" in caught.value.message


def test_a_good_detect_plan_still_reads() -> None:
    plan = '[[provides]]\nname = "a"\n[[or]]\n[[or.provides]]\nname = "b"\n'
    assert parse_detect_plan(plan, "ex/ok") == ("a", "b")


@pytest.mark.parametrize("text", [WRONG_TYPES["extend-config.toml"], *DEEP])
def test_extend_config_of_wrong_types_or_too_deep_is_a_config_error(text: str) -> None:
    with pytest.raises(CnbextError) as caught:
        load_extend_config(text, "ex/evil/extend-config.toml")
    assert caught.value.exit_code == ExitCode.CONFIG  # the caller words it as generate's 92


@pytest.mark.parametrize("text", [WRONG_TYPES["buildpack.toml"], *DEEP])
def test_a_module_descriptor_of_wrong_types_or_too_deep_is_refused_with_3(
    tmp_path: Path, text: str
) -> None:
    (tmp_path / "buildpack.toml").write_text(text)
    with pytest.raises(CnbextError) as caught:
        load_descriptor(tmp_path, "buildpack", None)
    assert caught.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize("text", ["apis = 3\n[lifecycle]\nversion = [1]\n", *DEEP])
def test_a_lifecycle_toml_of_wrong_types_or_too_deep_is_refused_with_3(
    tmp_path: Path, text: str
) -> None:
    root = write_lifecycle_tree(tmp_path / "lifecycle", descriptor=text)
    with pytest.raises(CnbextError) as caught:
        fetch_lifecycle(
            version=None,
            uri=str(root),
            arch="amd64",
            base_dir=tmp_path,
            work_dir=tmp_path / "work",
            cache_dir=tmp_path / "cache",
        )
    assert caught.value.exit_code == ExitCode.CONFIG


def test_nesting_is_measured_without_recursion() -> None:
    value: object = 1
    for _ in range(100_000):
        value = [value]
    assert nesting_depth({"x": value}) == 100_001
