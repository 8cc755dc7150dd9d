"""`create-builder` and `extend-builder` at the command line: everything that must fail (or
print) before an engine is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnbext.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("command", "texts"),
    [
        (
            "create-builder",
            [
                "[extend.metadata.build]",
                "--run-image-mirror",
                "CNBEXT_LIFECYCLE_BASE_URL",
                "--lock",
                "--locked",
            ],
        ),
        (
            "extend-builder",
            ["[extend.metadata.run]", "--extension-config", "--run-image", "--lock", "--locked"],
        ),
    ],
)
def test_help_teaches_the_config(command: str, texts: list[str]) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    for text in texts:
        assert text in result.stdout


def test_root_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    for command in ("extend", "create-builder", "extend-builder"):
        assert command in result.stdout


def test_invalid_builder_toml_exits_3_before_any_engine_work(tmp_path: Path) -> None:
    config = tmp_path / "builder.toml"
    config.write_text('[[buildpack]]\nuri = "x"\n[build]\nimage = "a/b"\n')
    result = runner.invoke(app, ["create-builder", "a/builder", "-c", str(config)])
    assert result.exit_code == 3
    assert f"{config}:1:3: $.buildpack: unknown key 'buildpack'; did you mean 'buildpacks'?" in (
        result.stderr
    )
    assert "run.images are required" in result.stderr


def test_mirror_without_run_image_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "extend-builder.toml"
    config.write_text('[extend]\nimage = "a/builder"\n[extend.metadata]\npackages = ["jq"]\n')
    result = runner.invoke(
        app, ["extend-builder", "a/b", "-e", str(config), "--run-image-mirror", "m/run:1"]
    )
    assert result.exit_code == 2
    assert "--run-image-mirror needs --run-image" in result.stderr


def test_run_table_without_run_image_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "extend-builder.toml"
    config.write_text('[extend]\nimage = "a/builder"\n[extend.metadata.run]\npackages = ["jq"]\n')
    result = runner.invoke(app, ["extend-builder", "a/b", "-e", str(config)])
    assert result.exit_code == 2
    assert "give --run-image NAME" in result.stderr


@pytest.mark.parametrize("flag", ["--config", "-c", "--extension-config", "-e"])
def test_extend_builder_config_aliases_read_the_file(tmp_path: Path, flag: str) -> None:
    """The RFC's examples write `extend-builder --config`: every spelling reads the file."""
    config = tmp_path / "extend-builder.toml"
    config.write_text('[extend]\nimage = "a/builder"\n[extend.metadata.run]\npackages = ["jq"]\n')
    result = runner.invoke(app, ["extend-builder", "a/b", flag, str(config)])
    # The file was read: its [extend.metadata.run] asks for --run-image (checked before Docker).
    assert result.exit_code == 2
    assert "extend-builder.toml has [extend.metadata.run]" in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--label", "novalue"], "--label 'novalue': expected KEY=VALUE"),
        (["--flatten", "a@1,b"], "'b' is not id@version"),
        (["--target", "linux/amd46"], "unknown target: 'linux/amd46'"),
        (["--platform", "linux"], "unknown target: 'linux'"),
        (["--tag", "Bad Name"], "Bad Name"),
        (["--label", "io.buildpacks.buildpack.order=[]"], "cnbext writes this label"),
    ],
)
def test_pack_flags_are_checked_before_any_engine_work(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    config = tmp_path / "builder.toml"
    config.write_text('[build]\nimage = "a/b"\n[[run.images]]\nimage = "a/r"\n')
    result = runner.invoke(app, ["create-builder", "a/builder", "-c", str(config), *flags])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


@pytest.mark.parametrize(
    ("command", "name", "text"),
    [
        (
            "create-builder",
            "builder.toml",
            '[build]\nimage = "a/b"\n[[run.images]]\nimage = "a/r"\n',
        ),
        (
            "extend-builder",
            "extend-builder.toml",
            '[extend]\nimage = "a/b"\n[extend.metadata]\npackages = ["jq"]\n',
        ),
    ],
)
def test_locked_without_a_lock_is_a_usage_error(
    tmp_path: Path, command: str, name: str, text: str
) -> None:
    config = tmp_path / name
    config.write_text(text)
    result = runner.invoke(app, [command, "a/builder", "-c", str(config), "--locked"])
    assert result.exit_code == 2, result.output
    assert "--locked needs --lock FILE" in result.stderr
