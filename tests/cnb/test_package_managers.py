"""Tests for cnbext.cnb.package_managers: choosing a manager, package specs, install commands."""

from __future__ import annotations

import re
import shlex

import pytest

from cnbext.cnb.distro import Distro, parse_os_release
from cnbext.cnb.package_managers import (
    ALL_MANAGERS,
    APK,
    APT,
    DNF,
    MICRODNF,
    PROBE_PATHS,
    TDNF,
    YUM,
    ZYPPER,
    PackageManager,
    UnsupportedDistroError,
    choose_manager,
    database_of,
    supported_distros,
)

RPM_FAMILY = (DNF, MICRODNF, YUM)
RPM_SPEC_MANAGERS = (DNF, MICRODNF, YUM, TDNF)

# ID, ID_LIKE and PRETTY_NAME as the real images' os-release files have them.
DEBIAN = Distro("debian", (), "12", "Debian GNU/Linux 12 (bookworm)")
UBUNTU = Distro("ubuntu", ("debian",), "22.04", "Ubuntu 22.04.4 LTS")
ALPINE = Distro("alpine", (), "3.19.1", "Alpine Linux v3.19")
FEDORA = Distro("fedora", (), "40", "Fedora Linux 40 (Container Image)")
UBI = Distro("rhel", ("fedora",), "9.4", "Red Hat Enterprise Linux 9.4 (Plow)")
ROCKY = Distro("rocky", ("rhel", "centos", "fedora"), "9.3", "Rocky Linux 9.3 (Blue Onyx)")
ALMA = Distro("almalinux", ("rhel", "centos", "fedora"), "9.4", "AlmaLinux 9.4")
CENTOS_7 = Distro("centos", ("rhel", "fedora"), "7", "CentOS Linux 7 (Core)")
ORACLE = Distro("ol", ("fedora",), "9.4", "Oracle Linux Server 9.4")
AMAZON_2023 = Distro("amzn", ("fedora",), "2023", "Amazon Linux 2023.4.20240513")
AMAZON_2 = Distro("amzn", ("centos", "rhel", "fedora"), "2", "Amazon Linux 2")
PHOTON = Distro("photon", (), "5.0", "VMware Photon OS/Linux")
AZURE_LINUX = Distro("azurelinux", (), "3.0", "Microsoft Azure Linux 3.0")
MARINER = Distro("mariner", (), "2.0", "CBL-Mariner/Linux")
OPENSUSE_LEAP = Distro("opensuse-leap", ("suse", "opensuse"), "15.5", "openSUSE Leap 15.5")
OPENSUSE_TW = Distro("opensuse-tumbleweed", ("opensuse", "suse"), "", "openSUSE Tumbleweed")
SLES = Distro("sles", ("suse",), "15.5", "SUSE Linux Enterprise Server 15 SP5")
LINUX_MINT = Distro("linuxmint", ("ubuntu", "debian"), "21.3", "Linux Mint 21.3")

APT_GET = "/usr/bin/apt-get"
DNF_BIN = "/usr/bin/dnf"
MICRODNF_BIN = "/usr/bin/microdnf"
YUM_BIN = "/usr/bin/yum"


def present(*paths: str) -> frozenset[str]:
    return frozenset(paths)


# --- choose_manager -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distro", "binaries", "expected"),
    [
        pytest.param(DEBIAN, present(APT_GET), APT, id="debian"),
        pytest.param(UBUNTU, present(APT_GET), APT, id="ubuntu"),
        pytest.param(ALPINE, present("/sbin/apk"), APK, id="alpine-sbin"),
        pytest.param(ALPINE, present("/usr/sbin/apk"), APK, id="alpine-usr-sbin"),
        pytest.param(FEDORA, present(DNF_BIN), DNF, id="fedora"),
        pytest.param(UBI, present(DNF_BIN, YUM_BIN), DNF, id="ubi-standard"),
        pytest.param(UBI, present(MICRODNF_BIN), MICRODNF, id="ubi-minimal"),
        pytest.param(ROCKY, present(DNF_BIN, YUM_BIN), DNF, id="rocky"),
        pytest.param(ALMA, present(DNF_BIN), DNF, id="almalinux"),
        pytest.param(ORACLE, present(MICRODNF_BIN), MICRODNF, id="oracle-slim"),
        pytest.param(CENTOS_7, present(YUM_BIN), YUM, id="centos-7-yum-only"),
        pytest.param(AMAZON_2023, present(DNF_BIN), DNF, id="amazon-linux-2023"),
        pytest.param(AMAZON_2, present(YUM_BIN), YUM, id="amazon-linux-2"),
        pytest.param(PHOTON, present("/usr/bin/tdnf"), TDNF, id="photon"),
        pytest.param(AZURE_LINUX, present("/usr/bin/tdnf"), TDNF, id="azure-linux"),
        pytest.param(MARINER, present("/usr/bin/tdnf"), TDNF, id="cbl-mariner"),
        pytest.param(OPENSUSE_LEAP, present("/usr/bin/zypper"), ZYPPER, id="opensuse-leap"),
        pytest.param(OPENSUSE_TW, present("/usr/bin/zypper"), ZYPPER, id="opensuse-tumbleweed"),
        pytest.param(SLES, present("/usr/bin/zypper"), ZYPPER, id="sles"),
    ],
)
def test_choose_manager_for_real_distros(
    distro: Distro, binaries: frozenset[str], expected: PackageManager
) -> None:
    assert choose_manager(distro, binaries) is expected


@pytest.mark.parametrize(
    "distro", [FEDORA, UBI, ROCKY, ALMA, CENTOS_7, ORACLE, AMAZON_2023], ids=lambda d: d.id
)
@pytest.mark.parametrize(
    ("binaries", "expected"),
    [
        pytest.param(present(DNF_BIN, MICRODNF_BIN, YUM_BIN), DNF, id="all-three"),
        pytest.param(present(DNF_BIN, MICRODNF_BIN), DNF, id="dnf-and-microdnf"),
        pytest.param(present(DNF_BIN, YUM_BIN), DNF, id="dnf-and-yum"),
        pytest.param(present(MICRODNF_BIN, YUM_BIN), MICRODNF, id="microdnf-and-yum"),
        pytest.param(present(MICRODNF_BIN), MICRODNF, id="microdnf-only"),
        pytest.param(present(YUM_BIN), YUM, id="yum-only"),
    ],
)
def test_rpm_family_prefers_dnf_then_microdnf_then_yum(
    distro: Distro, binaries: frozenset[str], expected: PackageManager
) -> None:
    assert choose_manager(distro, binaries) is expected


@pytest.mark.parametrize("distro", [FEDORA, UBI, ROCKY, AMAZON_2023, ORACLE], ids=lambda d: d.id)
@pytest.mark.parametrize(
    "binaries",
    [
        pytest.param(present(), id="nothing"),
        pytest.param(present(APT_GET, "/sbin/apk", "/usr/bin/zypper"), id="other-families"),
        pytest.param(present("/usr/bin/rpm"), id="rpm-alone"),
    ],
)
def test_rpm_family_without_a_front_end_is_unsupported(
    distro: Distro, binaries: frozenset[str]
) -> None:
    with pytest.raises(UnsupportedDistroError) as caught:
        choose_manager(distro, binaries)
    message = str(caught.value)
    assert "dnf/microdnf/yum" in message
    assert distro.pretty_name in message


def test_rpm_error_falls_back_to_id_without_pretty_name() -> None:
    with pytest.raises(UnsupportedDistroError, match=r"^rhel has none of dnf/microdnf/yum"):
        choose_manager(Distro("rhel", (), "9", ""), present())


@pytest.mark.parametrize(
    ("distro", "expected"),
    [
        pytest.param(DEBIAN, APT, id="debian"),
        pytest.param(ALPINE, APK, id="alpine"),
        pytest.param(PHOTON, TDNF, id="photon"),
        pytest.param(SLES, ZYPPER, id="sles"),
    ],
)
def test_single_manager_families_need_no_probe_hit(
    distro: Distro, expected: PackageManager
) -> None:
    assert choose_manager(distro, present()) is expected


@pytest.mark.parametrize(
    ("distro", "binaries", "expected"),
    [
        pytest.param(LINUX_MINT, present(APT_GET), APT, id="linuxmint-like-ubuntu"),
        pytest.param(
            Distro("pop", ("ubuntu", "debian"), "22.04", "Pop!_OS 22.04 LTS"),
            present(APT_GET),
            APT,
            id="pop-os",
        ),
        pytest.param(
            Distro("raspbian", ("debian",), "12", "Raspbian GNU/Linux 12"),
            present(),
            APT,
            id="raspbian-without-probe",
        ),
        pytest.param(
            Distro("navy", ("rhel", "fedora"), "9", "Navy Linux"),
            present(MICRODNF_BIN),
            MICRODNF,
            id="rhel-derivative-minimal",
        ),
        pytest.param(
            Distro("sle-micro", ("suse",), "5.5", "SUSE Linux Enterprise Micro 5.5"),
            present("/usr/bin/zypper"),
            ZYPPER,
            id="sle-micro-like-suse",
        ),
        pytest.param(
            Distro("postmarketos", ("alpine",), "v23.12", "postmarketOS v23.12"),
            present("/sbin/apk"),
            APK,
            id="postmarketos-like-alpine",
        ),
    ],
)
def test_derivatives_are_served_through_id_like(
    distro: Distro, binaries: frozenset[str], expected: PackageManager
) -> None:
    assert choose_manager(distro, binaries) is expected


def test_choose_manager_from_a_parsed_os_release() -> None:
    distro = parse_os_release('ID="rhel"\nID_LIKE="fedora"\nPRETTY_NAME="Red Hat Enterprise"\n')
    assert choose_manager(distro, present(MICRODNF_BIN)) is MICRODNF


@pytest.mark.parametrize(
    "distro",
    [
        pytest.param(Distro("gentoo", (), "2.15", "Gentoo Linux"), id="gentoo"),
        pytest.param(Distro("arch", (), "", "Arch Linux"), id="arch"),
        pytest.param(Distro("linux", (), "", ""), id="no-os-release-id"),
        pytest.param(Distro("wolfi", (), "20230201", "Wolfi"), id="wolfi"),
    ],
)
def test_unknown_distro_error_lists_every_supported_distro_and_the_id(distro: Distro) -> None:
    with pytest.raises(UnsupportedDistroError) as caught:
        choose_manager(distro, frozenset(PROBE_PATHS))
    message = str(caught.value)
    assert f"ID={distro.id!r}" in message
    assert distro.pretty_name in message
    assert "ID_LIKE" not in message
    listed = message.split("supported distributions: ", 1)[1]
    assert listed.split(", ") == supported_distros()


def test_unknown_distro_error_mentions_id_like() -> None:
    distro = Distro("manjaro", ("arch",), "", "Manjaro Linux")
    with pytest.raises(UnsupportedDistroError, match=r"ID='manjaro', ID_LIKE='arch'"):
        choose_manager(distro, present())


def test_unknown_distro_error_falls_back_to_id_without_pretty_name() -> None:
    with pytest.raises(UnsupportedDistroError, match=r"cannot install packages into gentoo "):
        choose_manager(Distro("gentoo", (), "", ""), present())


def test_supported_distros_is_sorted_unique_and_complete() -> None:
    distros = supported_distros()
    assert distros == sorted(set(distros))
    for manager in ALL_MANAGERS:
        assert set(manager.distros) <= set(distros)
    for distro_id in ("debian", "ubuntu", "alpine", "fedora", "rhel", "rocky", "amzn"):
        assert distro_id in distros
    for distro_id in ("photon", "azurelinux", "opensuse-leap", "sles"):
        assert distro_id in distros


# --- check_package ------------------------------------------------------------------------------

VALID_SPECS = [
    *[
        (APT, spec)
        for spec in [
            "jq",
            "jq=1.6-2.1",
            "libc6:amd64",
            "jq/bookworm-backports",
            "git=1:2.39.2-1.1",
            "libstdc++6",
            "g++",
            "python3.11",
            "libc6:i386=2.36-9",
            "ca-certificates",
            "jq=1.6~bpo12+1",
        ]
    ],
    *[
        (APK, spec)
        for spec in [
            "jq",
            "jq=1.7.1-r0",
            "jq~1.7",
            "py3-pip",
            "jq@edge",
            "jq@testing=1.7-r0",
            "ca-certificates",
            "JQ",
        ]
    ],
    *[
        (manager, spec)
        for manager in RPM_SPEC_MANAGERS
        for spec in [
            "jq",
            "jq-1.6",
            "jq-1.6-3.fc40",
            "gcc-c++",
            "python3.11",
            "perl-Git",
            "NetworkManager",
            "jq-1.6-3.el9.x86_64",
        ]
    ],
    *[(ZYPPER, spec) for spec in ["jq", "jq=1.6", "libstdc++6", "git=2.43.0-1.1", "Mesa"]],
]

INVALID_FOR_EVERY_MANAGER = [
    "",
    " ",
    "jq curl",
    "jq;reboot",
    "jq && rm -rf /",
    "$(reboot)",
    "`reboot`",
    "jq|sh",
    "-y",
    "--allow-unauthenticated",
    "../jq",
    "jq\n",
    "'jq'",
    '"jq"',
    "jq>out",
    "*",
]

INVALID_SPECS = [
    *[(manager, spec) for manager in ALL_MANAGERS for spec in INVALID_FOR_EVERY_MANAGER],
    (APT, "JQ"),
    (APT, "Jq"),
    (APT, "jq="),
    (APT, "jq/"),
    (APT, "jq:"),
    (APT, "jq=1.6/bookworm"),
    (APT, "jq~1.6"),
    (APK, "jq="),
    (APK, "jq@"),
    (ZYPPER, "jq="),
]


@pytest.mark.parametrize(
    ("manager", "spec"), VALID_SPECS, ids=[f"{m.name}:{s}" for m, s in VALID_SPECS]
)
def test_valid_package_specs(manager: PackageManager, spec: str) -> None:
    assert manager.check_package(spec) is None


@pytest.mark.parametrize(
    ("manager", "spec"), INVALID_SPECS, ids=[f"{m.name}:{s!r}" for m, s in INVALID_SPECS]
)
def test_invalid_package_specs_explain_themselves(manager: PackageManager, spec: str) -> None:
    problem = manager.check_package(spec)
    assert problem is not None
    assert repr(spec) in problem
    assert f"valid {manager.name} package" in problem
    assert manager.spec_example in problem


@pytest.mark.parametrize("manager", ALL_MANAGERS, ids=lambda m: m.name)
def test_every_managers_spec_examples_are_valid(manager: PackageManager) -> None:
    for example in manager.spec_example.split(" or "):
        assert manager.check_package(example) is None


# --- install_command ----------------------------------------------------------------------------

PACKAGES_PER_MANAGER = {
    "apt": ["jq", "git=1:2.39.2-1.1", "libc6:amd64", "jq/bookworm-backports", "g++"],
    "apk": ["jq", "jq=1.7.1-r0", "py3-pip", "curl@edge"],
    "dnf": ["jq", "jq-1.6-3.fc40", "gcc-c++"],
    "microdnf": ["jq", "jq-1.6", "python3.11"],
    "yum": ["jq", "jq-1.6", "perl-Git"],
    "tdnf": ["jq", "jq-1.6"],
    "zypper": ["jq", "jq=1.6", "libstdc++6"],
}


def packages_for(manager: PackageManager) -> list[str]:
    packages = PACKAGES_PER_MANAGER[manager.name]
    assert all(manager.check_package(p) is None for p in packages)
    return packages


@pytest.mark.parametrize("manager", ALL_MANAGERS, ids=lambda m: m.name)
def test_install_command_contains_every_package_in_order(manager: PackageManager) -> None:
    packages = packages_for(manager)
    command = manager.install_command(packages)
    assert " ".join(packages) in command


@pytest.mark.parametrize("manager", ALL_MANAGERS, ids=lambda m: m.name)
def test_install_command_leaves_valid_specs_unquoted(manager: PackageManager) -> None:
    packages = packages_for(manager)
    command = manager.install_command(packages)
    assert "'" not in command
    assert '"' not in command
    assert "\\" not in command
    words = shlex.split(command)
    for package in packages:
        assert package in words


def test_apk_tilde_pin_survives_shell_word_splitting() -> None:
    # "~" is quoted by shlex, which is harmless: the shell still sees exactly one word.
    command = APK.install_command(["jq~1.7"])
    assert "jq~1.7" in shlex.split(command)


def test_install_command_quotes_anything_unusual() -> None:
    # Specs are validated first, but quoting keeps an unvalidated one a single inert word.
    command = APT.install_command(["jq; reboot"])
    assert "'jq; reboot'" in command
    assert "jq; reboot" in shlex.split(command)


def test_install_command_of_no_packages_keeps_the_template_shape() -> None:
    command = APT.install_command([])
    assert "{packages}" not in command
    assert "apt-get install -y --no-install-recommends" in command


@pytest.mark.parametrize(
    ("manager", "install"),
    [
        (APT, "apt-get install -y --no-install-recommends jq"),
        (APK, "apk add --no-cache jq"),
        (DNF, "dnf install -y --setopt=install_weak_deps=False jq"),
        (MICRODNF, "microdnf install -y --setopt=install_weak_deps=0 jq"),
        (YUM, "yum install -y jq"),
        (TDNF, "tdnf install -y jq"),
        (ZYPPER, "zypper --non-interactive install --no-recommends jq"),
    ],
    ids=lambda value: value.name if isinstance(value, PackageManager) else None,
)
def test_install_command_is_non_interactive_and_skips_recommends(
    manager: PackageManager, install: str
) -> None:
    assert install in manager.install_command(["jq"])


@pytest.mark.parametrize(
    ("manager", "cleanup"),
    [
        (APT, "rm -rf /var/lib/apt/lists/*"),
        (APT, "apt-get clean"),
        (APK, "--no-cache"),
        (DNF, "dnf clean all"),
        (MICRODNF, "microdnf clean all"),
        (YUM, "yum clean all"),
        (TDNF, "tdnf clean all"),
        (ZYPPER, "zypper clean --all"),
    ],
    ids=lambda value: value.name if isinstance(value, PackageManager) else None,
)
def test_install_command_cleans_caches(manager: PackageManager, cleanup: str) -> None:
    assert cleanup in manager.install_command(["jq"])


RPMDB_MANAGERS = [DNF, MICRODNF, YUM, TDNF, ZYPPER]


@pytest.mark.parametrize("manager", RPMDB_MANAGERS, ids=lambda m: m.name)
def test_rpm_installs_empty_sqlites_run_to_run_index_and_keep_its_log(
    manager: PackageManager,
) -> None:
    # Seen with Debian's rpm under dnf and zypper (tests/engine/test_rpm_engine.py): the -shm
    # index holds random salts; removing it (or the -wal) stops rpm -q as a non-root user.
    command = manager.install_command(["jq"])
    removed = command.split(" rm -rf ", 1)[1].split(" && ")[0].split()
    assert "/var/lib/rpm/__db.*" in removed  # Berkeley DB's environment (rpm before 4.16)
    emptied = command.split(" && truncate -c -s 0 ", 1)[1].split(" && ")[0].split()
    assert emptied == ["/var/lib/rpm/rpmdb.sqlite-shm", "/usr/lib/sysimage/rpm/rpmdb.sqlite-shm"]
    assert "sqlite-wal" not in command and ".rpm.lock" not in command
    assert command.index(" install ") < command.index("truncate")


def test_zypper_leaves_no_random_id_pid_or_caches_behind() -> None:
    removed = ZYPPER.install_command(["jq"]).split(" rm -rf ", 1)[1].split()
    for path in ("/var/lib/zypp/AnonymousUniqueId", "/run/zypp.pid", "/var/cache/zypp"):
        assert path in removed
    assert "/var/log/zypp*" in removed


def test_dnf_leaves_no_caches_logs_or_history_behind() -> None:
    removed = DNF.install_command(["jq"]).split(" rm -rf ", 1)[1].split()
    for path in ("/var/cache/dnf", "/var/log/dnf*", "/var/log/hawkey.log", "/var/lib/dnf/history*"):
        assert path in removed


@pytest.mark.parametrize(
    ("manager", "database"),
    [(APT, "dpkg"), (APK, "apk"), *((m, "rpm") for m in RPMDB_MANAGERS)],
    ids=lambda value: value.name if isinstance(value, PackageManager) else None,
)
def test_each_manager_names_the_database_it_installs_into(
    manager: PackageManager, database: str
) -> None:
    assert manager.database == database
    assert database_of(manager.name) == database


def test_no_or_an_unknown_manager_has_no_database() -> None:
    assert database_of(None) is None
    assert database_of("pacman") is None


@pytest.mark.parametrize("manager", [m for m in ALL_MANAGERS if m is not APK], ids=lambda m: m.name)
def test_cleanup_runs_only_after_the_install_succeeds(manager: PackageManager) -> None:
    command = manager.install_command(["jq"])
    install, _, rest = command.partition(" jq")
    assert "clean" not in install
    assert rest.startswith(" && ")
    assert "clean" in rest


def test_apt_updates_lists_before_installing_noninteractively() -> None:
    command = APT.install_command(["jq"])
    assert command.startswith("export DEBIAN_FRONTEND=noninteractive && apt-get update && ")
    assert command.index("apt-get update") < command.index("apt-get install")


@pytest.mark.parametrize("manager", ALL_MANAGERS, ids=lambda m: m.name)
def test_install_command_chains_only_with_and(manager: PackageManager) -> None:
    # The Dockerfile splits the command on " && " for readability; no ";" or "||" may hide a
    # failure.
    command = manager.install_command(["jq"])
    assert ";" not in command
    assert "||" not in command
    assert re.search(r"(?<!&)&(?!&)", command) is None


# --- PROBE_PATHS --------------------------------------------------------------------------------


@pytest.mark.parametrize("manager", ALL_MANAGERS, ids=lambda m: m.name)
def test_probe_paths_cover_every_managers_binaries(manager: PackageManager) -> None:
    assert manager.binaries
    for binary in manager.binaries:
        assert binary in PROBE_PATHS


def test_probe_paths_are_unique_absolute_and_nothing_extra() -> None:
    assert len(PROBE_PATHS) == len(set(PROBE_PATHS))
    assert all(path.startswith("/") for path in PROBE_PATHS)
    assert set(PROBE_PATHS) == {b for m in ALL_MANAGERS for b in m.binaries}


def test_every_probed_binary_selects_its_own_manager_in_the_rpm_family() -> None:
    for manager in RPM_FAMILY:
        for binary in manager.binaries:
            assert choose_manager(UBI, present(binary)) is manager


def test_manager_names_are_unique() -> None:
    names = [m.name for m in ALL_MANAGERS]
    assert len(names) == len(set(names))
    assert set(names) == set(PACKAGES_PER_MANAGER)
