"""The recorded upstream corpus: every file judged as pack v0.40.6, lifecycle v0.21.17 and
BuildKit v0.32.2 judged it (their check functions compiled into one command; verdicts in
tests/fixtures/oracle/verdicts.json, rebuilt as docs/development.md says).

A verdict is a class: ``reject`` (upstream fails), ``warn`` (upstream goes on with a warning),
``accept``. cnbext must land in the same class, with two documented allowances:

- on top of what upstream accepts, cnbext may print the spec's rule where the spec is stricter
  than the code (docs/validate.md, "Where cnbext follows the code, not the spec text"); those
  warnings are recognised by the rules below, nothing else may be added;
- a handful of files cnbext refuses on purpose, because the value would become an unsafe path
  or a broken word in a generated Dockerfile (xfail with the reason, listed in docs/validate.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cnbext.client.validate import Kind, validate

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "oracle"
VERDICTS: dict[str, dict[str, str]] = json.loads((ROOT / "verdicts.json").read_text())
LOCATED = re.compile(r"^.+:\d+:\d+: ")

# The spec-stricter rules of docs/validate.md's table, as cnbext words their warnings.
SPEC_RULES = {
    "module versions are X.Y.Z": re.compile(r"version '.*' is not X\.Y\.Z"),
    "api is <major>.<minor>": re.compile(r"api '.*' is not \"<major>\.<minor>\""),
    "api is required": re.compile(r"no `api`: read as Buildpack API 0\.1"),
    "ids use letters, digits, . / -": re.compile(r"id .* which the spec asks for"),
    "reserved ids": re.compile(r"id .* is reserved by the spec"),
    "plan entries have a name": re.compile(
        r"provides\[\d+\].*(missing required key 'name'|`name` is empty)"
    ),
    "only the spec's keys (lifecycle files)": re.compile(
        r"ignoring unexpected key .*\(the lifecycle ignores it\)"
    ),
    "the extender sets base_image": re.compile(r'"base_image" is ignored'),
    "[stack] is deprecated": re.compile(r"stack\.\S+ differs from .*, which replaces it"),
}
ON_PURPOSE = {
    "extension/mut/version-slash/extension.toml": "a version with '/' would make a path outside "
    "the module folder (/cnb/extensions/<id>/<version>)",
    "buildpack/mut/version-slash/buildpack.toml": "a version with '/' would make a path outside "
    "the module folder (/cnb/buildpacks/<id>/<version>)",
    "extension/mut/version-dotdot/extension.toml": "a version '..' names the parent folder",
    "extension/mut/id-space/extension.toml": "an id with whitespace breaks the words of the "
    "Dockerfiles cnbext generates",
    "buildpack/mut/id-config/buildpack.toml": "a buildpack's layers folder is named after its "
    "id: 'config' would be the lifecycle's own /layers/config",
    "extend-config/mut/no-name/extend-config.toml": "a nameless build arg is handed to the "
    "image build as an empty --build-arg",
    "builder/pack/acceptance_testdata_pack_fixtures_builder_multi_platform/builder.toml": "a "
    "template ('{{ .BuildImage }}') is no image reference: pack refuses it when it fetches the "
    "image, cnbext before",
    "builder/pack/acceptance_testdata_pack_fixtures_builder_multi_platform-no-targets/"
    "builder.toml": "a template ('{{ .BuildImage }}') is no image reference: pack refuses it when "
    "it fetches the image, cnbext before",
}
TO_FIX: dict[str, str] = {}


def _param(rel: str) -> object:
    if rel in ON_PURPOSE:
        return pytest.param(rel, marks=pytest.mark.xfail(reason=ON_PURPOSE[rel], strict=True))
    if rel in TO_FIX:
        return pytest.param(rel, marks=pytest.mark.xfail(reason="to fix: " + TO_FIX[rel]))
    return rel


def _spec_rule(warning: str) -> bool:
    return any(rule.search(warning) for rule in SPEC_RULES.values())


def verdict_of(rel: str) -> tuple[str, list[str], list[str]]:
    upstream = VERDICTS[rel]
    reports = validate([ROOT / rel], kind=Kind(upstream["kind"])).files
    problems = [str(p) for r in reports for p in r.problems]
    warnings = [str(w) for r in reports for w in r.warnings]
    if problems:
        return "reject", problems, warnings
    if upstream["verdict"] == "accept" and all(_spec_rule(w) for w in warnings):
        return "accept", problems, warnings  # only the spec's rules on top: upstream's class
    return ("warn" if warnings else "accept"), problems, warnings


@pytest.mark.parametrize("rel", [_param(rel) for rel in VERDICTS])
def test_judged_as_upstream_judged_it(rel: str) -> None:
    upstream = VERDICTS[rel]
    verdict, problems, warnings = verdict_of(rel)
    assert verdict == upstream["verdict"], (
        f"{upstream['function']}: {upstream['message']!r}; cnbext: {problems or warnings}"
    )
    assert all(LOCATED.match(p) for p in problems), problems


def test_the_corpus_covers_every_kind_and_verdict() -> None:
    """Each kind of file has upstream's accepted and refused cases, and the files pack and
    the lifecycle warn about are there too."""
    classes = {(v["kind"], v["verdict"]) for v in VERDICTS.values()}
    for kind in ("builder", "buildpack", "extension", "plan", "extend-config"):
        assert {(kind, "accept"), (kind, "reject")} <= classes, kind
    for kind in ("build.Dockerfile", "run.Dockerfile"):
        assert {(kind, "accept"), (kind, "warn"), (kind, "reject")} <= classes, kind
    assert all((ROOT / rel).is_file() for rel in VERDICTS)
    on_disk = {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file()}
    assert on_disk - {"verdicts.json"} == set(VERDICTS)


def test_every_allowance_is_used() -> None:
    """No stale entry: each xfail names a recorded file, each spec rule excuses a warning."""
    assert set(ON_PURPOSE) | set(TO_FIX) <= set(VERDICTS)
    accepted = [rel for rel, v in VERDICTS.items() if v["verdict"] == "accept"]
    excused = {
        name
        for rel in accepted
        if rel not in ON_PURPOSE
        for warning in verdict_of(rel)[2]
        for name, rule in SPEC_RULES.items()
        if rule.search(warning)
    }
    assert excused == set(SPEC_RULES)


DESCRIPTORS = [rel for rel, v in VERDICTS.items() if v["kind"] in ("buildpack", "extension")]


@pytest.mark.parametrize("rel", DESCRIPTORS)
def test_a_module_validate_passes_is_read_by_the_builds_too(rel: str) -> None:
    """create-builder and extend read fetched modules with their own, shorter reader: it must
    take every descriptor validate passes (validate never passes what a command refuses)."""
    from cnbext.sources.descriptor import ModuleError, read_descriptor

    kind = VERDICTS[rel]["kind"]
    problems = [p for r in validate([ROOT / rel]).files for p in r.problems]
    try:
        read_descriptor((ROOT / rel).parent, kind)  # type: ignore[arg-type]
    except ModuleError as err:
        assert problems, f"validate passes it, the build refuses it: {err}"
