"""Hand-made images for the client's unit tests (with the fake engine)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from cnbext.plan.facts import BaseImage

BUILDER_NAME = "localhost:5000/b/builder:1"
RUN_NAME = "localhost:5000/stack/run:1"
OTHER_RUN_NAME = "localhost:5000/stack/other-run:1"

RUN = BaseImage(
    reference=RUN_NAME,
    image_id="sha256:" + "a" * 64,
    user="1001:1000",
    labels={"io.buildpacks.stack.id": "io.example.stack"},
    env={},
    os="linux",
    architecture="amd64",
    os_release="ID=debian\nVERSION_ID=12\n",
    binaries=frozenset({"/usr/bin/apt-get"}),
)
OTHER_RUN = replace(RUN, reference=OTHER_RUN_NAME, image_id="sha256:" + "b" * 64)
BUILDER = replace(
    RUN,
    reference=BUILDER_NAME,
    image_id="sha256:" + "c" * 64,
    user="1000:1000",
    env={"CNB_USER_ID": "1000", "CNB_GROUP_ID": "1000"},
    labels={
        "io.buildpacks.builder.metadata": json.dumps(
            {"images": [{"image": RUN_NAME, "mirrors": None}]}
        ),
    },
)
IMAGES = {image.reference: image for image in (RUN, OTHER_RUN, BUILDER)}


def extend_builder_toml(tmp_path: Path, metadata: str = 'packages = ["jq"]\n') -> Path:
    path = tmp_path / "extend-builder.toml"
    path.write_text(f'[extend]\nimage = "{BUILDER_NAME}"\n[extend.metadata]\n{metadata}')
    return path


BUILD_NAME = "localhost:5000/stack/build:1"
BUILD = replace(BUILDER, reference=BUILD_NAME, labels={})  # a build image: no builder labels


def builder_toml(tmp_path: Path, extend: str = "") -> Path:
    """A builder.toml of one buildpack and a local lifecycle (both written), building on
    BUILD_NAME with RUN_NAME, plus ``extend`` (its [extend] tables)."""
    from tests.fixtures.buildpacks import write_buildpack
    from tests.fixtures.lifecycle_fixture import write_lifecycle_tree

    write_buildpack(tmp_path / "bp", "ex/bp", "1.0.0")
    write_lifecycle_tree(tmp_path / "lifecycle")
    path = tmp_path / "builder.toml"
    path.write_text(
        f'[build]\nimage = "{BUILD_NAME}"\n[[run.images]]\nimage = "{RUN_NAME}"\n'
        '[[buildpacks]]\nuri = "bp"\n[[order]]\n[[order.group]]\nid = "ex/bp"\n'
        f'[lifecycle]\nuri = "lifecycle"\n{extend}'
    )
    return path


def extend_toml(tmp_path: Path, image: str = RUN_NAME, extra: str = "") -> Path:
    path = tmp_path / "extend.toml"
    path.write_text(f'[extend]\nimage = "{image}"\n[extend.metadata]\npackages = ["jq"]\n{extra}')
    return path
