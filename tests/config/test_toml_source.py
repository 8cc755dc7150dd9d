"""Tests for cnbext.config.toml_source: positions of keys and values, errors, plain data."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from cnbext.config.toml_source import TomlSource, json_path
from cnbext.errors import ConfigError, ConfigProblem, SourcePosition

DOCUMENT = """\
# extend.toml
title = "example"

[extend]
image = "paketobuildpacks/run-jammy-base"
packages = [
  "jq",
  "curl",
  "git",
]
inline = { run = { user = "cnb" }, n = 1 }
dotted.key = "v"

[[extend.layers]]
name = "first"

[[extend.layers]]
name = "second"
size = 4

[other.sub]
x = 1
"""


@pytest.fixture(scope="module")
def source() -> TomlSource:
    return TomlSource.parse(DOCUMENT, "extend.toml")


def pos(line: int, column: int) -> SourcePosition:
    return SourcePosition(line, column)


# --- locate -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value_at", "key_at"),
    [
        pytest.param(["title"], pos(2, 9), pos(2, 1), id="top-level-key"),
        pytest.param(["extend", "image"], pos(5, 9), pos(5, 1), id="key-in-table"),
        pytest.param(["extend", "packages"], pos(6, 12), pos(6, 1), id="multi-line-array"),
        pytest.param(["other", "sub", "x"], pos(22, 5), pos(22, 1), id="key-in-super-table"),
        pytest.param(
            ["extend", "layers", 1, "size"], pos(19, 8), pos(19, 1), id="second-aot-entry"
        ),
        pytest.param(["extend", "layers", 0, "name"], pos(15, 8), pos(15, 1), id="first-aot-entry"),
    ],
)
def test_positions_of_keys_and_values(
    source: TomlSource, path: list[str | int], value_at: SourcePosition, key_at: SourcePosition
) -> None:
    assert source.locate(path) == value_at
    assert source.locate(path, key=True) == key_at


@pytest.mark.parametrize(
    ("index", "expected"),
    [(0, pos(7, 3)), (1, pos(8, 3)), (2, pos(9, 3))],
)
def test_position_of_a_value_in_a_multi_line_array(
    source: TomlSource, index: int, expected: SourcePosition
) -> None:
    assert source.locate(["extend", "packages", index]) == expected


def test_position_of_a_nested_inline_table_value(source: TomlSource) -> None:
    # inline = { run = { user = "cnb" }, n = 1 }
    #          ^10     ^18 ^20    ^27          ^40
    assert source.locate(["extend", "inline"]) == pos(11, 10)
    assert source.locate(["extend", "inline", "run"]) == pos(11, 18)
    assert source.locate(["extend", "inline", "run", "user"]) == pos(11, 27)
    assert source.locate(["extend", "inline", "run", "user"], key=True) == pos(11, 20)
    assert source.locate(["extend", "inline", "n"]) == pos(11, 40)


def test_position_of_a_dotted_key_value(source: TomlSource) -> None:
    # dotted.key = "v"
    assert source.locate(["extend", "dotted", "key"]) == pos(12, 14)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(["extend"], pos(4, 1), id="table"),
        pytest.param(["other", "sub"], pos(21, 1), id="super-table-child"),
        pytest.param(["extend", "layers"], pos(14, 1), id="array-of-tables"),
        pytest.param(["extend", "layers", 0], pos(14, 1), id="first-aot-entry"),
        pytest.param(["extend", "layers", 1], pos(17, 1), id="second-aot-entry"),
    ],
)
def test_tables_are_located_at_their_header(
    source: TomlSource, path: list[str | int], expected: SourcePosition
) -> None:
    assert source.locate(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(["extend", "missing"], pos(4, 1), id="missing-key-in-table"),
        pytest.param(["extend", "missing", "deeper"], pos(4, 1), id="missing-subtree"),
        pytest.param(["other", "sub", "nope"], pos(21, 1), id="missing-key-in-sub-table"),
        pytest.param(
            ["extend", "layers", 1, "missing"], pos(17, 1), id="missing-key-in-second-aot-entry"
        ),
        pytest.param(["extend", "packages", 3], pos(6, 12), id="array-index-out-of-range"),
        pytest.param(["extend", "packages", "name"], pos(6, 12), id="string-key-into-array"),
        pytest.param(["extend", "image", 0], pos(5, 9), id="index-into-a-string"),
        pytest.param(["extend", "layers", 5, "name"], pos(14, 1), id="missing-aot-entry"),
    ],
)
def test_missing_path_falls_back_to_the_deepest_located_ancestor(
    source: TomlSource, path: list[str | int], expected: SourcePosition
) -> None:
    assert source.locate(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        pytest.param([], id="document-root"),
        pytest.param(["missing"], id="missing-top-level-key"),
        pytest.param(["missing", "deeper", 3], id="missing-top-level-subtree"),
        pytest.param([0], id="index-into-the-document"),
    ],
)
def test_document_root_falls_back_to_1_1(source: TomlSource, path: list[str | int]) -> None:
    assert source.locate(path) == pos(1, 1)
    assert source.locate(path, key=True) == pos(1, 1)


def test_empty_document_locates_everything_at_1_1() -> None:
    empty = TomlSource.parse("", "empty.toml")
    assert empty.data() == {}
    assert empty.locate(["extend", "image"]) == pos(1, 1)


OUT_OF_ORDER = '[a.x]\nk = 1\n\n[b]\nz = 2\n\n[a.y]\nk = "second"\n'


def test_out_of_order_tables_first_part_and_other_tables_are_located() -> None:
    source = TomlSource.parse(OUT_OF_ORDER, "t.toml")
    assert source.data() == {"a": {"x": {"k": 1}, "y": {"k": "second"}}, "b": {"z": 2}}
    assert source.locate(["a", "x", "k"]) == pos(2, 5)
    assert source.locate(["b", "z"]) == pos(5, 5)
    assert source.locate(["b"]) == pos(4, 1)


def test_out_of_order_tables_second_part_is_located() -> None:
    source = TomlSource.parse(OUT_OF_ORDER, "t.toml")
    assert source.locate(["a", "y"]) == pos(7, 1)
    assert source.locate(["a", "y", "k"]) == pos(8, 5)


def test_columns_count_characters_not_bytes() -> None:
    source = TomlSource.parse('"név" = "ü"\nt = { a = "é", b = 1 }\n', "t.toml")
    assert source.locate(["név"]) == pos(1, 9)
    assert source.locate(["t", "b"]) == pos(2, 20)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(0, pos(1, 1)), (5, pos(1, 6)), (14, pos(2, 1)), (DOCUMENT.index("[extend]"), pos(4, 1))],
)
def test_position_of_offset(source: TomlSource, offset: int, expected: SourcePosition) -> None:
    assert source.position_of_offset(offset) == expected


# --- problem ------------------------------------------------------------------------------------


def test_problem_carries_file_position_and_json_path(source: TomlSource) -> None:
    problem = source.problem(["extend", "packages", 1], "not a valid apt package")
    assert problem == ConfigProblem(
        "extend.toml", pos(8, 3), "$.extend.packages[1]", "not a valid apt package"
    )
    assert str(problem) == "extend.toml:8:3: $.extend.packages[1]: not a valid apt package"


def test_problem_at_a_key(source: TomlSource) -> None:
    problem = source.problem(["extend", "image"], "unknown key", key=True)
    assert problem.position == pos(5, 1)
    assert problem.path == "$.extend.image"


def test_problem_at_the_document_root_has_no_path(source: TomlSource) -> None:
    problem = source.problem([], "missing [extend] table")
    assert problem.path == ""
    assert str(problem) == "extend.toml:1:1: missing [extend] table"


# --- syntax errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("a = 1\nb = \n", 2, id="missing-value"),
        pytest.param("a = 1\n[table\n", 2, id="unclosed-header"),
        pytest.param("a = 1\na = 2\n", 2, id="duplicate-key"),
        pytest.param('x = "unterminated\n', 1, id="unterminated-string"),
        pytest.param("[t]\nk = 1\n\n[t]\n", 4, id="duplicate-table"),
        pytest.param("= 1\n", 1, id="missing-key"),
        pytest.param("ok = true\n\n\nnot toml at all\n", 4, id="bare-words"),
    ],
)
def test_syntax_errors_raise_config_error_with_one_located_problem(text: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        TomlSource.parse(text, "bad.toml")
    (problem,) = caught.value.problems
    assert problem.file == "bad.toml"
    assert problem.position.line == line
    assert problem.position.column >= 1
    assert problem.path == ""
    assert problem.message.startswith("invalid TOML: ")
    # tomlkit's own "at line L col C" is replaced by our file:line:col form.
    assert " at line " not in problem.message
    assert str(problem).startswith(f"bad.toml:{line}:")


@pytest.mark.parametrize(
    ("text", "first_line", "last_line"),
    [
        pytest.param("[a]\nb = 1\n[a.b]\nc = 1\n", 3, 4, id="table-redefines-key"),
        pytest.param("[a]\nb = 1\n[a.b]\nc = 1\n\n\n[z]\n", 3, 4, id="followed-by-more"),
        pytest.param("[x]\na.b = 1\n\n[x.a.b]\nc = 2\n", 4, 5, id="table-redefines-dotted"),
    ],
)
def test_semantic_errors_are_config_errors_at_the_offending_table(
    text: str, first_line: int, last_line: int
) -> None:
    # tomlkit raises these without a position; they must still be one located ConfigProblem,
    # somewhere in the table that redefines the key (not at 1:1, not after it).
    with pytest.raises(ConfigError) as caught:
        TomlSource.parse(text, "bad.toml")
    (problem,) = caught.value.problems
    assert problem.message.startswith("invalid TOML: ")
    assert 'Key "b" already exists' in problem.message
    assert first_line <= problem.position.line <= last_line
    assert problem.position.column >= 1


def test_syntax_error_column() -> None:
    with pytest.raises(ConfigError) as caught:
        TomlSource.parse("a = 1\nb = \n", "bad.toml")
    assert caught.value.problems[0].position == pos(2, 4)


def test_syntax_error_message_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"^bad\.toml: 1 problem; nothing was built$"):
        TomlSource.parse("[x\n", "bad.toml")


# --- read ---------------------------------------------------------------------------------------


def test_read_a_file(tmp_path: Path) -> None:
    path = tmp_path / "extend.toml"
    path.write_text('[extend]\nimage = "x"\n', encoding="utf-8")
    source = TomlSource.read(path, "extend.toml")
    assert source.display_name == "extend.toml"
    assert source.locate(["extend", "image"]) == pos(2, 9)


def test_read_a_missing_file_is_a_config_error_at_1_1(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        TomlSource.read(path)
    (problem,) = caught.value.problems
    assert problem == ConfigProblem(str(path), pos(1, 1), "", "file not found")


def test_read_a_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('a = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        TomlSource.read(path, "latin1.toml")
    (problem,) = caught.value.problems
    assert problem.position == pos(1, 1)
    assert problem.message.startswith("cannot read file: ")


# --- json_path ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([], "$"),
        (["a"], "$.a"),
        (["a", "b", 2], "$.a.b[2]"),
        (["extend", "metadata", "packages", 1], "$.extend.metadata.packages[1]"),
        ([0], "$[0]"),
        ([0, 1], "$[0][1]"),
        (["snake_case", "kebab-case"], "$.snake_case.kebab-case"),
        (["Mixed9"], "$.Mixed9"),
        (["a.b"], '$["a.b"]'),
        (["a b"], '$["a b"]'),
        (["extend", "io.buildpacks.rebasable"], '$.extend["io.buildpacks.rebasable"]'),
        (["x", "with space", 3, "y"], '$.x["with space"][3].y'),
        ([""], '$[""]'),
        (["a/b"], '$["a/b"]'),
    ],
)
def test_json_path(path: list[str | int], expected: str) -> None:
    assert json_path(path) == expected


# --- data ---------------------------------------------------------------------------------------


def test_data_values(source: TomlSource) -> None:
    data = source.data()
    assert data == {
        "title": "example",
        "extend": {
            "image": "paketobuildpacks/run-jammy-base",
            "packages": ["jq", "curl", "git"],
            "inline": {"run": {"user": "cnb"}, "n": 1},
            "dotted": {"key": "v"},
            "layers": [{"name": "first"}, {"name": "second", "size": 4}],
        },
        "other": {"sub": {"x": 1}},
    }


def test_data_is_plain_python_types(source: TomlSource) -> None:
    data = source.data()
    extend = data["extend"]
    assert type(data) is dict
    assert type(data["title"]) is str
    assert type(extend) is dict
    assert type(extend["image"]) is str
    assert type(extend["packages"]) is list
    assert all(type(p) is str for p in extend["packages"])
    assert type(extend["inline"]) is dict
    assert type(extend["inline"]["run"]) is dict
    assert type(extend["inline"]["run"]["user"]) is str
    assert type(extend["inline"]["n"]) is int
    assert type(extend["dotted"]) is dict
    assert type(extend["layers"]) is list
    assert all(type(layer) is dict for layer in extend["layers"])
    assert type(extend["layers"][1]["size"]) is int
    assert type(data["other"]["sub"]) is dict


@pytest.mark.parametrize(
    ("toml_value", "expected_type", "expected"),
    [
        ("true", bool, True),
        ("1.5", float, 1.5),
        ("42", int, 42),
        ('"basic"', str, "basic"),
        ("'literal'", str, "literal"),
        ('"""multi\nline"""', str, "multi\nline"),
        ("[[1, 2], ['a']]", list, [[1, 2], ["a"]]),
        ("[{ x = 'y' }]", list, [{"x": "y"}]),
        (
            "1979-05-27T07:32:00Z",
            datetime.datetime,
            datetime.datetime(1979, 5, 27, 7, 32, tzinfo=datetime.UTC),
        ),
        ("1979-05-27", datetime.date, datetime.date(1979, 5, 27)),
    ],
)
def test_data_scalar_and_nested_types(
    toml_value: str, expected_type: type, expected: SourcePosition
) -> None:
    value = TomlSource.parse(f"v = {toml_value}\n", "t.toml").data()["v"]
    assert type(value) is expected_type
    assert value == expected


def test_data_nested_containers_are_plain() -> None:
    value = TomlSource.parse("v = [{ x = ['y'] }]\n", "t.toml").data()["v"]
    assert type(value[0]) is dict
    assert type(value[0]["x"]) is list
    assert type(value[0]["x"][0]) is str


def test_data_is_a_fresh_copy() -> None:
    source = TomlSource.parse('packages = ["jq"]\n', "t.toml")
    first = source.data()
    first["packages"].append("curl")
    assert source.data() == {"packages": ["jq"]}
