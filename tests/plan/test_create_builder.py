"""Planning `cnbext create-builder` with hand-made facts: no engine, no fetching."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from cnbext.config.builder import BuilderConfig, load_builder_config
from cnbext.errors import ConfigError, ImageError, UsageError
from cnbext.plan.builder_options import BuilderInputs, BuilderOptions
from cnbext.plan.create_builder import FetchedModule, check_options, plan_create_builder
from cnbext.plan.facts import BaseImage, ImageFacts, ImageOrigin
from cnbext.plan.model import PullPolicy
from cnbext.sources.lifecycle import ApiSet, Lifecycle
from cnbext.sources.modules import Module, ModuleDescriptor, OrderRef

DEBIAN = "ID=debian\nVERSION_ID=12\n"
BUILD_IMAGE = BaseImage(
    reference="localhost:5000/stack/build:1",
    image_id="sha256:" + "b" * 64,
    user="1000:1000",
    labels={"io.buildpacks.stack.id": "io.example.stack", "io.buildpacks.stack.mixins": "[]"},
    env={"CNB_USER_ID": "1000", "CNB_GROUP_ID": "1000", "PATH": "/usr/bin:/bin"},
    os="linux",
    architecture="amd64",
    os_release=DEBIAN,
    binaries=frozenset({"/usr/bin/apt-get"}),
)
RUN_IMAGE = replace(
    BUILD_IMAGE,
    reference="localhost:5000/stack/run:1",
    user="1001:1000",
    env={"PATH": "/usr/bin:/bin"},
)
LIFECYCLE = Lifecycle(
    version="0.21.0",
    buildpack_apis=ApiSet((), ("0.7", "0.8", "0.9", "0.10", "0.11")),
    platform_apis=ApiSet((), ("0.7", "0.10", "0.12", "0.13")),
    root=Path("/nonexistent/lifecycle"),
)
OPTIONS = BuilderOptions(
    names=("localhost:5000/b/builder:1",),
    run_image=None,
    run_image_mirrors=(),
    publish=False,
    pull_policy=PullPolicy.IF_NOT_PRESENT,
    platforms=(),
    build_id=None,
)
BASE_TOML = """
description = "test builder"
[[buildpacks]]
uri = "bp/a"
[[buildpacks]]
uri = "bp/b"
[[order]]
  [[order.group]]
  id = "ex/a"
  [[order.group]]
  id = "ex/b"
  optional = true
[build]
image = "localhost:5000/stack/build:1"
  [[build.env]]
  name = "GREETING"
  value = "hi"
  suffix = "append"
  delim = ":"
[[run.images]]
image = "localhost:5000/stack/run:1"
mirrors = ["localhost:5001/stack/run:1"]
"""


def descriptor(module_id: str, version: str = "1.0.0", **fields: object) -> ModuleDescriptor:
    values: dict[str, object] = {
        "kind": "buildpack",
        "api": "0.10",
        "id": module_id,
        "version": version,
        "name": None,
        "homepage": None,
        "order": (),
        "stacks": (),
        "targets": ({"os": "linux"},),
        "raw": {},
    }
    values.update(fields)
    return ModuleDescriptor(**values)  # type: ignore[arg-type]


def load(tmp_path: Path, text: str = BASE_TOML) -> BuilderConfig:
    path = tmp_path / "builder.toml"
    path.write_text(text)
    return load_builder_config(path, "builder.toml")


def inputs_for(
    config: BuilderConfig, modules: list[ModuleDescriptor] | None = None, **changes: object
) -> tuple[ImageFacts, BuilderInputs]:
    modules = modules if modules is not None else [descriptor("ex/a"), descriptor("ex/b")]
    fetched = []
    for index, module in enumerate(modules):
        entry = config.buildpacks[min(index, len(config.buildpacks) - 1)]
        fetched.append(
            FetchedModule(entry, Module(module, Path(f"/staged/{index}")), f"buildpacks/{index}")
        )
    images = {"base": changes.pop("build_base", BUILD_IMAGE), "run": changes.pop("run_base", None)}
    values: dict[str, object] = {
        "buildpacks": tuple(fetched),
        "extensions": (),
        "lifecycles": {"amd64": LIFECYCLE},
        "lifecycle_trees": {"lifecycle/amd64": Path("/staged/lifecycle")},
        "module_trees": {f.context_path: Path("/staged") for f in fetched},
        "workdirs_tree": Path("/staged/workdirs"),
        "diff_ids": {f.context_path: f"sha256:{index:064x}" for index, f in enumerate(fetched)},
    }
    values.update(changes)
    return ImageFacts(**images), BuilderInputs(**values)  # type: ignore[arg-type]


def test_builder_plan_has_pack_shaped_files_and_labels(tmp_path: Path) -> None:
    config = load(tmp_path)
    plan = plan_create_builder(config, OPTIONS, *inputs_for(config))
    (builder,) = plan.builds
    assert builder.role == "builder"
    order = tomllib.loads(builder.context_files["files/cnb/order.toml"])
    assert order == {
        "order": [
            {
                "group": [
                    {"id": "ex/a", "version": "1.0.0"},
                    {"id": "ex/b", "version": "1.0.0", "optional": True},
                ]
            }
        ]
    }
    run_toml = tomllib.loads(builder.context_files["files/cnb/run.toml"])
    assert run_toml == {
        "images": [
            {"image": "localhost:5000/stack/run:1", "mirrors": ["localhost:5001/stack/run:1"]}
        ]
    }
    stack = tomllib.loads(builder.context_files["files/cnb/stack.toml"])
    assert stack["run-image"]["image"] == "localhost:5000/stack/run:1"
    assert builder.context_files["files/cnb/build-config/env/GREETING.append"] == "hi"
    assert builder.context_files["files/cnb/build-config/env/GREETING.delim"] == ":"
    metadata = json.loads(builder.labels["io.buildpacks.builder.metadata"])
    assert metadata["stack"]["runImage"]["mirrors"] == ["localhost:5001/stack/run:1"]
    assert metadata["lifecycle"]["api"] == {"buildpack": "0.7", "platform": "0.7"}
    assert metadata["createdBy"]["name"] == "cnbext"
    layers = json.loads(builder.labels["io.buildpacks.buildpack.layers"])
    assert layers["ex/a"]["1.0.0"]["layerDiffID"] == f"sha256:{0:064x}"
    assert builder.expected_diff_ids == (f"sha256:{0:064x}", f"sha256:{1:064x}")
    assert builder.labels["io.buildpacks.stack.id"] == "io.example.stack"
    # Labels of the build image the builder does not write are kept.
    assert builder.result_labels["io.buildpacks.stack.mixins"] == "[]"
    lines = builder.dockerfile.splitlines()
    assert "COPY --link buildpacks/0/ /" in lines
    assert "COPY --link --chown=${user_id}:${group_id} workdirs/ /" in lines
    assert lines[-2:] == ["USER ${user_id}:${group_id}", "WORKDIR /layers"]
    assert "RUN" not in builder.dockerfile  # no [extend]: nothing installed


def test_order_entry_without_version_and_two_versions_on_the_builder(tmp_path: Path) -> None:
    config = load(tmp_path)
    modules = [descriptor("ex/a", "1.0.0"), descriptor("ex/a", "2.0.0"), descriptor("ex/b")]
    with pytest.raises(ConfigError) as caught:
        plan_create_builder(config, OPTIONS, *inputs_for(config, modules))
    (problem,) = caught.value.problems
    assert str(problem) == (
        "builder.toml:8:3: $.order[0].group[0]: "
        "multiple versions of ex/a - must specify an explicit version"
    )


def test_unknown_order_entries_and_versions_are_located(tmp_path: Path) -> None:
    text = BASE_TOML.replace('id = "ex/b"', 'id = "ex/c"').replace(
        'id = "ex/a"', 'id = "ex/a"\n  version = "9.9.9"'
    )
    config = load(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        plan_create_builder(config, OPTIONS, *inputs_for(config))
    assert [str(p) for p in caught.value.problems] == [
        "builder.toml:8:3: $.order[0].group[0]: buildpack ex/a@9.9.9 was not found on the builder",
        "builder.toml:11:3: $.order[0].group[1]: no versions of buildpack ex/c were found on the builder",
    ]


def test_module_id_must_match_the_config_entry(tmp_path: Path) -> None:
    config = load(tmp_path, BASE_TOML.replace('uri = "bp/a"', 'uri = "bp/a"\nid = "ex/other"'))
    with pytest.raises(ConfigError) as caught:
        plan_create_builder(config, OPTIONS, *inputs_for(config))
    assert "has ID 'ex/a' which does not match ID 'ex/other' from builder config" in str(
        caught.value.problems[0]
    )


def test_buildpack_api_must_be_supported_by_the_lifecycle(tmp_path: Path) -> None:
    config = load(tmp_path)
    modules = [descriptor("ex/a", api="0.12"), descriptor("ex/b")]
    with pytest.raises(ConfigError) as caught:
        plan_create_builder(config, OPTIONS, *inputs_for(config, modules))
    (problem,) = caught.value.problems
    assert str(problem).startswith("builder.toml:3:1: $.buildpacks[0]: buildpack ex/a@1.0.0 ")
    assert "(Buildpack API 0.12) is incompatible with lifecycle 0.21.0" in str(problem)


def test_composite_children_must_be_on_the_builder(tmp_path: Path) -> None:
    config = load(tmp_path)
    composite = descriptor("ex/b", order=((OrderRef("ex/missing", None, False),),))
    with pytest.raises(ConfigError) as caught:
        plan_create_builder(config, OPTIONS, *inputs_for(config, [descriptor("ex/a"), composite]))
    assert "no versions of buildpack ex/missing were found on the builder" in str(
        caught.value.problems[0]
    )


@pytest.mark.parametrize(
    ("env", "user", "message"),
    [
        ({"CNB_GROUP_ID": "1000"}, "1000:1000", "must set CNB_USER_ID to an integer (missing)"),
        ({"CNB_USER_ID": "cnb", "CNB_GROUP_ID": "1000"}, "1000", "'cnb', not an integer"),
        ({"CNB_USER_ID": "1000", "CNB_GROUP_ID": "1000"}, "root", "runs as root"),
    ],
)
def test_build_image_requirements(
    tmp_path: Path, env: dict[str, str], user: str, message: str
) -> None:
    config = load(tmp_path)
    base = replace(BUILD_IMAGE, env=env, user=user)
    with pytest.raises(ConfigError) as caught:
        plan_create_builder(config, OPTIONS, *inputs_for(config, build_base=base))
    assert any(message in str(p) for p in caught.value.problems)
    assert str(caught.value.problems[0]).startswith("builder.toml:14:9: $.build.image:")


def test_extend_scopes_go_to_the_builder_and_the_run_image(tmp_path: Path) -> None:
    text = BASE_TOML + (
        '[extend.metadata]\npackages = ["jq"]\n'
        '[extend.metadata.build]\npackages = ["git"]\n'
        '[extend.metadata.run]\npackages = ["curl"]\n'
    )
    config = load(tmp_path, text)
    options = replace(
        OPTIONS,
        run_image="localhost:5000/ext/run:1",
        run_image_mirrors=("localhost:5001/ext/run:1",),
    )
    plan = plan_create_builder(config, options, *inputs_for(config, run_base=RUN_IMAGE))
    run, builder = plan.builds
    assert run.role == "run image"
    assert run.names == ("localhost:5000/ext/run:1", "localhost:5001/ext/run:1")
    assert run.packages == ("jq", "curl")
    assert builder.packages == ("jq", "git")
    # The install comes before the modules are added.
    lines = builder.dockerfile.splitlines()
    run_line = next(i for i, line in enumerate(lines) if line.startswith("RUN "))
    assert run_line < lines.index("COPY --link buildpacks/0/ /")
    assert json.loads(builder.labels["io.buildpacks.extend.metadata"]) == {
        "packages": ["jq", "git"]
    }
    metadata = json.loads(builder.labels["io.buildpacks.builder.metadata"])
    assert metadata["images"][0] == {
        "image": "localhost:5000/ext/run:1",
        "mirrors": ["localhost:5001/ext/run:1"],
    }
    assert tomllib.loads(builder.context_files["files/cnb/run.toml"])["images"][0]["image"] == (
        "localhost:5000/ext/run:1"
    )
    assert plan.steps()[0] == "build the run image and the builder concurrently"


def test_a_bad_run_package_points_at_its_scope(tmp_path: Path) -> None:
    text = BASE_TOML + '[extend.metadata.run]\npackages = ["Curl"]\n'
    config = load(tmp_path, text)
    options = replace(OPTIONS, run_image="localhost:5000/ext/run:1")
    with pytest.raises(ConfigError) as caught:
        plan_create_builder(config, options, *inputs_for(config, run_base=RUN_IMAGE))
    assert str(caught.value.problems[0]).startswith(
        "builder.toml:24:13: $.extend.metadata.run.packages[0]: 'Curl' is not a valid apt package"
    )


@pytest.mark.parametrize(
    ("extend", "changes", "message"),
    [
        ('[extend.metadata.run]\npackages = ["jq"]\n', {}, "give --run-image NAME"),
        ("", {"run_image": "localhost:5000/x/run:1"}, "has no [extend.metadata]"),
        ("", {"run_image_mirrors": ("localhost:5000/x/m:1",)}, "--run-image-mirror needs"),
        ("", {"publish": True, "pull_policy": PullPolicy.NEVER}, "--pull-policy never"),
    ],
)
def test_run_image_flags(
    tmp_path: Path, extend: str, changes: dict[str, object], message: str
) -> None:
    config = load(tmp_path, BASE_TOML + extend)
    with pytest.raises(UsageError, match=re.escape(message)):
        options = replace(OPTIONS, **changes)  # type: ignore[arg-type]
        check_options(options, config)
        plan_create_builder(config, options, *inputs_for(config))


def test_a_module_the_base_already_has_in_the_same_layer_is_not_added_again(
    tmp_path: Path,
) -> None:
    config = load(tmp_path)
    existing = {"ex/a": {"1.0.0": {"api": "0.10", "layerDiffID": f"sha256:{0:064x}"}}}
    base = replace(
        BUILD_IMAGE,
        labels={**BUILD_IMAGE.labels, "io.buildpacks.buildpack.layers": json.dumps(existing)},
    )
    (builder,) = plan_create_builder(config, OPTIONS, *inputs_for(config, build_base=base)).builds
    assert "COPY --link buildpacks/0/ /" not in builder.dockerfile
    assert "COPY --link buildpacks/1/ /" in builder.dockerfile
    assert builder.expected_diff_ids == (f"sha256:{1:064x}",)
    layers = json.loads(builder.labels["io.buildpacks.buildpack.layers"])
    assert set(layers) == {"ex/a", "ex/b"}


def test_extensions_need_platform_api_0_13(tmp_path: Path) -> None:
    text = BASE_TOML + '[[extensions]]\nuri = "ext/x"\n'
    config = load(tmp_path, text)
    old = replace(LIFECYCLE, platform_apis=ApiSet((), ("0.10", "0.12")))
    extension = FetchedModule(
        config.extensions[0],
        Module(descriptor("ex/x", kind="extension"), Path("/staged/x")),
        "extensions/0",
    )
    inputs = inputs_for(config, lifecycles={"amd64": old}, extensions=(extension,))
    with pytest.raises(ConfigError) as caught:
        plan_create_builder(config, OPTIONS, *inputs)
    assert "image extensions need a lifecycle with Platform API 0.13 or newer" in str(
        caught.value.problems[0]
    )


def test_the_run_image_must_have_been_read_to_extend_it(tmp_path: Path) -> None:
    config = load(tmp_path, BASE_TOML + '[extend.metadata]\npackages = ["jq"]\n')
    options = replace(OPTIONS, run_image="localhost:5000/ext/run:1")
    with pytest.raises(ImageError):
        plan_create_builder(config, options, *inputs_for(config, run_base=None))


def _served(image: BaseImage, *platforms: str) -> BaseImage:
    """``image`` with the origin the client gathers: its registry serves ``platforms``."""
    served = {p: f"sha256:{i:064x}" for i, p in enumerate(platforms)}
    return replace(image, origin=ImageOrigin(image.reference, "sha256:" + "e" * 64, served))


@pytest.mark.parametrize(
    ("build_base", "run_base", "refused"),
    [
        (_served(BUILD_IMAGE, "linux/amd64"), _served(RUN_IMAGE, "linux/arm64"), "builder"),
        (_served(BUILD_IMAGE, "linux/arm64"), _served(RUN_IMAGE, "linux/amd64"), "run image"),
    ],
)
def test_each_target_is_refused_where_its_build_or_run_image_lacks_it(
    tmp_path: Path, build_base: BaseImage, run_base: BaseImage, refused: str
) -> None:
    # The client plans each target with that platform's facts (a builder per target).
    config = load(tmp_path, BASE_TOML + '[extend.metadata.run]\npackages = ["curl"]\n')
    options = replace(OPTIONS, publish=True, run_image="localhost:5000/ext/run:1")
    facts, inputs = inputs_for(config, build_base=build_base, run_base=run_base)
    with pytest.raises(ImageError) as raised:
        plan_create_builder(config, replace(options, platforms=("linux/arm64",)), facts, inputs)
    reference = (build_base if refused == "builder" else run_base).reference
    assert raised.value.message.startswith(
        f"the {refused}'s base {reference} has no image for linux/arm64 (it has linux/amd64)"
    )
    both = _served(RUN_IMAGE, "linux/amd64", "linux/arm64")
    served_both = inputs_for(
        config, build_base=replace(build_base, origin=both.origin), run_base=both
    )
    plan = plan_create_builder(config, replace(options, platforms=("linux/arm64",)), *served_both)
    assert [b.platforms for b in plan.builds] == [("linux/arm64",), ("linux/arm64",)]
