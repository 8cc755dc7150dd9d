"""builder.toml loading: pack's whole format, pack's checks, every problem located and reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnbext.config.builder import (
    EnvVar,
    LifecycleSource,
    ModuleEntry,
    OrderEntry,
    OrderGroup,
    RunImageEntry,
    TargetEntry,
    load_builder_config,
)
from cnbext.errors import ConfigError, ExitCode

DIGEST = "sha256:" + "a" * 64

FULL = f"""\
description = "Ubuntu 22.04 builder"

[[buildpacks]]
id = "paketo-buildpacks/nodejs"
version = "1.2.3"
uri = "buildpacks/nodejs"

[[buildpacks]]
uri = "docker://gcr.io/paketo-buildpacks/go:4.0"

[[buildpacks]]
image = "paketobuildpacks/java"

[[buildpacks]]
uri = "urn:cnb:registry:paketo-buildpacks/python@2.1.0"

[[extensions]]
id = "samples/curl"
version = "0.0.1"
uri = "file:///opt/extensions/curl.cnb"

[[order]]
  [[order.group]]
  id = "paketo-buildpacks/nodejs"
  version = "1.2.3"

  [[order.group]]
  id = "paketo-buildpacks/procfile"
  optional = true

[[order]]
  [[order.group]]
  id = "paketo-buildpacks/go"

[[order-extensions]]
  [[order-extensions.group]]
  id = "samples/curl"
  version = "0.0.1"

[[system.pre.buildpacks]]
id = "sys/pre"
version = "1.0.0"
optional = true

[[system.post.buildpacks]]
id = "sys/post"

[stack]
id = "io.buildpacks.stacks.jammy"
build-image = "docker.io/paketobuildpacks/build-jammy-base:latest"
run-image = "paketobuildpacks/run-jammy-base:0.1"
run-image-mirrors = ["gcr.io/paketo/run-jammy-base:0.1"]

[lifecycle]
version = "0.20.1-rc.1+build.5"

[build]
image = "index.docker.io/paketobuildpacks/build-jammy-base"

[[build.env]]
name = "JAVA_OPTS"
value = "-Xmx1g"

[[build.env]]
name = "PATH"
value = "/opt/bin"
suffix = "prepend"
delim = ":"
exec-env = ["production", "test"]

[[run.images]]
image = "paketobuildpacks/run-jammy-base:0.1"
mirrors = ["gcr.io/paketo/run-jammy-base:0.1", "ghcr.io/paketo/run@{DIGEST}"]

[[run.images]]
image = "registry.example.com:5000/run/other"

[[targets]]
os = "linux"
arch = "arm64"
variant = "v8"
[[targets.distros]]
name = "ubuntu"
version = "22.04"
[[targets.distros]]
name = "debian"

[[targets]]
os = "linux"

[extend.metadata]
packages = ["jq", "git"]
owner = "team-a"

[extend.metadata.build]
packages = ["build-essential", "jq"]

[extend.metadata.run]
packages = ["tzdata"]
rebasable = true
"""

MINIMAL = """\
[build]
image = "cnbs/build"

[[run.images]]
image = "cnbs/run"

[[buildpacks]]
uri = "./my-buildpack"
"""

# Most cases append to this, so their lines start at 5.
BASE = '[build]\nimage = "build"\n[[run.images]]\nimage = "run"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "builder.toml"
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_builder_config(write(tmp_path, text), "builder.toml")
    assert caught.value.exit_code is ExitCode.CONFIG
    return [str(p) for p in caught.value.problems]


def test_full_config_is_loaded_into_the_model(tmp_path: Path) -> None:
    config = load_builder_config(write(tmp_path, FULL), "builder.toml")

    assert config.base_dir == tmp_path
    assert config.description == "Ubuntu 22.04 builder"
    assert config.buildpacks == (
        ModuleEntry(
            "buildpack",
            "paketo-buildpacks/nodejs",
            "1.2.3",
            "buildpacks/nodejs",  # relative: kept as written, resolved against base_dir
            None,
            ("buildpacks", 0),
        ),
        ModuleEntry(
            "buildpack",
            None,
            None,
            "docker://gcr.io/paketo-buildpacks/go:4.0",
            "gcr.io/paketo-buildpacks/go:4.0",
            ("buildpacks", 1),
        ),
        ModuleEntry(
            "buildpack",
            None,
            None,
            None,
            "docker.io/paketobuildpacks/java:latest",
            ("buildpacks", 2),
        ),
        ModuleEntry(
            "buildpack",
            None,
            None,
            "urn:cnb:registry:paketo-buildpacks/python@2.1.0",
            None,
            ("buildpacks", 3),
        ),
    )
    assert config.extensions == (
        ModuleEntry(
            "extension",
            "samples/curl",
            "0.0.1",
            "file:///opt/extensions/curl.cnb",
            None,
            ("extensions", 0),
        ),
    )
    assert config.order == (
        OrderGroup(
            (
                OrderEntry("paketo-buildpacks/nodejs", "1.2.3", False, ("order", 0, "group", 0)),
                OrderEntry("paketo-buildpacks/procfile", None, True, ("order", 0, "group", 1)),
            ),
            ("order", 0),
        ),
        OrderGroup(
            (OrderEntry("paketo-buildpacks/go", None, False, ("order", 1, "group", 0)),),
            ("order", 1),
        ),
    )
    # Extensions are always optional in a group.
    assert config.order_extensions == (
        OrderGroup(
            (OrderEntry("samples/curl", "0.0.1", False, ("order-extensions", 0, "group", 0)),),
            ("order-extensions", 0),
        ),
    )
    assert config.system_pre == (
        OrderEntry("sys/pre", "1.0.0", True, ("system", "pre", "buildpacks", 0)),
    )
    assert config.system_post == (
        OrderEntry("sys/post", None, False, ("system", "post", "buildpacks", 0)),
    )
    assert config.stack_id == "io.buildpacks.stacks.jammy"
    assert config.build_image == "docker.io/paketobuildpacks/build-jammy-base:latest"
    assert config.build_env == (
        EnvVar("JAVA_OPTS", "-Xmx1g", None, None, (), ("build", "env", 0)),
        EnvVar("PATH", "/opt/bin", "prepend", ":", ("production", "test"), ("build", "env", 1)),
    )
    # [[run.images]] wins over [stack] (they agree here, as they must).
    assert config.run_images == (
        RunImageEntry(
            "docker.io/paketobuildpacks/run-jammy-base:0.1",
            ("gcr.io/paketo/run-jammy-base:0.1", f"ghcr.io/paketo/run@{DIGEST}"),
            ("run", "images", 0),
        ),
        RunImageEntry("registry.example.com:5000/run/other:latest", (), ("run", "images", 1)),
    )
    assert config.lifecycle == LifecycleSource("0.20.1-rc.1+build.5", None, ("lifecycle",))
    assert config.targets == (
        TargetEntry("linux", "arm64", "v8", (("ubuntu", "22.04"), ("debian", None))),
        TargetEntry("linux", None, None, ()),
    )
    # Shared metadata merged with each scope; packages are an ordered union.
    assert config.extend_build == {
        "packages": ["jq", "git", "build-essential"],
        "owner": "team-a",
    }
    assert config.extend_run == {
        "packages": ["jq", "git", "tzdata"],
        "owner": "team-a",
        "rebasable": True,
    }
    assert [str(w) for w in config.warnings] == []
    # Later stages (fetching a module, say) report problems at the entry they came from.
    assert str(config.problem(config.buildpacks[1].path, "not found")).startswith(
        "builder.toml:8:1: $.buildpacks[1]: not found"
    )


def test_minimal_config(tmp_path: Path) -> None:
    config = load_builder_config(write(tmp_path, MINIMAL))
    assert config.build_image == "docker.io/cnbs/build:latest"
    assert config.run_images == (
        RunImageEntry("docker.io/cnbs/run:latest", (), ("run", "images", 0)),
    )
    assert config.buildpacks == (
        ModuleEntry("buildpack", None, None, "./my-buildpack", None, ("buildpacks", 0)),
    )
    assert config.description == ""
    assert config.extensions == ()
    assert config.order == ()
    assert config.order_extensions == ()
    assert config.system_pre == config.system_post == ()
    assert config.stack_id is None
    assert config.build_env == ()
    assert config.lifecycle is None
    assert config.targets == ()
    assert config.extend_build == config.extend_run == {}
    # pack warns about a builder without [[order]] (it detects nothing); so does cnbext.
    assert [str(w) for w in config.warnings] == [
        f"{config.source.display_name}:1:1: $.order: empty 'order' definition"
    ]


def test_base_dir_is_absolute_for_a_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative uris must still resolve correctly if the working directory changes later.
    write(tmp_path, MINIMAL)
    monkeypatch.chdir(tmp_path)
    config = load_builder_config(Path("builder.toml"))
    assert config.base_dir.is_absolute()
    assert config.base_dir.resolve() == tmp_path.resolve()


def test_deprecated_stack_form_works_and_warns(tmp_path: Path) -> None:
    config = load_builder_config(
        write(
            tmp_path,
            '[[buildpacks]]\nuri = "bp.tgz"\n\n'
            '[stack]\nid = "io.buildpacks.stacks.jammy"\nbuild-image = "cnbs/build:1"\n'
            'run-image = "cnbs/run:1"\nrun-image-mirrors = ["gcr.io/cnbs/run:1", "ghcr.io/cnbs/run:1"]\n',
        ),
        "builder.toml",
    )
    assert config.stack_id == "io.buildpacks.stacks.jammy"
    assert config.build_image == "docker.io/cnbs/build:1"
    assert config.run_images == (
        RunImageEntry(
            "docker.io/cnbs/run:1",
            ("gcr.io/cnbs/run:1", "ghcr.io/cnbs/run:1"),
            ("stack", "run-image"),
        ),
    )
    assert [str(w) for w in config.warnings] == [
        "builder.toml:1:1: $.order: empty 'order' definition",
    ]  # pack does not warn about [stack]


@pytest.mark.parametrize(
    ("stack", "warning"),
    [
        (
            '[stack]\nid = "s"\nbuild-image = "other"\nrun-image = "run"\n',
            "builder.toml:7:15: $.stack.build-image: stack.build-image differs from build.image, "
            "which replaces it (pack's mergeStackWithImages, RFC 0096)",
        ),
        (
            '[stack]\nid = "s"\nbuild-image = "build"\nrun-image = "run:2"\n',
            "builder.toml:8:13: $.stack.run-image: stack.run-image differs from the first "
            "[[run.images]], which replaces it (pack's mergeStackWithImages, RFC 0096)",
        ),
    ],
    ids=["build image", "run image"],
)
def test_build_and_run_images_override_stack_before_pack_validates(
    tmp_path: Path, stack: str, warning: str
) -> None:
    """ReadConfig's mergeStackWithImages runs before ValidateConfig, so its "do not match"
    errors never fire through `pack builder create`."""
    config = load_builder_config(write(tmp_path, BASE + stack), "builder.toml")
    assert warning in [str(w) for w in config.warnings]
    assert config.build_image == "docker.io/library/build:latest"
    assert config.run_images[0].image == "docker.io/library/run:latest"


def test_stack_images_are_compared_normalized(tmp_path: Path) -> None:
    config = load_builder_config(
        write(
            tmp_path,
            BASE + '[stack]\nid = "s"\nbuild-image = "docker.io/library/build:latest"\n'
            'run-image = "index.docker.io/library/run"\n',
        )
    )
    assert config.build_image == "docker.io/library/build:latest"
    assert config.run_images[0].path == ("run", "images", 0)


def test_metadata_near_misses_are_warnings(tmp_path: Path) -> None:
    config = load_builder_config(
        write(
            tmp_path,
            BASE + '[extend.metadata]\npackage = ["jq"]\n'
            "[extend.metadata.runs]\nx = 1\n"
            "[extend.metadata.build]\nrebaseable = true\n",
        ),
        "builder.toml",
    )
    warnings = [str(w) for w in config.warnings if "$.order" not in str(w)]
    assert len(warnings) == 3, warnings
    assert warnings[0].startswith("builder.toml:6:1: $.extend.metadata.package: ")
    assert warnings[0].endswith("did you mean 'packages'?")
    assert warnings[1].startswith("builder.toml:7:1: $.extend.metadata.runs: ")
    assert warnings[1].endswith("did you mean 'run' (the run images only)?")
    assert warnings[2].startswith("builder.toml:10:1: $.extend.metadata.build.rebaseable: ")
    assert warnings[2].endswith("did you mean 'rebasable'?")
    # Free-form metadata is kept: a misspelt scope applies to both images.
    assert config.extend_build["runs"] == config.extend_run["runs"] == {"x": 1}
    assert config.extend_build["rebaseable"] is True
    assert "rebaseable" not in config.extend_run


def test_empty_lifecycle_table_means_the_default(tmp_path: Path) -> None:
    config = load_builder_config(write(tmp_path, BASE + "[lifecycle]\n"))
    assert config.lifecycle is None


def test_lifecycle_uri(tmp_path: Path) -> None:
    config = load_builder_config(write(tmp_path, BASE + '[lifecycle]\nuri = "lifecycle.tgz"\n'))
    assert config.lifecycle == LifecycleSource(None, "lifecycle.tgz", ("lifecycle",))


@pytest.mark.parametrize(
    "uri",
    [
        "bp",
        "../shared/bp.tgz",
        "/abs/bp.cnb",
        r"C:\buildpacks\bp",
        "file:///abs/bp.tgz",
        "http://example.com/bp.tgz",
        "https://example.com/bp.tgz",
        "docker://bp:1",
        f"docker://gcr.io/a/bp@{DIGEST}",
        "urn:cnb:registry:paketo-buildpacks/nodejs",
        "urn:cnb:registry:paketo-buildpacks/nodejs@1.2.3",
    ],
)
def test_module_uri_forms_pack_accepts(tmp_path: Path, uri: str) -> None:
    config = load_builder_config(write(tmp_path, BASE + f"[[buildpacks]]\nuri = '{uri}'\n"))
    assert config.buildpacks[0].uri == uri


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://example.com/bp.tgz", 'unsupported uri "ftp://example.com/bp.tgz": use a path'),
        ("s3://bucket/bp.tgz", 'unsupported uri "s3://bucket/bp.tgz"'),
        ("dir:with-colon", 'unsupported uri "dir:with-colon"'),
        ("docker:bp", '"docker:bp" is not a docker uri: write docker://<image>'),
        ("docker://", "invalid image in docker:// uri: reference is empty"),
        ("https:///path", '"https:///path" is not an https:// url with a host'),
        ("file://", '"file://" is not a file:// uri'),
        ("urn:cnb:registry:", '"urn:cnb:registry:" is not a registry uri'),
        ("urn:cnb:registry:a@", '"urn:cnb:registry:a@" is not a registry uri'),
        ("urn:cnb:builder:a", 'unsupported uri "urn:cnb:builder:a"'),
    ],
)
def test_module_uri_forms_refused(tmp_path: Path, uri: str, message: str) -> None:
    (problem,) = problems_of(tmp_path, BASE + f"[[buildpacks]]\nuri = '{uri}'\n")
    assert problem.startswith(f"builder.toml:6:7: $.buildpacks[0].uri: {message}"), problem


@pytest.mark.parametrize("version", ["0.20.0", "1.0.0-rc.1", "0.17.0+build.1", "1.2.3-a.b+c"])
def test_lifecycle_semver_accepted(tmp_path: Path, version: str) -> None:
    config = load_builder_config(write(tmp_path, BASE + f'[lifecycle]\nversion = "{version}"\n'))
    assert config.lifecycle == LifecycleSource(version, None, ("lifecycle",))


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("0.21", "0.21.0"),
        ("v0.21.1", "0.21.1"),
        ("1", "1.0.0"),
        ("01.2.3", "1.2.3"),
        ("v1.2-rc.1+b5", "1.2.0-rc.1+b5"),
    ],
)
def test_lifecycle_shorthands_normalized_as_pack_does(
    tmp_path: Path, written: str, normalized: str
) -> None:
    """pack parses lifecycle.version with Masterminds semver v1 and downloads its String()."""
    config = load_builder_config(write(tmp_path, BASE + f'[lifecycle]\nversion = "{written}"\n'))
    assert config.lifecycle == LifecycleSource(normalized, None, ("lifecycle",))


@pytest.mark.parametrize("version", ["1.2.3-", "latest", "", "1.2.3.4", "v", "1.2.3+"])
def test_lifecycle_semver_refused(tmp_path: Path, version: str) -> None:
    (problem,) = problems_of(tmp_path, BASE + f'[lifecycle]\nversion = "{version}"\n')
    assert problem.startswith(
        "builder.toml:6:11: $.lifecycle.version: 'lifecycle.version' must be a valid semver"
    ), problem


# Each case: the file's text and every problem it must produce, in order. Columns are those of
# the value (or of the key, for unknown keys; of the table header for whole tables).
INVALID = {
    "build image missing": (
        '[[run.images]]\nimage = "run"\n',
        ["builder.toml:1:1: $.build.image: build.image is required"],
    ),
    "build image missing, reported at [build]": (
        '[[run.images]]\nimage = "run"\n[build]\n[[build.env]]\nname = "A"\nvalue = "1"\n',
        ["builder.toml:3:1: $.build.image: build.image is required"],
    ),
    "run images missing": (
        '[build]\nimage = "build"\n',
        ["builder.toml:1:1: $.run.images: run.images are required"],
    ),
    "run images empty": (
        '[build]\nimage = "build"\n[run]\nimages = []\n',
        ["builder.toml:4:10: $.run.images: run.images are required"],
    ),
    "run image entry without image": (
        '[build]\nimage = "build"\n[[run.images]]\nmirrors = ["gcr.io/a/run"]\n',
        ["builder.toml:3:1: $.run.images[0]: run.images.image is required"],
    ),
    "lifecycle version and uri": (
        BASE + '[lifecycle]\nversion = "0.20.0"\nuri = "lifecycle.tgz"\n',
        [
            "builder.toml:5:1: $.lifecycle: 'lifecycle' can only declare 'version' or 'uri', not both"
        ],
    ),
    "lifecycle version not semver": (
        BASE + '[lifecycle]\nversion = "0.20.x"\n',
        [
            "builder.toml:6:11: $.lifecycle.version: 'lifecycle.version' must be a valid semver: "
            '"0.20.x" is not [v]X[.Y[.Z]][-prerelease][+build] (e.g. 0.21.0, 0.21 or v0.21.1)'
        ],
    ),
    "lifecycle uri from a registry": (
        BASE + '[lifecycle]\nuri = "urn:cnb:registry:lifecycle"\n',
        ['builder.toml:6:7: $.lifecycle.uri: unsupported uri "urn:cnb:registry:lifecycle"'],
    ),
    "empty env name": (
        BASE + '[[build.env]]\nname = ""\nvalue = "v"\n',
        ["builder.toml:6:8: $.build.env[0].name: env name should not be empty"],
    ),
    "env name with a slash": (
        BASE + '[[build.env]]\nname = "../../etc/x"\nvalue = "v"\n',
        ['builder.toml:6:8: $.build.env[0].name: env name "../../etc/x" may not contain'],
    ),
    "env name ..": (
        BASE + '[[build.env]]\nname = ".."\nvalue = "v"\n',
        ['builder.toml:6:8: $.build.env[0].name: env name ".." is not a file name'],
    ),
    "sha256 with a trailing newline": (
        BASE + '[lifecycle]\nuri = "l.tgz"\nsha256 = "' + "a" * 64 + '\\n"\n',
        ["builder.toml:7:10: $.lifecycle.sha256: sha256 should be 64 lowercase hex digits"],
    ),
    "module sha256 not hex": (
        BASE + '[[buildpacks]]\nuri = "a.tgz"\nsha256 = "abc"\n',
        ["builder.toml:7:10: $.buildpacks[0].sha256: sha256 should be 64 lowercase hex digits"],
    ),
    "append without delim": (
        BASE + '[[build.env]]\nname = "PATH"\nvalue = "/x"\nsuffix = "append"\n',
        [
            "builder.toml:8:10: $.build.env[0].suffix: delim is required when suffix is append or prepend"
        ],
    ),
    "prepend with an empty delim": (
        BASE + '[[build.env]]\nname = "PATH"\nvalue = "/x"\nsuffix = "prepend"\ndelim = ""\n',
        [
            "builder.toml:8:10: $.build.env[0].suffix: delim is required when suffix is append or prepend"
        ],
    ),
    "bad suffix": (
        BASE + '[[build.env]]\nname = "A"\nvalue = "1"\nsuffix = "replace"\n',
        [
            'builder.toml:8:10: $.build.env[0].suffix: "replace" is not allowed; expected one of: '
            '"default", "override", "append", "prepend"'
        ],
    ),
    "env without name and value": (
        BASE + '[[build.env]]\nsuffix = "override"\n',
        [
            "builder.toml:5:1: $.build.env[0]: missing required key 'name' in [build.env.0]",
            "builder.toml:5:1: $.build.env[0]: missing required key 'value' in [build.env.0]",
        ],
    ),
    "bad build image": (
        '[build]\nimage = "Build"\n[[run.images]]\nimage = "run"\n',
        [
            'builder.toml:2:9: $.build.image: repository name must be lowercase (got "library/Build")'
        ],
    ),
    "bad run image mirror": (
        BASE + 'mirrors = ["gcr.io/ok/run", "gcr.io/bad//run"]\n',
        [
            "builder.toml:5:29: $.run.images[0].mirrors[1]: "
            'repository path "bad//run" has an empty component'
        ],
    ),
    "bad stack mirror": (
        '[stack]\nid = "s"\nbuild-image = "b"\nrun-image = "r"\nrun-image-mirrors = ["r:bad tag"]\n',
        [
            "builder.toml:5:22: $.stack.run-image-mirrors[0]: reference must not contain whitespace",
        ],
    ),
    "bad module image": (
        BASE + '[[buildpacks]]\nimage = "bp@sha256:abc"\n',
        ['builder.toml:6:9: $.buildpacks[0].image: digest "sha256:abc" is invalid'],
    ),
    "bad image in a docker uri": (
        BASE + '[[extensions]]\nuri = "docker://example.com/Ext"\n',
        [
            "builder.toml:6:7: $.extensions[0].uri: invalid image in docker:// uri: "
            "repository name must be lowercase"
        ],
    ),
    "ftp uri": (
        BASE + '[[buildpacks]]\nuri = "ftp://example.com/bp.tgz"\n',
        ['builder.toml:6:7: $.buildpacks[0].uri: unsupported uri "ftp://example.com/bp.tgz"'],
    ),
    "extension with neither uri nor image": (
        BASE + '[[extensions]]\nid = "e"\n',
        ["builder.toml:5:1: $.extensions[0]: each [[extensions]] entry needs `uri` or `image`"],
    ),
    "unknown [[buildpack]]": (
        BASE + '[[buildpack]]\nuri = "bp"\n',
        ["builder.toml:5:3: $.buildpack: unknown key 'buildpack'; did you mean 'buildpacks'?"],
    ),
    "run-image typo in [stack]": (
        '[stack]\nid = "s"\nbuild-image = "b"\nrun_image = "r"\n',
        [
            "builder.toml:1:1: $.run.images: run.images are required",
            "builder.toml:4:1: $.stack.run_image: unknown key 'run_image'; did you mean 'run-image'?",
        ],
    ),
    "mirror typo in [[run.images]]": (
        BASE + 'mirror = ["gcr.io/a/run"]\n',
        ["builder.toml:5:1: $.run.images[0].mirror: unknown key 'mirror'; did you mean 'mirrors'?"],
    ),
    "system buildpack typo": (
        BASE + '[[system.pre.buildpack]]\nid = "x"\n',
        [
            "builder.toml:5:1: $.system.pre.buildpack: unknown key 'buildpack'; did you mean 'buildpacks'?"
        ],
    ),
    "wrong types": (
        'description = ["x"]\n' + BASE + '[[order]]\n[[order.group]]\nid = "a"\noptional = "yes"\n'
        "[[targets]]\nos = 1\n",
        [
            "builder.toml:1:15: $.description: expected a string, found an array",
            "builder.toml:9:12: $.order[0].group[0].optional: expected a boolean (true or false), "
            'found the string "yes"',
            "builder.toml:11:6: $.targets[0].os: expected a string, found the number 1",
        ],
    ),
    "order entry without id": (
        BASE + '[[order]]\n[[order.group]]\nversion = "1.0.0"\n',
        ["builder.toml:6:1: $.order[0].group[0]: missing required key 'id' in [order.0.group.0]"],
    ),
    "optional on an extension entry": (
        BASE + '[[extensions]]\nuri = "ext"\noptional = true\n',
        [
            "builder.toml:7:1: $.extensions[0].optional: unknown key 'optional'; "
            "expected one of: clear-env, description, exec-env, homepage, id, image, keywords, "
            "licenses, name, sha256, uri, version"
        ],
    ),
    "image in [extend]": (
        BASE + '[extend]\nimage = "x"\n',
        [
            "builder.toml:6:9: $.extend.image: builder.toml's [extend] takes no `image`: "
            "the build image is [build] image and the run images are [[run.images]]"
        ],
    ),
    "bad package in a metadata scope": (
        BASE + '[extend.metadata.run]\npackages = ["tzdata", "a;b"]\nrebasable = "yes"\n',
        [
            'builder.toml:6:23: $.extend.metadata.run.packages[1]: "a;b" is not a valid package',
            "builder.toml:7:13: $.extend.metadata.run.rebasable: expected a boolean",
        ],
    ),
    "toml syntax error": (
        '[build]\nimage = "build\n',
        ["builder.toml:2:14: invalid TOML: "],
    ),
    "duplicate key": (
        BASE + 'image = "again"\n',
        ['builder.toml:5:1: invalid TOML: Key "image" already exists.'],
    ),
}


@pytest.mark.parametrize(("text", "expected"), INVALID.values(), ids=INVALID.keys())
def test_invalid_config_reports_each_problem_with_position(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    problems = problems_of(tmp_path, text)
    assert len(problems) == len(expected), problems
    for problem, prefix in zip(problems, expected, strict=True):
        assert problem.startswith(prefix), problem


def test_all_problems_are_reported_at_once_in_position_order(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        # Schema problems and cross-field problems, interleaved through the file.
        "[[buildpacks]]\n"  # 1: neither uri nor image
        'id = "bp"\n'  # 2
        "[[buildpacks]]\n"  # 3
        'uri = "ftp://x/bp.tgz"\n'  # 4: unsupported uri
        "[lifecycle]\n"  # 5: version and uri
        'version = "1.0.x"\n'  # 6: not semver
        'uri = "lifecycle.tgz"\n'  # 7
        "[build]\n"  # 8: no image (and no [stack])
        "[[build.env]]\n"  # 9
        'name = ""\n'  # 10: empty name
        'value = "v"\n'  # 11
        'suffix = "append"\n'  # 12: no delim
        "[[run.images]]\n"  # 13
        'image = "run"\n'  # 14
        'mirrors = ["Bad"]\n'  # 15: bad mirror
        "colour = 1\n",  # 16: unknown key
    )
    assert [p.split(": ")[0] for p in problems] == [
        "builder.toml:1:1",
        "builder.toml:4:7",
        "builder.toml:5:1",
        "builder.toml:6:11",
        "builder.toml:8:1",
        "builder.toml:10:8",
        "builder.toml:12:10",
        "builder.toml:15:12",
        "builder.toml:16:1",
    ]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_builder_config(tmp_path / "nope.toml", "nope.toml")
    assert str(caught.value.problems[0]) == "nope.toml:1:1: file not found"


@pytest.mark.parametrize(
    ("text", "position"),
    [
        (
            '[build]\nimage = "b"\nenv = [{name = "A",\n value = "1"}]\n[[run.images]]\nimage = "r"\n',
            "3:20",
        ),
        ('description = "\\e"\n' + BASE, "1:18"),
        ('description = "\\x41"\n' + BASE, "1:18"),
    ],
    ids=["newline in an inline table", "\\e escape", "\\x escape"],
)
def test_toml_1_1_is_refused_as_pack_refuses_it(tmp_path: Path, text: str, position: str) -> None:
    """pack reads builder.toml with BurntSushi/toml v1.3.2, TOML 1.0."""
    with pytest.raises(ConfigError) as caught:
        load_builder_config(write(tmp_path, text), "builder.toml")
    (problem,) = [p for p in caught.value.problems if "TOML 1.0" in p.message]
    assert str(problem).startswith(f"builder.toml:{position}: invalid TOML 1.0, which pack")
