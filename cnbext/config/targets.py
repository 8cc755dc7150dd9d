"""Builder targets: ``[[targets]]`` and pack's ``--target`` flag syntax, as platforms to build.

pack's syntax (internal/target/parse.go): ``[os][/arch][/variant][:distro@version;distro@version]``.
A target names one platform of the builder; its distros only describe it. pack checks os, arch
and variant against Go's list of platforms (an unknown one is refused) and refuses a distro
version without a name; cnbext does the same, with pack's words.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnbext.config.builder import TargetEntry
from cnbext.errors import UsageError

__all__ = ["parse_target", "target_platform", "target_platforms"]

# Go's os/arch pairs and arch variants, as pack's internal/target/platform.go lists them.
_OS_ARCHS = {
    "aix": ("ppc64",),
    "android": ("386", "amd64", "arm", "arm64"),
    "darwin": ("amd64", "arm64"),
    "dragonfly": ("amd64",),
    "freebsd": ("386", "amd64", "arm"),
    "illumos": ("amd64",),
    "ios": ("arm64",),
    "js": ("wasm",),
    "linux": (
        "386",
        "amd64",
        "arm",
        "arm64",
        "loong64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "ppc64",
        "ppc64le",
        "riscv64",
        "s390x",
    ),
    "netbsd": ("386", "amd64", "arm"),
    "openbsd": ("386", "amd64", "arm", "arm64"),
    "plan9": ("386", "amd64", "arm"),
    "solaris": ("amd64",),
    "wasip1": ("wasm",),
    "windows": ("386", "amd64", "arm", "arm64"),
}
_ARCH_VARIANTS = {
    "386": ("softfloat", "sse2"),
    "arm": ("v5", "v6", "v7"),
    "amd64": ("v1", "v2", "v3", "v4"),
    "arm64": ("v8",),  # pack's list lacks it, but OCI platforms (and [[targets]]) use it
    "mips": ("hardfloat", "softfloat"),
    "mipsle": ("hardfloat", "softfloat"),
    "mips64": ("hardfloat", "softfloat"),
    "mips64le": ("hardfloat", "softfloat"),
    "ppc64": ("power8", "power9"),
    "ppc64le": ("power8", "power9"),
    "wasm": ("satconv", "signext"),
}


def parse_target(text: str) -> TargetEntry:
    """``linux/arm64/v8:ubuntu@22.04;debian@12`` -> a target; a UsageError says what is wrong."""
    platform, _, distros_text = text.partition(":")
    if not platform:
        raise UsageError(
            f"invalid target {text!r}, at least one of [os][/arch][/variant] must be specified"
        )
    parts = platform.split("/")
    if len(parts) > 3:
        raise UsageError(f"unknown target: {platform!r} (write os/arch/variant)")
    os, arch, variant = (*parts, None, None)[:3]
    if os not in _OS_ARCHS or arch not in _OS_ARCHS[os]:
        raise UsageError(f"unknown target: {platform!r} (write os/arch, e.g. linux/arm64)")
    if variant is not None and variant not in _ARCH_VARIANTS.get(arch or "", ()):
        raise UsageError(f"unknown target: {platform!r} (unknown variant {variant!r})")
    distros: list[tuple[str | None, str | None]] = []
    for distro in filter(None, distros_text.split(";")):
        name, *versions = distro.split("@")
        if not name:
            raise UsageError(
                f"distro's versions {'@' + '@'.join(versions)!r} cannot be specified without "
                "distro's name"
            )
        if len(versions) > 1:
            raise UsageError(f"invalid distro: {distro!r}")
        distros.append((name, versions[0] if versions else None))
    return TargetEntry(os=os, arch=arch, variant=variant, distros=tuple(distros))


def target_platform(target: TargetEntry) -> str:
    """The OCI platform a target names: ``os/arch[/variant]`` (pack: linux/amd64 by default)."""
    parts = [target.os or "linux", target.arch or "amd64"]
    if target.variant:
        parts.append(target.variant)
    return "/".join(parts)


def target_platforms(targets: Sequence[TargetEntry]) -> tuple[str, ...]:
    """Each platform once, in the order first named (targets that differ only in distros name
    the same builder image)."""
    return tuple(dict.fromkeys(target_platform(t) for t in targets))
