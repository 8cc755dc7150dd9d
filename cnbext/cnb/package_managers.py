"""OS package managers: which one an image uses and the RUN line that installs with it.

The choice follows the image's os-release ``ID`` then ``ID_LIKE``. The RPM family ships
different front ends (UBI minimal has only microdnf, old CentOS only yum), so there the choice
also depends on which binary the image actually has. Every install leaves no package lists or
caches behind: they are dead weight in the layer and stale the moment the image is built.
Nor does it leave what differs from one run of the same install to the next (logs, history
databases, backups of the package database, ldconfig's aux cache, which records inode times),
so two builds of the same request can give the same layer (docs/supply-chain.md).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from cnbext.cnb.distro import Distro


@dataclass(frozen=True)
class PackageManager:
    name: str
    binaries: tuple[str, ...]  # where the probe looks for it in the image
    distros: tuple[str, ...]  # os-release IDs it serves
    spec_pattern: re.Pattern[str]  # one package with an optional pin, in this manager's syntax
    spec_example: str
    install_template: str  # shell, {packages} is replaced by the quoted package list
    pin_separator: str = "="  # name{sep}version pins an exact version
    database: str = "rpm"  # the package database it installs into (cnbext.cnb.installed)

    def check_package(self, spec: str) -> str | None:
        """None if ``spec`` is valid for this manager, else why not."""
        if self.spec_pattern.fullmatch(spec):
            return None
        return f"{spec!r} is not a valid {self.name} package (expected e.g. {self.spec_example})"

    def pin(self, name: str, version: str) -> str:
        """``name`` at exactly ``version``, in this manager's syntax: ``jq=1.6-2.1`` (apt,
        apk, zypper), ``jq-1.6-3.fc40`` (the rpm family; an epoch as ``jq-2:1.6-3``)."""
        return f"{name}{self.pin_separator}{version}"

    def install_command(self, packages: Sequence[str]) -> str:
        # Specs were validated to hold no shell characters; quoting keeps that true by design.
        quoted = " ".join(shlex.quote(p) for p in packages)
        return self.install_template.format(packages=quoted)


# Written by ldconfig (run by package scripts) with the times of the libraries it saw.
_LDCONFIG_CACHE = "/var/cache/ldconfig/aux-cache"
# rpm's sqlite database keeps its write-ahead log and shared-memory index beside it
# (/var/lib/rpm, or /usr/lib/sysimage/rpm on Fedora 36+ and openSUSE): a reader that cannot
# write there (rpm -q as the image's non-root user) needs both to exist. The log is empty once
# rpm has closed the database; the index holds random salts of every run, so it is emptied,
# not removed (sqlite reads an empty one as "no log", and rpm re-creates it when it next
# writes). Berkeley DB's environment files (rpm before 4.16) are removed.
_RPMDB_LEFTOVERS = (
    "/var/lib/rpm/__db.* && truncate -c -s 0"
    " /var/lib/rpm/rpmdb.sqlite-shm /usr/lib/sysimage/rpm/rpmdb.sqlite-shm"
)
_RPM_NAME = r"[A-Za-z0-9][A-Za-z0-9._+-]*(?::[A-Za-z0-9._+~-]+)?"

APT = PackageManager(
    name="apt",
    binaries=("/usr/bin/apt-get",),
    distros=("debian", "ubuntu"),
    # name[:arch][=version | /release]
    spec_pattern=re.compile(
        r"[a-z0-9][a-z0-9+.-]*(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+|/[A-Za-z0-9.+~-]+)?"
    ),
    spec_example="jq or jq=1.6-2.1",
    database="dpkg",
    install_template=(
        "export DEBIAN_FRONTEND=noninteractive"
        " && apt-get update"
        " && apt-get install -y --no-install-recommends {packages}"
        " && apt-get clean"
        " && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb"
        " /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log"
        f" /var/lib/dpkg/*-old /var/cache/debconf/*-old {_LDCONFIG_CACHE}"
    ),
)
APK = PackageManager(
    name="apk",
    binaries=("/sbin/apk", "/usr/sbin/apk", "/bin/apk"),
    distros=("alpine",),
    # name[@repository][=version | ~version]
    spec_pattern=re.compile(
        r"[A-Za-z0-9][A-Za-z0-9._+-]*(?:@[A-Za-z0-9._-]+)?(?:[=~][A-Za-z0-9._+-]+)?"
    ),
    spec_example="jq or jq=1.7.1-r0",
    database="apk",
    install_template=(
        f"apk add --no-cache {{packages}} && rm -rf /var/cache/apk/* {_LDCONFIG_CACHE}"
    ),
)
_RPM_DISTROS = ("fedora", "rhel", "centos", "rocky", "almalinux", "ol", "amzn")


def _rpm(
    name: str, install_template: str, distros: tuple[str, ...] = _RPM_DISTROS
) -> PackageManager:
    """A front end of the RPM family: /usr/bin/NAME, RPM package names."""
    return PackageManager(
        name=name,
        binaries=(f"/usr/bin/{name}",),
        distros=distros,
        spec_pattern=re.compile(_RPM_NAME),
        spec_example="jq or jq-1.6",
        install_template=install_template,
        pin_separator="-",
    )


DNF = _rpm(
    "dnf",
    "dnf install -y --setopt=install_weak_deps=False {packages}"
    " && dnf clean all && rm -rf /var/cache/dnf /var/cache/libdnf5 /var/log/dnf*"
    f" /var/log/hawkey.log /var/lib/dnf/history* {_LDCONFIG_CACHE} {_RPMDB_LEFTOVERS}",
)
MICRODNF = _rpm(
    "microdnf",
    "microdnf install -y --setopt=install_weak_deps=0 {packages}"
    " && microdnf clean all && rm -rf /var/cache/yum /var/cache/dnf /var/log/dnf*"
    f" /var/lib/dnf/history* {_LDCONFIG_CACHE} {_RPMDB_LEFTOVERS}",
)
YUM = _rpm(
    "yum",
    "yum install -y {packages} && yum clean all && rm -rf /var/cache/yum /var/log/yum.log"
    f" /var/lib/yum/history {_LDCONFIG_CACHE} {_RPMDB_LEFTOVERS}",
)
TDNF = _rpm(
    "tdnf",
    "tdnf install -y {packages} && tdnf clean all && rm -rf /var/cache/tdnf /var/log/tdnf*"
    f" {_LDCONFIG_CACHE} {_RPMDB_LEFTOVERS}",
    distros=("photon", "mariner", "azurelinux"),
)
ZYPPER = PackageManager(
    name="zypper",
    binaries=("/usr/bin/zypper",),
    distros=("opensuse", "opensuse-leap", "opensuse-tumbleweed", "sles", "suse"),
    spec_pattern=re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*(?:=[A-Za-z0-9._+~:-]+)?"),
    spec_example="jq or jq=1.6",
    install_template=(
        "zypper --non-interactive install --no-recommends {packages}"
        " && zypper clean --all && rm -rf /var/log/zypp* /var/log/zypper.log /var/cache/zypp"
        # A random id libzypp makes on its first run, and its pid file.
        " /var/lib/zypp/AnonymousUniqueId /run/zypp.pid"
        f" {_LDCONFIG_CACHE} {_RPMDB_LEFTOVERS}"
    ),
)

# What each manager says when a pinned version is not in its repositories (the build log).
_GONE = {
    "apt": re.compile(r"Version '([^']+)' for '([^']+)' was not found"),
    "apk": re.compile(r"(\S+) \(no such package\)"),
    "dnf": re.compile(r"No match for argument: (\S+)"),
    "zypper": re.compile(r"No provider of '([^']+)' found"),
}
_GONE |= {name: _GONE["dnf"] for name in ("microdnf", "yum", "tdnf")}


def unavailable_packages(manager: str, log: str) -> list[str]:
    """The pinned packages (``name=version`` or as the manager names them) that ``log``
    says its repositories do not have."""
    pattern = _GONE.get(manager)
    if pattern is None:
        return []
    found = []
    for match in pattern.finditer(log):
        groups = match.groups()
        spec = f"{groups[1]}={groups[0]}" if len(groups) == 2 else groups[0]
        if spec not in found:
            found.append(spec)
    return found


# Preference order inside a family: the first one the image has wins.
ALL_MANAGERS: tuple[PackageManager, ...] = (APT, APK, DNF, MICRODNF, YUM, TDNF, ZYPPER)
PROBE_PATHS: tuple[str, ...] = tuple(path for m in ALL_MANAGERS for path in m.binaries)


def database_of(manager: str | None) -> str | None:
    """The package database the manager named ``manager`` installs into (dpkg, apk or rpm);
    None for no or an unknown manager. An image may hold more than one (Debian with rpm
    installed): only this one says what the manager installed."""
    return next((m.database for m in ALL_MANAGERS if m.name == manager), None)


class UnsupportedDistroError(Exception):
    pass


def supported_distros() -> list[str]:
    return sorted({d for m in ALL_MANAGERS for d in m.distros})


def choose_manager(distro: Distro, present_binaries: frozenset[str]) -> PackageManager:
    """The manager for ``distro``, preferring one whose binary the image has."""
    for candidate in distro.candidates:
        family = [m for m in ALL_MANAGERS if candidate in m.distros]
        if not family:
            continue
        for manager in family:
            if any(path in present_binaries for path in manager.binaries):
                return manager
        if len(family) == 1:
            return family[0]
        names = "/".join(m.name for m in family)
        raise UnsupportedDistroError(
            f"{distro.pretty_name or distro.id} has none of {names} installed"
        )
    described = distro.pretty_name or distro.id
    raise UnsupportedDistroError(
        f"cannot install packages into {described} (os-release ID={distro.id!r}"
        + (f", ID_LIKE={' '.join(distro.id_like)!r}" if distro.id_like else "")
        + f"); supported distributions: {', '.join(supported_distros())}"
    )
