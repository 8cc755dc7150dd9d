"""cnbext.sources.modules: every builder.toml uri form, descriptors, safe extraction and staging."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from cnbext.errors import ExitCode
from cnbext.sources.modules import (
    Module,
    ModuleError,
    OrderRef,
    fetch_modules,
    read_descriptor,
    stage_module,
    tree_digest,
)
from tests.fixtures.buildpacks import (
    layer_tar,
    make_buildpack_archive,
    make_buildpackage_cnb,
    write_buildpack,
    write_extension,
)
from tests.fixtures.http_server import serve_directory

pytestmark = pytest.mark.usefixtures("no_proxy")

TARGETS_TOML = """
[[stacks]]
id = "io.buildpacks.stacks.jammy"
mixins = ["curl"]

[[targets]]
os = "linux"
arch = "amd64"
[[targets.distros]]
name = "ubuntu"
version = "22.04"
"""


def fetch(uri: str, dirs: dict[str, Path], kind: str = "buildpack", **options: Any) -> list[Module]:
    return fetch_modules(
        uri,
        kind=kind,  # type: ignore[arg-type]
        base_dir=dirs["config"],
        work_dir=dirs["work"],
        cache_dir=dirs["cache"],
        **options,
    )


def ids(modules: list[Module]) -> list[tuple[str, str]]:
    return [(m.descriptor.id, m.descriptor.version) for m in modules]


def hello(dirs: dict[str, Path]) -> Path:
    return write_buildpack(
        dirs["src"] / "hello",
        "example/hello",
        "0.0.1",
        name="Hello",
        homepage="https://example.com/hello",
        extra_toml=TARGETS_TOML,
    )


# --- uri forms --------------------------------------------------------------------------------


def test_relative_directory_is_taken_from_base_dir(dirs: dict[str, Path]) -> None:
    write_buildpack(dirs["config"] / "buildpacks" / "hello", "example/hello", "0.0.1")

    [module] = fetch("buildpacks/hello", dirs)

    assert module.descriptor.id == "example/hello"
    assert module.root == dirs["config"] / "buildpacks" / "hello"
    assert list(dirs["work"].iterdir()) == []  # a folder is used where it is, never copied


def test_absolute_directory(dirs: dict[str, Path]) -> None:
    source = hello(dirs)

    [module] = fetch(str(source), dirs)

    assert ids([module]) == [("example/hello", "0.0.1")]
    assert module.root == source


def test_file_url_to_directory(dirs: dict[str, Path]) -> None:
    source = hello(dirs)

    [module] = fetch(source.as_uri(), dirs)

    assert module.root == source


@pytest.mark.parametrize("uri", ["file://bp", "file:bp", "file://bp/", "./bp"])
def test_relative_file_urls_as_in_packs_docs(dirs: dict[str, Path], uri: str) -> None:
    write_buildpack(dirs["config"] / "bp", "example/rel", "1.0.0")

    [module] = fetch(uri, dirs)

    assert module.descriptor.id == "example/rel"


@pytest.mark.parametrize(
    ("archive_name", "top_folder"),
    [("hello.tgz", None), ("hello.tgz", "hello-0.0.1"), ("hello.tar.gz", "x"), ("hello.tar", None)],
)
def test_archive_with_or_without_top_folder(
    dirs: dict[str, Path], archive_name: str, top_folder: str | None
) -> None:
    archive = make_buildpack_archive(hello(dirs), dirs["src"] / archive_name, top_folder=top_folder)

    [module] = fetch(str(archive), dirs)

    assert ids([module]) == [("example/hello", "0.0.1")]
    assert module.root.is_relative_to(dirs["work"])
    assert (module.root / "bin" / "build").stat().st_mode & 0o111  # execute bits survive


def test_buildpackage_with_two_buildpacks_including_a_composite(dirs: dict[str, Path]) -> None:
    component = write_buildpack(dirs["src"] / "c", "example/component", "1.2.3")
    composite = write_buildpack(
        dirs["src"] / "meta",
        "example/meta",
        "2.0.0",
        order=[[{"id": "example/component", "version": "1.2.3", "optional": True}]],
    )
    package = make_buildpackage_cnb(
        [(composite, "example/meta", "2.0.0"), (component, "example/component", "1.2.3")],
        dirs["src"] / "meta.cnb",
    )

    modules = fetch(str(package), dirs)

    # The package's own buildpack first, even though it sorts after the component.
    assert ids(modules) == [("example/meta", "2.0.0"), ("example/component", "1.2.3")]
    meta, comp = modules
    assert meta.descriptor.is_composite and not comp.descriptor.is_composite
    assert meta.descriptor.order == ((OrderRef("example/component", "1.2.3", True),),)
    assert comp.root.as_posix().endswith("cnb/buildpacks/example_component/1.2.3")
    assert (comp.root / "bin" / "detect").read_text() == "#!/bin/sh\nexit 0\n"


def test_buildpackage_with_uncompressed_layers(dirs: dict[str, Path]) -> None:
    source = hello(dirs)
    package = make_buildpackage_cnb(
        [(source, "example/hello", "0.0.1")], dirs["src"] / "h.cnb", gzip_layers=False
    )

    assert ids(fetch(str(package), dirs)) == [("example/hello", "0.0.1")]


def test_buildpackage_of_extensions_is_read_by_kind(dirs: dict[str, Path]) -> None:
    ext = write_extension(dirs["src"] / "curl", "example/curl", "1.0.0")
    package = make_buildpackage_cnb(
        [(ext, "example/curl", "1.0.0")], dirs["src"] / "ext.cnb", kind="extension"
    )

    [module] = fetch(str(package), dirs, kind="extension")

    assert module.descriptor.kind == "extension"
    with pytest.raises(ModuleError, match=r"no buildpacks found under /cnb/buildpacks"):
        fetch(str(package), dirs, kind="buildpack")


def test_docker_save_archive(dirs: dict[str, Path]) -> None:
    # `docker save` writes manifest.json naming the config and layer files instead of a layout.
    layer = layer_tar(hello(dirs), "/cnb/buildpacks/example_hello/0.0.1")
    saved = dirs["src"] / "saved.tar"
    with tarfile.open(saved, "w") as tar:
        for name, data in (
            (
                "manifest.json",
                json.dumps([{"Config": "config.json", "Layers": ["abc/layer.tar"]}]).encode(),
            ),
            ("config.json", b'{"config": {"Labels": {}}}'),
            ("abc/layer.tar", layer),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    assert ids(fetch(str(saved), dirs)) == [("example/hello", "0.0.1")]


def test_cnb_without_oci_layout_is_refused(dirs: dict[str, Path]) -> None:
    bogus = make_buildpack_archive(hello(dirs), dirs["src"] / "not-a-package.cnb")

    with pytest.raises(ModuleError, match=r"not a buildpackage: .*no oci-layout file"):
        fetch(str(bogus), dirs)


def test_http_download_is_cached(dirs: dict[str, Path]) -> None:
    archive = make_buildpack_archive(hello(dirs), dirs["src"] / "served" / "hello.tgz")

    with serve_directory(archive.parent) as server:
        url = f"{server.base_url}/hello.tgz"
        first = fetch(url, dirs)
        second = fetch(url, dirs)

    assert ids(first) == ids(second) == [("example/hello", "0.0.1")]
    assert server.hits["/hello.tgz"] == 1
    cached = [p for p in dirs["cache"].rglob("*") if p.is_file()]
    assert [p.name for p in cached] == ["hello.tgz"]  # no partial download left behind


def test_http_buildpackage(dirs: dict[str, Path]) -> None:
    package = make_buildpackage_cnb(
        [(hello(dirs), "example/hello", "0.0.1")], dirs["src"] / "served" / "h.cnb"
    )

    with serve_directory(package.parent) as server:
        modules = fetch(f"{server.base_url}/h.cnb", dirs)

    assert ids(modules) == [("example/hello", "0.0.1")]


def test_http_404_names_the_url_and_suggests_a_local_path(dirs: dict[str, Path]) -> None:
    with serve_directory(dirs["src"]) as server:
        url = f"{server.base_url}/missing.tgz"
        with pytest.raises(ModuleError) as caught:
            fetch(url, dirs)

    assert caught.value.message == f"could not fetch {url}: HTTP 404 File not found"
    assert caught.value.hint is not None and "file://" in caught.value.hint
    assert caught.value.exit_code == ExitCode.CONFIG
    assert not any(p.is_file() for p in dirs["cache"].rglob("*"))


def test_http_connection_refused(dirs: dict[str, Path]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hello.tgz"

    with pytest.raises(
        ModuleError, match=r"could not fetch http://127\.0\.0\.1:\d+/hello\.tgz: connection refused"
    ):
        fetch(url, dirs)


def test_docker_image_through_the_exporter(dirs: dict[str, Path]) -> None:
    calls: list[tuple[str, Path]] = []

    def exporter(image: str, dest: Path) -> None:
        # Stands in for the engine: writes the image's /cnb trees, as the real one does.
        calls.append((image, dest))
        write_buildpack(
            dest / "cnb" / "buildpacks" / "example_other" / "0.1.0", "example/other", "0.1.0"
        )
        write_buildpack(
            dest / "cnb" / "buildpacks" / "example_hello" / "0.0.1", "example/hello", "0.0.1"
        )
        write_extension(
            dest / "cnb" / "extensions" / "example_curl" / "1.0.0", "example/curl", "1.0.0"
        )

    modules = fetch("docker://registry.example.com/bp/hello:1", dirs, image_exporter=exporter)

    assert [image for image, _ in calls] == ["registry.example.com/bp/hello:1"]
    assert calls[0][1].is_relative_to(dirs["work"])
    assert ids(modules) == [("example/hello", "0.0.1"), ("example/other", "0.1.0")]
    extensions = fetch(
        "docker://registry.example.com/bp/hello:1", dirs, kind="extension", image_exporter=exporter
    )
    assert ids(extensions) == [("example/curl", "1.0.0")]


def test_docker_without_exporter(dirs: dict[str, Path]) -> None:
    with pytest.raises(ModuleError, match=r"^docker://x/y: docker:// sources need an image engine"):
        fetch("docker://x/y", dirs)


def test_buildpack_in_the_wrong_folder_of_an_image(dirs: dict[str, Path]) -> None:
    def exporter(image: str, dest: Path) -> None:
        write_buildpack(
            dest / "cnb" / "buildpacks" / "example_hello" / "9.9.9", "example/hello", "0.0.1"
        )

    with pytest.raises(
        ModuleError,
        match=r"holds example/hello@0\.0\.1, which belongs at /cnb/buildpacks/example_hello/0\.0\.1",
    ):
        fetch("docker://img", dirs, image_exporter=exporter)


def test_registry_urn_needs_network(dirs: dict[str, Path]) -> None:
    with pytest.raises(ModuleError) as caught:
        fetch("urn:cnb:registry:example/hello@0.0.1", dirs)

    assert caught.value.message == (
        "urn:cnb:registry:example/hello@0.0.1: the buildpack registry needs network access "
        "cnbext does not have here"
    )
    assert caught.value.hint == "use a path, URL or docker:// image of the buildpack instead"


def test_unknown_scheme(dirs: dict[str, Path]) -> None:
    with pytest.raises(ModuleError, match=r"^ftp://h/x\.tgz: the ftp:// scheme is not supported$"):
        fetch("ftp://h/x.tgz", dirs)


def test_missing_path_says_where_it_looked(dirs: dict[str, Path]) -> None:
    with pytest.raises(ModuleError) as caught:
        fetch("nope/bp", dirs)

    assert caught.value.message == f"nope/bp: {dirs['config'] / 'nope' / 'bp'} does not exist"
    assert str(dirs["config"]) in (caught.value.hint or "")


# --- descriptor problems ----------------------------------------------------------------------


def test_missing_descriptor_in_a_directory(dirs: dict[str, Path]) -> None:
    (dirs["src"] / "empty").mkdir()

    with pytest.raises(
        ModuleError,
        match=r"buildpack\.toml not found: a buildpack has its buildpack\.toml at its root",
    ):
        fetch(str(dirs["src"] / "empty"), dirs)


def test_missing_descriptor_in_an_archive_names_the_uri(dirs: dict[str, Path]) -> None:
    (dirs["src"] / "bp").mkdir()
    (dirs["src"] / "bp" / "README").write_text("no descriptor here")
    archive = make_buildpack_archive(dirs["src"] / "bp", dirs["src"] / "bp.tgz")

    with pytest.raises(ModuleError) as caught:
        fetch(str(archive), dirs)

    assert caught.value.message.startswith(f"{archive}: buildpack.toml not found")


def test_extension_given_as_buildpack(dirs: dict[str, Path]) -> None:
    ext = write_extension(dirs["src"] / "curl", "example/curl", "1.0.0")

    with pytest.raises(
        ModuleError, match=r"this is an extension \(extension\.toml found\), not a buildpack"
    ) as caught:
        fetch(str(ext), dirs)

    assert caught.value.hint == "list it under [[extensions]] in builder.toml"


def test_malformed_toml(dirs: dict[str, Path]) -> None:
    (dirs["src"] / "bad").mkdir()
    (dirs["src"] / "bad" / "buildpack.toml").write_text('api = "0.10"\n[buildpack\nid = "x"\n')

    with pytest.raises(ModuleError, match=r"buildpack\.toml is not valid TOML: .*line 2") as caught:
        fetch(str(dirs["src"] / "bad"), dirs)

    # Named as the user wrote it in builder.toml, then which file inside and why.
    assert caught.value.message.startswith(
        f"{dirs['src'] / 'bad'}: buildpack.toml is not valid TOML: "
    )


def test_every_descriptor_problem_is_reported_at_once(dirs: dict[str, Path]) -> None:
    (dirs["src"] / "bad").mkdir()
    (dirs["src"] / "bad" / "buildpack.toml").write_text(
        'api = "1.0.0"\n[buildpack]\nid = "app"\nversion = "../1"\nname = 3\n'
        '[[order]]\n[[order.group]]\nversion = "1"\noptional = "yes"\n'
    )

    with pytest.raises(ModuleError) as caught:
        read_descriptor(dirs["src"] / "bad", "buildpack")

    message = caught.value.message
    assert message.startswith(f"{dirs['src'] / 'bad' / 'buildpack.toml'}: ")
    for expected in (
        "api must be a version string like \"0.10\", got '1.0.0'",
        "buildpack.id 'app' is reserved or not a name",
        "buildpack.version must be a version like \"1.2.3\", got '../1'",
        "buildpack.name must be a string, got 3",
        "order[0].group[0].id must be a non-empty string, got None",
        "order[0].group[0].optional must be true or false, got 'yes'",
    ):
        assert expected in message


def test_an_extensions_order_is_ignored_as_pack_ignores_it(dirs: dict[str, Path]) -> None:
    ext = write_extension(
        dirs["src"] / "e", "example/e", "1.0.0", extra_toml='[[order]]\n[[order.group]]\nid = "x"\n'
    )
    assert read_descriptor(ext, "extension").order == ()


@pytest.mark.parametrize("extra", ['[[targets]]\nos = "linux"\n', '[[stacks]]\nid = "s"\n'])
def test_a_composite_buildpack_with_targets_or_stacks_is_refused_as_pack_refuses_it(
    dirs: dict[str, Path], extra: str
) -> None:
    (dirs["src"] / "c").mkdir()
    (dirs["src"] / "c" / "buildpack.toml").write_text(
        'api = "0.10"\n[buildpack]\nid = "c"\nversion = "1.0.0"\n'
        '[[order]]\n[[order.group]]\nid = "x"\nversion = "1"\n' + extra
    )
    with pytest.raises(ModuleError, match="cannot have both 'targets'/'stacks' and an 'order'"):
        read_descriptor(dirs["src"] / "c", "buildpack")


@pytest.mark.parametrize(
    ("api", "read"), [("v0.10", "0.10"), ("0.010", "0.10"), ("010", "10.0"), ("1", "1")]
)
def test_api_versions_read_as_the_lifecycle_reads_them(
    dirs: dict[str, Path], api: str, read: str
) -> None:
    (dirs["src"] / "b").mkdir()
    (dirs["src"] / "b" / "buildpack.toml").write_text(
        f'api = "{api}"\n[buildpack]\nid = "b"\nversion = "1.0.0"\n'
    )
    assert read_descriptor(dirs["src"] / "b", "buildpack").api == read


# --- descriptor fields ------------------------------------------------------------------------


def test_descriptor_fields(dirs: dict[str, Path]) -> None:
    descriptor = read_descriptor(hello(dirs), "buildpack")

    assert (descriptor.kind, descriptor.api, descriptor.id, descriptor.version) == (
        "buildpack",
        "0.10",
        "example/hello",
        "0.0.1",
    )
    assert descriptor.name == "Hello"
    assert descriptor.homepage == "https://example.com/hello"
    assert descriptor.order == ()
    assert not descriptor.is_composite
    assert descriptor.stacks == ({"id": "io.buildpacks.stacks.jammy", "mixins": ["curl"]},)
    assert descriptor.targets == (
        {"os": "linux", "arch": "amd64", "distros": [{"name": "ubuntu", "version": "22.04"}]},
    )
    assert descriptor.raw["buildpack"]["id"] == "example/hello"
    hash(descriptor)  # usable as a dict key despite the tables inside


def test_composite_order_with_optional_flags_and_open_versions(dirs: dict[str, Path]) -> None:
    root = write_buildpack(
        dirs["src"] / "meta",
        "example/meta",
        "1.0.0",
        order=[
            [{"id": "example/a", "version": "1.0.0"}, {"id": "example/b", "optional": True}],
            [{"id": "example/c", "version": "3.0.0", "optional": False}],
        ],
    )

    descriptor = read_descriptor(root, "buildpack")

    assert descriptor.is_composite
    assert descriptor.order == (
        (OrderRef("example/a", "1.0.0", False), OrderRef("example/b", None, True)),
        (OrderRef("example/c", "3.0.0", False),),
    )
    assert not (root / "bin").exists()


def test_extension_descriptor(dirs: dict[str, Path]) -> None:
    root = write_extension(
        dirs["src"] / "curl", "example/curl", "1.2.3", name="curl", generate_script="#!/bin/sh\n"
    )

    [module] = fetch(str(root), dirs, kind="extension")

    assert module.descriptor.kind == "extension"
    assert module.descriptor.name == "curl"
    assert module.install_path == PurePosixPath("/cnb/extensions/example_curl/1.2.3")


def test_buildpack_without_api_key_is_api_0_1(dirs: dict[str, Path]) -> None:
    (dirs["src"] / "old").mkdir()
    (dirs["src"] / "old" / "buildpack.toml").write_text(
        '[buildpack]\nid = "old"\nversion = "1.0.0"\n'
    )

    assert read_descriptor(dirs["src"] / "old", "buildpack").api == "0.1"


def test_install_path_replaces_slashes(dirs: dict[str, Path]) -> None:
    [module] = fetch(str(write_buildpack(dirs["src"] / "x", "io.example/deep/name", "1.0.0")), dirs)

    assert module.install_path == PurePosixPath("/cnb/buildpacks/io.example_deep_name/1.0.0")


# --- unsafe archives --------------------------------------------------------------------------


def _tar_with(dest: Path, *members: tuple[str, str, str]) -> Path:
    """A .tgz with a valid buildpack.toml plus ``(name, type, data-or-link)`` members."""
    with tarfile.open(dest, "w:gz") as tar:
        descriptor = b'api = "0.10"\n[buildpack]\nid = "evil"\nversion = "1.0.0"\n'
        info = tarfile.TarInfo("buildpack.toml")
        info.size = len(descriptor)
        tar.addfile(info, io.BytesIO(descriptor))
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value.encode()))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = value
                tar.addfile(info)
    return dest


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([("../escaped", "file", "x")], "'..' would leave the extraction folder"),
        ([("bin/../../escaped", "file", "x")], "'..' would leave the extraction folder"),
        ([("/tmp/escaped", "file", "x")], "absolute paths are not allowed"),
        (
            [("link", "symlink", "../../outside")],
            "symlink to '../../outside' points outside the archive",
        ),
        ([("link", "symlink", "/etc")], "symlink to the absolute path '/etc'"),
        ([("hard", "hardlink", "../outside")], "'..' would leave the extraction folder"),
        (
            [("a", "symlink", "."), ("b", "symlink", "a/.."), ("b/escaped", "file", "x")],
            "symlink to 'a/..' points outside the archive",
        ),
        (
            [("b", "symlink", "a/.."), ("a", "symlink", ".")],
            "symlink to 'a/..' resolves outside it",
        ),
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "absolute",
        "symlink-out",
        "symlink-absolute",
        "hardlink-out",
        "write-through-link",
        "link-chain",
    ],
)
def test_path_traversal_is_refused(dirs: dict[str, Path], members: list[Any], why: str) -> None:
    archive = _tar_with(dirs["src"] / "evil.tgz", *members)

    with pytest.raises(ModuleError) as caught:
        fetch(str(archive), dirs)

    assert caught.value.message.startswith(f"{archive}: refusing archive member")
    assert why in caught.value.message
    assert not (dirs["work"].parent / "escaped").exists()
    assert not (dirs["work"] / "escaped").exists()


def test_links_inside_the_archive_are_kept(dirs: dict[str, Path]) -> None:
    archive = _tar_with(
        dirs["src"] / "ok.tgz",
        ("bin/real", "file", "#!/bin/sh\n"),
        ("bin/detect", "symlink", "real"),
        ("bin/build", "hardlink", "bin/real"),
    )

    [module] = fetch(str(archive), dirs)

    assert (module.root / "bin" / "detect").readlink() == Path("real")
    assert (module.root / "bin" / "build").read_text() == "#!/bin/sh\n"


def test_corrupt_archive(dirs: dict[str, Path]) -> None:
    (dirs["src"] / "broken.tgz").write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)

    with pytest.raises(ModuleError, match=r"broken\.tgz: .*(not a readable tar archive|corrupt)"):
        fetch(str(dirs["src"] / "broken.tgz"), dirs)


# --- staging and digests ----------------------------------------------------------------------


def _staging_source(dirs: dict[str, Path]) -> Path:
    root = write_buildpack(dirs["src"] / "stage", "example/hello", "0.0.1")
    (root / "lib").mkdir()
    (root / "lib" / "data.txt").write_text("data")
    (root / "lib" / "data.txt").chmod(0o600)
    (root / "bin" / "helper").write_text("#!/bin/sh\n")
    (root / "bin" / "helper").chmod(0o700)  # owner-only execute still counts as executable
    (root / "lib").chmod(0o700)
    (root / "current").symlink_to("lib/data.txt")
    return root


def test_stage_module_normalizes_modes_and_mtimes(dirs: dict[str, Path], tmp_path: Path) -> None:
    [module] = fetch(str(_staging_source(dirs)), dirs)
    dest = tmp_path / "layer"

    staged = stage_module(module, dest)

    assert staged == dest / "cnb" / "buildpacks" / "example_hello" / "0.0.1"
    modes = {
        p.relative_to(dest).as_posix(): stat.S_IMODE(p.lstat().st_mode)
        for p in [dest / "cnb", *sorted((dest / "cnb").rglob("*"))]
        if not p.is_symlink()
    }
    prefix = "cnb/buildpacks/example_hello/0.0.1"
    assert modes == {
        "cnb": 0o755,
        "cnb/buildpacks": 0o755,
        "cnb/buildpacks/example_hello": 0o755,
        prefix: 0o755,
        f"{prefix}/bin": 0o755,
        f"{prefix}/bin/build": 0o755,
        f"{prefix}/bin/detect": 0o755,
        f"{prefix}/bin/helper": 0o755,
        f"{prefix}/buildpack.toml": 0o644,
        f"{prefix}/lib": 0o755,
        f"{prefix}/lib/data.txt": 0o644,
    }
    link = staged / "current"
    assert link.is_symlink() and link.readlink() == Path("lib/data.txt")
    everything = [dest / "cnb", *(dest / "cnb").rglob("*")]
    assert {p.relative_to(dest).as_posix(): p.lstat().st_mtime for p in everything} == {
        p.relative_to(dest).as_posix(): 0 for p in everything
    }
    assert (dest / "cnb").lstat().st_mtime == 0  # parents too, not only the module


def test_stage_module_twice_replaces_the_copy_and_keeps_siblings(
    dirs: dict[str, Path], tmp_path: Path
) -> None:
    source = _staging_source(dirs)
    [module] = fetch(str(source), dirs)
    newer = write_buildpack(dirs["src"] / "v2", "example/hello", "0.0.2")
    other = Module(read_descriptor(newer, "buildpack"), newer)
    dest = tmp_path / "layer"
    stage_module(module, dest)
    (source / "lib" / "data.txt").unlink()

    staged = stage_module(module, dest)
    stage_module(other, dest)  # same id, other version: lands beside it

    assert not (staged / "lib" / "data.txt").exists()
    assert sorted(p.name for p in (dest / "cnb" / "buildpacks" / "example_hello").iterdir()) == [
        "0.0.1",
        "0.0.2",
    ]
    assert (dest / "cnb" / "buildpacks").lstat().st_mtime == 0


def test_tree_digest_ignores_mtimes_and_modes_within_their_class(
    dirs: dict[str, Path], tmp_path: Path
) -> None:
    source = _staging_source(dirs)
    [module] = fetch(str(source), dirs)
    staged = stage_module(module, tmp_path / "layer")
    (source / "lib" / "data.txt").chmod(0o664)  # still not executable: 0644 either way
    os.utime(source / "buildpack.toml", (12345, 12345))

    assert tree_digest(source) == tree_digest(staged)
    assert tree_digest(source).startswith("sha256:") and len(tree_digest(source)) == 71


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "lib" / "data.txt").write_text("other data"),
        lambda root: (root / "lib" / "data.txt").chmod(0o744),
        lambda root: (root / "lib" / "extra").write_text(""),
        lambda root: (root / "lib" / "data.txt").rename(root / "lib" / "renamed.txt"),
        lambda root: ((root / "current").unlink(), (root / "current").symlink_to("bin/build")),
        lambda root: (root / "empty").mkdir(),
    ],
    ids=["content", "exec-bit", "new-file", "rename", "link-target", "new-folder"],
)
def test_tree_digest_changes_with_content(
    dirs: dict[str, Path], change: Callable[[Path], object]
) -> None:
    source = _staging_source(dirs)
    before = tree_digest(source)

    change(source)

    assert tree_digest(source) != before


def test_special_files_cannot_be_staged(dirs: dict[str, Path], tmp_path: Path) -> None:
    source = _staging_source(dirs)
    os.mkfifo(source / "pipe")
    module = Module(read_descriptor(source, "buildpack"), source)

    with pytest.raises(ModuleError, match=r"example/hello@0\.0\.1: .*pipe is a special file"):
        stage_module(module, tmp_path / "layer")
