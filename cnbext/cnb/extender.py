"""The extender's rules (CNB platform.md `extender`, image_extension.md, RFC 0105), pure.

From what each extension's generate wrote, decide which Dockerfiles are applied to which
image, in what order, with which build args and context, and what the result's
io.buildpacks.rebasable label is. The engine applies the steps; nothing here runs anything.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnbext.cnb.dockerfile import (
    SOURCE_DATE_EPOCH,
    DockerfileKind,
    check_dockerfile,
    is_root_user,
    split_user,
)
from cnbext.cnb.semver import module_version_warning
from cnbext.errors import (
    DETECT_PLAN_ERROR,
    GENERATE_OUTPUT_ERROR,
    ROOT_USER_ERROR,
    ExtensionError,
)
from cnbext.sources.toml_limits import load_toml

REBASABLE_LABEL = "io.buildpacks.rebasable"
# The history entry of every layer an extension adds (the lifecycle's layers.ExtensionLayerName).
EXTENSION_LAYER_NAME = "Layer: '{created_by}', Created by extension: {extension_id}"


@dataclass(frozen=True)
class GeneratedOutput:
    """What one extension's generate left in its output folder."""

    extension_id: str
    extension_version: str
    build_dockerfile: str | None
    run_dockerfile: str | None
    build_args: dict[str, str] = field(default_factory=dict)
    run_args: dict[str, str] = field(default_factory=dict)
    build_context: Path | None = None  # None: the app dir
    run_context: Path | None = None
    source: Path | None = None  # the folder the files were read from, for error messages

    def dockerfile(self, kind: DockerfileKind) -> str | None:
        return self.build_dockerfile if kind is DockerfileKind.BUILD else self.run_dockerfile

    def args(self, kind: DockerfileKind) -> dict[str, str]:
        return self.build_args if kind is DockerfileKind.BUILD else self.run_args

    def context(self, kind: DockerfileKind) -> Path | None:
        return self.build_context if kind is DockerfileKind.BUILD else self.run_context


def parse_detect_plan(text: str, extension_id: str) -> tuple[str, ...]:
    """The names an extension provides (first alternative and every [[or]]). Extensions must
    not require anything: the lifecycle refuses that, and so do we."""
    try:
        plan = load_toml(text)
    except tomllib.TOMLDecodeError as err:
        raise ExtensionError(
            f"extension {extension_id}: detect wrote an invalid plan.toml: {err}",
            exit_code=DETECT_PLAN_ERROR,
        ) from None
    names: list[str] = []
    for alternative in _alternatives(plan, extension_id):
        if alternative.get("requires"):
            raise ExtensionError(
                f'extension {extension_id} outputs "requires" which is not allowed',
                exit_code=DETECT_PLAN_ERROR,
            )
        for provided in _tables(alternative, "provides", extension_id):
            name = provided.get("name") if isinstance(provided, dict) else None
            if not isinstance(name, str) or not name:
                raise ExtensionError(
                    f"extension {extension_id}: every [[provides]] in plan.toml needs a name",
                    exit_code=DETECT_PLAN_ERROR,
                )
            if name not in names:
                names.append(name)
    return tuple(names)


def _alternatives(plan: dict[str, Any], extension_id: str) -> list[dict[str, Any]]:
    return [plan, *_tables(plan, "or", extension_id)]


def _tables(table: dict[str, Any], key: str, extension_id: str) -> list[dict[str, Any]]:
    """``table[key]`` as an array of tables (``[[or]]``, ``[[provides]]``); anything else is
    detect's mistake, refused as the lifecycle refuses a plan it cannot decode."""
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ExtensionError(
            f"extension {extension_id}: detect wrote an invalid plan.toml: "
            f"{key} must be an array of tables ([[{key}]])",
            exit_code=DETECT_PLAN_ERROR,
        )
    return value


@dataclass(frozen=True)
class ExtenderStep:
    """One Dockerfile to apply: on the previous step's result, or on ``switch_to``."""

    kind: DockerfileKind
    extension_id: str
    extension_version: str
    dockerfile: str
    args: dict[str, str]  # the extension's own (extend-config.toml); reserved names refused
    context: Path | None  # None: the app dir
    switch_to: str | None  # run.Dockerfile only: the image its FROM switches to
    extends: bool = True  # it has instructions after FROM (else it only switches)

    @property
    def title(self) -> str:
        return f"{self.kind.value}.Dockerfile of {self.extension_id}@{self.extension_version}"


@dataclass(frozen=True)
class ExtenderPlan:
    kind: DockerfileKind
    steps: tuple[ExtenderStep, ...]
    ignored: tuple[str, ...]  # extension ids whose run.Dockerfile a later switch overrides
    warnings: tuple[str, ...]

    @property
    def switched_to(self) -> str | None:
        return self.steps[0].switch_to if self.steps and self.steps[0].switch_to else None


def plan_extender(outputs: Sequence[GeneratedOutput], kind: DockerfileKind) -> ExtenderPlan:
    """Check and order one kind's Dockerfiles; for run, apply the run-image switch rule.
    Every broken rule of every Dockerfile is reported at once, at file:line:col."""
    steps: list[ExtenderStep] = []
    warnings: list[str] = []
    errors: list[str] = []
    on_disk: list[str] = []
    for output in outputs:
        text = output.dockerfile(kind)
        if text is None:
            continue
        file = f"{output.extension_id}/{kind.value}.Dockerfile"
        check = check_dockerfile(text, kind)
        errors += [finding.format(file) for finding in check.errors]
        warnings += [finding.format(file) for finding in check.warnings]
        if check.errors and output.source is not None:
            on_disk.append(f"{file} is {output.source / f'{kind.value}.Dockerfile'}")
        steps.append(
            ExtenderStep(
                kind=kind,
                extension_id=output.extension_id,
                extension_version=output.extension_version,
                dockerfile=text,
                args=output.args(kind),
                context=output.context(kind),
                switch_to=check.switch_to,
                extends=check.extends,
            )
        )
    if errors:
        raise ExtensionError(
            f"failed to parse {kind.value}.Dockerfile: the image extension rules are broken:\n"
            + "\n".join([*errors, *on_disk]),
            exit_code=GENERATE_OUTPUT_ERROR,
        )
    ignored: tuple[str, ...] = ()
    switching = [i for i, step in enumerate(steps) if step.switch_to]
    if switching:
        # The last switch wins: run.Dockerfiles before it would extend an image nobody uses.
        last = switching[-1]
        ignored = tuple(step.extension_id for step in steps[:last])
        steps = steps[last:]
    return ExtenderPlan(kind, tuple(steps), ignored, tuple(warnings))


@dataclass(frozen=True)
class ExtensionPlans:
    """Both kinds for one builder: build.Dockerfiles for it, run.Dockerfiles for its run image."""

    build: ExtenderPlan
    run: ExtenderPlan

    @classmethod
    def from_outputs(cls, outputs: Sequence[GeneratedOutput]) -> ExtensionPlans:
        return cls(
            plan_extender(outputs, DockerfileKind.BUILD), plan_extender(outputs, DockerfileKind.RUN)
        )

    @property
    def warnings(self) -> tuple[str, ...]:
        ignored = tuple(
            f"run.Dockerfile of {ext} is ignored: a later extension switches the run image"
            for ext in self.run.ignored
        )
        # The one rule for module versions (cnbext.cnb.semver): X.Y.Z, else a warning.
        versions = {
            (step.extension_id, step.extension_version)
            for step in (*self.build.steps, *self.run.steps)
        }
        version_warnings = tuple(
            warning
            for ext_id, version in sorted(versions)
            if (warning := module_version_warning(f"extension {ext_id}", version)) is not None
        )
        return (*self.build.warnings, *self.run.warnings, *ignored, *version_warnings)


def applied_extensions(plan: ExtenderPlan) -> list[dict[str, str]]:
    """What io.buildpacks.extend.metadata records about the extensions applied to an image."""
    return [{"id": s.extension_id, "version": s.extension_version} for s in plan.steps]


# -- applying steps: what each Dockerfile gets and what its result means ------------------------


def step_build_args(
    step: ExtenderStep,
    *,
    build_id: str,
    user: str,
    base_image: str,
    source_date_epoch: str | None = None,
) -> dict[str, str]:
    """The lifecycle's order: build_id, user_id and group_id (the User of the image the step
    builds on: the previous result, or after a switch the switched-to image), the
    extension's args, then base_image last so nothing can replace it. A reproducible
    request's SOURCE_DATE_EPOCH (BuildKit's: config, history and, with rewrite-timestamp,
    file times) comes after the extension's args, so an extension cannot move it."""
    user_id, group_id = split_user(user)
    epoch = {SOURCE_DATE_EPOCH: source_date_epoch} if source_date_epoch is not None else {}
    return {
        "build_id": build_id,
        "user_id": user_id,
        "group_id": group_id,
        **step.args,
        **epoch,
        "base_image": base_image,
    }


def history_name(extension_id: str) -> str:
    """The template (``{created_by}`` left in) for history entries an extension's step adds."""
    return EXTENSION_LAYER_NAME.replace("{extension_id}", extension_id)


def labels_before(step: ExtenderStep) -> dict[str, str]:
    """Labels set on the image a step builds on. The extender spec resets the rebasable label
    to false before each run.Dockerfile, so only a run.Dockerfile that sets it counts."""
    return {REBASABLE_LABEL: "false"} if step.kind is DockerfileKind.RUN else {}


def labels_as_based(origin: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str | None]]:
    """Per platform, the rebasable label a finished run image gets back from ``origin`` (the
    labels of the image its steps started from; None: the label is removed). What a step
    left there says whether the extension layers may move to a new base: ahead of time that
    is the image's own business, recorded in its provenance, while every app built on the
    run image inherits its labels and the lifecycle's rebaser refuses an app whose label is
    "false" (docs/extensions.md). With the base's own value, a build-time extension of the
    run image reads what it would read on the base."""
    return {
        platform: {REBASABLE_LABEL: labels.get(REBASABLE_LABEL)}
        for platform, labels in origin.items()
    }


def parse_bool(value: str | None) -> bool | None:
    """Go's strconv.ParseBool, as the lifecycle reads the label; None when it is no bool."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def still_rebasable(rebasable: bool, labels: Sequence[Mapping[str, str]]) -> bool:
    """After a run.Dockerfile: rebasable only if it was and every platform's result says so
    (unset or unparsable counts as false)."""
    return rebasable and all(parse_bool(each.get(REBASABLE_LABEL)) is True for each in labels)


def user_warning(step: ExtenderStep, before: str, after: str) -> str | None:
    if after != before and is_root_user(after):
        return (
            f"{step.title} changed the user from {before or 'empty'} to {after or 'empty'}; "
            "it must not be the final user (a following Dockerfile must reset it)"
        )
    return None


def check_final_user(kind: DockerfileKind, user: str) -> None:
    """A run image must not end as root (the lifecycle's extender refuses it)."""
    if kind is DockerfileKind.RUN and is_root_user(user):
        raise ExtensionError(
            f"the final user ID is 0 (root) after the run image extensions "
            f"(User {user or 'empty'}); run images must not run as root",
            exit_code=ROOT_USER_ERROR,
            hint="end each run.Dockerfile with USER ${user_id}:${group_id}",
        )
