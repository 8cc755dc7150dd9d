"""Lifecycle releases from a folder (CNBEXT_LIFECYCLE_BASE_URL=/path or file://), checksums verified.

The archives are the structure-only fixture from tests/fixtures/lifecycle_fixture.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from cnbext.sources.lifecycle import LifecycleError, fetch_lifecycle
from tests.fixtures.lifecycle_fixture import make_lifecycle_archive


def fetch(dirs: dict[str, Path], base: str, **options: Any) -> str:
    lifecycle = fetch_lifecycle(
        version=options.pop("version", "0.21.0"),
        uri=None,
        arch=options.pop("arch", "amd64"),
        base_dir=dirs["config"],
        work_dir=dirs["work"],
        cache_dir=dirs["cache"],
        download_base_url=base,
        **options,
    )
    return (lifecycle.root / "lifecycle" / "fixture-arch").read_text().strip()


def test_a_flat_folder_of_release_assets_serves_each_architecture(dirs: dict[str, Path]) -> None:
    make_lifecycle_archive(dirs["src"], arch="amd64")
    make_lifecycle_archive(dirs["src"], arch="arm64")

    assert fetch(dirs, str(dirs["src"])) == "amd64"
    assert fetch(dirs, str(dirs["src"]), arch="arm64") == "arm64"
    # Read where it lies: a local folder is not copied into the download cache.
    assert not any(path.is_file() for path in dirs["cache"].rglob("*"))


def test_a_file_url_to_a_mirror_of_the_release_tree(dirs: dict[str, Path]) -> None:
    make_lifecycle_archive(dirs["src"] / "v0.20.5", version="0.20.5", arch="arm64")

    assert fetch(dirs, dirs["src"].as_uri(), version="v0.20.5", arch="arm64") == "arm64"


def test_a_checksum_file_that_does_not_match_is_refused(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"])
    Path(f"{archive}.sha256").write_text(f"{'0' * 64}  {archive.name}\n")

    with pytest.raises(LifecycleError) as caught:
        fetch(dirs, str(dirs["src"]))

    assert caught.value.message.endswith(f"but {'0' * 64} was expected")
    assert str(archive) in caught.value.message


def test_a_checksum_file_without_a_checksum_is_refused(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"])
    Path(f"{archive}.sha256").write_text("<html>not found</html>\n")

    with pytest.raises(LifecycleError, match="not a sha256 checksum file"):
        fetch(dirs, str(dirs["src"]))


def test_a_pinned_sha256_is_checked_without_a_checksum_file(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"], checksum=False)
    right = hashlib.sha256(archive.read_bytes()).hexdigest()

    assert fetch(dirs, str(dirs["src"]), sha256=right) == "amd64"
    with pytest.raises(LifecycleError, match="was expected"):
        fetch(dirs, str(dirs["src"]), sha256="1" * 64)


def test_a_missing_release_says_where_it_looked(dirs: dict[str, Path]) -> None:
    with pytest.raises(LifecycleError) as caught:
        fetch(dirs, str(dirs["src"]), version="0.99.0")

    name = "lifecycle-v0.99.0+linux.x86-64.tgz"
    assert caught.value.message == (
        f"lifecycle 0.99.0: no release archive at {dirs['src']}/v0.99.0/{name} "
        f"and {dirs['src']}/{name}"
    )
    assert "CNBEXT_LIFECYCLE_BASE_URL" in (caught.value.hint or "")


def test_a_checksum_file_may_name_the_archive_first(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"], checksum=False)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    Path(f"{archive}.sha256").write_text(f"{archive.name}  {digest}\n")

    assert fetch(dirs, str(dirs["src"])) == "amd64"
    Path(f"{archive}.sha256").write_text(f"{archive.name}  {'2' * 64}\n")
    with pytest.raises(LifecycleError, match="was expected"):
        fetch(dirs, str(dirs["src"]))
