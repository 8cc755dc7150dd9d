"""``cnbext create-builder``: a builder from pack's builder.toml, plus an [extend] section."""

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
from cnbext.cli.create_builder_flags import (
    FlattenOption,
    LabelOption,
    SuffixOption,
    TagOption,
    TargetOption,
    pack_flags,
)
from cnbext.plan.model import PullPolicy

HELP = """Create a builder from a builder.toml written for `pack builder create`.

Everything pack's builder.toml accepts works (buildpacks and extensions from directories,
archives, URLs or `docker://` images, order, build env, run images, lifecycle), plus an
`[extend]` section that adds OS packages ahead of time:

```toml
[extend.metadata]            # both the build image and the run image
packages = ["jq"]
[extend.metadata.build]      # only the builder's build image
packages = ["git"]
[extend.metadata.run]        # only the run image (saved as --run-image)
packages = ["imagemagick"]
```

The build image is extended before the buildpacks are added; the run image is extended at
the same time and saved as `--run-image` and every `--run-image-mirror`, and the builder names
them. With `--publish` the run image and its mirrors are published before the builder.
"""

EPILOG = """**Examples**

```
cnbext create-builder my/builder:1 --config builder.toml
cnbext create-builder reg.example.com/builder:1 -c builder.toml --publish \\
  --run-image reg.example.com/run:1 --run-image-mirror mirror.example.com/run:1
cnbext create-builder my/builder:1 -c builder.toml --dry-run
```

The lifecycle is downloaded (and cached) unless `[lifecycle] uri` names a local copy; set
`CNBEXT_LIFECYCLE_BASE_URL` to download from a mirror. Exit codes: docs/exit-codes.md.
"""


NameArgument = Annotated[
    str, typer.Argument(help="Name of the builder image.", metavar="NAME", show_default=False)
]
ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="pack's builder.toml, optionally with [extend] (see docs)."
    ),
]
ExperimentalOption = Annotated[
    bool,
    typer.Option(
        "--experimental",
        help="Package [[extensions]] even with a lifecycle older than Platform API 0.13, "
        "which runs them only as an experimental feature.",
    ),
]


def create_builder(
    name: NameArgument,
    config: ConfigOption = Path("builder.toml"),
    run_image: RunImageOption = None,
    run_image_mirror: RunImageMirrorOption = None,
    extension: ExtensionOption = None,
    env: EnvOption = None,
    app: AppOption = None,
    experimental: ExperimentalOption = False,
    target: TargetOption = None,
    label: LabelOption = None,
    tag: TagOption = None,
    flatten: FlattenOption = None,
    append_image_name_suffix: SuffixOption = False,
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
        from cnbext.config.builder import load_builder_config

        options = builder_options(
            name=name,
            run_image=run_image,
            run_image_mirror=run_image_mirror,
            publish=publish,
            pull_policy=pull_policy,
            network=network,
            platform=None,
            build_id=build_id,
            extension=extension,
            env=env,
            app=app,
            experimental=experimental,
        )
        options = pack_flags(
            options,
            targets=[*(target or []), *(platform or [])],
            labels=label or [],
            tags=tag or [],
            flatten=flatten or [],
            append_image_name_suffix=append_image_name_suffix,
        )
        loaded = load_builder_config(config, str(config))
        reporter = ConsoleReporter(errors, verbose=verbose, quiet=quiet)
        client = Client(reporter, network=options.network)
        with tempfile.TemporaryDirectory(prefix="cnbext-builder-") as work_dir:
            plan = client.plan_create_builder(loaded, options, Path(work_dir))
            show_or_apply(plan, client, dry_run=dry_run, output=output, quiet=quiet)

    guarded(run, errors, output=output, verbose=verbose)
