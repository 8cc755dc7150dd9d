"""Which platforms a builder is built for: pack's rules over --target and [[targets]]."""

from __future__ import annotations

import platform
from dataclasses import replace
from pathlib import Path

import pytest

from cnbext.client.builder_inputs import select_platforms
from cnbext.config.builder import BuilderConfig, load_builder_config
from cnbext.config.targets import parse_target
from cnbext.errors import UsageError
from cnbext.plan.builder_options import BuilderOptions

HOST = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
OTHER = "arm64" if HOST == "amd64" else "amd64"
BASE = '[build]\nimage = "b"\n[[run.images]]\nimage = "r"\n[[order]]\n[[order.group]]\nid = "x"\n'


def config(tmp_path: Path, targets: list[str]) -> BuilderConfig:
    text = BASE + "".join(f'[[targets]]\nos = "linux"\narch = "{arch}"\n' for arch in targets)
    (tmp_path / "builder.toml").write_text(text)
    return load_builder_config(tmp_path / "builder.toml")


OPTIONS = BuilderOptions(names=("a/b",))


def test_publish_builds_every_target(tmp_path: Path) -> None:
    loaded = config(tmp_path, [HOST, OTHER, HOST])
    chosen = select_platforms(loaded, replace(OPTIONS, publish=True))
    assert chosen == (f"linux/{HOST}", f"linux/{OTHER}")


def test_without_publish_only_the_daemons(tmp_path: Path) -> None:
    loaded = config(tmp_path, [OTHER, HOST])
    assert select_platforms(loaded, OPTIONS) == (f"linux/{HOST}",)


def test_no_target_for_the_daemon_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"no target matches the daemon's platform linux/{HOST}"):
        select_platforms(config(tmp_path, [OTHER]), OPTIONS)


def test_flags_replace_the_file(tmp_path: Path) -> None:
    loaded = config(tmp_path, [HOST])
    options = replace(OPTIONS, publish=True, targets=(parse_target(f"linux/{OTHER}"),))
    assert select_platforms(loaded, options) == (f"linux/{OTHER}",)


def test_without_targets_the_options_own_platforms(tmp_path: Path) -> None:
    options = replace(OPTIONS, publish=True, platforms=("linux/s390x",))
    assert select_platforms(config(tmp_path, []), options) == ("linux/s390x",)
