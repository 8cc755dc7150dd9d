"""``cnbext validate``: check configs and module folders offline (no engine, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cnbext.cli.options import OutputOption, VerboseOption
from cnbext.cli.output_format import OutputFormat

HELP = """Check config files and extension or buildpack folders without Docker or a network.

Every problem is printed as `file:line:col: $.path: message`, all of them at once; warnings
follow, marked `warning:`. The exit code is 0 when nothing is wrong (warnings allowed) and 3
when anything is, as the other commands exit on a bad config: made for CI.

The kind of each file comes from its name (a prefix is allowed: `ci-builder.toml`), else
for a .toml from keys only one kind has, else from `--kind`:
builder.toml, extend.toml, extend-builder.toml, extension.toml, buildpack.toml,
extend-config.toml, plan.toml (an extension's detect output), build.Dockerfile and
run.Dockerfile (the image-extension rules). A folder with extension.toml or buildpack.toml at its
root is checked whole: the descriptor, its bin/ executables, and every file above in it.
"""

EPILOG = """**Examples**

```
cnbext validate builder.toml
cnbext validate extensions/*/ builder.toml --output json
cnbext validate my-config.toml --kind builder
```

Exit codes: docs/exit-codes.md.
"""

KindOption = Annotated[
    str | None,
    typer.Option(
        "--kind",
        help="Read every PATH as this kind instead of guessing from its name: builder, extend, "
        "extend-builder, extension, buildpack, extend-config, plan, build.Dockerfile, "
        "run.Dockerfile, lock.",
        show_default=False,
    ),
]


def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files or module folders to check.", metavar="PATH...", show_default=False
        ),
    ],
    kind: KindOption = None,
    output: OutputOption = OutputFormat.TEXT,
    verbose: VerboseOption = False,
) -> None:
    from cnbext.cli.application import fail, stderr_console
    from cnbext.errors import CnbextError

    try:
        code = _validate(paths, kind, output)
    except CnbextError as error:
        fail(error, stderr_console(), output=output)
    # typer.Exit is raised here, outside the try: it is how the exit code gets out.
    if code:
        raise typer.Exit(code)


def _validate(paths: list[Path], kind: str | None, output: OutputFormat) -> int:
    """Check every path and show the result; the exit code (0, or 3 with any problem)."""
    from cnbext.cli.application import print_json
    from cnbext.client.validate import Kind, validate_paths
    from cnbext.errors import ExitCode, UsageError

    chosen = None
    if kind is not None:
        chosen = {k.value.lower().replace(".", "-"): k for k in Kind}.get(
            kind.lower().replace(".", "-")
        )
        if chosen is None:
            raise UsageError(
                f"--kind {kind!r} is not a kind: use one of {', '.join(k.value for k in Kind)}"
            )
    reports = validate_paths(paths, chosen)
    problems = [str(p) for r in reports for p in r.problems]
    warnings = [str(w) for r in reports for w in r.warnings]
    code = ExitCode.CONFIG if problems else ExitCode.OK
    if output is OutputFormat.JSON:
        print_json(
            {
                "command": "validate",
                "files": [r.to_dict() for r in reports],
                "problems": problems,
                "warnings": warnings,
                "exitCode": int(code),
            }
        )
        return int(code)
    for line in problems:
        typer.echo(line)
    for line in warnings:
        typer.echo(f"warning: {line}")
    noun = "file" if len(reports) == 1 else "files"
    typer.echo(
        f"{len(reports)} {noun} checked: {len(problems)} problem(s), {len(warnings)} warning(s)",
        err=True,
    )
    return int(code)
