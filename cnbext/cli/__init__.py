"""The ``cnbext`` command line: a thin layer over the public API (``cnbext.extend`` ...).

One module per command maps its own flags to the API's option models; the flags every command
shares are declared once (:mod:`cnbext.cli.options`) and the output format, verbosity and
reporter travel in one :class:`~cnbext.cli.application.Application`. The API's names are
imported on use, so ``cnbext --help`` never imports python-on-whales or jsonschema. May import
``cnbext.client`` (through the API), ``cnbext.plan.model``, ``cnbext.errors``; nothing imports
``cnbext.cli``.
"""

from __future__ import annotations

import typer

from cnbext import __version__

app = typer.Typer(
    name="cnbext",
    help=(
        "Extend Cloud Native Buildpacks images ahead of time: add OS packages to base images, "
        "builders and run images, and publish them with their mirrors.\n\n"
        "Docs: docs/ in the source tree. Exit codes: docs/exit-codes.md."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cnbext {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
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


def main() -> None:
    app()
