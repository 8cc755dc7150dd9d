"""`cnbext extend` at the command line, for everything that fails before an engine is needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cnbext.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_teaches_the_config_and_the_flags() -> None:
    code, out, _ = invoke("extend", "--help")
    assert code == 0
    for text in ("[extend.metadata]", "--publish", "--pull-policy", "--dry-run", "Exit codes"):
        assert text in out


def test_version() -> None:
    code, out, _ = invoke("--version")
    assert code == 0
    assert out.startswith("cnbext ")


def test_invalid_config_exits_3_with_every_located_problem(tmp_path: Path) -> None:
    config = tmp_path / "extend.toml"
    config.write_text(
        '[extend]\nimage = "a/b"\ncolour = 1\n[extend.metadata]\npackages = ["a;b"]\n'
    )
    code, out, err = invoke("extend", "localhost:5000/x/y:z", "--config", str(config))
    assert code == 3
    assert f"{config}:3:1: $.extend.colour: unknown key 'colour'" in err
    assert f"{config}:5:13: $.extend.metadata.packages[0]:" in err
    assert "2 problems; nothing was built" in err
    assert out == ""


def test_invalid_config_with_json_output_is_one_document(tmp_path: Path) -> None:
    config = tmp_path / "extend.toml"
    config.write_text("[extend]\n")
    code, out, _ = invoke("extend", "a/b", "--config", str(config), "--output", "json")
    assert code == 3
    document = json.loads(out)
    assert document["exitCode"] == 3
    assert document["problems"] == [
        f"{config}:1:1: $.extend: missing required key 'image' in [extend]"
    ]


def test_publish_with_pull_policy_never_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = invoke("extend", "a/b", "--publish", "--pull-policy", "never")
    assert code == 2
    assert "--publish and --pull-policy never cannot be used together" in err


def test_several_platforms_need_publish() -> None:
    code, _, err = invoke("extend", "a/b", "--platform", "linux/amd64", "--platform", "linux/arm64")
    assert code == 2
    assert "need --publish" in err


def test_bad_output_names_are_usage_errors_before_any_work() -> None:
    code, _, err = invoke("extend", "Bad Name", "a/b@sha256:" + "a" * 64)
    assert code == 2
    assert 'invalid image reference "Bad Name"' in err
    assert "cannot have a digest" in err


def test_unknown_pull_policy_is_rejected_by_the_parser() -> None:
    code, _, err = invoke("extend", "a/b", "--pull-policy", "sometimes")
    assert code == 2
    assert "sometimes" in err


def test_help_does_not_import_the_docker_client() -> None:
    # `cnbext --help` must start fast: the engine and its client are imported on use only.
    code = (
        "import sys; from cnbext.cli import app; "
        "print(sorted(m for m in ('python_on_whales', 'jsonschema', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cnbext", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("cnbext ")


def _valid_config(tmp_path: Path) -> Path:
    config = tmp_path / "extend.toml"
    config.write_text('[extend]\nimage = "a/b"\n[extend.metadata]\npackages = ["curl"]\n')
    return config


def test_env_names_that_are_no_file_names_are_refused(tmp_path: Path) -> None:
    config = _valid_config(tmp_path)
    for pair in ("..=x", ".=x", "a/b=x"):
        code, _, err = invoke("extend", "localhost:5000/x/y:z", "-c", str(config), "--env", pair)
        assert code == 2, err
        assert "NAME a file name (no '/', not . or ..)" in err


def test_extension_sha256_suffix_must_be_a_sha256(tmp_path: Path) -> None:
    config = _valid_config(tmp_path)
    code, _, err = invoke(
        "extend", "localhost:5000/x/y:z", "-c", str(config), "--extension", "e.tgz#sha256=abc"
    )
    assert code == 2, err
    assert "sha256 should be 64 lowercase hex digits" in err


def test_a_trailing_newline_does_not_slip_through_a_schema_pattern(tmp_path: Path) -> None:
    config = tmp_path / "extend.toml"
    config.write_text(
        '[extend]\nimage = "a/b"\n\n[[extend.extensions]]\nuri = "e.tgz"\n'
        f'sha256 = "{"a" * 64}\\n"\n'
    )
    code, _, err = invoke("extend", "localhost:5000/x/y:z", "-c", str(config))
    assert code == 3, err
    assert "$.extend.extensions[0].sha256: sha256 should be 64 lowercase hex digits" in err
