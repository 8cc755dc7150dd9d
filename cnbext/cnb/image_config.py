"""What an image's config says is a stranger's text: checked before it is used.

An image's ``os``, ``architecture``, ``variant``, ``User``, ``Env`` and ``Labels`` end up in
paths (``lifecycle/<arch>/``), Dockerfiles, container flags (``--user``, ``-e``), build args
and labels. Each is checked here against what a real image can hold (the values Go's
``GOOS``/``GOARCH`` and the OCI image spec allow, ``user[:group]``, env and label names
without ``=`` or control characters), so a config saying ``amd64/\\nRUN curl …`` or
``../../x`` is refused, naming the image and the field, before anything reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from cnbext.errors import ImageError

# Go's GOOS and GOARCH values (what image configs and OCI platforms use), and the spellings
# `uname -m` gives that cnbext normalizes (sources/lifecycle.py's aliases).
OPERATING_SYSTEMS = frozenset(
    [
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "illumos",
        "ios",
        "js",
        "linux",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "wasip1",
        "windows",
    ]
)
ARCHITECTURES = frozenset(
    [
        "386",
        "amd64",
        "amd64p32",
        "arm",
        "arm64",
        "arm64be",
        "armbe",
        "loong64",
        "mips",
        "mips64",
        "mips64le",
        "mips64p32",
        "mips64p32le",
        "mipsle",
        "ppc",
        "ppc64",
        "ppc64le",
        "riscv",
        "riscv64",
        "s390",
        "s390x",
        "sparc",
        "sparc64",
        "wasm",
        "x86_64",
        "aarch64",
    ]
)
# OCI: arm v5-v8, amd64 v1-v4, and the like.
_VARIANT = re.compile(r"v[1-9][0-9]?")
# A user or group: a name or a number (Docker's `user[:group]`); no spaces, quotes, `$`
# or newlines, so it is inert on a command line and in a Dockerfile USER line.
_USER_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,255}"
_USER = re.compile(f"{_USER_PART}(?::{_USER_PART})?")
# Env and label names: printable, no space and no `=` (`NAME=VALUE` and `--label k=v`
# would split a name holding one into another name and value).
_NAME = re.compile(r"[\x21-\x3c\x3e-\x7e]{1,1024}")
_IDS = ("CNB_USER_ID", "CNB_GROUP_ID")
_MAX_VALUE = 1024 * 1024  # a value over 1 MiB is no real label or env value


def check_image_config(
    reference: str,
    *,
    os: str,
    architecture: str,
    variant: str = "",
    user: str,
    env: Mapping[str, str],
    labels: Mapping[str, str],
) -> None:
    """Refuse an image whose config holds a value no real image has; every problem at once.

    Empty ``os``, ``architecture``, ``variant`` and ``user`` are allowed (they mean the
    defaults; an empty user is root, which the planners refuse with their own message)."""
    problems = [
        *_platform_problems(os, architecture, variant),
        *_user_problems(user),
        *_mapping_problems("Env", env),
        *_mapping_problems("Labels", labels),
    ]
    for name in _IDS:
        value = env.get(name)
        if value is not None and not value.strip().isdigit():
            problems.append(f"Env {name} is {_shown(value)}, not an integer")
    if problems:
        raise ImageError(
            f"{reference}: refusing the image's config: " + "; ".join(problems),
            hint="the image's config holds values no real image has; check where it came from",
        )


def check_platform_string(reference: str, platform: str) -> None:
    """``os/arch[/variant]`` as read from an image's config or its registry's index."""
    os, _, rest = platform.partition("/")
    architecture, _, variant = rest.partition("/")
    problems = list(_platform_problems(os, architecture, variant))
    if problems:
        raise ImageError(f"{reference}: refusing the image's platform: " + "; ".join(problems))


def _platform_problems(os: str, architecture: str, variant: str) -> Iterable[str]:
    if os and os not in OPERATING_SYSTEMS:
        yield f"os {_shown(os)} is not an operating system"
    if architecture and architecture not in ARCHITECTURES:
        yield f"architecture {_shown(architecture)} is not an architecture"
    if variant and not _VARIANT.fullmatch(variant):
        yield f"variant {_shown(variant)} is not a variant (v5, v7, v8, ...)"


def _user_problems(user: str) -> Iterable[str]:
    if user and not _USER.fullmatch(user):
        yield f"User {_shown(user)} is not user[:group] (names or numbers)"


def _mapping_problems(field: str, values: Mapping[str, str]) -> Iterable[str]:
    for name, value in values.items():
        if not _NAME.fullmatch(name):
            yield f"{field} name {_shown(name)} has a space, '=' or a control character"
        elif "\x00" in value or len(value) > _MAX_VALUE:
            yield f"{field} {name} holds a NUL byte or is over 1 MiB"


def _shown(value: str) -> str:
    """Short and inert: the problem is printed, and the value is the attacker's."""
    return ascii(value[:80] + ("…" if len(value) > 80 else ""))
