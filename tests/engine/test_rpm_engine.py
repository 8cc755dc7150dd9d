"""dnf and zypper run for real: install, pin, lock and SBOM through cnbext's own install step.

The bases are the fixture Debian with Debian's rpm and dnf or zypper, laid out as an rpm run
image (tests/fixtures/rpm/Dockerfile). Their one repository holds cnbext-hello 1.0-1 and 1.1-1,
built with rpmbuild and indexed with createrepo_c by the fixture's first stage, exported to a
folder here and served over HTTP on 127.0.0.1 by the test for the whole module: dnf and zypper
download its metadata and packages over the network (cnbext's builds run with network=host),
and the server's request counts show they did. The Debian packages stay in dpkg's database
beside rpm's: what cnbext records must come from rpm's alone.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.conftest import Cli, EngineEnv, assert_locked_gone, extend_toml
from tests.engine.test_reproducible_engine import EPOCH, publish_cold
from tests.fixtures.http_server import ServedDirectory, serve_directory

pytestmark = pytest.mark.engine

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rpm"
QUERY = "rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH}\\n' cnbext-hello"


@dataclass(frozen=True)
class RpmBase:
    manager: str
    image: str
    distro: str  # the os-release ID the base claims, the purls' namespace
    separator: str  # how cnbext pins a version with this manager
    repo_file: str  # where the base's repository file, with the served URL, is

    def pin(self, version: str) -> str:
        return f"cnbext-hello{self.separator}{version}"


BASES = {
    "dnf": ("fedora", "-", "/etc/yum.repos.d/cnbext.repo"),
    "zypper": ("opensuse-leap", "=", "/etc/zypp/repos.d/cnbext.repo"),
}


@dataclass(frozen=True)
class RpmRepo:
    """The fixture's repository as the test's HTTP server serves it, under ``prefix``."""

    served: ServedDirectory
    prefix: str  # "/<random>/": no base of an earlier run has this URL, so no install is cached

    @property
    def url(self) -> str:
        return self.served.base_url + self.prefix

    def requests(self) -> Counter[str]:
        """Requests so far per path inside the repository (``repodata/repomd.xml``, ...)."""
        cut = len(self.prefix)
        return Counter({p[cut:]: n for p, n in self.served.hits.items() if p[:cut] == self.prefix})

    @contextmanager
    def fetching(self) -> Iterator[Counter[str]]:
        """The requests made while the block runs, per path, counted when it ends."""
        before = self.requests()
        fetched: Counter[str] = Counter()
        yield fetched
        fetched.update(self.requests() - before)


def rpm_file(version: str) -> str:
    return f"cnbext-hello-{version}.noarch.rpm"


def assert_downloaded(fetched: Counter[str], *versions: str) -> None:
    """The manager read the served metadata and downloaded the packages of ``versions``, no
    other."""
    assert fetched["repodata/repomd.xml"] >= 1, fetched
    assert {path for path in fetched if path.endswith(".rpm")} == set(map(rpm_file, versions))


@pytest.fixture(scope="module")
def rpm_repo(engine: EngineEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpmRepo]:
    root = tmp_path_factory.mktemp("rpm-repo")
    token = uuid.uuid4().hex[:10]
    engine.docker.buildx.build(
        FIXTURE,
        target="repo-out",
        build_args={"base_image": engine.fixture_image},
        network="host",
        output={"type": "local", "dest": str(root / token)},
        provenance=False,
        sbom=False,
    )
    assert (root / token / "repodata" / "repomd.xml").is_file()
    with serve_directory(root) as served:
        yield RpmRepo(served, f"/{token}/")


@pytest.fixture
def cnbext(cnbext: Cli) -> Cli:
    """The repository is on the host's loopback: cnbext's builds must share the host's network
    whatever $CNBEXT_NETWORK says."""
    cnbext.env["CNBEXT_NETWORK"] = "host"
    return cnbext


@pytest.fixture(scope="module", params=sorted(BASES))
def rpm_base(
    request: pytest.FixtureRequest, engine: EngineEnv, rpm_repo: RpmRepo
) -> Iterator[RpmBase]:
    manager: str = request.param
    image = engine.name(f"rpm-base-{manager}")
    engine.docker.buildx.build(
        FIXTURE,
        target=manager,
        build_args={
            "base_image": engine.fixture_image,
            "manager": manager,
            "repo_url": rpm_repo.url,
        },
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
    engine: EngineEnv, cnbext: Cli, rpm_base: RpmBase, rpm_repo: RpmRepo, leftovers: list[str]
) -> None:
    name = engine.name(f"rpm-{rpm_base.manager}")
    leftovers.append(name)
    cnbext.write("extend.toml", extend_toml(rpm_base.image, 'packages = ["cnbext-hello"]\n'))
    planned = cnbext("extend", name, "-c", "extend.toml", "--dry-run", "-o", "json")
    builds = json.loads(planned.stdout)["plan"]["images"]
    assert [b["packageManager"] for b in builds] == [rpm_base.manager]
    with rpm_repo.fetching() as fetched:
        cnbext("extend", name, "-c", "extend.toml", "--lock", "extend.lock", check=True)
    assert_downloaded(fetched, "1.1-1")
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
    # Nothing the install step left names the test's server (repository state, solv files):
    # the URL is in the base's repository file only.
    naming = f"grep -rlF '{rpm_repo.url}' /etc /var /run /root /home /tmp 2>/dev/null; true"
    holding = engine.docker.run(name, ["sh", "-c", naming], user="0", remove=True)
    assert str(holding).split() == [rpm_base.repo_file]


def test_a_pin_then_its_lock_install_exactly_that_version_and_a_gone_one_fails_cleanly(
    engine: EngineEnv, cnbext: Cli, rpm_base: RpmBase, rpm_repo: RpmRepo, leftovers: list[str]
) -> None:
    pinned, locked, gone = (engine.name(f"rpm-{rpm_base.manager}-{k}") for k in "plg")
    leftovers += [pinned, locked]
    spec = rpm_base.pin("1.0")  # cnbext-hello-1.0 (dnf) or cnbext-hello=1.0 (zypper)
    cnbext.write("pinned.toml", extend_toml(rpm_base.image, f'packages = ["{spec}"]\n'))
    cnbext.write("latest.toml", extend_toml(rpm_base.image, 'packages = ["cnbext-hello"]\n'))
    with rpm_repo.fetching() as fetched:
        cnbext("extend", pinned, "-c", "pinned.toml", "--lock", "extend.lock", check=True)
    assert_downloaded(fetched, "1.0-1")
    assert installed(engine, pinned) == ["cnbext-hello", "1.0-1", "noarch"]
    assert [p["version"] for p in added(engine, pinned)] == ["1.0-1"]
    lock = (cnbext.workdir / "extend.lock").read_text()
    assert f'spec = "{rpm_base.pin("1.0-1")}"' in lock

    # The config asks for the latest (1.1-1); the lock says 1.0-1, and that is installed.
    args = ["-c", "latest.toml", "--lock", "extend.lock", "--locked", "--build-id", "2"]
    with rpm_repo.fetching() as fetched:
        cnbext("extend", locked, *args, check=True)
    assert_downloaded(fetched, "1.0-1")
    assert installed(engine, locked) == ["cnbext-hello", "1.0-1", "noarch"]
    assert added(engine, locked) == added(engine, pinned)

    (cnbext.workdir / "extend.lock").write_text(
        lock.replace(rpm_base.pin("1.0-1"), rpm_base.pin("0.0-gone"))
    )
    with rpm_repo.fetching() as fetched:
        assert_locked_gone(cnbext, engine, gone, args, rpm_base.pin("0.0-gone"))
    assert_downloaded(fetched)  # the metadata, which has no such version: no package


def test_two_cold_installs_give_the_same_image(
    engine: EngineEnv, cnbext: Cli, rpm_base: RpmBase, rpm_repo: RpmRepo, leftovers: list[str]
) -> None:
    # What rpm, dnf and zypper leave that differs run to run (sqlite's index salts, zypper's
    # random id, logs, caches) is emptied or removed by the install step.
    cnbext.write("extend.toml", extend_toml(rpm_base.image, 'packages = ["cnbext-hello"]\n'))
    first, second = engine.name("rpm-repro-a"), engine.name("rpm-repro-b")
    leftovers += [first, second]
    epoch = ("--source-date-epoch", EPOCH)
    with rpm_repo.fetching() as fetched:
        assert publish_cold(cnbext, first, *epoch) == publish_cold(cnbext, second, *epoch)
    # Both were cold: neither took the package from a cache, each downloaded it (more than
    # once today: with --no-cache the build that reads the packages runs the install too).
    assert_downloaded(fetched, "1.1-1")
    assert fetched[rpm_file("1.1-1")] >= 2
    assert installed(engine, second) == ["cnbext-hello", "1.1-1", "noarch"]
