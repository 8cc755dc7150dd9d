"""The malicious corpus (tests/fixtures/malicious.py) against the sources directly: every
attack refused with its reason, nothing outside the extraction folder changed. The same corpus
runs through `cnbext create-builder` in tests/engine/test_security_engine.py."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from cnbext.errors import ExitCode
from cnbext.sources.archive import SafeWriter
from cnbext.sources.modules import ModuleError, fetch_modules
from cnbext.sources.safe_tree import copy_tree
from tests.fixtures.malicious import (
    Member,
    Sentinels,
    archive_corpus,
    package_corpus,
    tar_bytes,
    write_cnb,
    write_tgz,
)

ARCHIVES = archive_corpus("sentinel")
PACKAGES = package_corpus("sentinel")


@pytest.fixture
def sentinels(tmp_path: Path) -> Sentinels:
    return Sentinels.plant(tmp_path / "sentinel")


def fetch(uri: Path, tmp_path: Path) -> None:
    # Work dir nested as create-builder nests it, so the chains aim at the sentinels.
    work = tmp_path / "tmp" / "cnbext-builder-x" / "fetch" / "buildpacks-0"
    fetch_modules(
        str(uri), kind="buildpack", base_dir=tmp_path, work_dir=work, cache_dir=tmp_path / "c"
    )


@pytest.mark.parametrize(("members", "why"), ARCHIVES.values(), ids=ARCHIVES.keys())
def test_hostile_archives_are_refused(
    tmp_path: Path, sentinels: Sentinels, members: list[Member], why: str
) -> None:
    archive = write_tgz(tmp_path / "src" / "evil.tgz", members)

    with pytest.raises(ModuleError) as caught:
        fetch(archive, tmp_path)

    assert caught.value.message.startswith(f"{archive}: refusing archive member")
    assert why in caught.value.message
    assert caught.value.exit_code == ExitCode.CONFIG
    sentinels.assert_untouched()
    assert not (tmp_path / "victim").exists()


@pytest.mark.parametrize(("layers", "why"), PACKAGES.values(), ids=PACKAGES.keys())
def test_hostile_buildpackages_are_refused(
    tmp_path: Path, sentinels: Sentinels, layers: list[list[Member]] | None, why: str
) -> None:
    package = write_cnb(tmp_path / "src" / "evil.cnb", layers)

    with pytest.raises(ModuleError) as caught:
        fetch(package, tmp_path)

    assert why in caught.value.message
    sentinels.assert_untouched()


def test_the_chain_would_have_reached_the_sentinels(tmp_path: Path, sentinels: Sentinels) -> None:
    """Proof that the corpus aims right: resolved as the OS would, the chain's last link is the
    folder holding the sentinels."""
    work = tmp_path / "tmp" / "cnbext-builder-x" / "fetch" / "buildpacks-0" / "buildpack-y"
    work.mkdir(parents=True)
    (work / "l0").symlink_to(".")
    previous = "l0"
    for level in range(1, 6):
        (work / f"u{level}").symlink_to(f"{previous}/..")
        previous = f"u{level}"
    assert (work / "u5" / "sentinel" / "victim").resolve() == sentinels.root / "victim"


def test_entry_cap_is_an_environment_knob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNBEXT_MAX_ARCHIVE_ENTRIES", "20")
    archive = write_tgz(tmp_path / "many.tgz", [Member(f"f{i}", data=b"x") for i in range(30)])
    with pytest.raises(ModuleError, match=r"more than 20 entries \(raise CNBEXT_MAX"):
        fetch(archive, tmp_path)


def test_folder_modes_are_fixed_without_following_links(tmp_path: Path) -> None:
    writer = SafeWriter(tmp_path / "dest")
    data = tar_bytes(
        [Member("d", "dir", mode=0o700), Member("d/f", data=b"x"), Member("e", "dir", mode=0o750)]
    )
    import io
    import tarfile

    from cnbext.sources.archive import tar_entry

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            writer.add(tar_entry(tar, member), member)
    writer.finish()
    assert stat.S_IMODE((tmp_path / "dest" / "e").stat().st_mode) == 0o750
    assert (tmp_path / "dest" / "d" / "f").read_bytes() == b"x"


# --- trees exported from images -------------------------------------------------------------


def test_exported_tree_keeps_inside_links_and_hard_links(tmp_path: Path) -> None:
    tree = tmp_path / "export"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "run").write_text("#!/bin/sh\n")
    os.link(tree / "bin" / "run", tree / "bin" / "build")
    (tree / "bin" / "detect").symlink_to("run")

    copy_tree(tree, tmp_path / "dest", source="docker://x", error_type=ModuleError)

    assert (tmp_path / "dest" / "bin" / "detect").readlink() == Path("run")
    assert (tmp_path / "dest" / "bin" / "build").read_text() == "#!/bin/sh\n"


@pytest.mark.parametrize(
    ("plant", "why"),
    [
        (lambda t, s: (t / "leak").symlink_to(s / "victim"), "symlink to the absolute path"),
        (lambda t, s: (t / "up").symlink_to("../../sentinel"), "points outside the archive"),
        (lambda t, s: os.mkfifo(t / "fifo"), "devices, fifos and other special files"),
        (lambda t, s: (t / "su").touch(mode=0o4755), "setuid, setgid and sticky bits"),
    ],
    ids=["absolute-link", "relative-escape", "fifo", "setuid"],
)
def test_exported_trees_go_through_the_archive_checks(
    tmp_path: Path, sentinels: Sentinels, plant: Callable[[Path, Path], object], why: str
) -> None:
    tree = tmp_path / "export"
    tree.mkdir()
    plant(tree, sentinels.root)
    if (tree / "su").exists():
        (tree / "su").chmod(0o4755)

    with pytest.raises(ModuleError) as caught:
        copy_tree(tree, tmp_path / "dest", source="docker://evil", error_type=ModuleError)

    assert caught.value.message.startswith("docker://evil: refusing archive member")
    assert why in caught.value.message
    sentinels.assert_untouched()


def test_exported_hard_links_count_toward_the_byte_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "export"
    tree.mkdir()
    (tree / "big").write_bytes(b"\0" * 1000)
    for index in range(5):
        os.link(tree / "big", tree / f"copy{index}")
    monkeypatch.setenv("CNBEXT_MAX_ARCHIVE_BYTES", "4000")

    with pytest.raises(ModuleError, match="more than 4000 bytes in total"):
        copy_tree(tree, tmp_path / "dest", source="docker://evil", error_type=ModuleError)
