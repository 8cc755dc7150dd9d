"""What detect and generate containers are asked to be (with the fake engine): never root,
an output folder with a byte cap; and how the engine measures that folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.engine.models import PhaseResult, PhaseRun
from cnbext.engine.phases import folder_bytes
from cnbext.errors import ExitCode, ExtensionError, ImageError
from tests.client.fake_engine import FakeEngine
from tests.client.images import IMAGES, RUN, RUN_NAME, extend_toml
from tests.fixtures.buildpacks import write_extension

OUT = "localhost:5000/x/out:1"


def _extend(tmp_path: Path, engine: FakeEngine) -> None:
    ext = write_extension(tmp_path / "ext", "ex/a", "1.0.0", generate_script="#!/bin/sh\n")
    cnbext.extend(
        extend_toml(tmp_path),
        cnbext.ExtendOptions(names=(OUT,), extensions=(cnbext.ExtensionRequest(str(ext)),)),
        engine=engine,
    )


@pytest.mark.parametrize(
    ("user", "env", "shown"),
    [
        ("", {}, "no CNB_USER_ID/CNB_GROUP_ID and an empty User"),
        ("root", {}, "User 'root'"),
        ("0:0", {}, "User '0:0'"),
        ("1000:1000", {"CNB_USER_ID": "0", "CNB_GROUP_ID": "0"}, "User '0:0'"),
    ],
)
def test_extensions_never_run_as_root(
    tmp_path: Path, user: str, env: dict[str, str], shown: str
) -> None:
    engine = FakeEngine({**IMAGES, RUN_NAME: replace(RUN, user=user, env=env)})
    with pytest.raises(ImageError) as caught:
        _extend(tmp_path, engine)
    assert caught.value.message == f"{RUN_NAME}: image extensions would run as root in it ({shown})"
    assert caught.value.exit_code is ExitCode.IMAGE
    assert [c for c in engine.calls if c.method == "phase"] == []


def test_each_phase_may_write_only_its_output_folder_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNBEXT_EXTENSION_OUTPUT_BYTES", "12345")
    seen: list[PhaseRun] = []

    def phase(run: PhaseRun) -> PhaseResult:
        seen.append(run)
        return PhaseResult(0, "", timed_out=False)

    _extend(tmp_path, FakeEngine(IMAGES, phase=phase))
    assert [(r.command[0].rsplit("/", 1)[1], r.output_bytes) for r in seen] == [
        ("detect", 12345),
        ("generate", 12345),
    ]
    for run in seen:
        assert run.output is not None and run.output.name == run.command[0].rsplit("/", 1)[1]
        writable = [host for host, _, read_only in run.mounts if not read_only]
        assert writable == [run.output]
        assert run.user == "1001:1000"


def test_a_phase_over_its_output_cap_fails_with_its_phase_code(tmp_path: Path) -> None:
    def phase(run: PhaseRun) -> PhaseResult:
        over = "generate" in run.command[0]
        return PhaseResult(None if over else 0, "", timed_out=False, over_output=over)

    with pytest.raises(ExtensionError) as caught:
        _extend(tmp_path, FakeEngine(IMAGES, phase=phase))
    assert caught.value.exit_code == 91
    assert "generate wrote more than" in caught.value.message


def test_the_output_folder_is_measured_by_size_and_blocks_without_following_links(
    tmp_path: Path,
) -> None:
    (tmp_path / "sub").mkdir()
    with (tmp_path / "sub" / "sparse").open("wb") as handle:
        handle.truncate(10 << 30)  # no blocks, but 10 GiB to whoever copies it
    (tmp_path / "link").symlink_to("/usr")
    assert folder_bytes(tmp_path, 1 << 40) >= 10 << 30
    assert folder_bytes(tmp_path, 1) > 1  # stops counting once past the limit
