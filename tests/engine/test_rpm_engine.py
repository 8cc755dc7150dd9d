"""dnf and zypper run for real: install, pin, lock and SBOM through cnbext's own install step.

The bases are the fixture Debian with Debian's rpm and dnf or zypper, laid out as an rpm run
image (tests/fixtures/rpm/Dockerfile); their one repository holds cnbext-hello 1.0-1 and 1.1-1,
built with rpmbuild and indexed with createrepo_c while the bases are built. The Debian packages
stay in dpkg's database beside rpm's: what cnbext records must come from rpm's alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv, assert_locked_gone, extend_toml
from tests.engine.test_reproducible_engine import EPOCH, publish_cold

pytestmark = pytest.mark.engine

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rpm"
QUERY = "rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH}\\n' cnbext-hello"


@dataclass(frozen=True)
class RpmBase:
    manager: str
    image: str
    distro: str  # the os-release ID the base claims, the purls' namespace
    separator: str  # how cnbext pins a version with this manager

    def pin(self, version: str) -> str:
        return f"cnbext-hello{self.separator}{version}"


BASES = {
    "dnf": ("fedora", "-"),
    "zypper": ("opensuse-leap", "="),
}


@pytest.fixture(scope="module", params=sorted(BASES))
def rpm_base(request: pytest.FixtureRequest, engine: EngineEnv) -> Iterator[RpmBase]:
    manager: str = request.param
    image = engine.name(f"rpm-base-{manager}")
    engine.docker.buildx.build(
        FIXTURE,
        target=manager,
        build_args={"base_image": engine.fixture_image, "manager": manager},
        network="host",
        tags=[image],
        push=True,
        provenance=False,
        sbom=False,
    )
    try:
        yield RpmBase(manager, image, *BASES[manager])
    finally:
        if engine.docker.image.exists(image):
            engine.docker.image.remove(image, force=True)


def installed(engine: EngineEnv, image: str) -> list[str]:
    """What rpm itself says inside the image, run as the image's own (non-root) user."""
    return str(engine.run(image, QUERY)).split()


def added(engine: EngineEnv, image: str) -> list[dict[str, str]]:
    label = json.loads(engine.labels(image)["io.cnbext.packages"])
    ((changes),) = label["platforms"].values()
    assert changes["database"] == "rpm"
    assert changes["upgraded"] == [] and changes["removed"] == []
    result: list[dict[str, str]] = changes["added"]
    return result


def test_the_latest_version_is_installed_recorded_and_in_the_sbom(
    engine: EngineEnv, cnbext: Cli, rpm_base: RpmBase, leftovers: list[str]
) -> None:
    name = engine.name(f"rpm-{rpm_base.manager}")
    leftovers.append(name)
    cnbext.write("extend.toml", extend_toml(rpm_base.image, 'packages = ["cnbext-hello"]\n'))
    planned = cnbext("extend", name, "-c", "extend.toml", "--dry-run", "-o", "json")
    builds = json.loads(planned.stdout)["plan"]["images"]
    assert [b["packageManager"] for b in builds] == [rpm_base.manager]
    cnbext("extend", name, "-c", "extend.toml", "--lock", "extend.lock", check=True)
    assert installed(engine, name) == ["cnbext-hello", "1.1-1", "noarch"]
    # Only rpm's database: none of the Debian packages dpkg's beside it lists.
    assert added(engine, name) == [
        {"name": "cnbext-hello", "version": "1.1-1", "architecture": "noarch"}
        | {"source": "cnbext-hello"}
    ]
    lock = (cnbext.workdir / "extend.lock").read_text()
    assert f'spec = "{rpm_base.pin("1.1-1")}"' in lock

    sbom = json.loads(engine.run(name, "cat /cnb/sbom/bom.cdx.json"))
    purls = [c["purl"] for c in sbom["components"] if "purl" in c]
    assert purls == [
        f"pkg:rpm/{rpm_base.distro}/cnbext-hello@1.1-1?arch=noarch"
        f"&distro={rpm_base.distro}-{'40' if rpm_base.manager == 'dnf' else '15.6'}"
    ]
    # The install step left none of rpm's, dnf's or zypper's run-to-run files behind:
    # sqlite's log and index stay (a non-root rpm -q needs them), empty.
    left = engine.run(
        name,
        "cd /var/lib/rpm && find . -type f -size +0c && echo -- && ls -A && echo --"
        " && ls -d /var/cache/dnf /var/cache/zypp /var/log/dnf.log /var/log/zypper.log"
        " /var/lib/zypp/AnonymousUniqueId /run/zypp.pid 2>/dev/null; true",
    )
    sqlite = ["rpmdb.sqlite", "rpmdb.sqlite-shm", "rpmdb.sqlite-wal"]
    assert [part.split() for part in left.split("--")] == [
        ["./rpmdb.sqlite"],
        [".rpm.lock", *sqlite],
        [],
    ]


def test_a_pin_then_its_lock_install_exactly_that_version_and_a_gone_one_fails_cleanly(
    engine: EngineEnv, cnbext: Cli, rpm_base: RpmBase, leftovers: list[str]
) -> None:
    pinned, locked, gone = (engine.name(f"rpm-{rpm_base.manager}-{k}") for k in "plg")
    leftovers += [pinned, locked]
    spec = rpm_base.pin("1.0")  # cnbext-hello-1.0 (dnf) or cnbext-hello=1.0 (zypper)
    cnbext.write("pinned.toml", extend_toml(rpm_base.image, f'packages = ["{spec}"]\n'))
    cnbext.write("latest.toml", extend_toml(rpm_base.image, 'packages = ["cnbext-hello"]\n'))
    cnbext("extend", pinned, "-c", "pinned.toml", "--lock", "extend.lock", check=True)
    assert installed(engine, pinned) == ["cnbext-hello", "1.0-1", "noarch"]
    assert [p["version"] for p in added(engine, pinned)] == ["1.0-1"]
    lock = (cnbext.workdir / "extend.lock").read_text()
    assert f'spec = "{rpm_base.pin("1.0-1")}"' in lock

    # The config asks for the latest (1.1-1); the lock says 1.0-1, and that is installed.
    args = ["-c", "latest.toml", "--lock", "extend.lock", "--locked", "--build-id", "2"]
    cnbext("extend", locked, *args, check=True)
    assert installed(engine, locked) == ["cnbext-hello", "1.0-1", "noarch"]
    assert added(engine, locked) == added(engine, pinned)

    (cnbext.workdir / "extend.lock").write_text(
        lock.replace(rpm_base.pin("1.0-1"), rpm_base.pin("0.0-gone"))
    )
    assert_locked_gone(cnbext, engine, gone, args, rpm_base.pin("0.0-gone"))


def test_two_cold_installs_give_the_same_image(
    engine: EngineEnv, cnbext: Cli, rpm_base: RpmBase, leftovers: list[str]
) -> None:
    # What rpm, dnf and zypper leave that differs run to run (sqlite's index salts, zypper's
    # random id, logs, caches) is emptied or removed by the install step.
    cnbext.write("extend.toml", extend_toml(rpm_base.image, 'packages = ["cnbext-hello"]\n'))
    first, second = engine.name("rpm-repro-a"), engine.name("rpm-repro-b")
    leftovers += [first, second]
    epoch = ("--source-date-epoch", EPOCH)
    assert publish_cold(cnbext, first, *epoch) == publish_cold(cnbext, second, *epoch)
    assert installed(engine, second) == ["cnbext-hello", "1.1-1", "noarch"]
