"""The ``cnbext`` command line: a thin layer over the public API (``cnbext.extend`` ...).

One module per command maps its own flags to the API's option models; the flags every command
shares are declared once (:mod:`cnbext.cli.options`) and the output format, verbosity and
reporter travel in one :class:`~cnbext.cli.application.Application`. The API's names are
imported on use, so ``cnbext --help`` never imports python-on-whales or jsonschema. May import
``cnbext.client`` (through the API), ``cnbext.plan.model``, ``cnbext.errors``,
``cnbext.sources.redaction`` (what it prints); nothing imports
``cnbext.cli``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

import typer

from cnbext.version import __version__

app = typer.Typer(
    name="cnbext",
    help=(
        "Extend Cloud Native Buildpacks images ahead of time: add OS packages to base images, "
        "builders and run images, and publish them with their mirrors.\n\n"
        "Global flags, before the command: **--context NAME** (a docker context) and "
        "**--builder NAME** (a buildx builder), the same as each command's own; "
        "**--version** prints the version.\n\n"
        "Docs: docs/ in the source tree. Exit codes: docs/exit-codes.md."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
    # default_map: the group's own --help, when not given, is then False rather than None,
    # which typer passes through instead of building a converter for it (its validation
    # layer costs ~50 ms of imports on every `cnbext CMD ...`).
    context_settings={"help_option_names": ["-h", "--help"], "default_map": {"help": False}},
)


@app.callback()
def _root() -> None:
    # A group callback with no options: typer converts every group option on every run
    # (importing its validation layer, ~50 ms), so --version and the global flags are taken
    # off in main() before typer parses.
    pass


def _register() -> None:
    from cnbext.cli import create_builder, extend, extend_builder, validate

    app.command("extend", help=extend.HELP, epilog=extend.EPILOG, no_args_is_help=True)(
        extend.extend
    )
    app.command(
        "create-builder",
        help=create_builder.HELP,
        epilog=create_builder.EPILOG,
        no_args_is_help=True,
    )(create_builder.create_builder)
    app.command(
        "extend-builder",
        help=extend_builder.HELP,
        epilog=extend_builder.EPILOG,
        no_args_is_help=True,
    )(extend_builder.extend_builder)
    app.command("validate", help=validate.HELP, epilog=validate.EPILOG, no_args_is_help=True)(
        validate.validate
    )
    _register_day2()


def _register_day2() -> None:
    from cnbext.cli import inspect, upgrade

    app.command("inspect", help=inspect.HELP, epilog=inspect.EPILOG, no_args_is_help=True)(
        inspect.inspect
    )
    app.command("upgrade", help=upgrade.HELP, epilog=upgrade.EPILOG, no_args_is_help=True)(
        upgrade.upgrade
    )


_register()


GLOBAL_FLAGS = {"--context": "DOCKER_CONTEXT", "--builder": "BUILDX_BUILDER"}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        print(f"cnbext {__version__}")
        return
    app(args=take_global_flags(args, os.environ))


def take_global_flags(argv: list[str], environ: MutableMapping[str, str]) -> list[str]:
    """``cnbext --context NAME --builder NAME CMD ...`` (docker's global-flag habit): taken
    off before the command and turned into the defaults every command's own --context and
    --builder read ($DOCKER_CONTEXT, $BUILDX_BUILDER). Done before typer parses, because a
    typer group option would be converted on every run, importing its validation layer even
    for `cnbext CMD --help`."""
    rest = list(argv)
    while rest:
        flag, sep, value = rest[0].partition("=")
        if flag not in GLOBAL_FLAGS or (not sep and len(rest) < 2):
            break
        if not sep:
            value = rest[1]
        environ[GLOBAL_FLAGS[flag]] = value
        del rest[: 1 if sep else 2]
    return rest
