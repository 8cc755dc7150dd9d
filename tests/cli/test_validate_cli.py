"""`cnbext validate` at the command line: output forms and exit codes (docs/exit-codes.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnbext.cli import app

runner = CliRunner()
GOOD = Path(__file__).resolve().parents[1] / "fixtures" / "validate" / "good"


def test_valid_files_exit_0_with_warnings_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("extension.toml").write_text('api = "0.10"\n[extension]\nid = "a"\nversion = "1.0"\n')
    result = runner.invoke(app, ["validate", "extension.toml"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("warning: extension.toml:4:11: $.extension.version")
    assert "1 file checked: 0 problem(s), 1 warning(s)" in result.stderr


def test_problems_exit_3_one_line_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("builder.toml").write_text('[[buildpack]]\nuri = "x"\n[build]\nimage = "a/b"\n')
    Path("extension.toml").write_text('api = "0.10"\n[extension]\nid = "a"\nversion = "1.0"\n')
    result = runner.invoke(app, ["validate", "builder.toml", "extension.toml"])
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        "builder.toml:1:1: $.run.images: run.images are required",
        "builder.toml:1:3: $.buildpack: unknown key 'buildpack'; did you mean 'buildpacks'?",
        "warning: extension.toml:4:11: $.extension.version: extension version '1.0' is not "
        "X.Y.Z (three numbers without leading zeros) as the spec asks; pack and the lifecycle "
        "accept it, and so does cnbext",
    ]


def test_json_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("run.Dockerfile").write_text("FROM a\nFROM b\n")
    result = runner.invoke(app, ["validate", "run.Dockerfile", "-o", "json"])
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["exitCode"] == 3
    assert document["files"][0]["kind"] == "run.Dockerfile"
    assert document["problems"] == [
        "run.Dockerfile:2:1: run.Dockerfile is not permitted to use multistage build (a second FROM)"
    ]


def test_kind_flag_and_unknown_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ci.toml").write_text('[extend]\nimage = "a"\n')
    assert runner.invoke(app, ["validate", "ci.toml"]).exit_code == 2
    assert runner.invoke(app, ["validate", "ci.toml", "--kind", "extend"]).exit_code == 0
    result = runner.invoke(app, ["validate", "ci.toml", "--kind", "nope"])
    assert result.exit_code == 2
    assert "--kind 'nope' is not a kind" in result.stderr
    # one JSON shape whatever the outcome
    shapes = set()
    for args in (["ci.toml"], ["ci.toml", "--kind", "extend"], ["ci.toml", "--kind", "nope"]):
        result = runner.invoke(app, ["validate", *args, "-o", "json"])
        shapes.add(tuple(sorted(json.loads(result.stdout))))
    assert len(shapes) == 1


def test_strict_fails_on_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("extension.toml").write_text('api = "0.10"\n[extension]\nid = "a"\nversion = "1.0"\n')
    assert runner.invoke(app, ["validate", "extension.toml"]).exit_code == 0
    result = runner.invoke(app, ["validate", "extension.toml", "--strict"])
    assert result.exit_code == 3
    assert "(--strict: warnings are problems)" in result.stderr


def test_missing_file_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate", "builder.toml"])
    assert result.exit_code == 3
    assert result.stdout.strip() == "builder.toml:1:1: $: file not found"


def test_folders_and_several_files() -> None:
    result = runner.invoke(app, ["validate", str(GOOD / "ubi-nodejs-extension"), "-o", "json"])
    assert result.exit_code == 0, result.output
    kinds = [f["kind"] for f in json.loads(result.stdout)["files"]]
    assert kinds[0] == "extension" and "build.Dockerfile" in kinds


def test_a_strangers_folder_name_reaches_the_terminal_inert(tmp_path: Path) -> None:
    # A repository of extensions checked in CI: its folder names are the stranger's text.
    folder = tmp_path / "ext\x1b]0;owned\x07"
    folder.mkdir()
    (folder / "extension.toml").write_text('api = "0.10"\n[extension]\nid = "ex/a"\n')
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "ext\\x1b]0;owned\\x07" in result.output
