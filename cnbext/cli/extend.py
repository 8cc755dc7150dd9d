"""``cnbext extend``: extend any base image with OS packages and recorded metadata."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from cnbext.cli.common import (
    AppOption,
    BuildIdOption,
    DryRunOption,
    EnvOption,
    ExtensionOption,
    NetworkOption,
    OutputFormat,
    OutputOption,
    PlatformOption,
    PublishOption,
    PullPolicyOption,
    QuietOption,
    VerboseOption,
    extension_requests,
    guarded,
    normalize_names,
    parse_env,
    stderr_console,
)
from cnbext.plan.model import PullPolicy

HELP = """Extend an image with OS packages and save it under one or more names.

The base image and what to add come from an extend.toml:

```toml
[extend]
image = "registry.example.com/cnb/run:base"
[extend.metadata]
packages = ["imagemagick", "git"]
```

The packages are installed as root with the image's own package manager (found from its
`/etc/os-release` without running it), then the image's user is restored; an image that would
run as root is refused. The metadata is merged into the label `io.buildpacks.extend.metadata`,
so extending an extended image keeps the earlier packages.
"""

EPILOG = """**Examples**

```
cnbext extend my/run:1 --config extend.toml
cnbext extend reg.example.com/run:1 mirror.example.com/run:1 -c extend.toml --publish
cnbext extend my/run:1 -c extend.toml --dry-run --output json
```

Exit codes: 0 ok, 2 usage, 3 invalid config, 4 unusable base image, 5 build failed,
6 publish failed, 7 no engine (docs/exit-codes.md).
"""


def extend(
    names: Annotated[
        list[str],
        typer.Argument(
            help="Names for the extended image. With --publish the first is pushed and the "
            "others are copied to it by digest.",
            metavar="NAME...",
            show_default=False,
        ),
    ],
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            help="The extend.toml: [extend] image and [extend.metadata] (see docs/extend.md).",
            show_default=False,
        ),
    ] = Path("extend.toml"),
    publish: PublishOption = False,
    pull_policy: PullPolicyOption = PullPolicy.IF_NOT_PRESENT,
    network: NetworkOption = None,
    platform: PlatformOption = None,
    build_id: BuildIdOption = None,
    extension: ExtensionOption = None,
    env: EnvOption = None,
    app: AppOption = None,
    dry_run: DryRunOption = False,
    output: OutputOption = OutputFormat.TEXT,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    errors = stderr_console()

    def run() -> None:
        from cnbext.cli.common import ConsoleReporter, show_or_apply
        from cnbext.client.client import Client
        from cnbext.config.extend import load_extend_config
        from cnbext.plan.extend import ExtendOptions, check_options

        options = ExtendOptions(
            names=normalize_names(names),
            publish=publish,
            pull_policy=pull_policy,
            network=network or None,
            platforms=tuple(platform or ()),
            build_id=build_id,
            extensions=extension_requests(extension),
            platform_env=parse_env(env or []),
            app_dir=app,
        )
        check_options(options)
        loaded = load_extend_config(config, str(config))
        reporter = ConsoleReporter(errors, verbose=verbose, quiet=quiet)
        client = Client(reporter, network=options.network)
        with tempfile.TemporaryDirectory(prefix="cnbext-extend-") as work_dir:
            plan = client.plan_extend(loaded, options, Path(work_dir))
            show_or_apply(plan, client, dry_run=dry_run, output=output, quiet=quiet)

    guarded(run, errors, output=output, verbose=verbose)
