"""Tests for cnbext.cnb.distro: os-release parsing with the files real base images ship."""

from __future__ import annotations

from typing import Any

import pytest

from cnbext.cnb.distro import Distro, parse_os_release

DEBIAN_12 = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

UBUNTU_22_04 = """\
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
"""

ALPINE_3_19 = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""

FEDORA_40 = """\
NAME="Fedora Linux"
VERSION="40 (Container Image)"
ID=fedora
VERSION_ID=40
VERSION_CODENAME=""
PLATFORM_ID="platform:f40"
PRETTY_NAME="Fedora Linux 40 (Container Image)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:40"
DEFAULT_HOSTNAME="fedora"
HOME_URL="https://fedoraproject.org/"
DOCUMENTATION_URL="https://docs.fedoraproject.org/en-US/fedora/f40/system-administrators-guide/"
SUPPORT_URL="https://ask.fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=40
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=40
SUPPORT_END=2025-05-13
VARIANT="Container Image"
VARIANT_ID=container
"""

UBI_9 = """\
NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9"
BUG_REPORT_URL="https://issues.redhat.com/"

REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_BUGZILLA_PRODUCT_VERSION=9.4
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
"""

ROCKY_9 = """\
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.3"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
"""

AMAZON_LINUX_2023 = """\
NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.4.20240513"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"
SUPPORT_URL="https://aws.amazon.com/premiumsupport/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
VENDOR_NAME="AWS"
VENDOR_URL="https://aws.amazon.com/"
SUPPORT_END="2028-03-15"
"""

PHOTON_5 = """\
NAME="VMware Photon OS"
VERSION="5.0"
ID=photon
VERSION_ID=5.0
PRETTY_NAME="VMware Photon OS/Linux"
ANSI_COLOR="1;34"
HOME_URL="https://vmware.github.io/photon/"
BUG_REPORT_URL="https://github.com/vmware/photon/issues"
"""

AZURE_LINUX_3 = """\
NAME="Microsoft Azure Linux"
VERSION="3.0.20240727"
ID=azurelinux
VERSION_ID="3.0"
PRETTY_NAME="Microsoft Azure Linux 3.0"
ANSI_COLOR="1;34"
HOME_URL="https://aka.ms/azurelinux"
BUG_REPORT_URL="https://aka.ms/azurelinux"
SUPPORT_URL="https://aka.ms/azurelinux"
"""

OPENSUSE_LEAP_15_5 = """\
NAME="openSUSE Leap"
VERSION="15.5"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.5"
PRETTY_NAME="openSUSE Leap 15.5"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.5"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Leap"
LOGO="distributor-logo-Leap"
"""

SLES_15_SP5 = """\
NAME="SLES"
VERSION="15-SP5"
VERSION_ID="15.5"
PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"
ID="sles"
ID_LIKE="suse"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:suse:sles:15:sp5"
DOCUMENTATION_URL="https://documentation.suse.com/"
"""

LINUX_MINT_21 = """\
NAME="Linux Mint"
VERSION="21.3 (Virginia)"
ID=linuxmint
ID_LIKE="ubuntu debian"
PRETTY_NAME="Linux Mint 21.3"
VERSION_ID="21.3"
HOME_URL="https://www.linuxmint.com/"
SUPPORT_URL="https://forums.linuxmint.com/"
BUG_REPORT_URL="http://linuxmint-troubleshooting-guide.readthedocs.io/en/latest/"
PRIVACY_POLICY_URL="https://www.linuxmint.com/"
VERSION_CODENAME=virginia
UBUNTU_CODENAME=jammy
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            DEBIAN_12, Distro("debian", (), "12", "Debian GNU/Linux 12 (bookworm)"), id="debian-12"
        ),
        pytest.param(
            UBUNTU_22_04, Distro("ubuntu", ("debian",), "22.04", "Ubuntu 22.04.4 LTS"), id="ubuntu"
        ),
        pytest.param(
            ALPINE_3_19, Distro("alpine", (), "3.19.1", "Alpine Linux v3.19"), id="alpine-3.19"
        ),
        pytest.param(
            FEDORA_40,
            Distro("fedora", (), "40", "Fedora Linux 40 (Container Image)"),
            id="fedora-40",
        ),
        pytest.param(
            UBI_9,
            Distro("rhel", ("fedora",), "9.4", "Red Hat Enterprise Linux 9.4 (Plow)"),
            id="ubi-9",
        ),
        pytest.param(
            ROCKY_9,
            Distro("rocky", ("rhel", "centos", "fedora"), "9.3", "Rocky Linux 9.3 (Blue Onyx)"),
            id="rocky-9",
        ),
        pytest.param(
            AMAZON_LINUX_2023,
            Distro("amzn", ("fedora",), "2023", "Amazon Linux 2023.4.20240513"),
            id="amazon-linux-2023",
        ),
        pytest.param(
            PHOTON_5, Distro("photon", (), "5.0", "VMware Photon OS/Linux"), id="photon-5"
        ),
        pytest.param(
            AZURE_LINUX_3,
            Distro("azurelinux", (), "3.0", "Microsoft Azure Linux 3.0"),
            id="azure-linux-3",
        ),
        pytest.param(
            OPENSUSE_LEAP_15_5,
            Distro("opensuse-leap", ("suse", "opensuse"), "15.5", "openSUSE Leap 15.5"),
            id="opensuse-leap",
        ),
        pytest.param(
            SLES_15_SP5,
            Distro("sles", ("suse",), "15.5", "SUSE Linux Enterprise Server 15 SP5"),
            id="sles-15",
        ),
        pytest.param(
            LINUX_MINT_21,
            Distro("linuxmint", ("ubuntu", "debian"), "21.3", "Linux Mint 21.3"),
            id="linux-mint-21",
        ),
    ],
)
def test_real_os_release_files(text: str, expected: Distro) -> None:
    assert parse_os_release(text) == expected


@pytest.mark.parametrize(
    ("text", "candidates"),
    [
        (DEBIAN_12, ("debian",)),
        (UBUNTU_22_04, ("ubuntu", "debian")),
        (ROCKY_9, ("rocky", "rhel", "centos", "fedora")),
        (OPENSUSE_LEAP_15_5, ("opensuse-leap", "suse", "opensuse")),
        (LINUX_MINT_21, ("linuxmint", "ubuntu", "debian")),
    ],
)
def test_candidates_are_id_then_id_like_in_order(text: str, candidates: tuple[str, ...]) -> None:
    assert parse_os_release(text).candidates == candidates


@pytest.mark.parametrize(
    ("line", "pretty_name"),
    [
        pytest.param('PRETTY_NAME="Debian GNU/Linux"', "Debian GNU/Linux", id="double-quotes"),
        pytest.param("PRETTY_NAME='Debian GNU/Linux'", "Debian GNU/Linux", id="single-quotes"),
        pytest.param("PRETTY_NAME=Debian", "Debian", id="unquoted"),
        pytest.param('PRETTY_NAME="say \\"hi\\""', 'say "hi"', id="escaped-double-quote"),
        pytest.param('PRETTY_NAME="back\\\\slash"', "back\\slash", id="escaped-backslash"),
        pytest.param(
            "PRETTY_NAME='no \\\"escapes\\\" here'",
            'no \\"escapes\\" here',
            id="single-quotes-are-literal",
        ),
        pytest.param('PRETTY_NAME="it\'s"', "it's", id="single-quote-inside-double"),
        pytest.param("PRETTY_NAME='say \"hi\"'", 'say "hi"', id="double-quote-inside-single"),
        pytest.param('PRETTY_NAME="a # not a comment"', "a # not a comment", id="hash-in-value"),
        pytest.param('PRETTY_NAME="x=y"', "x=y", id="equals-in-value"),
        pytest.param('PRETTY_NAME=""', "", id="empty-quoted"),
        pytest.param("PRETTY_NAME=", "", id="empty-unquoted"),
        pytest.param('PRETTY_NAME="unbalanced', "unbalanced", id="unbalanced-quote"),
        pytest.param('   PRETTY_NAME="Indented"   ', "Indented", id="surrounding-whitespace"),
    ],
)
def test_value_quoting(line: str, pretty_name: str) -> None:
    assert parse_os_release(f"ID=debian\n{line}\n").pretty_name == pretty_name


@pytest.mark.parametrize(
    ("line", "pretty_name"),
    [
        ('PRETTY_NAME="costs \\$5"', "costs $5"),
        ('PRETTY_NAME="tick \\`x\\`"', "tick `x`"),
    ],
)
def test_dollar_and_backtick_escapes_are_unescaped(line: str, pretty_name: str) -> None:
    assert parse_os_release(f"ID=debian\n{line}\n").pretty_name == pretty_name


def test_comments_and_blank_lines_are_ignored() -> None:
    text = """
# This is a comment
  # indented comment: ID=alpine

ID=debian
#ID=ubuntu

VERSION_ID="12"
"""
    assert parse_os_release(text) == Distro("debian", (), "12", "")


def test_lines_without_equals_are_ignored() -> None:
    assert parse_os_release("garbage line\nID=alpine\nanother one\n").id == "alpine"


def test_missing_id_defaults_to_linux() -> None:
    distro = parse_os_release('NAME="Custom"\nVERSION_ID=1\n')
    assert distro.id == "linux"
    assert distro.candidates == ("linux",)


def test_empty_text_gives_the_defaults() -> None:
    assert parse_os_release("") == Distro("linux", (), "", "")


@pytest.mark.parametrize(
    ("text", "expected_id", "expected_like"),
    [
        ('ID="RHEL"\nID_LIKE="Fedora"', "rhel", ("fedora",)),
        ("ID=Ubuntu\nID_LIKE=DEBIAN", "ubuntu", ("debian",)),
    ],
)
def test_id_and_id_like_are_lowercased(
    text: str, expected_id: str, expected_like: tuple[str, ...]
) -> None:
    distro = parse_os_release(text)
    assert (distro.id, distro.id_like) == (expected_id, expected_like)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"rhel  centos\tfedora"', ("rhel", "centos", "fedora")),
        ('" suse "', ("suse",)),
        ('""', ()),
    ],
)
def test_id_like_is_split_on_any_whitespace(value: str, expected: tuple[Any, ...]) -> None:
    assert parse_os_release(f"ID=x\nID_LIKE={value}\n").id_like == expected


def test_pretty_name_falls_back_to_name() -> None:
    assert parse_os_release('ID=x\nNAME="Some OS"\n').pretty_name == "Some OS"


def test_pretty_name_is_preferred_over_name() -> None:
    assert parse_os_release('ID=x\nNAME="Short"\nPRETTY_NAME="Long Name"\n').pretty_name == (
        "Long Name"
    )


def test_later_assignment_wins() -> None:
    assert parse_os_release("ID=debian\nID=ubuntu\n").id == "ubuntu"


def test_crlf_line_endings() -> None:
    assert parse_os_release('ID="alpine"\r\nVERSION_ID=3.19.1\r\n') == Distro(
        "alpine", (), "3.19.1", ""
    )
