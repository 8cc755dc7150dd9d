"""Members are charged as the walk reaches them: a tiny bzip2 archive declaring a 200 GiB
member is refused at once, wherever it is walked (module archive, buildpackage, download
check); a NUL in a member's name is a refusal (exit 3), not an internal error."""

from __future__ import annotations

import bz2
import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from cnbext.errors import ExitCode
from cnbext.sources.download import check_tar
from cnbext.sources.modules import ModuleError, fetch_modules
from tests.fixtures.malicious import Sentinels

DECLARED = 200 << 30  # 200 GiB
ZEROS = 16 << 20  # 0.3 s to compress; 200 GiB of it is ~560 KiB


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~250 KiB bzip2 tar whose first member declares (and really holds) 200 GiB of zeros:
    bzip2 streams of 16 MiB of zeros, concatenated."""
    info = tarfile.TarInfo("big")
    info.size = DECLARED
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    stream = bz2.compress(b"\0" * ZEROS, 9)
    path = tmp_path_factory.mktemp("bomb") / "bomb.tgz"
    with path.open("wb") as out:
        out.write(bz2.compress(header, 9))
        for _ in range(DECLARED // ZEROS):
            out.write(stream)
    assert path.stat().st_size < 1 << 20
    return path


def _fetch(uri: Path, tmp_path: Path) -> None:
    fetch_modules(
        str(uri), kind="buildpack", base_dir=tmp_path, work_dir=tmp_path / "w", cache_dir=tmp_path
    )


def test_a_bomb_module_archive_is_refused_before_its_data_is_read(
    tmp_path: Path, bomb: Path
) -> None:
    sentinels = Sentinels.plant(tmp_path / "host")
    started = time.monotonic()
    with pytest.raises(ModuleError) as caught:
        _fetch(bomb, tmp_path)
    assert time.monotonic() - started < 10  # walking past the member would take minutes
    assert "refusing archive member 'big': more than 4294967296 bytes" in caught.value.message
    assert caught.value.exit_code == ExitCode.CONFIG
    sentinels.assert_untouched()


def test_a_bomb_buildpackage_is_refused_by_the_name_walk(tmp_path: Path, bomb: Path) -> None:
    package = tmp_path / "evil.cnb"
    package.write_bytes(bomb.read_bytes())
    started = time.monotonic()
    with pytest.raises(ModuleError, match="more than 4294967296 bytes"):
        _fetch(package, tmp_path)
    assert time.monotonic() - started < 10


def test_a_bomb_download_is_refused_by_the_check(bomb: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ModuleError, match="more than 4294967296 bytes"):
        check_tar(bomb, "https://mirror.example/bomb.tgz", ModuleError, hint="")
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("field", ["path", "linkpath"])
def test_a_nul_byte_in_a_member_name_is_a_refusal(tmp_path: Path, field: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("buildpack.toml")
        info.type = tarfile.SYMTYPE if field == "linkpath" else tarfile.REGTYPE
        info.linkname = "x" if field == "linkpath" else ""
        info.pax_headers = {field: "a\x00/../../../victim"}
        tar.addfile(info, io.BytesIO(b""))
    archive = tmp_path / "nul.tgz"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(ModuleError) as caught:
        _fetch(archive, tmp_path)
    assert "a NUL byte in its name or link" in caught.value.message
    assert caught.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize("kind", ["buildpack", "lifecycle"])
def test_a_fifo_in_a_local_folder_is_refused_before_anything_opens_it(
    tmp_path: Path, kind: str
) -> None:
    from cnbext.sources.lifecycle import LifecycleError, fetch_lifecycle
    from tests.fixtures.buildpacks import write_buildpack
    from tests.fixtures.lifecycle_fixture import write_lifecycle_tree

    if kind == "lifecycle":
        root = write_lifecycle_tree(tmp_path / "lifecycle")
        os.mkfifo(root / "lifecycle.toml.new")
        (root / "lifecycle.toml.new").replace(root / "lifecycle.toml")  # reading it blocks
        with pytest.raises(LifecycleError, match=r"lifecycle\.toml is a fifo"):
            fetch_lifecycle(
                version=None,
                uri=str(root),
                arch="amd64",
                base_dir=tmp_path,
                work_dir=tmp_path / "w",
                cache_dir=tmp_path / "c",
            )
    else:
        root = write_buildpack(tmp_path / "bp", "ex/bp", "1.0.0")
        os.mkfifo(root / "bin" / "pipe")
        with pytest.raises(ModuleError, match="bin/pipe is a fifo"):
            _fetch(root, tmp_path)
