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

import importlib
import os
import sys
from collections.abc import Iterable, MutableMapping

import typer

from cnbext.version import __version__

# Each command's module, imported only when its command is registered: `cnbext upgrade ...`
# imports upgrade's module alone (the builder commands' flags cost ~50 ms to import).
COMMANDS = {
    "extend": "extend",
    "create-builder": "create_builder",
    "extend-builder": "extend_builder",
    "validate": "validate",
    "inspect": "inspect",
    "upgrade": "upgrade",
}


def new_app(commands: Iterable[str] = COMMANDS) -> typer.Typer:
    """The typer application with ``commands`` registered (all of them by default)."""
    application = typer.Typer(
        name="cnbext",
        help=(
            "Extend Cloud Native Buildpacks images ahead of time: add OS packages to base "
            "images, builders and run images, and publish them with their mirrors.\n\n"
            "Global flags, before the command: **--context NAME** (a docker context) and "
            "**--builder NAME** (a buildx builder), the same as each command's own; "
            "**--version** prints the version.\n\n"
            "Docs: docs/ in the source tree. Exit codes: docs/exit-codes.md."
        ),
        no_args_is_help=True,
        rich_markup_mode="markdown",
        pretty_exceptions_enable=False,
        add_completion=False,
        # default_map: the group's own --help, when not given, is then False rather than
        # None, which typer passes through instead of building a converter for it (its
        # validation layer costs ~50 ms of imports on every `cnbext CMD ...`).
        context_settings={"help_option_names": ["-h", "--help"], "default_map": {"help": False}},
    )
    # A group callback with no options: typer converts every group option on every run
    # (importing its validation layer, ~50 ms), so --version and the global flags are taken
    # off in main() before typer parses. It also keeps a one-command app a group.
    application.callback()(_root)
    for name in commands:
        module = importlib.import_module(f"cnbext.cli.{COMMANDS[name]}")
        application.command(name, help=module.HELP, epilog=module.EPILOG, no_args_is_help=True)(
            getattr(module, COMMANDS[name])
        )
    return application


def _root() -> None:
    pass


def __getattr__(name: str) -> typer.Typer:
    # ``from cnbext.cli import app``: every command, built on first use.
    if name == "app":
        application = new_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)


GLOBAL_FLAGS = {"--context": "DOCKER_CONTEXT", "--builder": "BUILDX_BUILDER"}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--version"]:
        print(f"cnbext {__version__}")
        return
    rest = take_global_flags(args, os.environ)
    # Only the command asked for is registered; help and errors of the group see them all.
    commands = rest[:1] if rest[:1] and rest[0] in COMMANDS else COMMANDS
    new_app(commands)(args=rest)


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
