"""What an extend installed, read from the images themselves, per platform, for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.engine.conftest import Cli, EngineEnv, assert_locked_gone, extend_toml

pytestmark = pytest.mark.engine

PLATFORMS = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def test_each_platforms_installed_packages_are_recorded_with_the_versions_dpkg_reports(
    engine: EngineEnv, cnbext: Cli
) -> None:
    if engine.multiarch_run_image is None:
        pytest.skip("the engine has no linux/arm64 emulation (make engine sets it up on Debian)")
    name = engine.name("installed")
    cnbext.write("extend.toml", extend_toml(engine.multiarch_run_image, 'packages = ["jq"]\n'))
    flags = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    result = cnbext(
        "extend", name, "-c", "extend.toml", "--publish", "--sbom", "cdx", *flags, "-o", "json"
    )
    assert result.returncode == 0, result.stderr
    label = json.loads(json.loads(result.stdout)["images"][0]["labels"]["io.cnbext.packages"])
    assert sorted(label["platforms"]) == sorted(PLATFORMS)
    configs = engine.registry_config(name)  # the index: each platform's config

    for platform, machine in PLATFORMS.items():
        labels = configs[platform]["config"]["Labels"]
        assert json.loads(labels["io.cnbext.packages"]) == label
        # The SBOM layer is the image's last, and the label names exactly it.
        assert labels["io.buildpacks.base.sbom"] == configs[platform]["rootfs"]["diff_ids"][-1]
        # What dpkg says inside the image when it runs on that platform (arm64 emulated).
        out = engine.docker.run(
            name,
            [
                "sh",
                "-c",
                "uname -m; dpkg-query -W -f '${Package} ${Version} ${Architecture}\\n' "
                "jq libjq1 libonig5; echo; cat /cnb/sbom/bom.cdx.json",
            ],
            platform=platform,
            pull="always",
            remove=True,
        )
        head, _, sbom = str(out).partition("\n\n")
        lines = head.splitlines()
        assert lines[0] == machine
        reported = {line.split()[0]: line.split()[1:] for line in lines[1:]}
        changes = label["platforms"][platform]
        assert changes["database"] == "dpkg"
        added = {p["name"]: [p["version"], p["architecture"]] for p in changes["added"]}
        # jq and the libraries apt pulled in for it, exactly as installed.
        assert {n: added[n] for n in reported} == reported
        assert added["jq"][1] == platform.split("/")[1]
        assert changes["removed"] == []
        sources = {p["name"]: p["source"] for p in changes["added"]}
        assert sources["libonig5"] == "libonig"
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom) is None
        components = {c["name"]: c for c in json.loads(sbom)["components"]}
        for package, (version, arch) in reported.items():
            assert components[package]["version"] == version
            assert f"arch={arch}" in components[package]["purl"]
        assert components["libc6"]["purl"].startswith("pkg:deb/debian/libc6@")  # the base's

    shown = cnbext("inspect", name, check=True).stdout
    rows = [" ".join(line.split()) for line in shown.splitlines()]
    jq = next(p for p in label["platforms"]["linux/arm64"]["added"] if p["name"] == "jq")
    assert f"linux/arm64 added jq {jq['version']} arm64 jq" in rows


def test_a_lock_is_installed_exactly_and_a_version_that_is_gone_fails_cleanly(
    engine: EngineEnv, cnbext: Cli
) -> None:
    first, again, gone = engine.name("lock"), engine.name("locked"), engine.name("gone")
    cnbext.write("extend.toml", extend_toml(engine.run_image, 'packages = ["jq"]\n'))
    cnbext("extend", first, "-c", "extend.toml", "--lock", "extend.lock", check=True)
    lock = (cnbext.workdir / "extend.lock").read_text()
    label = json.loads(engine.labels(first)["io.cnbext.packages"])
    ((platform, changes),) = label["platforms"].items()
    for package in changes["added"]:
        assert f'spec = "{package["name"]}={package["version"]}"' in lock

    try:
        # A new build id: apt really runs again, now with every version pinned.
        args = ["-c", "extend.toml", "--lock", "extend.lock", "--locked", "--build-id", "2"]
        cnbext("extend", again, *args, "-v", check=True)
        relabel = json.loads(engine.labels(again)["io.cnbext.packages"])
        assert relabel["platforms"][platform]["added"] == changes["added"]
        jq = next(p for p in changes["added"] if p["name"] == "jq")
        pinned = f"jq={jq['version']}"
        assert pinned in engine.labels(again)["io.buildpacks.extend.metadata"]

        (cnbext.workdir / "extend.lock").write_text(lock.replace(pinned, "jq=0.0-gone"))
        assert_locked_gone(cnbext, engine, gone, args, "jq=0.0-gone")
    finally:
        for name in (first, again):
            if engine.docker.image.exists(name):
                engine.docker.image.remove(name)


def test_a_bases_own_sbom_components_are_kept_and_its_os_packages_reread(
    engine: EngineEnv, cnbext: Cli, tmp_path: Path
) -> None:
    base, name = engine.name("sbom-base"), engine.name("sbom-kept")
    context = tmp_path / "base"
    context.mkdir()
    stale = {"type": "library", "name": "base-files", "version": "0.0-stale"}
    stale["purl"] = "pkg:deb/debian/base-files@0.0-stale"
    npm = {"type": "library", "name": "left-pad", "version": "1.3.0"}
    npm["purl"] = "pkg:npm/left-pad@1.3.0"
    bom = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": [stale, npm]}
    (context / "bom.cdx.json").write_text(json.dumps(bom))
    (context / "Dockerfile").write_text(
        f"FROM {engine.run_image}\nCOPY bom.cdx.json /cnb/sbom/bom.cdx.json\n"
        "LABEL io.buildpacks.base.sbom=sha256:" + "0" * 64 + "\n"
    )
    engine.docker.buildx.build(context, tags=[base], push=True, provenance=False, sbom=False)
    cnbext.write("extend.toml", extend_toml(base, 'packages = ["jq"]\n'))
    try:
        cnbext("extend", name, "-c", "extend.toml", "--sbom", "cdx", check=True)
        out = engine.run(
            name, "dpkg-query -W -f '${Version}' base-files; echo; cat /cnb/sbom/bom.cdx.json"
        )
        version, _, sbom = out.partition("\n")
        components = {c["name"]: c for c in json.loads(sbom)["components"]}
        assert components["left-pad"] == npm  # kept as the base wrote it
        assert components["base-files"]["version"] == version  # the database's, not the stale
        assert "jq" in components
        layers = engine.docker.image.inspect(name).root_fs.layers or []
        assert engine.labels(name)["io.buildpacks.base.sbom"] == layers[-1]
    finally:
        for image in (name, base):
            if engine.docker.image.exists(image):
                engine.docker.image.remove(image)
