"""The flags create-builder shares with ``pack builder create``: --target, --label, --tag,
--flatten, --append-image-name-suffix, each parsed (and refused) as pack parses it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cnbext.plan.builder_options import BuilderOptions

TargetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        "-t",
        help="A platform to build the builder for, in pack's syntax "
        "`[os][/arch][/variant][:distro@version;...]` (repeatable; replaces [[targets]]). "
        "With --publish every target is built and joined into one image index; without it "
        "only the daemon's platform is built. --platform is the same flag.",
        metavar="TARGET",
    ),
]
LabelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--label",
        "-l",
        help="KEY=VALUE: a label for the builder (repeatable).",
        metavar="KEY=VALUE",
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        help="Another name for the builder (repeatable): published by digest-copy and "
        "checked with --publish, tagged in the daemon without.",
        metavar="NAME",
    ),
]
FlattenOption = Annotated[
    list[str] | None,
    typer.Option(
        "--flatten",
        help="`id@version,id@version`: put these modules in one layer (repeatable, one layer "
        "per flag); every module's layerDiffID then names that layer.",
        metavar="ID@VERSION,...",
    ),
]
SuffixOption = Annotated[
    bool,
    typer.Option(
        "--append-image-name-suffix",
        help="With --publish and several targets, also publish each platform's builder as "
        "NAME-os-arch[-variant] (pack's names), for registries that refuse overwriting tags.",
    ),
]

_MODULE = re.compile(r"[^@,\s]+@[^@,\s]+")


def pack_flags(
    options: BuilderOptions,
    *,
    targets: list[str],
    labels: list[str],
    tags: list[str],
    flatten: list[str],
    append_image_name_suffix: bool,
) -> BuilderOptions:
    """The builder options with pack's flags; --platform (in ``options.platforms``) is an
    alias of --target here. The use case normalizes every name (the --tag ones too)."""
    from cnbext.config.targets import parse_target

    return replace(
        options,
        names=(*options.names, *tags),
        platforms=(),
        targets=tuple(parse_target(t) for t in (*targets, *options.platforms)),
        labels=parse_labels(labels),
        flatten=tuple(parse_flatten(f) for f in flatten),
        append_image_name_suffix=append_image_name_suffix,
    )


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """--label KEY=VALUE, split on the first '=' (values may contain '=')."""
    from cnbext.errors import UsageError

    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--label {pair!r}: expected KEY=VALUE")
        labels[key] = value
    return labels


def parse_flatten(text: str) -> tuple[str, ...]:
    """pack's ParseFlattenBuildModules: a comma-separated list of id@version."""
    from cnbext.errors import UsageError

    modules = tuple(m.strip() for m in text.split(","))
    bad = [m for m in modules if not _MODULE.fullmatch(m)]
    if bad:
        raise UsageError(
            f"--flatten {text!r}: {', '.join(map(repr, bad))} is not id@version",
            hint="e.g. --flatten paketo-buildpacks/node-engine@1.2.3,paketo-buildpacks/npm@2.0.0",
        )
    return modules
