"""extend.toml loading: every problem reported at once, each with file:line:col and a JSON path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnbext.config.extend import load_extend_config
from cnbext.errors import ConfigError, ExitCode


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extend.toml"
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_extend_config(write(tmp_path, text), "extend.toml")
    assert caught.value.exit_code is ExitCode.CONFIG
    return [str(p) for p in caught.value.problems]


def test_valid_config_is_loaded_and_normalized(tmp_path: Path) -> None:
    config = load_extend_config(
        write(
            tmp_path,
            '[extend]\nimage = "paketobuildpacks/run-jammy-base"\n'
            '[extend.metadata]\npackages = ["jq", "git=1:2.34.1-1"]\nrebasable = true\n'
            'owner = "team-a"\n',
        )
    )
    assert str(config.image) == "docker.io/paketobuildpacks/run-jammy-base:latest"
    assert config.packages == ("jq", "git=1:2.34.1-1")
    assert config.rebasable is True
    # Free-form metadata is kept for the label.
    assert config.metadata["owner"] == "team-a"
    assert config.warnings == []


def test_metadata_is_optional_and_defaults_are_empty(tmp_path: Path) -> None:
    config = load_extend_config(write(tmp_path, '[extend]\nimage = "a/b:c"\n'))
    assert config.packages == ()
    assert config.rebasable is False


# Each case: the file's text and every problem it must produce, in order.
INVALID = {
    "empty file": ("", ["extend.toml:1:1: missing required key 'extend' in the top level"]),
    "missing image": (
        '[extend]\n[extend.metadata]\npackages = ["jq"]\n',
        ["extend.toml:1:1: $.extend: missing required key 'image' in [extend]"],
    ),
    "typo in image key": (
        '[extend]\nimgae = "a/b"\n',
        [
            "extend.toml:1:1: $.extend: missing required key 'image' in [extend]",
            "extend.toml:2:1: $.extend.imgae: unknown key 'imgae'; did you mean 'image'?",
        ],
    ),
    "unknown top-level table": (
        '[extend]\nimage = "a/b"\n\n[extnd]\nx = 1\n',
        ["extend.toml:4:2: $.extnd: unknown key 'extnd'; did you mean 'extend'?"],
    ),
    "image of the wrong type": (
        "[extend]\nimage = 42\n",
        ["extend.toml:2:9: $.extend.image: expected a string, found the number 42"],
    ),
    "invalid image reference": (
        '[extend]\nimage = "Example/UPPER:tag"\n',
        ["extend.toml:2:9: $.extend.image: "],
    ),
    "package with shell metacharacters": (
        '[extend]\nimage = "a/b"\n[extend.metadata]\npackages = ["jq", "curl;rm -rf /"]\n',
        ['extend.toml:4:19: $.extend.metadata.packages[1]: "curl;rm -rf /" is not a valid package'],
    ),
    "package starting with a dash": (
        '[extend]\nimage = "a/b"\n[extend.metadata]\npackages = [\n  "jq",\n  "--allow-unauthenticated",\n]\n',
        [
            'extend.toml:6:3: $.extend.metadata.packages[1]: "--allow-unauthenticated" is not a valid'
        ],
    ),
    "repeated package": (
        '[extend]\nimage = "a/b"\n[extend.metadata]\npackages = ["jq", "git", "jq"]\n',
        ['extend.toml:4:26: $.extend.metadata.packages[2]: "jq" is repeated (first at index 0)'],
    ),
    "packages not an array": (
        '[extend]\nimage = "a/b"\n[extend.metadata]\npackages = "jq"\n',
        ['extend.toml:4:12: $.extend.metadata.packages: expected an array, found the string "jq"'],
    ),
    "rebasable not a boolean": (
        '[extend]\nimage = "a/b"\n[extend.metadata]\nrebasable = "yes"\n',
        ["extend.toml:4:13: $.extend.metadata.rebasable: expected a boolean (true or false)"],
    ),
    "builder-only scope": (
        '[extend]\nimage = "a/b"\n[extend.metadata.run]\npackages = ["jq"]\n',
        [
            "extend.toml:3:1: $.extend.metadata.run: [extend.metadata.run] only applies to run images"
        ],
    ),
    "toml syntax error": (
        '[extend]\nimage = "a/b\n',
        ["extend.toml:2:"],
    ),
    "duplicate key is a syntax error": (
        '[extend]\nimage = "a/b"\nimage = "c/d"\n',
        ['extend.toml:3:1: invalid TOML: Key "image" already exists.'],
    ),
    "blank image": (
        '[extend]\nimage = "  "\n',
        ["extend.toml:2:9: $.extend.image: reference has leading or trailing whitespace"],
    ),
    "empty image": (
        '[extend]\nimage = ""\n',
        ["extend.toml:2:9: $.extend.image: must not be empty"],
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


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        '[extend]\nimage = "a b"\ncolour = 1\n[extend.metadata]\n'
        'packages = ["ok", "bad|pipe", "ok"]\nrebasable = 1\n',
    )
    lines = [p.split(": ")[0] for p in problems]
    assert lines == [
        "extend.toml:2:9",
        "extend.toml:3:1",
        "extend.toml:5:19",
        "extend.toml:5:31",
        "extend.toml:6:13",
    ]


def test_toml_syntax_error_is_located_and_prefixed(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, '[extend]\nimage = "a/b"\npackages = [1,\n')
    assert problem.startswith("extend.toml:")
    assert "invalid TOML" in problem


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_extend_config(tmp_path / "nope.toml", "nope.toml")
    assert str(caught.value.problems[0]) == "nope.toml:1:1: file not found"


def test_near_miss_of_a_known_metadata_key_is_a_warning(tmp_path: Path) -> None:
    config = load_extend_config(
        write(tmp_path, '[extend]\nimage = "a/b"\n[extend.metadata]\npackage = ["jq"]\n'),
        "extend.toml",
    )
    (warning,) = config.warnings
    assert str(warning).startswith("extend.toml:4:1: $.extend.metadata.package:")
    assert "did you mean 'packages'?" in str(warning)
    # Still kept: metadata is free-form.
    assert config.metadata["package"] == ["jq"]
