"""``cnbext extend-builder``: add packages to a builder and its run image, publish the run
image and its mirrors, and rewrite the builder so it names them."""

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
    RunImageMirrorOption,
    RunImageOption,
    VerboseOption,
    builder_options,
    guarded,
    stderr_console,
)
from cnbext.plan.model import PullPolicy

HELP = """Extend a builder and its run image together.

The builder to extend and what to add come from an extend-builder.toml:

```toml
[extend]
image = "registry.example.com/builders/jammy:1"   # the builder
[extend.metadata]            # both the builder and the run image
packages = ["imagemagick"]
[extend.metadata.build]      # only the builder
packages = ["git"]
[extend.metadata.run]        # only the run image (needs --run-image)
packages = ["postgresql-client"]
```

With `--run-image`, the run image the builder names is extended too, saved as `--run-image`
and every `--run-image-mirror`, and the new builder names them (its metadata label,
/cnb/run.toml and /cnb/stack.toml). Without it, only the builder is extended and it keeps
naming its run image. With `--publish`, the run image and mirrors are published before the
builder; if anything fails, no builder naming a missing run image is published.
"""

EPILOG = """**Examples**

```
cnbext extend-builder my/builder:jq --extension-config extend-builder.toml
cnbext extend-builder reg.example.com/builder:jq -e extend-builder.toml --publish \\
  --run-image reg.example.com/run:jq --run-image-mirror mirror.example.com/run:jq
cnbext extend-builder my/builder:jq -e extend-builder.toml --run-image my/run:jq --dry-run
```

Exit codes: docs/exit-codes.md.
"""


def extend_builder(
    name: Annotated[
        str,
        typer.Argument(help="Name of the extended builder.", metavar="NAME", show_default=False),
    ],
    extension_config: Annotated[
        Path,
        typer.Option(
            "--extension-config",
            "--config",
            "-e",
            "-c",
            help="The extend-builder.toml: [extend] image and [extend.metadata] (see docs). "
            "--config is the same flag, as the RFC's examples write it.",
        ),
    ] = Path("extend-builder.toml"),
    run_image: RunImageOption = None,
    run_image_mirror: RunImageMirrorOption = None,
    extension: ExtensionOption = None,
    env: EnvOption = None,
    app: AppOption = None,
    publish: PublishOption = False,
    pull_policy: PullPolicyOption = PullPolicy.IF_NOT_PRESENT,
    network: NetworkOption = None,
    platform: PlatformOption = None,
    build_id: BuildIdOption = None,
    dry_run: DryRunOption = False,
    output: OutputOption = OutputFormat.TEXT,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    errors = stderr_console()

    def run() -> None:
        from cnbext.cli.common import ConsoleReporter, show_or_apply
        from cnbext.client.client import Client
        from cnbext.config.extend_builder import load_extend_builder_config

        options = builder_options(
            name=name,
            run_image=run_image,
            run_image_mirror=run_image_mirror,
            publish=publish,
            pull_policy=pull_policy,
            network=network,
            platform=platform,
            build_id=build_id,
            extension=extension,
            env=env,
            app=app,
        )
        loaded = load_extend_builder_config(extension_config, str(extension_config))
        reporter = ConsoleReporter(errors, verbose=verbose, quiet=quiet)
        client = Client(reporter, network=options.network)
        with tempfile.TemporaryDirectory(prefix="cnbext-extend-builder-") as work_dir:
            plan = client.plan_extend_builder(loaded, options, Path(work_dir))
            show_or_apply(plan, client, dry_run=dry_run, output=output, quiet=quiet)

    guarded(run, errors, output=output, verbose=verbose)
