"""What detect and generate containers are asked to be (with the fake engine): never root,
an output folder with a byte cap; and how the engine measures that folder."""

from __future__ import annotations

import io
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.engine.models import PhaseResult, PhaseRun
from cnbext.engine.phase_output import extract_output
from cnbext.engine.phases import LINE_BYTES, MARKER, _LogStream, _marked_code, wrapped
from cnbext.errors import BuildError, ExitCode, ExtensionError, ImageError
from cnbext.sources.disk import DiskBudget, DiskBudgetError, disk_budget
from tests.client.fake_engine import FakeEngine
from tests.client.images import IMAGES, RUN, RUN_NAME, extend_toml
from tests.fixtures.buildpacks import write_extension
from tests.fixtures.malicious import Sentinels

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


def _stream(members: list[tuple[tarfile.TarInfo, bytes]]) -> io.BytesIO:
    """A tar stream as ``docker cp`` gives it: everything below the copied ``generate/``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(_info("generate", tarfile.DIRTYPE))
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    buffer.seek(0)
    return buffer


def _info(
    name: str, kind: bytes, *, size: int = 0, link: str = "", mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mode = kind, size, link, mode
    return info


def test_the_copied_output_keeps_links_as_links_and_specials_as_inert_fifos(
    tmp_path: Path,
) -> None:
    sentinels = Sentinels.plant(tmp_path / "host")
    dest = tmp_path / "out"
    dest.mkdir()
    stream = _stream(
        [
            (
                _info(
                    "generate/build.Dockerfile", tarfile.SYMTYPE, link=f"{sentinels.root}/victim"
                ),
                b"",
            ),
            (_info("generate/context", tarfile.DIRTYPE, mode=0o700), b""),
            (_info("generate/context/a", tarfile.REGTYPE, size=3, mode=0o4755), b"abc"),
            (_info("generate/context/b", tarfile.LNKTYPE, link="generate/context/a"), b""),
            (_info("generate/context/dev", tarfile.CHRTYPE), b""),
        ]
    )
    assert extract_output(stream, dest, 1000) == 6  # the hard link counts as its file
    assert (dest / "build.Dockerfile").readlink() == sentinels.root / "victim"
    assert (dest / "context" / "b").read_bytes() == b"abc"
    assert (dest / "context" / "a").stat().st_mode & stat.S_ISUID  # for the checks to refuse
    assert stat.S_ISFIFO((dest / "context" / "dev").lstat().st_mode)
    sentinels.assert_untouched()


@pytest.mark.parametrize(
    "name", ["generate/../../escape", "/generate/abs", "generate/link/through"]
)
def test_the_copied_output_never_leaves_its_folder(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    link = _info("generate/link", tarfile.SYMTYPE, link=str(tmp_path))
    stream = _stream([(link, b""), (_info(name, tarfile.REGTYPE, size=1), b"x")])
    with pytest.raises(BuildError, match="the phase's output"):
        extract_output(stream, dest, 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_copy_stops_as_soon_as_the_cap_is_passed(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    files = [(_info(f"generate/f{i}", tarfile.REGTYPE, size=400), b"x" * 400) for i in range(5)]
    assert extract_output(_stream(files), dest, 1000) == 1200
    assert sorted(p.name for p in dest.iterdir()) == ["f0", "f1"]  # the third is not written


def test_the_phase_shell_refuses_to_run_outside_its_own_pid_namespace(tmp_path: Path) -> None:
    # Run on this machine (not PID 1), the wrapper must stop before its kill -9 -1, which
    # would otherwise reach every process of this user: nothing of the phase runs.
    ran = tmp_path / "phase-ran"
    done = subprocess.run(
        wrapped(["/bin/sh", "-c", f"touch {ran}"]),
        input="",
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 125
    assert "must be PID 1" in done.stderr and MARKER not in done.stdout
    assert not ran.exists()


@pytest.mark.parametrize(
    ("logs", "code"),
    [
        (f"building\n{MARKER}0\n", 0),
        (f"{MARKER}153\nFile size limit exceeded\n", 153),  # the shell's own report after it
        (f"{MARKER}1\nlater\n{MARKER}100\n", 100),  # the last one counts
        ("still running\n", None),
        (f"{MARKER}x\n", None),
    ],
)
def test_the_phase_end_is_read_from_the_last_lines(logs: str, code: int | None) -> None:
    assert _marked_code(logs) == code


def test_the_copied_output_is_charged_to_the_command_disk_budget(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    files = [(_info(f"generate/f{i}", tarfile.REGTYPE, size=400), b"x" * 400) for i in range(2)]
    with (
        disk_budget(DiskBudget(600)),
        pytest.raises(DiskBudgetError, match="the phase's output f1: refusing"),
    ):
        extract_output(_stream(files), dest, 1000)
    assert sorted(p.name for p in dest.iterdir()) == ["f0"]


def _stream_of(script: str) -> _LogStream:
    """A log stream whose "docker" is a shell running ``script`` (it gets "logs --follow ID"
    as its arguments): what the phase's container would print, as the follower reads it."""
    return _LogStream(["sh", "-c", script, "sh"], "container")


def _read_all(stream: _LogStream, holds: Callable[[], bool] = lambda: True) -> list[str]:
    """Every line until the stream ends, ``holds`` true after each read."""
    far, seen = time.monotonic() + 10, []
    while (lines := stream.read_lines(far)) is not None:
        seen += lines
        assert holds()
    return seen


def test_the_log_stream_gives_lines_as_they_arrive_and_none_at_its_end() -> None:
    with _stream_of(f'printf "one\\ntw"; sleep 0.3; printf "o\\n{MARKER}0\\n"') as stream:
        seen = _read_all(stream)
    assert seen == ["one", "two", f"{MARKER}0"]  # a line split across writes is whole


def test_the_log_stream_returns_nothing_at_the_deadline() -> None:
    with _stream_of("sleep 5") as stream:
        started = time.monotonic()
        assert stream.read_lines(started + 0.2) == []
        assert time.monotonic() - started < 4


def test_a_line_without_end_is_kept_only_up_to_its_bound() -> None:
    with _stream_of(f"head -c {LINE_BYTES * 8} /dev/zero | tr '\\0' x; echo; echo done") as s:
        seen = _read_all(s, lambda: len(s.pending) <= LINE_BYTES)
    # The long line's start was dropped: what is left of it is its end, at most one read more.
    assert seen[-1] == "done" and set(seen[0]) == {"x"} and len(seen[0]) <= LINE_BYTES + 65536
