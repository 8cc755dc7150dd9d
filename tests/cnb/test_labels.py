"""Tests for cnbext.cnb.labels: extend-metadata merging and the JSON label encoding."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from cnbext.cnb.labels import (
    EXTEND_METADATA,
    LabelChange,
    encode_json_label,
    label_changes,
    merge_metadata,
    parse_json_label,
)

# --- merge_metadata ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            {"a": {"x": 1, "y": 2}},
            {"a": {"y": 3, "z": 4}},
            {"a": {"x": 1, "y": 3, "z": 4}},
            id="one-level-table-merges-keys",
        ),
        pytest.param(
            {"a": {"b": {"c": 1, "keep": True}}},
            {"a": {"b": {"c": 2, "add": "x"}}},
            {"a": {"b": {"c": 2, "keep": True, "add": "x"}}},
            id="deeply-nested-table-merges-keys",
        ),
        pytest.param(
            {"only_old": 1},
            {"only_new": 2},
            {"only_old": 1, "only_new": 2},
            id="disjoint-keys-are-all-kept",
        ),
        pytest.param({}, {"a": {"b": 1}}, {"a": {"b": 1}}, id="empty-old"),
        pytest.param({"a": {"b": 1}}, {}, {"a": {"b": 1}}, id="empty-new"),
    ],
)
def test_merge_tables_recursively(
    old: dict[str, Any], new: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert merge_metadata(old, new) == expected


@pytest.mark.parametrize(
    ("old_packages", "new_packages", "expected"),
    [
        pytest.param(["jq", "curl"], ["curl", "git"], ["jq", "curl", "git"], id="overlap"),
        pytest.param(["jq"], ["git", "curl"], ["jq", "git", "curl"], id="disjoint-keeps-order"),
        pytest.param(["jq", "curl"], ["jq", "curl"], ["jq", "curl"], id="identical"),
        pytest.param(["jq"], ["git", "git", "jq"], ["jq", "git"], id="duplicates-in-new"),
        pytest.param(["jq", "jq"], ["git"], ["jq", "git"], id="duplicates-in-old"),
        pytest.param([], ["jq"], ["jq"], id="old-empty"),
        pytest.param(["jq"], [], ["jq"], id="new-empty"),
        pytest.param(
            [{"name": "jq", "version": "1.6"}],
            [{"version": "1.6", "name": "jq"}, {"name": "git"}],
            [{"name": "jq", "version": "1.6"}, {"name": "git"}],
            id="equal-objects-in-any-key-order-are-duplicates",
        ),
    ],
)
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda packages: {"packages": packages}, id="top-level"),
        pytest.param(lambda packages: {"run": {"packages": packages}}, id="under-run"),
        pytest.param(lambda packages: {"build": {"packages": packages}}, id="under-build"),
        pytest.param(lambda packages: {"a": {"b": {"packages": packages}}}, id="two-levels-down"),
    ],
)
def test_packages_lists_are_an_ordered_union_at_any_depth(
    wrap: Callable[[list[Any]], dict[str, Any]],
    old_packages: list[Any],
    new_packages: list[Any],
    expected: list[Any],
) -> None:
    assert merge_metadata(wrap(old_packages), wrap(new_packages)) == wrap(expected)


def test_run_and_build_packages_are_merged_independently() -> None:
    old = {"build": {"packages": ["gcc"]}, "run": {"packages": ["jq"]}}
    new = {"run": {"packages": ["curl", "jq"]}}
    assert merge_metadata(old, new) == {
        "build": {"packages": ["gcc"]},
        "run": {"packages": ["jq", "curl"]},
    }


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param({"tags": ["a", "b"]}, {"tags": ["b", "c"]}, {"tags": ["b", "c"]}, id="list"),
        pytest.param(
            {"run": {"mirrors": ["x"]}},
            {"run": {"mirrors": ["y"]}},
            {"run": {"mirrors": ["y"]}},
            id="nested-non-packages-list",
        ),
        pytest.param({"owner": "team-a"}, {"owner": "team-b"}, {"owner": "team-b"}, id="string"),
        pytest.param({"rebasable": True}, {"rebasable": False}, {"rebasable": False}, id="bool"),
        pytest.param({"n": 1}, {"n": None}, {"n": None}, id="none-replaces"),
        pytest.param({"a": {"b": 1}}, {"a": "flat"}, {"a": "flat"}, id="scalar-replaces-table"),
        pytest.param({"a": "flat"}, {"a": {"b": 1}}, {"a": {"b": 1}}, id="table-replaces-scalar"),
        pytest.param(
            {"packages": ["jq"]},
            {"packages": "curl"},
            {"packages": "curl"},
            id="non-list-packages-replaces",
        ),
        pytest.param(
            {"packages": "jq"},
            {"packages": ["curl"]},
            {"packages": ["curl"]},
            id="packages-list-replaces-non-list",
        ),
    ],
)
def test_other_values_are_replaced_by_the_new_value(
    old: dict[str, Any], new: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert merge_metadata(old, new) == expected


def test_merge_does_not_mutate_its_inputs() -> None:
    old = {
        "packages": ["jq", "curl"],
        "run": {"packages": ["a"], "tags": ["x"], "deep": {"k": 1}},
        "owner": "team-a",
    }
    new = {
        "packages": ["git", "jq"],
        "run": {"packages": ["b"], "tags": ["y"], "deep": {"k": 2, "j": 3}},
        "extra": {"packages": ["z"]},
    }
    old_before = copy.deepcopy(old)
    new_before = copy.deepcopy(new)

    merged = merge_metadata(old, new)

    assert old == old_before
    assert new == new_before
    assert merged["packages"] == ["jq", "curl", "git"]
    assert merged["run"]["deep"] == {"k": 2, "j": 3}
    assert merged is not old
    assert merged["run"] is not old["run"]


def test_merge_returns_a_plain_dict_in_old_then_new_key_order() -> None:
    merged = merge_metadata({"b": 1, "a": 2}, {"c": 3, "a": 4})
    assert type(merged) is dict
    assert list(merged) == ["b", "a", "c"]


# --- encode_json_label / parse_json_label --------------------------------------------------------


def test_encode_is_compact_and_key_sorted() -> None:
    value = {"b": 1, "a": {"z": [1, 2], "y": "s"}}
    assert encode_json_label(value) == '{"a":{"y":"s","z":[1,2]},"b":1}'


def test_encode_is_independent_of_insertion_order() -> None:
    one = {"packages": ["jq"], "rebasable": True, "run": {"b": 2, "a": 1}}
    other = {"run": {"a": 1, "b": 2}, "rebasable": True, "packages": ["jq"]}
    assert list(one) != list(other)
    assert encode_json_label(one) == encode_json_label(other)


def test_encode_does_not_reorder_lists() -> None:
    assert encode_json_label({"packages": ["z", "a"]}) == '{"packages":["z","a"]}'


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"packages": ["jq", "curl"]},
        {"run": {"packages": ["jq"]}, "owner": "tëam ✓", "n": 1.5, "none": None},
    ],
)
def test_encoded_label_parses_back_to_the_same_value(value: dict[str, Any]) -> None:
    labels = {EXTEND_METADATA: encode_json_label(value)}
    assert parse_json_label(labels, EXTEND_METADATA) == value


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param({}, id="absent"),
        pytest.param({"other": '{"a":1}'}, id="only-other-labels"),
        pytest.param({EXTEND_METADATA: ""}, id="empty-string"),
    ],
)
def test_parse_absent_or_empty_label_is_none(labels: dict[str, str]) -> None:
    assert parse_json_label(labels, EXTEND_METADATA) is None


def test_parse_object_label() -> None:
    labels = {EXTEND_METADATA: '{"packages": ["jq"], "rebasable": true}'}
    assert parse_json_label(labels, EXTEND_METADATA) == {"packages": ["jq"], "rebasable": True}


@pytest.mark.parametrize("raw", ["[]", '["jq"]', '"text"', "1", "true", "null"])
def test_parse_non_object_json_is_a_value_error_naming_the_label(raw: str) -> None:
    with pytest.raises(ValueError, match=EXTEND_METADATA.replace(".", r"\.")):
        parse_json_label({EXTEND_METADATA: raw}, EXTEND_METADATA)


@pytest.mark.parametrize("raw", ["{", "not json", "{'a': 1}", " "])
def test_parse_malformed_json_is_a_value_error(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_json_label({EXTEND_METADATA: raw}, EXTEND_METADATA)


def test_malformed_json_error_is_still_a_json_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_json_label({EXTEND_METADATA: "{"}, EXTEND_METADATA)


# --- label_changes ------------------------------------------------------------------------------


def test_label_changes_are_sorted_with_old_none_when_unset() -> None:
    base = {"b": "1", "unrelated": "x"}
    new = {"c": "3", "a": "new-a", "b": "2"}
    assert label_changes(base, new) == [
        LabelChange("a", None, "new-a"),
        LabelChange("b", "1", "2"),
        LabelChange("c", None, "3"),
    ]


def test_label_changes_only_lists_new_labels() -> None:
    changes = label_changes({"kept": "x", "b": "1"}, {"b": "1"})
    assert [c.name for c in changes] == ["b"]


def test_label_changes_of_nothing_is_empty() -> None:
    assert label_changes({"a": "1"}, {}) == []


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        (None, "x", True),
        ("x", "y", True),
        ("x", "x", False),
        ("", "x", True),
        (None, "", True),
    ],
)
def test_label_change_changed(old: str | None, new: str, changed: bool) -> None:
    assert LabelChange("name", old, new).changed is changed


def test_unchanged_label_is_reported_with_both_values() -> None:
    (change,) = label_changes(
        {"io.buildpacks.rebasable": "true"}, {"io.buildpacks.rebasable": "true"}
    )
    assert change == LabelChange("io.buildpacks.rebasable", "true", "true")
    assert not change.changed
