"""Day 2 against a real engine and registry: provenance, inspect, upgrade --check, upgrade."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Cli, EngineEnv

pytestmark = pytest.mark.engine

ACCEPT = (
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json"
)


def push_base(
    engine: EngineEnv,
    name: str,
    tmp: Path,
    version: str,
    *,
    base: str | None = None,
    platforms: str | None = None,
    user: str = "1000:1000",
) -> None:
    """A small non-root base: the fixture image plus one file naming its version."""
    context = tmp / f"base-{version}"
    context.mkdir(parents=True, exist_ok=True)
    (context / "version").write_text(version + "\n")
    (context / "Dockerfile").write_text(
        f"FROM {base or engine.fixture_image}\nCOPY version /base-version\nUSER {user}\n"
    )
    args = ["docker", "buildx", "build", "-q", "--network", "host", "--provenance=false"]
    if platforms:
        args += ["--platform", platforms]
    subprocess.run([*args, "-t", name, "--push", str(context)], check=True, capture_output=True)


def manifest(reference: str) -> tuple[str, dict[str, Any]]:
    """(digest, document) the registry serves for ``reference``."""
    repository, _, tag = reference.rpartition(":")
    host, _, path = repository.partition("/")
    if "@" in reference:
        repository, _, tag = reference.partition("@")
        host, _, path = repository.partition("/")
    request = urllib.request.Request(
        f"http://{host}/v2/{path}/manifests/{tag}", headers={"Accept": ACCEPT}
    )
    with urllib.request.urlopen(request) as response:
        return response.headers["Docker-Content-Digest"], json.loads(response.read())


def layers(reference: str, platform: str = "linux/amd64") -> list[str]:
    """Layer digests of ``reference``'s image for ``platform``."""
    _, document = manifest(reference)
    if "manifests" in document:
        repository = reference.rsplit(":", 1)[0].split("@")[0]
        os_, arch = platform.split("/")
        entry = next(
            m
            for m in document["manifests"]
            if m.get("platform", {}).get("os") == os_
            and m.get("platform", {}).get("architecture") == arch
        )
        _, document = manifest(f"{repository}@{entry['digest']}")
    return [layer["digest"] for layer in document["layers"]]


def platforms_of(reference: str) -> set[str]:
    _, document = manifest(reference)
    return {
        f"{m['platform']['os']}/{m['platform']['architecture']}"
        for m in document.get("manifests", [])
        if m.get("platform", {}).get("os") not in (None, "unknown")
    }


def run_fresh(reference: str, command: str) -> str:
    """Run the registry's current image (the daemon's copy may be the old one)."""
    result = subprocess.run(
        ["docker", "run", "--rm", "--pull", "always", reference, "sh", "-c", command],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def inspect(cnbext: Cli, reference: str) -> dict[str, Any]:
    result = cnbext("inspect", reference, "-o", "json", check=True)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def upgrade(cnbext: Cli, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = cnbext("upgrade", *args, "-o", "json")
    try:
        images = json.loads(result.stdout)["images"]
    except (ValueError, KeyError):
        pytest.fail(f"upgrade {args} gave no JSON ({result.returncode}):\n{result.stderr}")
    return result.returncode, images


def extend_toml(image: str, metadata: str) -> str:
    return f'[extend]\nimage = "{image}"\n\n[extend.metadata]\n{metadata}'


def test_rebuild_path_image_follows_its_moved_base(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    base, name = engine.name("d2-base"), engine.name("d2-image")
    push_base(engine, base, tmp_path, "v1")
    v1_digest, _ = manifest(base)
    cnbext.write("extend.toml", extend_toml(base, 'packages = ["jq"]\n'))
    cnbext("extend", name, "-c", "extend.toml", "--publish", check=True)
    document = inspect(cnbext, name)
    assert document["kind"] == "extended image"
    assert document["provenance"]["base"] == {
        "reference": base,
        "digest": v1_digest,
        "platforms": {"linux/amd64": v1_digest},
    }
    assert document["status"]["state"] == "up to date"

    push_base(engine, base, tmp_path, "v2")
    v2_digest, _ = manifest(base)
    code, images = upgrade(cnbext, "--check", "--publish", name)
    assert code == 100
    assert images[0]["state"] == "needs upgrade" and "moved" in images[0]["reasons"][0]

    code, images = upgrade(cnbext, "--publish", name)
    assert code == 0, images
    assert (images[0]["state"], images[0]["method"]) == ("upgraded", "rebuild")
    assert run_fresh(name, "cat /base-version; jq --version").split() == ["v2", "jq-1.6"]
    document = inspect(cnbext, name)
    assert document["provenance"]["base"]["digest"] == v2_digest
    assert document["status"]["state"] == "up to date"

    before, _ = manifest(name)
    code, images = upgrade(cnbext, "--publish", name)
    assert code == 0
    assert images[0]["state"] == "up to date"
    assert manifest(name)[0] == before
    code, _ = upgrade(cnbext, "--check", "--publish", name)
    assert code == 0


def test_rebase_path_swaps_only_the_base_layers(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    base, name = engine.name("d2-rbase"), engine.name("d2-rimage")
    push_base(engine, base, tmp_path, "v1")
    v1_layers = layers(base)
    cnbext.write("extend.toml", extend_toml(base, 'packages = ["jq"]\nrebasable = true\n'))
    # Without an SBOM layer: one would list v1's packages, so that image is rebuilt instead.
    cnbext("extend", name, "-c", "extend.toml", "--publish", "--sbom", "none", check=True)
    before = layers(name)
    assert before[: len(v1_layers)] == v1_layers
    own = before[len(v1_layers) :]
    assert own, "the package layer is on top of the base"

    push_base(engine, base, tmp_path, "v2")
    v2_layers = layers(base)
    code, images = upgrade(cnbext, "--publish", name)
    assert code == 0, images
    assert (images[0]["state"], images[0]["method"]) == ("upgraded", "rebase")
    after = layers(name)
    # The base layers are v2's; the image's own layers are the very same blobs: nothing was
    # installed again (a rebuild would have made a new package layer).
    assert after == [*v2_layers, *own]
    assert run_fresh(name, "cat /base-version; jq --version").split() == ["v2", "jq-1.6"]
    document = inspect(cnbext, name)
    assert document["status"]["state"] == "up to date"
    assert document["rebasable"] is None and document["layersRebasable"] is True
    assert document["extendMetadata"] == {"packages": ["jq"], "rebasable": True}


def make_builder(engine: EngineEnv, cnbext: Cli, tmp_path: Path) -> dict[str, str]:
    """A builder naming a run base we control, extended with its run image and two mirrors."""
    names = {
        "run_base": engine.name("d2-runbase"),
        "builder_base": engine.name("d2-builderbase"),
        "builder": engine.name("d2-builder"),
        "run": engine.name("d2-run"),
        "mirror1": engine.name("d2-mirror1"),
        "mirror2": engine.name("d2-mirror2"),
    }
    push_base(engine, names["run_base"], tmp_path, "v1", base=engine.run_image, user="1001:1000")
    metadata = {
        "description": "day 2 test builder",
        "images": [{"image": names["run_base"], "mirrors": []}],
        "stack": {"runImage": {"image": names["run_base"], "mirrors": []}},
        "createdBy": {"name": "tests", "version": "1"},
        "lifecycle": {"version": "0.21.0"},
        "buildpacks": [],
    }
    context = tmp_path / "builder"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {engine.build_image}\n")
    subprocess.run(
        [
            *("docker", "buildx", "build", "-q", "--network", "host", "--provenance=false"),
            *("--label", f"io.buildpacks.builder.metadata={json.dumps(metadata)}"),
            *("-t", names["builder_base"], "--push", str(context)),
        ],
        check=True,
        capture_output=True,
    )
    cnbext.write(
        "extend-builder.toml",
        f'[extend]\nimage = "{names["builder_base"]}"\n'
        '[extend.metadata.build]\nowner = "ops"\n[extend.metadata.run]\nowner = "ops"\n',
    )
    cnbext(
        "extend-builder",
        names["builder"],
        *("-e", "extend-builder.toml", "--run-image", names["run"]),
        *("--run-image-mirror", names["mirror1"], "--run-image-mirror", names["mirror2"]),
        "--publish",
        check=True,
    )
    return names


def test_builder_upgrade_publishes_run_image_mirrors_and_builder(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    names = make_builder(engine, cnbext, tmp_path)
    document = inspect(cnbext, names["builder"])
    assert document["kind"] == "builder"
    assert document["status"]["state"] == "up to date"
    run_images = document["builder"]["runImages"]
    assert [m["state"] for m in run_images[0]["mirrors"]] == ["equal", "equal"]
    assert document["builder"]["description"] == "day 2 test builder"

    push_base(engine, names["run_base"], tmp_path, "v2", base=engine.run_image, user="1001:1000")
    v2_digest, _ = manifest(names["run_base"])
    code, images = upgrade(cnbext, "--check", "--publish", names["builder"])
    assert code == 100
    assert images[0]["reasons"][0].startswith("run image base")

    old_run, _ = manifest(names["run"])
    old_builder, _ = manifest(names["builder"])
    code, images = upgrade(cnbext, "--publish", names["builder"])
    assert code == 0, images
    assert images[0]["state"] == "upgraded"
    run_digest, _ = manifest(names["run"])
    assert run_digest != old_run
    assert manifest(names["builder"])[0] == images[0]["digestAfter"] != old_builder
    assert manifest(names["mirror1"])[0] == run_digest == manifest(names["mirror2"])[0]
    assert run_fresh(names["run"], "cat /base-version").strip() == "v2"
    run_doc = inspect(cnbext, names["run"])
    assert run_doc["kind"] == "run image"
    assert run_doc["provenance"]["base"]["digest"] == v2_digest
    document = inspect(cnbext, names["builder"])
    assert document["status"]["state"] == "up to date"
    assert document["builder"]["runImages"][0]["image"] == names["run"]
    assert [m["state"] for m in document["builder"]["runImages"][0]["mirrors"]] == [
        "equal",
        "equal",
    ]


def test_inspect_says_when_a_mirror_is_missing_or_different(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    names = make_builder(engine, cnbext, tmp_path)
    digest, _ = manifest(names["mirror1"])
    host, _, rest = names["mirror1"].partition("/")
    path = rest.rsplit(":", 1)[0]
    request = urllib.request.Request(f"http://{host}/v2/{path}/manifests/{digest}", method="DELETE")
    urllib.request.urlopen(request).close()
    push_base(engine, names["mirror2"], tmp_path, "other")
    document = inspect(cnbext, names["builder"])
    mirrors = document["builder"]["runImages"][0]["mirrors"]
    assert [(m["image"], m["state"]) for m in mirrors] == [
        (names["mirror1"], "missing"),
        (names["mirror2"], "different"),
    ]
    text = cnbext("inspect", names["builder"], check=True).stdout
    assert "missing" in text and "different" in text


MULTIARCH = "localhost:5000/fixtures/debian-multiarch:bookworm"


def test_multi_platform_images_keep_their_platforms_through_upgrade(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    if engine.multiarch_run_image is None:
        pytest.skip("the engine has no multi-platform fixture (no arm64 emulation)")
    both = "linux/amd64,linux/arm64"
    base, name = engine.name("d2-mbase"), engine.name("d2-mimage")
    push_base(engine, base, tmp_path, "v1", base=MULTIARCH, platforms=both)
    cnbext.write("extend.toml", extend_toml(base, 'owner = "ops"\nrebasable = true\n'))
    cnbext(
        "extend",
        name,
        "-c",
        "extend.toml",
        "--publish",
        *("--platform", "linux/amd64", "--platform", "linux/arm64"),
        check=True,
    )
    assert platforms_of(name) == {"linux/amd64", "linux/arm64"}
    document = inspect(cnbext, name)
    assert set(document["provenance"]["base"]["platforms"]) == {"linux/amd64", "linux/arm64"}

    push_base(engine, base, tmp_path, "v2", base=MULTIARCH, platforms=both)
    code, images = upgrade(cnbext, "--publish", name)
    assert code == 0, images
    assert images[0]["method"] == "rebase"
    assert platforms_of(name) == {"linux/amd64", "linux/arm64"}
    for platform in ("linux/amd64", "linux/arm64"):
        assert layers(name, platform)[: len(layers(base, platform))] == layers(base, platform)

    push_base(engine, base, tmp_path, "v3", base=MULTIARCH, platforms=both)
    code, images = upgrade(cnbext, "--publish", "--rebase", "never", name)
    assert code == 0, images
    assert images[0]["method"] == "rebuild"
    assert platforms_of(name) == {"linux/amd64", "linux/arm64"}
    assert inspect(cnbext, name)["status"]["state"] == "up to date"
    arm = subprocess.run(
        [
            *("docker", "run", "--rm", "--pull", "always", "--platform", "linux/arm64"),
            *(name, "sh", "-c", "cat /base-version; uname -m"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert arm == ["v3", "aarch64"]


def test_create_builder_builders_are_checked_and_recreated_with_their_config(
    engine: EngineEnv, builder_cli: Cli, tmp_path: Path
) -> None:
    examples = Path(__file__).resolve().parents[2] / "builder-examples"
    shutil.copytree(examples, tmp_path / "examples")
    run_base, builder = engine.name("d2-cb-run"), engine.name("d2-cb-builder")
    push_base(engine, run_base, tmp_path, "v1", base=engine.run_image, user="1001:1000")
    config = tmp_path / "examples" / "builder.toml"
    text = config.read_text().split("[extend.metadata]")[0]
    config.write_text(text.replace(engine.run_image, run_base))
    builder_cli("create-builder", builder, "-c", str(config), "--publish", check=True)
    assert inspect(builder_cli, builder)["status"]["state"] == "up to date"

    push_base(engine, run_base, tmp_path, "v2", base=engine.run_image, user="1001:1000")
    code, images = upgrade(builder_cli, "--check", "--publish", builder)
    assert code == 100
    assert images[0]["reasons"][0].startswith("run image base")
    # The builder.toml is recorded whole: no --config needed.
    code, images = upgrade(builder_cli, "--publish", builder)
    assert code == 0, images
    assert images[0]["state"] == "upgraded"
    document = inspect(builder_cli, builder)
    assert document["status"]["state"] == "up to date"
    assert document["provenance"]["runImage"]["base"]["digest"] == manifest(run_base)[0]

    # --config still changes the builder on the way.
    config.write_text(config.read_text().replace('description = "', 'description = "changed: '))
    push_base(engine, run_base, tmp_path, "v3", base=engine.run_image, user="1001:1000")
    code, images = upgrade(builder_cli, "--publish", builder, "--config", str(config))
    assert code == 0, images
    document = inspect(builder_cli, builder)
    assert document["provenance"]["runImage"]["base"]["digest"] == manifest(run_base)[0]
    assert document["request"]["config"]["description"].startswith("changed: ")


def test_a_daemon_only_image_is_upgraded_in_the_daemon_under_all_its_names(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    base = engine.name("d2-lbase")
    first, second = engine.name("d2-local"), engine.name("d2-local", tag="latest")
    push_base(engine, base, tmp_path, "v1")
    cnbext.write("extend.toml", extend_toml(base, 'owner = "ops"\n'))
    try:
        cnbext("extend", first, second, "-c", "extend.toml", check=True)
        document = inspect(cnbext, first)
        assert document["source"] == "daemon"
        assert set(document["names"]) == {first, second}
        assert first not in json.dumps(document["provenance"]), "names stay out of the image"

        push_base(engine, base, tmp_path, "v2")
        v2_digest, _ = manifest(base)
        code, images = upgrade(cnbext, "--check", second)
        assert code == 100, images
        code, images = upgrade(cnbext, first)  # no --publish: rebuilt into the daemon
        assert code == 0, images
        assert (images[0]["state"], images[0]["method"]) == ("upgraded", "rebuild")
        assert engine.run(first, "cat /base-version").strip() == "v2"
        ids = {engine.docker.image.inspect(n).id for n in (first, second)}
        assert len(ids) == 1, "both names hold the upgraded image"
        document = inspect(cnbext, second)
        assert document["source"] == "daemon"
        assert document["provenance"]["base"]["digest"] == v2_digest
        assert document["status"]["state"] == "up to date"
    finally:
        engine.docker.image.remove([n for n in (first, second, base) if _exists(engine, n)])


def _exists(engine: EngineEnv, name: str) -> bool:
    return bool(engine.docker.image.exists(name))


def test_every_published_name_follows_one_upgrade(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    base = engine.name("d2-nbase")
    first, second = engine.name("d2-names"), engine.name("d2-names-alias")
    push_base(engine, base, tmp_path, "v1")
    cnbext.write("extend.toml", extend_toml(base, 'owner = "ops"\nrebasable = true\n'))
    cnbext("extend", first, second, "-c", "extend.toml", "--publish", check=True)
    push_base(engine, base, tmp_path, "v2")
    code, images = upgrade(cnbext, "--publish", second, first)
    assert code == 0, images
    assert [(i["state"], i["method"]) for i in images] == [("upgraded", "rebase")] * 2
    digest, _ = manifest(first)
    assert manifest(second)[0] == digest == images[0]["digestAfter"] == images[1]["digestAfter"]
    assert run_fresh(first, "cat /base-version").strip() == "v2"
    assert inspect(cnbext, first)["status"]["state"] == "up to date"


def test_recorded_extension_inputs_are_replayed_and_a_gone_folder_publishes_nothing(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    extension = tmp_path / "ext" / "run-motd"
    shutil.copytree(
        Path(__file__).resolve().parents[2] / "builder-examples/extensions/run-motd", extension
    )
    base, name = engine.name("d2-ebase"), engine.name("d2-eimage")
    push_base(engine, base, tmp_path, "v1", base=engine.run_image, user="1001:1000")
    cnbext.write(
        "extend.toml",
        extend_toml(base, 'owner = "ops"\n')
        + f'\n[[extend.extensions]]\nuri = "{extension}"\n'
        + '[extend.extensions.metadata]\nflavour = "plain"\n',
    )
    cnbext(
        "extend",
        name,
        *("-c", "extend.toml", "--publish"),
        *("--env", "MOTD_GREETING=recorded greeting", "--env", "API_TOKEN=s3cret"),
        check=True,
    )
    provenance = inspect(cnbext, name)["provenance"]
    assert provenance["extensions"][0]["metadata"] == {"flavour": "plain"}
    assert provenance["platformEnv"] == {"API_TOKEN": None, "MOTD_GREETING": "recorded greeting"}
    assert "s3cret" not in json.dumps(provenance)

    push_base(engine, base, tmp_path, "v2", base=engine.run_image, user="1001:1000")
    before, _ = manifest(name)
    moved = tmp_path / "moved" / "run-motd"
    shutil.move(extension, moved)
    result = cnbext("upgrade", "--publish", name)
    assert result.returncode == 2, result.stderr
    assert f"applied from {extension}, which no longer exists" in result.stderr
    assert manifest(name)[0] == before, "nothing was published"
    result = cnbext("upgrade", "--publish", name, "--extension", str(moved))
    assert result.returncode == 2, result.stderr
    assert "API_TOKEN" in result.stderr and "--env API_TOKEN=" in result.stderr
    assert manifest(name)[0] == before, "nothing was published"

    code, images = upgrade(
        cnbext, "--publish", name, "--extension", str(moved), "--env", "API_TOKEN=again"
    )
    assert code == 0, images[0]["error"]
    out = run_fresh(name, "cat /base-version /etc/motd").splitlines()
    assert out[0] == "v2" and out[-1] == "recorded greeting"
