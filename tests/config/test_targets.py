"""pack's --target syntax and [[targets]] as platforms."""

from __future__ import annotations

import pytest

from cnbext.config.builder import TargetEntry
from cnbext.config.targets import parse_target, target_platform, target_platforms
from cnbext.errors import UsageError


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("linux/amd64", TargetEntry("linux", "amd64", None, ())),
        ("linux/arm64/v8", TargetEntry("linux", "arm64", "v8", ())),
        ("linux/arm/v6:ubuntu@14.04", TargetEntry("linux", "arm", "v6", (("ubuntu", "14.04"),))),
        (
            "linux/amd64:ubuntu@22.04;debian",
            TargetEntry("linux", "amd64", None, (("ubuntu", "22.04"), ("debian", None))),
        ),
        ("windows/amd64", TargetEntry("windows", "amd64", None, ())),
    ],
)
def test_pack_target_syntax(text: str, target: TargetEntry) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one of [os][/arch][/variant] must be specified"),
        (":ubuntu@22.04", "at least one of [os][/arch][/variant] must be specified"),
        ("linux", "unknown target: 'linux'"),
        ("linux/amd46", "unknown target: 'linux/amd46'"),
        ("linux/arm/v9", "unknown variant 'v9'"),
        ("linux/amd64:@22.04", "distro's versions '@22.04' cannot be specified without"),
        ("linux/amd64:ubuntu@1@2", "invalid distro: 'ubuntu@1@2'"),
        ("a/b/c/d", "unknown target"),
    ],
)
def test_bad_targets_are_refused_with_pack_words(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_target(text)
    assert message in caught.value.message


def test_platforms_once_each_in_order() -> None:
    targets = [
        parse_target("linux/arm64:ubuntu@22.04"),
        parse_target("linux/amd64"),
        parse_target("linux/arm64:ubuntu@24.04"),
    ]
    assert target_platforms(targets) == ("linux/arm64", "linux/amd64")
    assert target_platform(TargetEntry(None, None, None, ())) == "linux/amd64"
