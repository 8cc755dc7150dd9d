"""Reading what an extension's generate wrote: extend-config.toml by its schema, contexts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnbext.client.extensions import read_generate_output
from cnbext.errors import GENERATE_OUTPUT_ERROR, ExtensionError

EXTEND = "ARG base_image\nFROM ${base_image}\nRUN true\n"


def test_generate_output_args_and_contexts(tmp_path: Path) -> None:
    (tmp_path / "run.Dockerfile").write_text(EXTEND)
    (tmp_path / "extend-config.toml").write_text(
        '[[run.args]]\nname = "greeting"\nvalue = "a=b"\n[[build.args]]\nname = "x"\nvalue = "1"\n'
    )
    (tmp_path / "context.run").mkdir()
    result = read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert result.run_dockerfile == EXTEND
    assert result.build_dockerfile is None
    assert result.run_args == {"greeting": "a=b"}
    assert result.build_args == {"x": "1"}
    assert result.run_context == tmp_path / "context.run"
    assert result.build_context is None  # the app dir


def test_a_shared_context_serves_both_kinds(tmp_path: Path) -> None:
    (tmp_path / "context").mkdir()
    result = read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert result.build_context == result.run_context == tmp_path / "context"


@pytest.mark.parametrize("name", ["build_id", "user_id", "group_id"])
def test_reserved_arg_names(tmp_path: Path, name: str) -> None:
    (tmp_path / "extend-config.toml").write_text(f'[[build.args]]\nname = "{name}"\nvalue = "1"\n')
    with pytest.raises(ExtensionError) as caught:
        read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert caught.value.exit_code == GENERATE_OUTPUT_ERROR
    assert (
        f'ext/x/extend-config.toml:2:8: $.build.args[0].name: arg with name "{name}" is not allowed'
        in str(caught.value)
    )


def test_what_the_lifecycle_ignores_is_accepted(tmp_path: Path) -> None:
    """extend.ValidateConfig refuses only build_id, user_id and group_id; base_image is set
    after the extension's args (so the extender's wins), a missing value is "", and keys it
    does not decode are ignored."""
    (tmp_path / "extend-config.toml").write_text(
        '[[build.args]]\nname = "base_image"\nvalue = "x"\n[[build.args]]\nname = "n"\n'
        'color = "red"\n[extra]\nkey = 1\n'
    )
    result = read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert result.build_args == {"base_image": "x", "n": ""}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[run]\nargs = "x"\n', "2:8: $.run.args: expected an array"),
        ('[run]\nargs = ["x"]\n', "2:9: $.run.args[0]: expected a table"),
        ('[[run.args]]\nname = "n"\nvalue = 1\n', "3:9: $.run.args[0].value: expected a string"),
        ("[[run.args]]\nvalue = 'v'\n", "1:1: $.run.args[0]: missing required key 'name'"),
        ("[run\n", "1:4: invalid TOML"),
    ],
)
def test_extend_config_shapes_are_checked(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "extend-config.toml").write_text(text)
    with pytest.raises(ExtensionError) as caught:
        read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert caught.value.exit_code == GENERATE_OUTPUT_ERROR
    assert f"ext/x/extend-config.toml:{problem}" in str(caught.value)
    assert f"ext/x/extend-config.toml is {tmp_path / 'extend-config.toml'}" in str(caught.value)


def test_context_and_a_specific_context_together(tmp_path: Path) -> None:
    (tmp_path / "context").mkdir()
    (tmp_path / "context.build").mkdir()
    with pytest.raises(ExtensionError) as caught:
        read_generate_output(tmp_path, "ext/x", "1.0.0")
    assert caught.value.exit_code == GENERATE_OUTPUT_ERROR
