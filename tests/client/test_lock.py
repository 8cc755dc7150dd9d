"""--lock writes what each platform resolved; --locked installs exactly it or fails cleanly."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

import cnbext
from cnbext.cnb.package_managers import APK, APT, DNF, ZYPPER, unavailable_packages
from cnbext.config.lock import load_lock
from cnbext.errors import BuildError, ConfigError, UsageError
from tests.client.fake_engine import FakeEngine
from tests.client.images import IMAGES, extend_toml

OUT = "localhost:5000/x/locked:1"
PLATFORMS = ("linux/amd64", "linux/arm64")


def extend(tmp_path: Path, engine: FakeEngine, **options: object) -> cnbext.Result:
    flags = cnbext.ExtendOptions(
        names=(OUT,), publish=True, platforms=PLATFORMS, sbom=cnbext.SbomFormat.CYCLONEDX
    )
    flags = replace(flags, **options)  # type: ignore[arg-type]
    return cnbext.extend(extend_toml(tmp_path), flags, engine=engine)


def test_the_lock_holds_each_platforms_pins_and_locked_installs_exactly_them(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "extend.lock"
    extend(tmp_path, FakeEngine(IMAGES, installed_version="1.6-2.1"), lock=lock)
    loaded = load_lock(lock)
    assert {p: v.specs for p, v in loaded.platforms.items()} == {
        "linux/amd64": ("jq=1.6-2.1",),
        "linux/arm64": ("jq=1.6-2.1",),
    }
    assert loaded.platforms["linux/arm64"].manager == "apt"

    # Later the repositories would give another version; --locked asks for the locked one.
    rebuilt = FakeEngine(IMAGES, installed_version="1.7-1")
    extend(tmp_path, rebuilt, lock=lock, locked=True)
    dockerfile = rebuilt.built[f"{OUT}#linux/amd64"].dockerfile
    assert "apt-get install -y --no-install-recommends jq=1.6-2.1" in dockerfile
    assert lock.read_text() == (tmp_path / "extend.lock").read_text()  # not rewritten


def test_a_locked_version_that_is_gone_fails_naming_it_and_publishes_nothing(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "extend.lock"
    extend(tmp_path, FakeEngine(IMAGES, installed_version="1.6-2.1"), lock=lock)
    assert_gone_fails(OUT, "jq=1.6-2.1", lambda e: extend(tmp_path, e, lock=lock, locked=True))


def assert_gone_fails(name: str, spec: str, run: Callable[[FakeEngine], object]) -> None:
    """``run`` on an engine whose install for ``name`` fails as apt fails on the version of
    ``spec`` it no longer has: exit 5 naming exactly that spec, nothing built or published."""
    package, version = spec.split("=")
    log = f"E: Version '{version}' for '{package}' was not found\n"
    error = BuildError(f"building the image failed:\n{log}")
    engine = FakeEngine(IMAGES, failures={("installed", name): error})
    with pytest.raises(BuildError, match=f"no longer available: {re.escape(spec)}$") as raised:
        run(engine)
    assert raised.value.exit_code == 5
    assert engine.made() == []


def locked_with(tmp_path: Path, spec: str) -> tuple[Path, ConfigError]:
    """Extend --locked from a hand-written lock pinning ``spec``; the config error."""
    lock = tmp_path / "hand.lock"
    name = spec.split("=")[0]
    lock.write_text(
        'version = 1\n[platforms."linux/amd64"]\ndatabase = "dpkg"\nmanager = "apt"\n'
        f'packages = [{{spec = "{spec}", name = "{name}", version = "1", architecture = "amd64"}}]\n'
    )
    with pytest.raises(ConfigError) as raised:
        extend(tmp_path, FakeEngine(IMAGES), lock=lock, locked=True, platforms=("linux/amd64",))
    return lock, raised.value


def test_a_lock_is_validated_and_its_problems_located(tmp_path: Path) -> None:
    lock, error = locked_with(tmp_path, "jq;reboot")
    assert str(error.problems[0]).startswith(
        f'{lock}:5:21: $.platforms["linux/amd64"].packages[0].spec: "jq;reboot" is not a valid'
    )


def test_a_pin_the_distros_manager_rejects_is_located_in_the_lock(tmp_path: Path) -> None:
    lock, error = locked_with(tmp_path, "JQ=1")
    (problem,) = error.problems
    assert str(problem).startswith(f"{lock}:5:")
    assert "not a valid apt package" in str(problem)


def test_locked_needs_a_lock_and_every_platform_in_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--locked needs --lock"):
        extend(tmp_path, FakeEngine(IMAGES), locked=True)
    lock = tmp_path / "one.lock"
    lock.write_text(
        'version = 1\n[platforms."linux/amd64"]\ndatabase = "dpkg"\n'
        'manager = "apt"\npackages = []\n'
    )
    with pytest.raises(UsageError, match="has no versions for linux/arm64"):
        extend(tmp_path, FakeEngine(IMAGES), lock=lock, locked=True)


def test_each_managers_pin_and_its_message_for_a_version_that_is_gone() -> None:
    assert [m.pin("jq", "1.6-2.1") for m in (APT, APK, ZYPPER, DNF)] == [
        "jq=1.6-2.1",
        "jq=1.6-2.1",
        "jq=1.6-2.1",
        "jq-1.6-2.1",
    ]
    assert DNF.check_package(DNF.pin("perl-Git", "2:2.45-1.fc40")) is None
    apt_log = (
        "E: Version '1.6-2.1' for 'jq' was not found\nE: Version '6.9' for 'libonig5' was not found"
    )
    assert unavailable_packages("apt", apt_log) == ["jq=1.6-2.1", "libonig5=6.9"]
    assert unavailable_packages("dnf", "No match for argument: jq-1.5\nError: ...") == ["jq-1.5"]
    assert unavailable_packages(
        "apk", "ERROR: unable to select packages:\n  jq-1.5 (no such package):"
    ) == ["jq-1.5"]
    assert unavailable_packages("apt", "E: Unable to locate package nope") == []
