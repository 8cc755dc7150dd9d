"""`cnbext validate`'s checks: public-builder-shaped files pass, every bad case the commands
refuse is refused with the same located problems, folders are checked whole, offline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from cnbext.client.validate import FileReport, Kind, kind_of, validate, validate_paths
from cnbext.config.builder import load_builder_config
from cnbext.config.extend import load_extend_config
from cnbext.config.extension import load_extension_config
from cnbext.errors import ConfigError
from tests.config import test_builder_config, test_extend_config, test_extension_config

GOOD = Path(__file__).resolve().parents[1] / "fixtures" / "validate" / "good"


def reports_for(tmp_path: Path, name: str, text: str, kind: Kind | None = None) -> FileReport:
    (tmp_path / name).write_text(text)
    (report,) = validate_paths([Path(name)], kind)
    return report


def lines(problems: object) -> list[str]:
    return [str(p) for p in problems]  # type: ignore[attr-defined]


# --- files shaped like public builders', modules and configs: valid -----------------------


GOOD_FILES = sorted(p for p in GOOD.rglob("*") if p.is_file() and kind_of(p) is not None)


@pytest.mark.parametrize("path", GOOD_FILES, ids=[str(p.relative_to(GOOD)) for p in GOOD_FILES])
def test_public_shaped_files_have_no_problems(path: Path) -> None:
    (report,) = validate_paths([path])
    assert report.problems == (), lines(report.problems)


def test_the_good_corpus_covers_every_kind() -> None:
    assert {kind_of(p) for p in GOOD_FILES} == set(Kind)


def test_public_shaped_folders_are_checked_whole() -> None:
    reports = validate_paths([GOOD / "ubi-nodejs-extension", GOOD / "python-buildpack"])
    names = [Path(r.path).name for r in reports]
    assert names == [
        "extension.toml",
        "build.Dockerfile",
        "extend-config.toml",
        "plan.toml",
        "run.Dockerfile",
        "buildpack.toml",
    ]
    assert all(r.problems == () for r in reports)


def test_the_paketo_shape_has_no_warning_as_pack_gives_none() -> None:
    (report,) = validate_paths([GOOD / "paketo-jammy-full-builder.toml"])
    assert report.warnings == ()


# --- every bad case the loaders refuse: validate says exactly the same ---------------------


def _cases(module: object, name: str) -> list[tuple[str, str, str]]:
    invalid: dict[str, tuple[str, list[str]]] = module.INVALID  # type: ignore[attr-defined]
    return [(f"{name}: {case}", name, text) for case, (text, _) in invalid.items()]


BAD = [
    *_cases(test_builder_config, "builder.toml"),
    *_cases(test_extension_config, "extension.toml"),
    *_cases(test_extend_config, "extend.toml"),
]


LOADERS = {
    "builder.toml": load_builder_config,
    "extension.toml": load_extension_config,
    "extend.toml": load_extend_config,
}


@pytest.mark.parametrize(("case", "name", "text"), BAD, ids=[c[0] for c in BAD])
def test_bad_cases_are_refused_as_the_commands_refuse_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, name: str, text: str
) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        LOADERS[name](Path(name), name)
    # The same problems; a whole-file one (TOML syntax) gets the root path "$".
    expected = [replace(p, path=p.path or "$") for p in caught.value.problems]
    assert list(report.problems) == expected, case
    assert report.kind is kind_of(Path(name))


# --- kinds without a loader of their own ---------------------------------------------------

BUILD_DOCKERFILE_CASES = {
    "no ARG base_image": (
        "FROM ${base_image}\n",
        "build.Dockerfile:1:1: build.Dockerfile did not start with required ARG command",
    ),
    "two stages": (
        "ARG base_image\nFROM ${base_image}\nFROM other\n",
        "build.Dockerfile:3:1: build.Dockerfile is not permitted to use multistage build",
    ),
    "no FROM": (
        "ARG base_image\n",
        "build.Dockerfile:1:1: build.Dockerfile should have at least one stage",
    ),
    "FROM $base_image": (
        "ARG base_image\nFROM $base_image\n",
        "build.Dockerfile:2:6: build.Dockerfile did not contain required FROM ${base_image}",
    ),
    "COPY with one argument (BuildKit's instructions.Parse)": (
        "ARG base_image\nFROM ${base_image}\nCOPY x\n",
        "build.Dockerfile:3:1: COPY requires at least two arguments",
    ),
}


def test_dockerfile_warnings_are_separate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(tmp_path, "run.Dockerfile", "FROM ${base_image}\nEXPOSE 8080\n")
    assert report.problems == ()
    assert [w.position.line for w in report.warnings] == [2]


EXTEND_CONFIG_CASES = {
    "reserved arg": (
        '[[build.args]]\nname = "user_id"\nvalue = "0"\n',
        'extend-config.toml:2:8: $.build.args[0].name: arg with name "user_id" is not allowed',
    ),
    "value not a string": (
        '[[run.args]]\nname = "A"\nvalue = 1\n',
        "extend-config.toml:3:9: $.run.args[0].value: expected a string, found the number 1",
    ),
    "arg without a name": (
        '[[build.args]]\nvalue = "x"\n',
        "extend-config.toml:1:1: $.build.args[0]: missing required key 'name'",
    ),
}


@pytest.mark.parametrize(
    ("name", "text", "warning"),
    [
        (
            "extend-config.toml",
            "[biuld]\n",
            "extend-config.toml:1:2: $.biuld: ignoring unexpected key 'biuld' (the lifecycle "
            "ignores it); did you mean 'build'?",
        ),
        (
            "extend-config.toml",
            '[[run.args]]\nname = "base_image"\nvalue = "x"\n',
            'extend-config.toml:2:8: $.run.args[0].name: arg with name "base_image" is ignored',
        ),
        (
            "plan.toml",
            '[[provides]]\nname = "a"\nversion = "1"\n',
            "plan.toml:3:1: $.provides[0].version: ignoring unexpected key 'version' (the "
            "lifecycle ignores it)",
        ),
        (
            "buildpack.toml",
            'api = "0.10"\n[buildpack]\nid = "a"\nversion = "1.0.0"\nhomepag = "x"\n',
            "buildpack.toml:5:1: $.buildpack.homepag: ignoring unexpected key 'homepag' (pack "
            "warns and ignores it, as the lifecycle does); did you mean 'homepage'?",
        ),
    ],
    ids=["extend-config table", "extend-config base_image", "plan key", "buildpack key"],
)
def test_what_upstream_ignores_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, warning: str
) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(tmp_path, name, text)
    assert report.problems == ()
    assert any(line.startswith(warning) for line in lines(report.warnings)), lines(report.warnings)


BAD_FILE_CASES = {
    **{
        f"build.Dockerfile {k}": ("build.Dockerfile", *v) for k, v in BUILD_DOCKERFILE_CASES.items()
    },
    **{
        f"extend-config.toml {k}": ("extend-config.toml", *v)
        for k, v in EXTEND_CONFIG_CASES.items()
    },
}


@pytest.mark.parametrize(
    ("name", "text", "expected"), BAD_FILE_CASES.values(), ids=list(BAD_FILE_CASES)
)
def test_bad_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(tmp_path, name, text)
    assert any(line.startswith(expected) for line in lines(report.problems)), lines(report.problems)


def test_extension_plans_may_not_require(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(
        tmp_path, "plan.toml", '[[provides]]\nname = "a"\n[[requires]]\nname = "a"\n'
    )
    assert lines(report.problems) == [
        'plan.toml:3:1: $.requires: the extension outputs "requires" which is not allowed '
        "(extensions only provide)"
    ]


def test_buildpack_descriptor_problems_and_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(tmp_path, "buildpack.toml", '[buildpack]\nid = "app"\nversion = "1.0"\n')
    assert lines(report.problems) == [
        'buildpack.toml:2:6: $.buildpack.id: "app" is reserved (the lifecycle uses app, config, '
        "generated and sbom for its own folders); choose another id"
    ]
    report = reports_for(tmp_path, "buildpack.toml", '[buildpack]\nid = "a"\nversion = "1.0"\n')
    assert report.problems == ()
    assert [w.path for w in report.warnings] == ["$", "$.buildpack.version"]


def test_syntax_errors_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(tmp_path, "builder.toml", "[build\n")
    (problem,) = report.problems
    assert str(problem).startswith("builder.toml:1:6: $: invalid TOML")


# --- folders ----------------------------------------------------------------------------------


def test_extension_folder_needs_an_executable_generate(tmp_path: Path) -> None:
    folder = tmp_path / "ext"
    shutil.copytree(GOOD / "ubi-nodejs-extension", folder)
    (folder / "bin" / "generate").chmod(0o644)
    (folder / "bin" / "detect").unlink()  # optional for an extension
    report = validate_paths([folder])[0]
    # pack packs bin/generate 0755 whatever its mode (calcFileMode), and so does cnbext
    assert report.problems == ()
    assert (
        "bin/generate is not executable: pack and cnbext pack it 0755" in lines(report.warnings)[-1]
    )
    (folder / "bin" / "generate").unlink()
    reports = validate_paths([folder])
    assert lines(reports[1].problems) == [
        f"{folder}/bin/generate:1:1: missing: an extension needs an executable bin/generate or "
        "a ready-made generate/ folder"
    ]
    # ... which the lifecycle reads when bin/generate is missing
    (folder / "generate").mkdir()
    (folder / "generate" / "run.Dockerfile").write_text("FROM ${base_image}\nCOPY x\n")
    reports = validate_paths([folder])
    assert [lines(r.problems) for r in reports if r.problems] == [
        [
            f"{folder}/generate/run.Dockerfile:2:1: COPY requires at least two arguments, but "
            "only one was provided. Destination could not be determined"
        ]
    ]


def test_buildpack_folder_needs_detect_and_build_unless_composite(tmp_path: Path) -> None:
    folder = tmp_path / "bp"
    shutil.copytree(GOOD / "python-buildpack", folder)
    (folder / "bin" / "build").unlink()
    descriptor, build = validate_paths([folder])
    assert descriptor.problems == ()
    assert [str(p).split(": ")[0:2] for p in build.problems] == [
        [f"{folder}/bin/build:1:1", "missing"]
    ]
    (composite,) = validate_paths([GOOD / "java-composite"])
    assert composite.problems == ()


def test_hidden_folders_and_symlinks_in_a_module_are_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "ext"
    shutil.copytree(GOOD / "ubi-nodejs-extension", folder)
    (folder / ".git").mkdir()
    (folder / ".git" / "run.Dockerfile").write_text("nonsense\n")
    (folder / "plan.toml").unlink()
    (folder / "plan.toml").symlink_to("/etc/passwd")
    assert all(r.problems == () for r in validate_paths([folder]))


# --- kinds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("builder.toml", Kind.BUILDER),
        ("ci-builder.toml", Kind.BUILDER),
        ("extend-builder.toml", Kind.EXTEND_BUILDER),
        ("my.extend.toml", Kind.EXTEND),
        ("extend-config.toml", Kind.EXTEND_CONFIG),
        ("run.Dockerfile", Kind.RUN_DOCKERFILE),
        ("Dockerfile", None),
        ("notbuilder.toml", None),
    ],
)
def test_kind_from_the_file_name(name: str, kind: Kind | None) -> None:
    assert kind_of(Path(name)) is kind


def test_a_path_of_unknown_kind_is_reported_and_the_others_checked(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("")
    (tmp_path / "plan.toml").write_text("[[requires]]\n")
    result = validate([tmp_path / "config.toml", tmp_path / "plan.toml"])
    unknown, plan = result.files
    assert unknown.kind is None and "--kind" in unknown.problems[0].message
    assert plan.kind is Kind.PLAN and plan.problems
    assert result.exit_code == 2
    assert result.to_dict()["files"][0]["kind"] is None


def test_a_missing_file_is_one_outcome_whatever_its_name(tmp_path: Path) -> None:
    for name in ("builder.toml", "nameless.toml", "extension.toml"):
        result = validate([tmp_path / name])
        assert result.exit_code == 3
        assert result.problems[0].endswith("file not found")


@pytest.mark.parametrize(
    "name", ["my_buildpack.toml", "x-extension.toml", "a.plan.toml", "ci-run.Dockerfile"]
)
def test_module_files_are_known_by_their_exact_names(name: str) -> None:
    assert kind_of(Path(name)) is None


def test_strict_makes_every_warning_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "extension.toml"
    path.write_text('api = "0.10"\n[extension]\nid = "a"\nversion = "1.0"\n[[stacks]]\nid = "s"\n')
    lenient = validate([path])
    assert lenient.exit_code == 0 and len(lenient.warnings) == 2
    strict = validate([path], strict=True)
    assert strict.exit_code == 3
    assert strict.problems == sorted(lenient.warnings) and strict.warnings == []


def test_a_folder_of_modules_is_walked_to_each(tmp_path: Path) -> None:
    shutil.copytree(GOOD, tmp_path / "repo")
    (tmp_path / "repo" / "stack").mkdir()
    (tmp_path / "repo" / "stack" / "run.Dockerfile").write_text("FROM debian\nEXPOSE 1\n")
    result = validate([tmp_path / "repo"])
    paths = {Path(r.path).relative_to(tmp_path / "repo").as_posix() for r in result.files}
    assert "ubi-nodejs-extension/build.Dockerfile" in paths
    assert "python-buildpack/buildpack.toml" in paths and "extend.toml" in paths
    assert "stack/run.Dockerfile" not in paths  # a stack's Dockerfile, not an extension's
    assert result.problems == []


def test_mixed_paths_and_a_folder_with_kind(tmp_path: Path) -> None:
    (tmp_path / "ci.toml").write_text('[extend]\nimage = "a"\n')
    result = validate([tmp_path / "ci.toml", GOOD / "ubi-nodejs-extension"], kind="extend")
    assert result.exit_code == 0
    assert [r.kind for r in result.files][:2] == [Kind.EXTEND, Kind.EXTENSION]


def test_kind_flag_overrides_the_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(tmp_path, "config.toml", '[extend]\nimage = "a"\n', Kind.EXTEND)
    assert report.kind is Kind.EXTEND and report.problems == ()


def test_validate_never_imports_the_docker_client() -> None:
    """Offline and fast: only jsonschema and tomlkit besides the CLI's own imports."""
    code = (
        "import sys; from pathlib import Path; from cnbext.client.validate import validate_paths;"
        f"validate_paths([Path({str(GOOD)!r})/'ubi-builder.toml', Path({str(GOOD)!r})/'ubi-nodejs-extension']);"
        "print(sorted(m for m in ('python_on_whales', 'httpx', 'requests', 'urllib3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('[build]\nimage = "b"\n[[run.images]]\nimage = "r"\n', Kind.BUILDER),
        ('[[buildpacks]]\nuri = "x"\n', Kind.BUILDER),
        ('api = "0.10"\n[extension]\nid = "a"\n', Kind.EXTENSION),
        ('[buildpack]\nid = "a"\n', Kind.BUILDPACK),
        ('[[provides]]\nname = "a"\n', Kind.PLAN),
        ('[[build.args]]\nname = "a"\nvalue = "b"\n', Kind.EXTEND_CONFIG),
        ('[extend]\nimage = "a"\n', None),  # extend.toml or extend-builder.toml: --kind says
        ("not toml [", None),
    ],
)
def test_a_toml_named_otherwise_is_known_by_its_keys(
    tmp_path: Path, text: str, kind: Kind | None
) -> None:
    path = tmp_path / "paketo-jammy-base.toml"
    path.write_text(text)
    assert kind_of(path) is kind


def test_non_ascii_values_are_printed_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(
        tmp_path,
        "extension.toml",
        'api = "0.10"\n[extension]\nid = "ext/café"\nversion = "1.0.0"\n',
    )
    assert 'extension id "ext/café" has other characters' in lines(report.warnings)[0]


BUILDER_LOCK = (
    'version = 1\nplatforms = {}\n[run-image.platforms."linux/amd64"]\ndatabase = "dpkg"\n'
    'manager = "apt"\npackages = [{spec = "jq;x", name = "jq", version = "1", '
    'architecture = "amd64"}]\n[run-image.extra]\n'
)


@pytest.mark.parametrize(
    ("name", "text", "paths"),
    [
        (
            "ci.extend.lock",
            'version = 2\n[platforms."linux/amd64"]\ndatabase = "dpkg"\nmanager = "apt"\n'
            'packages = [{spec = "-y", name = "jq", version = "1"}]\n',
            [
                "$.version",
                '$.platforms["linux/amd64"].packages[0]',
                '$.platforms["linux/amd64"].packages[0].spec',
            ],
        ),
        (  # a builder command's: its run image's platforms are checked too
            "builder.extend.lock",
            BUILDER_LOCK,
            ["$.run-image.extra", '$.run-image.platforms["linux/amd64"].packages[0].spec'],
        ),
    ],
)
def test_a_lock_is_validated_as_locked_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, paths: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    report = reports_for(tmp_path, name, text)
    assert report.kind is Kind.LOCK
    assert [p.path for p in report.problems] == paths


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("builder.lock", BUILDER_LOCK, Kind.LOCK),  # the name docs/extend-builder.md uses
        ("b.lock", 'version = 1\n[platforms."linux/arm64"]\n', Kind.LOCK),
        ("poetry.lock", '[[package]]\nname = "x"\n[metadata]\nlock-version = "2.0"\n', None),
        ("odd.lock", "version = 1\n", None),  # a lock has its platforms, even empty
    ],
)
def test_a_lock_under_any_name_is_told_by_its_keys(
    tmp_path: Path, name: str, text: str, kind: Kind | None
) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert kind_of(path) is kind
