"""``cnbext extend``: extend any base image with OS packages and recorded metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import cnbext
from cnbext.cli.application import Application
from cnbext.cli.options import shared_flags
from cnbext.cli.run_flags import RunFlags

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


@shared_flags
def extend(
    app: Application,
    flags: RunFlags,
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
) -> None:
    app.run(
        lambda: cnbext.extend(
            config,
            flags.extend_options(names),  # its refusals are reported by app.run
            dry_run=flags.dry_run,
            reporter=app.reporter,
            settings=flags.engine_settings(),
        )
    )
