"""extension.toml loading: the model, target matching, agreement with modules.read_descriptor,
and every problem reported at once, each with file:line:col and a JSON path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnbext.config.extension import ExtensionTarget, load_extension_config
from cnbext.errors import ConfigError, ExitCode
from cnbext.sources.descriptor import read_descriptor

FULL = """\
api = "0.10"

[extension]
id = "Example/curl"
version = "1.20.0"
name = "Curl"
homepage = "https://example.com/curl"
description = "Installs curl on the run image"
keywords = ["curl", "http"]

[[extension.licenses]]
type = "MIT"
uri = "https://spdx.org/licenses/MIT"

[[extension.licenses]]
uri = "https://example.com/LICENSE"

[[targets]]
os = "linux"
arch = "amd64"

[[targets.distros]]
name = "ubuntu"
version = "22.04"

[[targets.distros]]
name = "debian"

[[targets]]
os = "linux"
arch = "arm64"
variant = "v8"

[metadata]
owner = "team-a"
[metadata.tuning]
retries = 3
"""

MINIMAL = 'api = "0"\n[extension]\nid = "curl"\nversion = "0.0.0"\n'

# A valid head that cases append [extension] keys or tables to.
HEAD = 'api = "0.10"\n[extension]\nid = "x/y"\nversion = "1.2.3"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extension.toml"
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_extension_config(write(tmp_path, text), "extension.toml")
    assert caught.value.exit_code is ExitCode.CONFIG
    return [str(p) for p in caught.value.problems]


def test_full_config_is_loaded(tmp_path: Path) -> None:
    config = load_extension_config(write(tmp_path, FULL))
    assert config.api == "0.10"
    # Uppercase letters are letters: the spec allows them in ids.
    assert config.id == "Example/curl"
    assert config.version == "1.20.0"
    assert config.name == "Curl"
    assert config.homepage == "https://example.com/curl"
    assert config.description == "Installs curl on the run image"
    assert config.keywords == ("curl", "http")
    assert config.licenses == (
        {"type": "MIT", "uri": "https://spdx.org/licenses/MIT"},
        {"uri": "https://example.com/LICENSE"},
    )
    assert config.targets == (
        ExtensionTarget("linux", "amd64", None, (("ubuntu", "22.04"), ("debian", None))),
        ExtensionTarget("linux", "arm64", "v8", ()),
    )
    assert config.metadata == {"owner": "team-a", "tuning": {"retries": 3}}
    assert config.install_dir_name == "Example_curl"
    assert config.source.display_name == str(tmp_path / "extension.toml")


def test_minimal_config_has_empty_defaults(tmp_path: Path) -> None:
    config = load_extension_config(write(tmp_path, MINIMAL), "extension.toml")
    assert (config.api, config.id, config.version) == ("0", "curl", "0.0.0")
    assert (config.name, config.homepage, config.description) == (None, None, None)
    assert config.keywords == ()
    assert config.licenses == ()
    assert config.targets == ()
    assert config.metadata == {}
    assert config.install_dir_name == "curl"
    # No [[targets]]: the extension runs anywhere.
    assert config.supports("windows", "arm64", None, None, None)


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (("linux", "amd64", None, "ubuntu", "22.04"), True),
        (("linux", "amd64", None, "ubuntu", "24.04"), False),  # distro version mismatch
        (("linux", "amd64", None, "debian", "12"), True),  # no version given = any version
        (("linux", "amd64", None, "alpine", "3.19"), False),  # distro not listed
        (("linux", "amd64", None, None, None), True),  # distro unknown: assumed to match
        (("linux", "amd64", "v2", "ubuntu", "22.04"), True),  # no variant given = any variant
        (("linux", "arm64", "v8", "alpine", "3.19"), True),  # no distros given = any distro
        (("linux", "arm64", "v7", None, None), False),  # variant mismatch
        (("linux", "arm64", None, None, None), True),  # variant unknown: assumed to match
        (("windows", "amd64", None, None, None), False),
        (("linux", "s390x", None, None, None), False),
    ],
)
def test_supports_matches_any_target(
    tmp_path: Path,
    platform: tuple[str, str, str | None, str | None, str | None],
    expected: bool,
) -> None:
    config = load_extension_config(write(tmp_path, FULL))
    assert config.supports(*platform) is expected


def test_missing_target_fields_match_anything() -> None:
    anything = ExtensionTarget(None, None, None, ())
    assert anything.matches("linux", "riscv64", "v1", "fedora", "40")
    arch_only = ExtensionTarget(None, "arm64", "", ())  # variant = "" as in the spec's example
    assert arch_only.matches("darwin", "arm64", "v8", None, None)
    assert not arch_only.matches("linux", "amd64", None, None, None)
    # The lifecycle reads "*" as any too.
    assert ExtensionTarget("*", "*", None, ()).matches("linux", "ppc64le", None, None, None)


@pytest.mark.parametrize("text", [FULL, MINIMAL], ids=["full", "minimal"])
def test_descriptor_is_what_modules_read_descriptor_gives(tmp_path: Path, text: str) -> None:
    config = load_extension_config(write(tmp_path, text))
    descriptor = config.to_descriptor()
    assert descriptor == read_descriptor(tmp_path, "extension")
    assert descriptor.kind == "extension"
    assert descriptor.order == ()
    assert descriptor.stacks == ()


# Each case: the file's text and every problem it must produce, in order (prefixes).
INVALID = {
    "empty file": (
        "",
        ["extension.toml:1:1: missing required key 'extension' in the top level"],
    ),
    "api with a dash": (
        'api = "0-10"\n[extension]\nid = "a"\nversion = "1.0.0"\n',
        ['extension.toml:1:7: $.api: "0-10" is not a Buildpack API version'],
    ),
    "api with a patch": (
        'api = "0.10.1"\n[extension]\nid = "a"\nversion = "1.0.0"\n',
        ['extension.toml:1:7: $.api: "0.10.1" is not a Buildpack API version'],
    ),
    "api as a number": (
        'api = 0.10\n[extension]\nid = "a"\nversion = "1.0.0"\n',
        ["extension.toml:1:7: $.api: expected a string, found the number 0.1"],
    ),
    "missing [extension]": (
        'api = "0.10"\n\n[metadata]\nx = 1\n',
        ["extension.toml:1:1: missing required key 'extension' in the top level"],
    ),
    "missing id": (
        'api = "0.10"\n[extension]\nversion = "1.0.0"\n',
        ["extension.toml:2:1: $.extension: missing required key 'id' in [extension]"],
    ),
    "id with a space": (
        'api = "0.10"\n[extension]\nid = "my ext"\nversion = "1.0.0"\n',
        ['extension.toml:3:6: $.extension.id: "my ext" is not a usable extension id'],
    ),
    "empty id": (
        'api = "0.10"\n[extension]\nid = ""\nversion = "1.0.0"\n',
        ['extension.toml:3:6: $.extension.id: "" is not a usable extension id'],
    ),
    "id of dots only": (
        'api = "0.10"\n[extension]\nid = ".."\nversion = "1.0.0"\n',
        ['extension.toml:3:6: $.extension.id: ".." is not a name'],
    ),
    "id not a string": (
        'api = "0.10"\n[extension]\nid = 7\nversion = "1.0.0"\n',
        ["extension.toml:3:6: $.extension.id: expected a string, found the number 7"],
    ),
    "version that cannot be a folder name": (
        'api = "0.10"\n[extension]\nid = "a"\nversion = "../1"\n',
        ['extension.toml:4:11: $.extension.version: "../1" is not a usable extension version'],
    ),
    "version of dots": (
        'api = "0.10"\n[extension]\nid = "a"\nversion = ".."\n',
        ['extension.toml:4:11: $.extension.version: ".." is not a usable extension version'],
    ),
    "typo in version key": (
        'api = "0.10"\n[extension]\nid = "a"\nverison = "1.0.0"\n',
        [
            "extension.toml:2:1: $.extension: missing required key 'version' in [extension]",
        ],
    ),
    "licenses not an array": (
        HEAD + 'licenses = "MIT"\n',
        ['extension.toml:5:12: $.extension.licenses: expected an array, found the string "MIT"'],
    ),
    "licenses not tables": (
        HEAD + 'licenses = ["MIT"]\n',
        ['extension.toml:5:13: $.extension.licenses[0]: expected a table, found the string "MIT"'],
    ),
    "empty license": (
        HEAD + "\n[[extension.licenses]]\n",
        [
            "extension.toml:6:1: $.extension.licenses[0]: a license needs a `type` (e.g. an SPDX identifier), a `uri`, or both"
        ],
    ),
    "keywords not strings": (
        HEAD + 'keywords = ["curl", 2]\n',
        ["extension.toml:5:21: $.extension.keywords[1]: expected a string, found the number 2"],
    ),
    "target field not a string": (
        HEAD + "\n[[targets]]\nos = true\n",
        ["extension.toml:7:6: $.targets[0].os: expected a string, found the boolean true"],
    ),
    "distro without a name": (
        HEAD + '[[targets]]\n[[targets.distros]]\nversion = "22.04"\n',
        ["extension.toml:6:1: $.targets[0].distros[0]: missing required key 'name'"],
    ),
    "metadata not a table": (
        "metadata = 3\n" + HEAD,
        ["extension.toml:1:12: $.metadata: expected a table, found the number 3"],
    ),
    "toml syntax error": (
        'api = "0.10\n[extension]\n',
        ["extension.toml:1:11: invalid TOML: "],
    ),
    "duplicate key is a syntax error": (
        HEAD + 'id = "z"\n',
        ['extension.toml:5:1: invalid TOML: Key "id" already exists.'],
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


@pytest.mark.parametrize(
    ("extension", "warning"),
    [
        # pack reads a descriptor without `api` as Buildpack API 0.1 (pack's default)
        ('[extension]\nid = "a"\nversion = "1.0.0"\n', "no `api`: read as Buildpack API 0.1"),
        # the spec's id rules, which neither pack nor the lifecycle checks
        ('api = "0.10"\n[extension]\nid = "my_ext"\nversion = "1.0.0"\n', "extension id"),
        ('api = "0.10"\n[extension]\nid = "app"\nversion = "1.0.0"\n', "reserved by the spec"),
        ('api = "0.10"\n[extension]\nid = "sbom"\nversion = "1.0.0"\n', "reserved by the spec"),
    ],
)
def test_what_only_the_spec_asks_for_is_a_warning(
    tmp_path: Path, extension: str, warning: str
) -> None:
    config = load_extension_config(write(tmp_path, extension))
    assert [warning in str(w) for w in config.warnings] == [True], config.warnings
    assert config.api == ("0.1" if "api" not in extension else "0.10")


def test_reserved_word_inside_an_id_is_fine(tmp_path: Path) -> None:
    text = 'api = "0.10"\n[extension]\nid = "example/app"\nversion = "1.0.0"\n'
    assert load_extension_config(write(tmp_path, text)).install_dir_name == "example_app"


def test_all_problems_are_reported_at_once_in_position_order(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        'api = "1.0.0"\n'
        "[extension]\n"
        'id = "sbom"\n'  # only a warning: the spec reserves it, pack and the lifecycle do not
        'version = "1 0"\n'
        'keywords = ["ok", false]\n'
        "colour = 1\n"  # only a warning: pack ignores it
        "[[targets]]\n"
        'arch = ["amd64"]\n',
    )
    assert [p.split(": ")[0] + ": " + p.split(": ")[1] for p in problems] == [
        "extension.toml:1:7: $.api",
        "extension.toml:4:11: $.extension.version",
        "extension.toml:5:19: $.extension.keywords[1]",
        "extension.toml:8:8: $.targets[0].arch",
    ]


PACK_IGNORES = "(pack warns and ignores it, as the lifecycle does)"


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        (
            'verison = "1.0.0"\n',
            f"extension.toml:5:1: $.extension.verison: ignoring unexpected key 'verison' {PACK_IGNORES}; did you mean 'version'?",
        ),
        (
            '[[extension.licenses]]\ntyp = "MIT"\n',
            f"extension.toml:6:1: $.extension.licenses[0].typ: ignoring unexpected key 'typ' {PACK_IGNORES}; did you mean 'type'?",
        ),
        (
            '[[targets]]\nos = "linux"\narchitecture = "amd64"\n',
            f"extension.toml:7:1: $.targets[0].architecture: ignoring unexpected key 'architecture' {PACK_IGNORES}",
        ),
        (
            '[[order]]\n[[order.group]]\nid = "b"\n',
            f"extension.toml:5:3: $.order: ignoring unexpected key 'order' {PACK_IGNORES}",
        ),
        (
            # a real paketo extension (ubi-nodejs-extension) has both
            'sbom-formats = ["application/vnd.cyclonedx+json"]\n[[stacks]]\nid = "io.buildpacks.stacks.ubi8"\n',
            f"extension.toml:5:1: $.extension.sbom-formats: ignoring unexpected key 'sbom-formats' {PACK_IGNORES}",
        ),
    ],
    ids=["typo", "license key", "target field", "order", "paketo sbom-formats and stacks"],
)
def test_unknown_keys_are_warnings_as_pack_gives_them(
    tmp_path: Path, extra: str, warning: str
) -> None:
    """pack decodes extension.toml, warns "Ignoring unexpected key(s)" and goes on; the
    lifecycle does not look at unknown keys at all."""
    path = tmp_path / "extension.toml"
    path.write_text(HEAD + extra)
    config = load_extension_config(path, "extension.toml")
    assert warning in [str(w) for w in config.warnings]


@pytest.mark.parametrize(("api", "read"), [("v0.10", "0.10"), ("0.010", "0.10"), ("010", "10.0")])
def test_api_forms_the_lifecycle_reads_load_with_the_spec_rule_as_a_warning(
    tmp_path: Path, api: str, read: str
) -> None:
    path = tmp_path / "extension.toml"
    path.write_text(f'api = "{api}"\n[extension]\nid = "a"\nversion = "1.0.0"\n')
    config = load_extension_config(path, "extension.toml")
    assert config.api == read
    (warning,) = config.warnings
    assert str(warning).startswith(f"extension.toml:1:7: $.api: api {api!r} is not")
    assert f"read it as {read}" in warning.message


def test_pack_module_info_keys_are_known(tmp_path: Path) -> None:
    path = tmp_path / "extension.toml"
    path.write_text(HEAD + 'clear-env = true\nexec-env = ["production"]\n[metadata]\nany = 1\n')
    assert load_extension_config(path, "extension.toml").warnings == ()


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_extension_config(tmp_path / "nope.toml", "nope.toml")
    assert str(caught.value.problems[0]) == "nope.toml:1:1: file not found"


@pytest.mark.parametrize("version", ["1.2", "01.2.3", "1.02.3", "1.2.3-beta", "0.0.1-SNAPSHOT"])
def test_versions_other_than_x_y_z_load_with_a_warning(tmp_path: Path, version: str) -> None:
    """One rule on every path: the spec's X.Y.Z is a warning, as pack and the lifecycle load
    such extensions."""
    path = tmp_path / "extension.toml"
    path.write_text(f'api = "0.10"\n[extension]\nid = "a"\nversion = "{version}"\n')
    config = load_extension_config(path, "extension.toml")
    assert config.version == version
    assert [str(w) for w in config.warnings] == [
        f"extension.toml:4:11: $.extension.version: extension version {version!r} is not X.Y.Z "
        "(three numbers without leading zeros) as the spec asks; pack and the lifecycle accept "
        "it, and so does cnbext"
    ]


def test_x_y_z_gives_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "extension.toml"
    path.write_text('api = "0.10"\n[extension]\nid = "a"\nversion = "10.0.3"\n')
    assert load_extension_config(path).warnings == ()
