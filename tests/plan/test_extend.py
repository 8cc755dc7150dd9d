"""Planning `cnbext extend` from config, flags and base-image facts, with no engine."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cnbext.cnb.dockerfile import DockerfileKind, lint
from cnbext.cnb.labels import EXTEND_METADATA, REBASABLE
from cnbext.cnb.provenance import PROVENANCE
from cnbext.config.extend import ExtendConfig, load_extend_config
from cnbext.errors import ConfigError, ImageError, UsageError
from cnbext.plan.extend import ExtendOptions, check_options, plan_extend
from cnbext.plan.facts import BaseImage, ImageFacts
from cnbext.plan.model import PullPolicy

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'

RUN_IMAGE = BaseImage(
    reference="localhost:5000/cnb/run:bookworm",
    image_id="sha256:" + "1" * 64,
    user="1001:1000",
    labels={"io.buildpacks.stack.id": "io.example.stack", "org.example.owner": "ops"},
    env={"PATH": "/usr/bin:/bin"},
    os="linux",
    architecture="amd64",
    os_release=DEBIAN,
    binaries=frozenset({"/usr/bin/apt-get"}),
)

OPTIONS = ExtendOptions(
    names=("localhost:5000/cnb/run:extended",),
    publish=False,
    pull_policy=PullPolicy.IF_NOT_PRESENT,
    platforms=(),
    build_id=None,
)


def config(tmp_path: Path, metadata: str = 'packages = ["jq", "tree"]\n') -> ExtendConfig:
    path = tmp_path / "extend.toml"
    path.write_text(
        f'[extend]\nimage = "localhost:5000/cnb/run:bookworm"\n[extend.metadata]\n{metadata}'
    )
    return load_extend_config(path, "extend.toml")


def test_plan_installs_packages_with_the_distro_manager_and_restores_the_user(
    tmp_path: Path,
) -> None:
    plan = plan_extend(config(tmp_path), OPTIONS, ImageFacts(RUN_IMAGE))
    (build,) = plan.builds
    assert build.package_manager == "apt"
    assert build.packages == ("jq", "tree")
    assert "apt-get install -y --no-install-recommends jq tree" in build.dockerfile
    assert "rm -rf /var/lib/apt/lists/*" in build.dockerfile
    lines = build.dockerfile.splitlines()
    assert lines[1:3] == ["ARG base_image", "FROM ${base_image}"]
    assert lines.index("USER root") < next(i for i, x in enumerate(lines) if x.startswith("RUN"))
    assert lines[-1] == "USER ${user_id}:${group_id}"
    assert lint(build.dockerfile, DockerfileKind.BUILD) == []
    assert build.build_args == {
        "base_image": "localhost:5000/cnb/run:bookworm",
        "user_id": "1001",
        "group_id": "1000",
    }


def test_labels_record_metadata_and_keep_every_base_label(tmp_path: Path) -> None:
    (build,) = plan_extend(config(tmp_path), OPTIONS, ImageFacts(RUN_IMAGE)).builds
    assert json.loads(build.labels[EXTEND_METADATA]) == {"packages": ["jq", "tree"]}
    assert build.result_labels["io.buildpacks.stack.id"] == "io.example.stack"
    assert build.result_labels["org.example.owner"] == "ops"
    changes = {c.name: (c.old, c.new) for c in build.label_changes}
    assert changes[EXTEND_METADATA][0] is None
    # Apps built on the image inherit its labels: cnbext's judgement stays in its provenance.
    assert REBASABLE not in build.labels and REBASABLE not in changes
    assert json.loads(build.labels[PROVENANCE])["rebasable"] is False


def test_extending_an_extended_image_merges_the_metadata(tmp_path: Path) -> None:
    extended = replace(
        RUN_IMAGE,
        labels={
            **RUN_IMAGE.labels,
            EXTEND_METADATA: json.dumps({"packages": ["jq", "curl"], "owner": "a"}),
        },
    )
    cfg = config(tmp_path, 'packages = ["tree", "jq"]\nowner = "b"\n')
    (build,) = plan_extend(cfg, OPTIONS, ImageFacts(extended)).builds
    merged = json.loads(build.labels[EXTEND_METADATA])
    assert merged == {"packages": ["jq", "curl", "tree"], "owner": "b"}
    # Only the new packages need installing; the old ones are in the base already.
    assert build.packages == ("tree", "jq")


def test_rebasable_true_only_when_the_config_says_so(tmp_path: Path) -> None:
    cfg = config(tmp_path, 'packages = ["jq"]\nrebasable = true\n')
    (build,) = plan_extend(cfg, OPTIONS, ImageFacts(RUN_IMAGE)).builds
    assert build.rebasable is True
    assert json.loads(build.labels[PROVENANCE])["rebasable"] is True
    assert REBASABLE not in build.labels


def test_a_base_label_is_inherited_untouched(tmp_path: Path) -> None:
    labelled = replace(RUN_IMAGE, labels={**RUN_IMAGE.labels, REBASABLE: "false"})
    (build,) = plan_extend(config(tmp_path), OPTIONS, ImageFacts(labelled)).builds
    assert REBASABLE not in build.labels
    assert build.result_labels[REBASABLE] == "false"


@pytest.mark.parametrize("user", ["", "0", "root", "0:0", "root:root"])
def test_a_root_base_image_is_refused(tmp_path: Path, user: str) -> None:
    with pytest.raises(ImageError, match="must not run as root"):
        plan_extend(config(tmp_path), OPTIONS, ImageFacts(replace(RUN_IMAGE, user=user)))


def test_a_user_without_group_is_restored_without_group(tmp_path: Path) -> None:
    (build,) = plan_extend(
        config(tmp_path), OPTIONS, ImageFacts(replace(RUN_IMAGE, user="cnb"))
    ).builds
    assert build.build_args["user_id"] == "cnb"
    assert build.dockerfile.splitlines()[-1] == "USER ${user_id}"


def test_a_package_the_manager_rejects_is_a_located_config_error(tmp_path: Path) -> None:
    # Valid for the schema, but apt package names are lowercase.
    with pytest.raises(ConfigError) as caught:
        plan_extend(config(tmp_path, 'packages = ["jq", "Tree"]\n'), OPTIONS, ImageFacts(RUN_IMAGE))
    (problem,) = caught.value.problems
    assert str(problem).startswith("extend.toml:4:19: $.extend.metadata.packages[1]: 'Tree'")
    assert "not a valid apt package" in str(problem)


def test_alpine_uses_apk_without_a_cache(tmp_path: Path) -> None:
    alpine = replace(RUN_IMAGE, os_release=ALPINE, binaries=frozenset({"/sbin/apk"}))
    (build,) = plan_extend(config(tmp_path), OPTIONS, ImageFacts(alpine)).builds
    assert build.package_manager == "apk"
    assert "apk add --no-cache jq tree" in build.dockerfile


def test_unknown_distro_lists_the_supported_ones(tmp_path: Path) -> None:
    unknown = replace(RUN_IMAGE, os_release="ID=plan9\n", binaries=frozenset())
    with pytest.raises(ImageError) as caught:
        plan_extend(config(tmp_path), OPTIONS, ImageFacts(unknown))
    assert "ID='plan9'" in caught.value.message
    for distro in ("alpine", "debian", "fedora", "ubuntu", "opensuse-leap", "photon"):
        assert distro in caught.value.message


def test_an_image_without_os_release_cannot_get_packages(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="os-release"):
        plan_extend(config(tmp_path), OPTIONS, ImageFacts(replace(RUN_IMAGE, os_release=None)))


def test_metadata_only_needs_no_package_manager(tmp_path: Path) -> None:
    bare = replace(RUN_IMAGE, os_release=None)
    (build,) = plan_extend(config(tmp_path, 'owner = "ops"\n'), OPTIONS, ImageFacts(bare)).builds
    assert build.package_manager is None
    assert "RUN" not in build.dockerfile
    assert json.loads(build.labels[EXTEND_METADATA]) == {"owner": "ops"}


def test_build_id_is_passed_only_when_given(tmp_path: Path) -> None:
    options = replace(OPTIONS, build_id="2026-11-21")
    (build,) = plan_extend(config(tmp_path), options, ImageFacts(RUN_IMAGE)).builds
    assert build.build_args["build_id"] == "2026-11-21"
    assert "ARG build_id=0" in build.dockerfile


def test_plan_lists_steps_in_publish_order_and_is_json(tmp_path: Path) -> None:
    options = replace(
        OPTIONS,
        names=("localhost:5000/a/run:1", "localhost:5001/b/run:1"),
        publish=True,
        platforms=("linux/amd64", "linux/arm64"),
    )
    plan = plan_extend(config(tmp_path), options, ImageFacts(RUN_IMAGE))
    assert plan.steps() == [
        "build the image from localhost:5000/cnb/run:bookworm and push localhost:5000/a/run:1",
        "copy localhost:5000/a/run:1 to localhost:5001/b/run:1 by digest and verify it",
    ]
    document = json.loads(json.dumps(plan.to_dict()))
    assert document["images"][0]["platforms"] == ["linux/amd64", "linux/arm64"]
    assert document["images"][0]["dockerfile"].startswith("# Generated by cnbext")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"publish": True, "pull_policy": PullPolicy.NEVER}, "--publish and --pull-policy never"),
        ({"platforms": ("linux/amd64", "linux/arm64")}, "several --platform values need"),
        ({"names": ()}, "at least one NAME"),
        ({"names": ("docker.io/a/b:1", "docker.io/a/b:1")}, "given twice"),
    ],
)
def test_flag_combinations_that_cannot_work(changes: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_options(replace(OPTIONS, **changes))  # type: ignore[arg-type]


def test_the_plan_holds_no_credentials(tmp_path: Path) -> None:
    text = json.dumps(plan_extend(config(tmp_path), OPTIONS, ImageFacts(RUN_IMAGE)).to_dict())
    assert "password" not in text.lower()
    assert "auth" not in text.lower()


def test_a_source_date_epoch_reaches_the_build_args_only_when_given(tmp_path: Path) -> None:
    (plain,) = plan_extend(config(tmp_path), OPTIONS, ImageFacts(RUN_IMAGE)).builds
    assert "SOURCE_DATE_EPOCH" not in plain.build_args
    options = replace(OPTIONS, source_date_epoch=1700000000)
    (build,) = plan_extend(config(tmp_path), options, ImageFacts(RUN_IMAGE)).builds
    assert build.build_args["SOURCE_DATE_EPOCH"] == "1700000000"
    # Declared after FROM so the install's RUN sees it (and clamps the times it wrote).
    lines = build.dockerfile.splitlines()
    assert lines.index("ARG SOURCE_DATE_EPOCH") < next(
        i for i, line in enumerate(lines) if line.startswith("RUN ")
    )
    # The same Dockerfile either way: only the build arg differs.
    assert build.dockerfile == plain.dockerfile
