"""The commands are a thin layer over the public API: with the API's default engine replaced by
the fake one, a command's flags reach the use case and its result is what gets printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cnbext.cli import app
from cnbext.client import usecase
from cnbext.cnb.provenance import PROVENANCE
from cnbext.config.lock import load_lock
from tests.client.fake_engine import Call, FakeEngine, digest_of, failing_copy
from tests.client.images import RUN_NAME, extend_builder_toml, extend_toml

runner = CliRunner()


def test_dry_run_json_is_the_plan_and_builds_nothing(tmp_path: Path, engine: FakeEngine) -> None:
    config = extend_toml(tmp_path)
    result = runner.invoke(app, ["extend", "x/y:1", "-c", str(config), "--dry-run", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["dryRun"] is True
    assert document["plan"]["images"][0]["base"] == RUN_NAME
    assert document["plan"]["images"][0]["names"] == ["docker.io/x/y:1"]
    assert engine.made() == []


def test_publish_json_lists_every_image(tmp_path: Path, engine: FakeEngine) -> None:
    config = extend_builder_toml(tmp_path)
    args = ["extend-builder", "localhost:5000/b/b:2", "-e", str(config), "--publish"]
    args += ["--run-image", "localhost:5000/r/r:2", "--run-image-mirror", "localhost:5001/r/r:2"]
    result = runner.invoke(app, [*args, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    images = json.loads(result.stdout)["images"]
    assert [(i["role"], i["names"]) for i in images] == [
        ("run image", ["localhost:5000/r/r:2", "localhost:5001/r/r:2"]),
        ("builder", ["localhost:5000/b/b:2"]),
    ]
    assert Call("copy", "localhost:5001/r/r:2") in engine.made()


def test_a_half_publish_exits_6_and_says_what_is_out_there(
    tmp_path: Path, engine: FakeEngine
) -> None:
    engine.failures.update(failing_copy("localhost:5001/r/r:2"))
    config = extend_builder_toml(tmp_path)
    args = ["extend-builder", "localhost:5000/b/b:2", "-e", str(config), "--publish"]
    args += ["--run-image", "localhost:5000/r/r:2", "--run-image-mirror", "localhost:5001/r/r:2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 6
    assert f"published: localhost:5000/r/r:2@{digest_of('localhost:5000/r/r:2')}" in result.stderr
    assert "not published: localhost:5001/r/r:2, localhost:5000/b/b:2" in result.stderr


def test_source_date_epoch_from_the_flag_or_the_environment_reaches_the_plan(
    tmp_path: Path, engine: FakeEngine
) -> None:
    config = extend_toml(tmp_path)
    args = ["extend", "x/y:1", "-c", str(config), "--dry-run", "-o", "json"]
    for extra, env in (
        (["--source-date-epoch", "1700000000"], {}),
        ([], {"SOURCE_DATE_EPOCH": "1700000000"}),
    ):
        result = runner.invoke(app, [*args, *extra], env=env)
        assert result.exit_code == 0, result.stderr
        build_args = json.loads(result.stdout)["plan"]["images"][0]["buildArgs"]
        assert build_args["SOURCE_DATE_EPOCH"] == "1700000000"
    result = runner.invoke(app, [*args, "--source-date-epoch", "-1"])
    assert result.exit_code == 2


def test_no_cache_is_an_engine_setting(
    tmp_path: Path, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def factory(reporter: Any, settings: Any = None) -> FakeEngine:
        seen.append(settings)
        return engine

    monkeypatch.setattr(usecase, "docker_engine", factory)
    config = extend_toml(tmp_path)
    result = runner.invoke(app, ["extend", "x/y:1", "-c", str(config), "--no-cache"])
    assert result.exit_code == 0, result.stderr
    assert [s.build_cache for s in seen] == [False]


def test_extend_builder_lock_is_written_and_recorded_absolute(
    tmp_path: Path, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = extend_builder_toml(tmp_path)
    args = ["extend-builder", "localhost:5000/b/b:2", "-e", str(config), "--publish"]
    args += ["--run-image", "localhost:5000/r/r:2", "--lock", "builder.lock", "-o", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    lock = load_lock(tmp_path / "builder.lock")
    assert set(lock.platforms) == set(lock.run_platforms) == {"linux/amd64"}
    builder = engine.built["localhost:5000/b/b:2"]
    recorded = json.loads(builder.labels[PROVENANCE])["request"]["options"]
    assert (recorded["lock"], recorded["locked"]) == ((tmp_path / "builder.lock").as_posix(), False)
