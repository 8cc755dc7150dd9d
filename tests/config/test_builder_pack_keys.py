"""Every key pack's builder.toml reader decodes is accepted; pack's warnings are given."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnbext.config.builder import BuilderConfig, OrderEntry, TargetEntry, load_builder_config
from cnbext.errors import ConfigError

BASE = '[build]\nimage = "build"\n[[run.images]]\nimage = "run"\n'
ORDER = '[[order]]\n[[order.group]]\nid = "bp"\n'

MODULE_INFO = """\
name = "Node.js"
description = "Node.js runtime"
homepage = "https://example.com/node"
keywords = ["node", "javascript"]
exec-env = ["production"]
clear-env = false
[[{table}.licenses]]
type = "MIT"
uri = "https://example.com/LICENSE"
"""


def load(tmp_path: Path, text: str) -> BuilderConfig:
    path = tmp_path / "builder.toml"
    path.write_text(text)
    return load_builder_config(path, "builder.toml")


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("table", ["buildpacks", "extensions"])
def test_module_entries_take_pack_module_info(tmp_path: Path, table: str) -> None:
    text = BASE + ORDER + f'[[{table}]]\nuri = "m"\n' + MODULE_INFO.format(table=table)
    config = load(tmp_path, text)
    assert len(getattr(config, table)) == 1
    assert not config.warnings


def test_group_entries_take_exec_env_and_module_info(tmp_path: Path) -> None:
    text = (
        BASE
        + '[[order]]\n[[order.group]]\nid = "bp"\nversion = "1.0.0"\nexec-env = ["test"]\n'
        + 'name = "BP"\nhomepage = "h"\n'
        + '[[system.pre.buildpacks]]\nid = "sys"\nexec-env = ["production", "test"]\n'
    )
    config = load(tmp_path, text)
    assert config.order[0].entries[0].exec_env == ("test",)
    assert config.system_pre[0].exec_env == ("production", "test")


def test_optional_is_accepted_in_extension_groups(tmp_path: Path) -> None:
    text = (
        BASE
        + ORDER
        + '[[order-extensions]]\n[[order-extensions.group]]\nid = "ext"\noptional = true\n'
        + '[[order-extensions.group]]\nid = "other"\n'
    )
    entries = load(tmp_path, text).order_extensions[0].entries
    assert [e.optional for e in entries] == [True, False]
    assert entries[0] == OrderEntry("ext", None, True, ("order-extensions", 0, "group", 0))


def test_windows_distros_may_give_only_a_version(tmp_path: Path) -> None:
    text = BASE + ORDER + '[[targets]]\nos = "windows"\narch = "amd64"\n'
    text += '[[targets.distros]]\nversion = "10.0.20348.1970"\n'
    config = load(tmp_path, text)
    assert config.targets == (TargetEntry("windows", "amd64", None, ((None, "10.0.20348.1970"),)),)


def test_other_distros_need_a_name(tmp_path: Path) -> None:
    text = BASE + ORDER + '[[targets]]\nos = "linux"\n[[targets.distros]]\nversion = "22.04"\n'
    assert problems(tmp_path, text) == [
        'builder.toml:10:1: $.targets[0].distros[0]: distro version "22.04" cannot be given '
        "without the distro's name (only a windows target may give a version alone)"
    ]


def test_an_empty_distro_is_refused(tmp_path: Path) -> None:
    text = BASE + ORDER + '[[targets]]\nos = "windows"\n[[targets.distros]]\n'
    (problem,) = problems(tmp_path, text)
    assert "$.targets[0].distros[0]: a distro needs a `name`, a `version`, or both" in problem


@pytest.mark.parametrize("table", ["buildpacks", "extensions"])
def test_uri_and_image_uses_the_uri_with_a_warning(tmp_path: Path, table: str) -> None:
    config = load(tmp_path, BASE + ORDER + f'[[{table}]]\nuri = "./m"\nimage = "m:1"\n')
    (entry,) = getattr(config, table)
    assert (entry.uri, entry.image) == ("./m", None)
    assert [str(w) for w in config.warnings] == [
        f"builder.toml:10:1: $.{table}[0].image: both `uri` and `image` are given: `uri` is "
        "used (as pack does); remove one"
    ]


def test_docker_uri_with_image_names_the_uri_image(tmp_path: Path) -> None:
    config = load(tmp_path, BASE + ORDER + '[[buildpacks]]\nuri = "docker://a:1"\nimage = "b:1"\n')
    assert config.buildpacks[0].image == "docker.io/library/a:1"


def test_pack_env_warnings(tmp_path: Path) -> None:
    text = '[build]\nimage = "build"\n'
    text += '[[build.env]]\nname = "A"\nvalue = ""\n'
    text += '[[build.env]]\nname = "A"\nvalue = "x"\nsuffix = "override"\n'
    text += '[[build.env]]\nname = "A"\nvalue = "y"\n'
    text += '[[run.images]]\nimage = "run"\n' + ORDER
    warnings = [str(w) for w in load(tmp_path, text).warnings]
    assert warnings == [
        "builder.toml:5:9: $.build.env[0].value: empty value for key/name 'A'",
        "builder.toml:10:1: $.build.env[2]: overrides [[build.env]] 0 (both write "
        "/cnb/build-config/env/A); the last one wins",
    ]


def test_no_order_warns_as_pack_does(tmp_path: Path) -> None:
    warnings = [str(w) for w in load(tmp_path, BASE).warnings]
    assert warnings == ["builder.toml:1:1: $.order: empty 'order' definition"]
