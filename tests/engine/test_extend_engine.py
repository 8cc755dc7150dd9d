"""`cnbext extend` against a real Docker engine, BuildKit and registries."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from python_on_whales import DockerClient, Image

from tests.engine.conftest import Cli, EngineEnv, extend_toml, layers_rebasable

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def extended_run_image(engine: EngineEnv, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example run image with jq and tree, built once for the checks below."""
    workdir = tmp_path_factory.mktemp("extended")
    name = engine.name("run-jq")
    cli = Cli(workdir, {**__import__("os").environ, "CNBEXT_NETWORK": "host"})
    cli.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq", "tree"]\n'))
    cli("extend", name, "--config", "extend.toml", check=True)
    return name


def test_packages_run_as_the_base_images_non_root_user(
    engine: EngineEnv, extended_run_image: str
) -> None:
    output = engine.run(
        extended_run_image, "id -u; id -g; jq --version; tree --version | head -c 4"
    )
    uid, gid, jq, tree = output.splitlines()
    assert (uid, gid) == ("1001", "1000")
    assert jq.startswith("jq-")
    assert tree == "tree"


def test_image_config_and_labels_survive_and_metadata_is_recorded(
    engine: EngineEnv, extended_run_image: str
) -> None:
    base = engine.docker.image.inspect(engine.run_image)
    extended = engine.docker.image.inspect(extended_run_image)
    assert extended.config.user == "1001:1000"
    assert extended.config.env == base.config.env
    assert extended.config.cmd == base.config.cmd
    assert extended.config.entrypoint == base.config.entrypoint
    assert extended.config.working_dir == base.config.working_dir
    labels = extended.config.labels or {}
    for name, value in (base.config.labels or {}).items():
        assert labels[name] == value, name
    assert json.loads(labels["io.buildpacks.extend.metadata"]) == {"packages": ["jq", "tree"]}
    # Not declared rebasable: cnbext's provenance says so; no label for apps to inherit.
    assert layers_rebasable(labels) is False
    assert "io.buildpacks.rebasable" not in labels


def test_no_package_manager_lists_or_caches_are_left(
    engine: EngineEnv, extended_run_image: str
) -> None:
    output = engine.run(
        extended_run_image,
        "ls -A /var/lib/apt/lists | wc -l; ls /var/cache/apt/archives/*.deb 2>/dev/null | wc -l",
    )
    assert output.split() == ["0", "0"]


def test_extending_an_extended_image_merges_the_label(
    engine: EngineEnv, extended_run_image: str, cnbext: Cli
) -> None:
    name = engine.name("run-twice")
    cnbext.write(
        "extend.toml", extend_toml(extended_run_image, 'packages = ["file"]\nowner = "ops"\n')
    )
    cnbext("extend", name, "--config", "extend.toml", check=True)
    metadata = json.loads(engine.labels(name)["io.buildpacks.extend.metadata"])
    assert metadata == {"packages": ["jq", "tree", "file"], "owner": "ops"}
    assert "jq-" in engine.run(name, "jq --version; file --version")


def test_several_names_are_the_same_image_in_the_daemon(engine: EngineEnv, cnbext: Cli) -> None:
    first, second = engine.name("local-a"), engine.name("local-b")
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    result = cnbext("extend", first, second, "--config", "extend.toml", "-o", "json", check=True)
    (image,) = json.loads(result.stdout)["images"]
    assert image["published"] is False
    assert engine.docker.image.inspect(first).id == engine.docker.image.inspect(second).id
    assert image["digest"] == engine.docker.image.inspect(first).id


def test_publish_pushes_the_first_name_and_copies_the_rest_by_digest(
    engine: EngineEnv, cnbext: Cli
) -> None:
    primary = engine.name("pub")
    mirror = engine.name("mirror", registry=engine.registry.replace("localhost", "127.0.0.1"))
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    result = cnbext(
        "extend", primary, mirror, "--config", "extend.toml", "--publish", "-o", "json", check=True
    )
    document = json.loads(result.stdout)
    (image,) = document["images"]
    assert image["published"] is True
    digest = image["digest"]
    assert engine.registry_digest(primary) == digest
    assert engine.registry_digest(mirror) == digest
    assert json.loads(image["labels"]["io.buildpacks.extend.metadata"]) == {"packages": ["jq"]}
    assert image["labels"]["io.buildpacks.stack.id"] == "io.cnbext.examples.bookworm"
    # Progress went to stderr, the result alone to stdout.
    assert "Copying" in result.stderr
    pulled = engine.docker.image.pull(mirror, quiet=True)
    assert isinstance(pulled, Image)
    assert "jq-" in engine.run(pulled.id, "jq --version")


def test_several_platforms_are_built_published_and_copied_as_one_index(
    engine: EngineEnv, cnbext: Cli
) -> None:
    if engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    primary, mirror = engine.name("multi"), engine.name("multi-mirror")
    cnbext.write("extend.toml", extend_toml(engine.multiarch_run_image, 'packages = ["jq"]\n'))
    platforms = ["--platform", "linux/amd64", "--platform", "linux/arm64"]
    result = cnbext(
        "extend", primary, mirror, "-c", "extend.toml", "--publish", *platforms, "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)["images"][0]["digest"]
    assert engine.registry_digest(mirror) == digest
    listing = subprocess.run(
        ["docker", "buildx", "imagetools", "inspect", mirror],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "linux/amd64" in listing
    assert "linux/arm64" in listing
    arm = engine.docker.run(
        mirror,
        ["sh", "-c", "uname -m; id -u; jq --version"],
        platform="linux/arm64",
        pull="always",
        remove=True,
    )
    assert str(arm).split() == ["aarch64", "1001", str(arm).split()[2]]
    assert str(arm).split()[2].startswith("jq-")


def test_a_rerun_with_nothing_changed_hits_the_cache(engine: EngineEnv, cnbext: Cli) -> None:
    name = engine.name("cache")
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    cnbext("extend", name, "--config", "extend.toml", check=True)
    first = engine.docker.image.inspect(name).id
    rerun = cnbext("extend", name, "--config", "extend.toml", "--verbose", check=True)
    assert engine.docker.image.inspect(name).id == first
    assert "CACHED" in rerun.stderr
    busted = cnbext("extend", name, "--config", "extend.toml", "--build-id", "2", "-v", check=True)
    assert engine.docker.image.inspect(name).id != first
    assert "apt-get update" in busted.stderr


def test_publish_to_an_auth_registry_uses_the_docker_login(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    cnbext.env["DOCKER_CONFIG"] = str(docker_config)
    name = engine.name("auth", registry=engine.auth_registry)
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))

    refused = cnbext("extend", name, "--config", "extend.toml", "--publish")
    assert refused.returncode == 6, refused.stderr
    assert "401 Unauthorized" in refused.stderr
    assert "published: nothing" in refused.stderr
    assert f"docker login {engine.auth_registry}" in refused.stderr

    DockerClient(config=str(docker_config)).login(
        engine.auth_registry, engine.auth_user, engine.auth_password
    )
    result = cnbext("extend", name, "--config", "extend.toml", "--publish", "-o", "json", "-v")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["images"][0]["published"] is True
    # Credentials never show up in what cnbext prints.
    assert engine.auth_password not in result.stdout + result.stderr


def test_a_mirror_that_cannot_be_reached_says_what_was_published(
    engine: EngineEnv, cnbext: Cli
) -> None:
    primary = engine.name("half")
    unreachable = "127.0.0.1:5999/cnbext-tests/nowhere:1"
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    result = cnbext("extend", primary, unreachable, "--config", "extend.toml", "--publish")
    assert result.returncode == 6
    assert f"published: {primary}@sha256:" in result.stderr
    assert f"not published: {unreachable}" in result.stderr


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ('packages = ["jq", "rm -rf"]\n', ":5:19: $.extend.metadata.packages[1]:"),
        ('packages = ["jq"]\nrebasable = "no"\n', ":6:13: $.extend.metadata.rebasable:"),
        ('packagez = ["jq"]\n[extend.oops]\n', ":6:1: $.extend.oops: unknown key 'oops'"),
        ('packages = ["jq", "Tree"]\n', ":5:19: $.extend.metadata.packages[1]: 'Tree' is not"),
    ],
)
def test_bad_configs_are_located_and_build_nothing(
    engine: EngineEnv, cnbext: Cli, metadata: str, expected: str
) -> None:
    name = engine.name("never-built")
    cnbext.write("extend.toml", extend_toml(engine.run_image, metadata))
    result = cnbext("extend", name, "--config", "extend.toml", "--publish")
    assert result.returncode == 3, result.stderr
    assert f"extend.toml{expected}" in result.stderr
    assert not engine.docker.image.exists(name)
    assert not engine.in_registry(name)


def test_a_root_base_image_is_refused(engine: EngineEnv, cnbext: Cli) -> None:
    name = engine.name("root")
    cnbext.write("extend.toml", extend_toml(engine.fixture_image, 'packages = ["jq"]\n'))
    result = cnbext("extend", name, "--config", "extend.toml")
    assert result.returncode == 4
    assert "runs as root" in result.stderr
    assert not engine.docker.image.exists(name)


def test_dry_run_prints_the_plan_and_builds_nothing(engine: EngineEnv, cnbext: Cli) -> None:
    name = engine.name("dry")
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    result = cnbext(
        "extend", name, "--config", "extend.toml", "--dry-run", "-o", "json", check=True
    )
    plan = json.loads(result.stdout)["plan"]
    (image,) = plan["images"]
    assert image["packageManager"] == "apt"
    assert image["buildArgs"]["user_id"] == "1001"
    assert "apt-get install" in image["dockerfile"]
    assert not engine.docker.image.exists(name)
    text = cnbext("extend", name, "--config", "extend.toml", "--dry-run", check=True)
    assert "FROM ${base_image}" in text.stdout
    assert "io.buildpacks.extend.metadata" in text.stdout


def test_pull_policy_never_needs_the_image_in_the_daemon(engine: EngineEnv, cnbext: Cli) -> None:
    cnbext.write(
        "extend.toml", extend_toml(f"{engine.registry}/cnbext-tests/absent:1", "packages = []\n")
    )
    result = cnbext("extend", engine.name("x"), "--config", "extend.toml", "--pull-policy", "never")
    assert result.returncode == 4
    assert "not in the daemon and --pull-policy is never" in result.stderr


def test_a_missing_base_image_is_a_clear_error(engine: EngineEnv, cnbext: Cli) -> None:
    cnbext.write(
        "extend.toml", extend_toml(f"{engine.registry}/cnbext-tests/absent:1", "packages = []\n")
    )
    result = cnbext("extend", engine.name("x"), "--config", "extend.toml")
    assert result.returncode == 4
    # Read from the registry, never pulled: the registry's answer is the message.
    assert "cannot read" in result.stderr and "not found" in result.stderr


def test_os_release_is_read_without_running_the_image(engine: EngineEnv, cnbext: Cli) -> None:
    """An image with no shell at all and an unknown distro: it is read, never run."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as archive:
        content = b'ID=plan9\nPRETTY_NAME="Plan 9"\n'
        info = tarfile.TarInfo("etc/os-release")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    image = engine.name("noshell")
    subprocess.run(
        ["docker", "import", "-c", "USER 1000:1000", "-", image],
        input=tar_bytes.getvalue(),
        check=True,
        capture_output=True,
    )
    cnbext.write("extend.toml", extend_toml(image, 'packages = ["jq"]\n'))
    result = cnbext("extend", engine.name("y"), "--config", "extend.toml", "--dry-run")
    assert result.returncode == 4, result.stderr
    assert "ID='plan9'" in result.stderr
    assert "supported distributions: almalinux, alpine, amzn, azurelinux, centos" in result.stderr


EXTENSIONS = Path(__file__).resolve().parents[2] / "builder-examples" / "extensions"


def test_extensions_follow_the_kind_of_the_image(engine: EngineEnv, cnbext: Cli) -> None:
    """A run image takes run.Dockerfiles, a build image (CNB_USER_ID) build.Dockerfiles."""
    run_result = engine.name("ext-run")
    cnbext.write(
        "extend.toml",
        extend_toml(engine.run_image, 'packages = ["jq"]\n')
        + f'\n[[extend.extensions]]\nuri = "{EXTENSIONS / "run-motd"}"\n',
    )
    result = cnbext(
        "extend",
        run_result,
        "-c",
        "extend.toml",
        "--extension",
        str(EXTENSIONS / "curl"),
        "--env",
        "MOTD_GREETING=configured greeting",
    )
    assert result.returncode == 0, result.stderr
    assert "build.Dockerfile of examples/curl is not applied" in result.stderr
    out = engine.run(
        run_result, "id -u; cat /etc/motd; jq --version; command -v curl || echo no-curl"
    )
    assert out.splitlines() == [
        "1001",
        "Welcome to a run image extended ahead of time by examples/run-motd",
        "configured greeting",
        "jq-1.6",
        "no-curl",
    ]
    labels = engine.labels(run_result)
    # jq was installed by cnbext itself without rebasable = true: not rebasable.
    assert layers_rebasable(labels) is False
    assert "io.buildpacks.rebasable" not in labels
    assert json.loads(labels["io.buildpacks.extend.metadata"]) == {
        "packages": ["jq"],
        "extensions": [{"id": "examples/run-motd", "version": "0.0.1"}],
    }

    build_result = engine.name("ext-build")
    cnbext.write("extend.toml", extend_toml(engine.build_image, "packages = []\n"))
    cnbext(
        "extend",
        build_result,
        "-c",
        "extend.toml",
        "--extension",
        str(EXTENSIONS / "curl"),
        "--extension",
        str(EXTENSIONS / "run-motd"),
        check=True,
    )
    assert engine.run(
        build_result, "id -u; curl --version | head -c 4; echo; cat /etc/motd 2>/dev/null | head -1"
    ).split()[:2] == [
        "1000",
        "curl",
    ]
    assert "Welcome" not in engine.run(build_result, "cat /etc/motd 2>/dev/null || true")
