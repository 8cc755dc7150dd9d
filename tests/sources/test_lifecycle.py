"""cnbext.sources.lifecycle: lifecycle sources, lifecycle.toml forms, binaries and API compatibility.

Every lifecycle here is the structure-only fixture from tests/fixtures/lifecycle_fixture.py,
never a real lifecycle: these tests are about fetching and reading, not about running it.
"""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
from pathlib import Path
from typing import Any

import pytest

from cnbext.errors import ExitCode
from cnbext.sources.lifecycle import (
    ApiSet,
    Lifecycle,
    LifecycleError,
    fetch_lifecycle,
    lifecycle_archive_name,
)
from cnbext.sources.lifecycle_release import DEFAULT_DOWNLOAD_BASE_URL, DEFAULT_LIFECYCLE_VERSION
from tests.fixtures.http_server import serve_directory
from tests.fixtures.lifecycle_fixture import (
    PLACEHOLDER_SCRIPT,
    lifecycle_toml,
    make_lifecycle_archive,
    write_lifecycle_tree,
)

pytestmark = pytest.mark.usefixtures("no_proxy")

MODERN_PLATFORM = ("0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13")
MODERN_BUILDPACK = ("0.7", "0.8", "0.9", "0.10", "0.11")


def fetch(
    dirs: dict[str, Path],
    *,
    version: str | None = None,
    uri: str | None = None,
    arch: str = "amd64",
    **options: Any,
) -> Lifecycle:
    return fetch_lifecycle(
        version=version,
        uri=uri,
        arch=arch,
        base_dir=dirs["config"],
        work_dir=dirs["work"],
        cache_dir=dirs["cache"],
        **options,
    )


def closed_port_url() -> str:
    with socket.socket() as probe:  # bound, then closed: nobody listens there
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def assert_fixture_lifecycle(lifecycle: Lifecycle, version: str = "0.21.0") -> None:
    assert lifecycle.version == version
    assert lifecycle.platform_apis == ApiSet(deprecated=(), supported=MODERN_PLATFORM)
    assert lifecycle.buildpack_apis == ApiSet(deprecated=(), supported=MODERN_BUILDPACK)
    assert (lifecycle.root / "lifecycle.toml").is_file()
    assert (lifecycle.root / "lifecycle" / "exporter").read_bytes() == PLACEHOLDER_SCRIPT


# --- sources ----------------------------------------------------------------------------------


def test_archive_from_an_absolute_path(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"])

    lifecycle = fetch(dirs, uri=str(archive))

    assert archive.name == "lifecycle-v0.21.0+linux.x86-64.tgz"
    assert_fixture_lifecycle(lifecycle)
    assert lifecycle.root.is_relative_to(dirs["work"])
    assert (lifecycle.root / "lifecycle" / "launcher").stat().st_mode & 0o777 == 0o755


def test_archive_from_a_path_relative_to_the_config(dirs: dict[str, Path]) -> None:
    make_lifecycle_archive(dirs["config"] / "vendor")

    lifecycle = fetch(dirs, uri="vendor/lifecycle-v0.21.0+linux.x86-64.tgz")

    assert_fixture_lifecycle(lifecycle)


def test_archive_from_file_url(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"])

    assert_fixture_lifecycle(fetch(dirs, uri=archive.as_uri()))


def test_directory(dirs: dict[str, Path]) -> None:
    root = write_lifecycle_tree(dirs["src"] / "lifecycle-0.21.0")

    lifecycle = fetch(dirs, uri=str(root))

    assert_fixture_lifecycle(lifecycle)
    assert lifecycle.root == root  # used in place


def test_uncompressed_tar_with_a_top_folder(dirs: dict[str, Path]) -> None:
    root = write_lifecycle_tree(dirs["src"] / "out" / "linux-amd64")
    archive = dirs["src"] / "lifecycle.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname="linux-amd64")

    lifecycle = fetch(dirs, uri=str(archive))

    assert_fixture_lifecycle(lifecycle)
    assert lifecycle.root.name == "linux-amd64"


def test_release_layout_with_symlinked_phases(dirs: dict[str, Path]) -> None:
    # Real releases ship one `lifecycle` binary; the phases are relative links to it.
    archive = dirs["src"] / "linked.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (
            ("lifecycle.toml", lifecycle_toml("0.21.0").encode()),
            ("lifecycle/lifecycle", PLACEHOLDER_SCRIPT),
            ("lifecycle/launcher", PLACEHOLDER_SCRIPT),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        for phase in ("detector", "analyzer", "restorer", "builder", "exporter", "creator"):
            info = tarfile.TarInfo(f"lifecycle/{phase}")
            info.type, info.linkname = tarfile.SYMTYPE, "lifecycle"
            tar.addfile(info)

    lifecycle = fetch(dirs, uri=str(archive))

    assert (lifecycle.root / "lifecycle" / "detector").resolve() == (
        lifecycle.root / "lifecycle" / "lifecycle"
    ).resolve()


def test_download_from_a_base_url_override_is_cached(dirs: dict[str, Path]) -> None:
    make_lifecycle_archive(dirs["src"] / "v0.21.0")

    with serve_directory(dirs["src"]) as server:
        first = fetch(dirs, download_base_url=server.base_url)
        second = fetch(dirs, download_base_url=server.base_url + "/")  # same URL once normalized

    assert_fixture_lifecycle(first)
    assert_fixture_lifecycle(second)
    # The published checksum is read with the archive, and both only once: then it is cached.
    assert server.hits == {
        "/v0.21.0/lifecycle-v0.21.0+linux.x86-64.tgz": 1,
        "/v0.21.0/lifecycle-v0.21.0+linux.x86-64.tgz.sha256": 1,
    }


def test_download_for_arm64_with_an_explicit_version(dirs: dict[str, Path]) -> None:
    make_lifecycle_archive(dirs["src"] / "v0.20.5", version="0.20.5", arch="arm64")

    with serve_directory(dirs["src"]) as server:
        lifecycle = fetch(dirs, version="v0.20.5", arch="arm64", download_base_url=server.base_url)

    assert lifecycle.version == "0.20.5"
    assert server.hits == {
        "/v0.20.5/lifecycle-v0.20.5+linux.arm64.tgz": 1,
        "/v0.20.5/lifecycle-v0.20.5+linux.arm64.tgz.sha256": 1,
    }


def test_uri_over_http_is_cached(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"])

    with serve_directory(dirs["src"]) as server:
        url = f"{server.base_url}/{archive.name}"
        fetch(dirs, uri=url)
        lifecycle = fetch(dirs, uri=url)

    assert_fixture_lifecycle(lifecycle)
    assert server.hits["/lifecycle-v0.21.0+linux.x86-64.tgz"] == 1


def test_404_suggests_a_uri_or_a_mirror(dirs: dict[str, Path]) -> None:
    with serve_directory(dirs["src"]) as server, pytest.raises(LifecycleError) as caught:
        fetch(dirs, version="0.99.0", download_base_url=server.base_url)

    url = f"{server.base_url}/v0.99.0/lifecycle-v0.99.0+linux.x86-64.tgz"
    assert (
        caught.value.message == f"lifecycle 0.99.0: could not fetch {url}: HTTP 404 File not found"
    )
    assert caught.value.exit_code == ExitCode.CONFIG
    hint = caught.value.hint or ""
    assert '[lifecycle] uri = "<path or docker://image>"' in hint
    assert "CNBEXT_LIFECYCLE_BASE_URL" in hint
    assert server.base_url in hint


def test_connection_refused_suggests_a_uri_or_a_mirror(dirs: dict[str, Path]) -> None:
    base = closed_port_url()

    with pytest.raises(LifecycleError) as caught:
        fetch(dirs, download_base_url=base)

    assert caught.value.message == (
        f"lifecycle 0.21.0: could not fetch {base}/v0.21.0/lifecycle-v0.21.0+linux.x86-64.tgz: "
        "connection refused"
    )
    assert "CNBEXT_LIFECYCLE_BASE_URL" in (caught.value.hint or "")
    assert not list(dirs["cache"].rglob("*.tgz"))


def test_docker_image_with_lifecycle_toml(dirs: dict[str, Path]) -> None:
    seen: list[str] = []

    def exporter(image: str, dest: Path) -> None:
        seen.append(image)
        write_lifecycle_tree(dest / "cnb" / "tmp")
        (dest / "cnb" / "tmp" / "lifecycle").rename(dest / "cnb" / "lifecycle")
        (dest / "cnb" / "tmp" / "lifecycle.toml").rename(
            dest / "cnb" / "lifecycle" / "lifecycle.toml"
        )

    lifecycle = fetch(dirs, uri="docker://buildpacksio/lifecycle:0.21.0", image_exporter=exporter)

    assert seen == ["buildpacksio/lifecycle:0.21.0"]
    assert_fixture_lifecycle(lifecycle)
    assert lifecycle.root.name == "cnb"


def test_docker_image_without_lifecycle_toml_says_so(dirs: dict[str, Path]) -> None:
    def exporter(image: str, dest: Path) -> None:
        (dest / "cnb" / "lifecycle").mkdir(parents=True)

    with pytest.raises(LifecycleError) as caught:
        fetch(dirs, uri="docker://buildpacksio/lifecycle:0.21.0", image_exporter=exporter)

    assert caught.value.message.startswith(
        "docker://buildpacksio/lifecycle:0.21.0: the image has no lifecycle.toml"
    )
    assert "[lifecycle] uri" in (caught.value.hint or "")


def test_docker_without_exporter(dirs: dict[str, Path]) -> None:
    with pytest.raises(LifecycleError, match=r"docker:// lifecycles need an image engine"):
        fetch(dirs, uri="docker://buildpacksio/lifecycle:0.21.0")


def test_version_and_uri_together_are_refused(dirs: dict[str, Path]) -> None:
    with pytest.raises(
        LifecycleError, match=r"^'lifecycle' can only declare 'version' or 'uri', not both$"
    ):
        fetch(dirs, version="0.21.0", uri="x.tgz")


def test_missing_path(dirs: dict[str, Path]) -> None:
    with pytest.raises(LifecycleError) as caught:
        fetch(dirs, uri="nope.tgz")

    assert caught.value.message == f"nope.tgz: {dirs['config'] / 'nope.tgz'} does not exist"


def test_default_version_and_url() -> None:
    assert DEFAULT_LIFECYCLE_VERSION == "0.21.0"
    assert DEFAULT_DOWNLOAD_BASE_URL == "https://github.com/buildpacks/lifecycle/releases/download"


def test_invalid_version_is_refused_before_any_download(dirs: dict[str, Path]) -> None:
    with pytest.raises(LifecycleError, match=r"lifecycle version 'latest' is not a valid semver"):
        fetch(dirs, version="latest", download_base_url=closed_port_url())


def test_downloaded_archive_of_another_version_is_refused(dirs: dict[str, Path]) -> None:
    make_lifecycle_archive(dirs["src"] / "staging", version="0.20.0")
    target = dirs["src"] / "v0.21.0"
    target.mkdir()
    (dirs["src"] / "staging" / "lifecycle-v0.20.0+linux.x86-64.tgz").rename(
        target / "lifecycle-v0.21.0+linux.x86-64.tgz"
    )

    with (
        serve_directory(dirs["src"]) as server,
        pytest.raises(
            LifecycleError, match=r"lifecycle\.version is 0\.20\.0, but 0\.21\.0 was asked for"
        ),
    ):
        fetch(dirs, download_base_url=server.base_url)


# --- lifecycle.toml ---------------------------------------------------------------------------


def test_modern_form_with_deprecated_apis(dirs: dict[str, Path]) -> None:
    text = lifecycle_toml(
        "0.21.0",
        ("0.12", "0.13", "0.14"),
        ("0.10", "0.11"),
        deprecated_buildpack_apis=("0.2",),
        deprecated_platform_apis=("0.3",),
    )
    root = write_lifecycle_tree(dirs["src"] / "lc", descriptor=text)

    lifecycle = fetch(dirs, uri=str(root))

    assert lifecycle.buildpack_apis == ApiSet(deprecated=("0.2",), supported=("0.10", "0.11"))
    assert lifecycle.platform_apis == ApiSet(
        deprecated=("0.3",), supported=("0.12", "0.13", "0.14")
    )


def test_old_form(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(
        dirs["src"],
        version="0.6.1",
        descriptor=lifecycle_toml("0.6.1", ("0.3",), ("0.2",), legacy=True),
    )

    lifecycle = fetch(dirs, uri=str(archive))

    assert lifecycle.version == "0.6.1"
    assert lifecycle.buildpack_apis == ApiSet(deprecated=(), supported=("0.2",))
    assert lifecycle.platform_apis == ApiSet(deprecated=(), supported=("0.3",))
    assert not lifecycle.platform_api_at_least("0.13")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[lifecycle]\nversion = "0.21.0"\n',
            "no APIs declared ([apis.buildpack] and [apis.platform], or [api])",
        ),
        (
            '[apis.buildpack]\nsupported = ["0.10"]\n[lifecycle]\nversion = "0.21.0"\n',
            "[apis.platform] is missing",
        ),
        (
            '[apis.buildpack]\nsupported = ["0.1.0"]\n[apis.platform]\nsupported = ["0.13"]\n[lifecycle]\nversion = "0.21.0"\n',
            'apis.buildpack.supported must be a list of API versions like "0.10"',
        ),
        (
            '[api]\nbuildpack = 2\nplatform = "0.3"\n[lifecycle]\nversion = "0.6.0"\n',
            'api.buildpack must be an API version like "0.3", got 2',
        ),
        ('[api]\nbuildpack = "0.2"\nplatform = "0.3"\n', "lifecycle.version is missing"),
        (
            '[api]\nbuildpack = "0.2"\nplatform = "0.3"\n[lifecycle]\nversion = "new"\n',
            "lifecycle.version must be a semver, got 'new'",
        ),
    ],
    ids=["no-apis", "no-platform", "bad-api", "bad-old-api", "no-version", "bad-version"],
)
def test_invalid_descriptor(dirs: dict[str, Path], text: str, problem: str) -> None:
    root = write_lifecycle_tree(dirs["src"] / "lc", descriptor=text)

    with pytest.raises(LifecycleError) as caught:
        fetch(dirs, uri=str(root))

    assert caught.value.message.startswith(f"{root}: lifecycle.toml: ")
    assert problem in caught.value.message


def test_malformed_toml(dirs: dict[str, Path]) -> None:
    root = write_lifecycle_tree(dirs["src"] / "lc", descriptor="[apis\n")

    with pytest.raises(LifecycleError, match=r"lifecycle\.toml is not valid TOML: .*line 1"):
        fetch(dirs, uri=str(root))


def test_corrupt_archive(dirs: dict[str, Path]) -> None:
    (dirs["src"] / "lifecycle.tgz").write_bytes(b"this is no archive")

    with pytest.raises(
        LifecycleError, match=r"lifecycle\.tgz: not a readable tar archive"
    ) as caught:
        fetch(dirs, uri=str(dirs["src"] / "lifecycle.tgz"))

    assert (
        caught.value.hint == "give a lifecycle release archive (.tgz) or a folder laid out like one"
    )


def test_folder_without_lifecycle_toml(dirs: dict[str, Path]) -> None:
    (dirs["src"] / "bin").mkdir()

    with pytest.raises(
        LifecycleError,
        match=r"no lifecycle\.toml found; a lifecycle holds lifecycle\.toml and lifecycle/<binaries>",
    ):
        fetch(dirs, uri=str(dirs["src"] / "bin"))


def test_missing_binaries_are_named(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"], omit_binaries=("exporter", "launcher", "creator"))

    with pytest.raises(LifecycleError) as caught:
        fetch(dirs, uri=str(archive))

    # creator is optional (builders run the phases one by one), so it is not named.
    assert (
        caught.value.message
        == f"{archive}: lifecycle/ lacks exporter, launcher, which every builder needs"
    )


def test_binary_for_another_architecture_is_refused(dirs: dict[str, Path]) -> None:
    root = write_lifecycle_tree(dirs["src"] / "lc")
    # An ELF header for little-endian aarch64 (e_machine 0xB7 at offset 18).
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00" + b"\xb7\x00" + b"\x00" * 40
    (root / "lifecycle" / "launcher").write_bytes(elf)

    with pytest.raises(
        LifecycleError, match=r"lifecycle/launcher is built for arm64, but the builder is amd64"
    ):
        fetch(dirs, uri=str(root), arch="amd64")
    assert fetch(dirs, uri=str(root), arch="aarch64").version == "0.21.0"


# --- archive names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "arch", "name"),
    [
        ("0.21.0", "amd64", "lifecycle-v0.21.0+linux.x86-64.tgz"),
        ("0.21.0", "arm64", "lifecycle-v0.21.0+linux.arm64.tgz"),
        ("v0.17.2", "x86_64", "lifecycle-v0.17.2+linux.x86-64.tgz"),
        ("0.20.0-rc.1", "aarch64", "lifecycle-v0.20.0-rc.1+linux.arm64.tgz"),
    ],
)
def test_archive_names(version: str, arch: str, name: str) -> None:
    assert lifecycle_archive_name(version, arch) == name


def test_unknown_architecture() -> None:
    with pytest.raises(
        LifecycleError, match=r"no lifecycle release exists for the architecture 'riscv64'"
    ) as caught:
        lifecycle_archive_name("0.21.0", "riscv64")

    assert caught.value.hint == 'build one and set [lifecycle] uri = "<path or docker://image>"'


# --- API compatibility ------------------------------------------------------------------------


MODERN_PLATFORM_SET = ApiSet((), MODERN_PLATFORM)


def lifecycle_with(buildpack: ApiSet, platform: ApiSet = MODERN_PLATFORM_SET) -> Lifecycle:
    return Lifecycle(
        version="0.21.0", buildpack_apis=buildpack, platform_apis=platform, root=Path("/unused")
    )


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ("0.10", True),
        ("0.7", True),
        ("0.11", True),
        ("0.12", False),  # 0.x: a newer minor is not supported
        ("0.6", False),  # 0.x: an older minor is not supported either
        ("0.2", True),  # deprecated still runs
        ("0.3", False),
        ("1", False),
    ],
)
def test_supports_buildpack_api_in_0x_is_exact(api: str, expected: bool) -> None:
    lifecycle = lifecycle_with(ApiSet(deprecated=("0.2",), supported=MODERN_BUILDPACK))

    assert lifecycle.supports_buildpack_api(api) is expected


@pytest.mark.parametrize(
    ("api", "expected"),
    [("1.0", True), ("1", True), ("1.2", True), ("1.3", False), ("2.0", False), ("0.2", False)],
)
def test_supports_buildpack_api_from_1_0_takes_older_minors(api: str, expected: bool) -> None:
    lifecycle = lifecycle_with(ApiSet(deprecated=(), supported=("0.11", "1.2")))

    assert lifecycle.supports_buildpack_api(api) is expected


def test_invalid_api_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not an API version"):
        lifecycle_with(ApiSet((), ("0.10",))).supports_buildpack_api("latest")


def test_platform_api_at_least(dirs: dict[str, Path]) -> None:
    modern = fetch(dirs, uri=str(make_lifecycle_archive(dirs["src"])))
    older = lifecycle_with(ApiSet((), ("0.10",)), ApiSet(("0.3",), ("0.9", "0.12")))

    assert modern.platform_api_at_least("0.13")
    assert modern.platform_api_at_least("0.4")
    assert not modern.platform_api_at_least("0.14")
    assert not older.platform_api_at_least("0.13")
    assert lifecycle_with(ApiSet((), ("0.10",)), ApiSet((), ("1.0",))).platform_api_at_least("0.13")


def test_a_published_checksum_that_does_not_match_is_refused(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"] / "v0.21.0")
    Path(f"{archive}.sha256").write_text(f"{'0' * 64}  {archive.name}\n")

    with serve_directory(dirs["src"]) as server, pytest.raises(LifecycleError) as caught:
        fetch(dirs, download_base_url=server.base_url)

    assert f"but {'0' * 64} was expected" in caught.value.message
    assert not any(p.is_file() for p in dirs["cache"].rglob("*"))


def test_a_pinned_sha256_wins_over_the_published_one(dirs: dict[str, Path]) -> None:
    archive = make_lifecycle_archive(dirs["src"] / "v0.21.0", checksum=False)
    right = hashlib.sha256(archive.read_bytes()).hexdigest()

    with serve_directory(dirs["src"]) as server:
        lifecycle = fetch(dirs, download_base_url=server.base_url, sha256=right)
        with pytest.raises(LifecycleError, match="was expected"):
            fetch(dirs, download_base_url=server.base_url, sha256="1" * 64)

    assert lifecycle.version == "0.21.0"
