"""The work folder is removed at the end; what another uid left in it (an extension's
container) is left with a warning, and the run keeps its exit code."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import cnbext
from cnbext.client.work_folder import remove_tree, work_folder
from tests.client.fake_engine import FakeEngine
from tests.client.images import IMAGES, extend_toml


class Warnings:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def warn(self, message: str) -> None:
        self.seen.append(message)


def _unremovable(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """As for a file in a folder of another uid: unlink is refused (we run tests as root,
    who may remove anything, so the refusal is the kernel's answer played back)."""
    real = os.unlink

    def unlink(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if Path(path).name == name:
            raise PermissionError(13, "Permission denied", str(path))
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", unlink)


def test_what_cannot_be_removed_is_counted_and_the_rest_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "work"
    (root / "out" / "generate" / "theirs").mkdir(parents=True)
    (root / "out" / "generate" / "theirs" / "stuck").write_text("x")
    (root / "mine").write_text("y")
    _unremovable(monkeypatch, "stuck")
    assert remove_tree(root) == 1
    assert not (root / "mine").exists()
    assert (root / "out" / "generate" / "theirs" / "stuck").exists()


def test_a_folder_of_ours_without_its_write_bit_is_still_emptied(tmp_path: Path) -> None:
    root = tmp_path / "work"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "file").write_text("x")
    (root / "locked").chmod(0o500)
    assert remove_tree(root) == 0
    assert not root.exists()


def test_a_run_whose_work_folder_keeps_files_still_succeeds_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unremovable(monkeypatch, "stuck")
    warnings = Warnings()
    with work_folder("cnbext-test-", warnings) as work:  # type: ignore[arg-type]
        (work / "stuck").write_text("left by uid 1000")
    assert len(warnings.seen) == 1 and str(work) in warnings.seen[0]
    # And through a use case: the result comes back, no error escapes the cleanup.
    made: list[str] = [str(work)]
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(prefix: str | None = None, dir: str | Path | None = None) -> str:
        folder = real_mkdtemp(prefix=prefix, dir=dir)
        if dir is None:  # the work folder itself, not one made inside it
            made.append(folder)
            Path(folder, "stuck").write_text("x")
        return folder

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    result = cnbext.extend(
        extend_toml(tmp_path), cnbext.ExtendOptions(names=("x/y:1",)), engine=FakeEngine(IMAGES)
    )
    assert result.images
    monkeypatch.undo()
    assert all(remove_tree(Path(folder)) == 0 for folder in made)
