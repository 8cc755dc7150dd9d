"""A password in a [lifecycle] uri never reaches the builder's public provenance label, the
text or JSON dry run, progress lines or errors (the fake engine stands in for Docker; the
lifecycle is downloaded from a real loopback server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnbext.cli import app
from tests.client.fake_engine import FakeEngine
from tests.client.images import BUILDER_NAME, RUN_NAME
from tests.fixtures.buildpacks import write_buildpack
from tests.fixtures.http_server import serve_directory
from tests.fixtures.lifecycle_fixture import make_lifecycle_archive

SECRET = "p@ss-TOKEN"
runner = CliRunner()


def _builder_toml(tmp_path: Path, lifecycle_uri: str) -> Path:
    write_buildpack(tmp_path / "bp", "ex/bp", "1.0.0")
    path = tmp_path / "builder.toml"
    path.write_text(
        f'[build]\nimage = "{BUILDER_NAME}"\n[[run.images]]\nimage = "{RUN_NAME}"\n'
        '[[buildpacks]]\nuri = "bp"\n[[order]]\n[[order.group]]\nid = "ex/bp"\n'
        f'[lifecycle]\nuri = "{lifecycle_uri}"\n'
    )
    return path


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_lifecycle_password_is_in_no_dry_run_and_no_label(
    tmp_path: Path, engine: FakeEngine, output: str
) -> None:
    archive = make_lifecycle_archive(tmp_path / "served")
    with serve_directory(tmp_path / "served") as server:
        host = server.base_url.removeprefix("http://")
        uri = f"http://user:{SECRET}@{host}/{archive.name}"
        config = _builder_toml(tmp_path / "cfg", uri)
        args = ["create-builder", "localhost:5000/b/new:1", "-c", str(config), "--dry-run"]
        result = runner.invoke(app, [*args, "-o", output, "--verbose"])
    assert result.exit_code == 0, result.stderr
    assert "ss-TOKEN" not in result.stdout and "ss-TOKEN" not in result.stderr
    assert "p%40ss" not in result.stdout
    if output == "json":
        document = json.loads(result.stdout)
        labels = document["plan"]["images"][0]["labels"]
        provenance = json.loads(labels["io.cnbext.provenance"])
        assert provenance["lifecycle"]["requested"] == {"uri": f"http://{host}/{archive.name}"}


def test_a_failing_download_names_the_uri_without_its_password(
    tmp_path: Path, engine: FakeEngine
) -> None:
    (tmp_path / "served").mkdir()
    with serve_directory(tmp_path / "served") as server:
        host = server.base_url.removeprefix("http://")
        config = _builder_toml(tmp_path / "cfg", f"http://user:{SECRET}@{host}/missing.tgz")
        for output in ("text", "json"):
            result = runner.invoke(
                app, ["create-builder", "x/b:1", "-c", str(config), "--dry-run", "-o", output]
            )
            assert result.exit_code == 3, result.stderr
            assert "ss-TOKEN" not in result.stdout + result.stderr
            assert "missing.tgz" in result.stdout + result.stderr
