"""cnbext.sources.extension_output: what detect and generate leave is read, never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnbext.errors import GENERATE_OUTPUT_ERROR, ExtensionError
from cnbext.sources.extension_output import (
    check_generate_output,
    copy_static_output,
    fresh_output_dir,
    read_output_file,
    write_plan,
)
from tests.fixtures.malicious import Sentinels


@pytest.fixture
def sentinels(tmp_path: Path) -> Sentinels:
    return Sentinels.plant(tmp_path / "sentinel")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out" / "generate"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("name", ["build.Dockerfile", "run.Dockerfile", "extend-config.toml"])
def test_symlinked_output_files_are_refused(out: Path, sentinels: Sentinels, name: str) -> None:
    (out / name).symlink_to(sentinels.root / "victim")
    with pytest.raises(ExtensionError) as caught:
        check_generate_output(out, "test/evil@1")
    assert caught.value.exit_code == GENERATE_OUTPUT_ERROR
    assert f"{name} is a symlink" in caught.value.message
    assert "host secret" not in caught.value.message


@pytest.mark.parametrize("name", ["context", "context.build", "context.run"])
def test_a_context_that_is_a_link_to_a_host_folder_is_refused(
    out: Path, sentinels: Sentinels, name: str
) -> None:
    (out / name).symlink_to(sentinels.root / "victim-dir")
    with pytest.raises(ExtensionError, match=f"{name} is a symlink"):
        check_generate_output(out, "test/evil@1")


@pytest.mark.parametrize(
    ("link", "why"),
    [
        ("/etc/passwd", "a symlink to the absolute path '/etc/passwd'"),
        ("../../../sentinel/victim", "leads outside"),
        ("sub/../..", "leads outside"),
    ],
)
def test_links_in_a_context_must_stay_inside_it(out: Path, link: str, why: str) -> None:
    (out / "context" / "sub").mkdir(parents=True)
    (out / "context" / "x").symlink_to(link)
    with pytest.raises(ExtensionError) as caught:
        check_generate_output(out, "test/evil@1")
    assert caught.value.message.startswith("extension test/evil@1: context/x: ")
    assert why in caught.value.message


def test_links_inside_a_context_are_fine(out: Path) -> None:
    (out / "context" / "sub").mkdir(parents=True)
    (out / "context" / "sub" / "f").write_text("x")
    (out / "context" / "x").symlink_to("sub/f")
    (out / "build.Dockerfile").write_text("ARG base_image\nFROM ${base_image}\n")
    check_generate_output(out, "test/ok@1")


def test_a_symlinked_output_folder_is_refused(tmp_path: Path, sentinels: Sentinels) -> None:
    (tmp_path / "generate").symlink_to(sentinels.root / "victim-dir")
    with pytest.raises(ExtensionError, match="its output folder is a symlink"):
        check_generate_output(tmp_path / "generate", "test/evil@1")


def test_a_plan_in_a_symlinked_folder_is_refused(tmp_path: Path, sentinels: Sentinels) -> None:
    (tmp_path / "detect").symlink_to(sentinels.root)
    with pytest.raises(ExtensionError, match="detect is a symlink"):
        read_output_file(tmp_path / "detect" / "victim", owner="e", exit_code=22, root=tmp_path)


def test_writing_the_plan_replaces_a_planted_link(tmp_path: Path, sentinels: Sentinels) -> None:
    (tmp_path / "plan.toml").symlink_to(sentinels.root / "victim")
    write_plan(tmp_path / "plan.toml", "[[entries]]\n")
    assert not (tmp_path / "plan.toml").is_symlink()
    assert (tmp_path / "plan.toml").read_text() == "[[entries]]\n"
    sentinels.assert_untouched()


def test_a_planted_output_folder_link_is_replaced_before_the_static_copy(
    tmp_path: Path, sentinels: Sentinels
) -> None:
    (tmp_path / "generate").symlink_to(sentinels.root / "victim-dir")
    static = tmp_path / "static"
    (static / "context").mkdir(parents=True)
    (static / "context" / "leak").symlink_to(str(sentinels.root / "victim"))

    fresh_output_dir(tmp_path / "generate")
    copy_static_output(static, tmp_path / "generate")

    assert (tmp_path / "generate" / "context" / "leak").is_symlink()  # kept, not followed
    with pytest.raises(ExtensionError, match="a symlink to the absolute path"):
        check_generate_output(tmp_path / "generate", "test/static@1")
    sentinels.assert_untouched()


def test_a_context_is_capped_like_an_archive(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (out / "context").mkdir()
    for index in range(5):
        (out / "context" / f"f{index}").write_text("x")
    monkeypatch.setenv("CNBEXT_MAX_ARCHIVE_ENTRIES", "3")
    with pytest.raises(ExtensionError, match=r"more than 3 entries"):
        check_generate_output(out, "test/big@1")


def test_special_files_in_a_context_are_refused(out: Path) -> None:
    (out / "context").mkdir()
    os.mkfifo(out / "context" / "pipe")
    with pytest.raises(ExtensionError, match="context/pipe: a device, fifo or socket"):
        check_generate_output(out, "test/fifo@1")
