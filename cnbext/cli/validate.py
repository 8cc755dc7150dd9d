"""``cnbext validate``: check configs and module folders offline (no engine, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cnbext.cli.options import OutputOption, VerboseOption
from cnbext.cli.output_format import OutputFormat

HELP = """Check config files and extension or buildpack folders without Docker or a network.

Every problem is printed as `file:line:col: $.path: message`, all of them at once; warnings
follow, marked `warning:`. The exit code is 0 when nothing is wrong (warnings allowed; with
`--strict` they fail too), 3 when anything is, as the other commands exit on a bad config, and
2 when a path's kind cannot be told (every other path is still checked): made for CI.

The kind of each file comes from its name, else for a .toml from keys only one kind has, else
from `--kind`: extension.toml, buildpack.toml, extend-config.toml, plan.toml (an extension's
detect output), build.Dockerfile and run.Dockerfile (the image-extension rules) by their exact
names, as pack and the lifecycle read them; builder.toml, extend.toml and extend-builder.toml
also with a prefix (`ci-builder.toml`). A folder with extension.toml or buildpack.toml at its
root is checked whole: the descriptor, its bin/ executables, and every file above in it; any
other folder is walked to every module and config file in it.
"""

EPILOG = """**Examples**

```
cnbext validate builder.toml
cnbext validate extensions/*/ builder.toml --output json
cnbext validate my-config.toml --kind builder
cnbext validate . --strict
```

Exit codes: docs/exit-codes.md.
"""

KindOption = Annotated[
    str | None,
    typer.Option(
        "--kind",
        help="Read each PATH whose kind its name and keys do not tell as this kind: builder, "
        "extend, extend-builder, extension, buildpack, extend-config, plan, build.Dockerfile, "
        "run.Dockerfile, lock.",
        show_default=False,
    ),
]


StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail (exit 3) on warnings too: every warning becomes a problem. For CI.",
    ),
]


def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files or folders to check.", metavar="PATH...", show_default=False),
    ],
    kind: KindOption = None,
    strict: StrictOption = False,
    output: OutputOption = OutputFormat.TEXT,
    verbose: VerboseOption = False,
) -> None:
    from cnbext.cli.application import fail, print_json, stderr_console
    from cnbext.errors import UsageError

    try:
        code = _validate(paths, kind, strict, output)
    except UsageError as error:
        if output is OutputFormat.JSON:
            # The one shape validate prints, whatever the outcome.
            document = {"command": "validate", "strict": strict, "files": [], "problems": []}
            print_json({**document, "warnings": [], "error": error.message, "exitCode": 2})
            raise typer.Exit(2) from None
        fail(error, stderr_console(), output=output)
    # typer.Exit is raised here, outside the try: it is how the exit code gets out.
    if code:
        raise typer.Exit(code)


def _validate(paths: list[Path], kind: str | None, strict: bool, output: OutputFormat) -> int:
    """Check every path and show the result; the exit code (docs/exit-codes.md)."""
    from cnbext.cli.application import print_json
    from cnbext.cli.text import printable
    from cnbext.client.validate import validate

    result = validate(paths, kind=kind, strict=strict)
    if output is OutputFormat.JSON:
        print_json(result.to_dict())
        return int(result.exit_code)
    # Problems quote the files' own text (a module folder is a stranger's): inert on a terminal.
    for line in result.problems:
        typer.echo(printable(line))
    for line in result.warnings:
        typer.echo(f"warning: {printable(line)}")
    reports = result.files
    noun = "file" if len(reports) == 1 else "files"
    summary = (
        f"{len(reports)} {noun} checked: {len(result.problems)} problem(s), "
        f"{len(result.warnings)} warning(s)"
    )
    if result.unknown:
        summary += f"; {len(result.unknown)} of unknown kind (name them, or give --kind)"
    typer.echo(summary + (" (--strict: warnings are problems)" if strict else ""), err=True)
    return int(result.exit_code)
