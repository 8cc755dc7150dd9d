"""The extender's rules (CNB platform.md `extender`, image_extension.md, RFC 0105), pure.

From what each extension's generate wrote, decide which Dockerfiles are applied to which
image, in what order, with which build args and context, and what the result's
io.buildpacks.rebasable label is. The engine applies the steps; nothing here runs anything.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cnbext.cnb.dockerfile import (
    BASE_IMAGE_FROM,
    DockerfileKind,
    Severity,
    lint,
    parse_instructions,
)
from cnbext.cnb.semver import module_version_warning
from cnbext.errors import CnbextError

RESERVED_ARGS = frozenset({"build_id", "user_id", "group_id"})
REBASABLE_LABEL = "io.buildpacks.rebasable"


class ExtensionError(CnbextError):
    """An extension failed or broke a rule; exit codes follow the spec's tables."""

    def __init__(self, message: str, *, exit_code: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code  # type: ignore[assignment]


# Exit codes (docs/exit-codes.md), after the lifecycle's detector / generator / extender.
DETECT_ERROR = 21  # detect exited with neither 0 nor 100
DETECT_PLAN_ERROR = 22  # the plan is malformed or has `requires`
GENERATE_ERROR = 91  # generate exited non-zero
GENERATE_OUTPUT_ERROR = 92  # extend-config.toml or context folders break the rules
DOCKERFILE_ERROR = 100  # a Dockerfile breaks the extension Dockerfile rules
ROOT_USER_ERROR = 101  # the run image would run as root
EXTENSION_BUILD_ERROR = 102  # building an extension's Dockerfile failed


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
        plan = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ExtensionError(
            f"extension {extension_id}: detect wrote an invalid plan.toml: {err}",
            exit_code=DETECT_PLAN_ERROR,
        ) from None
    alternatives = [plan, *plan.get("or", [])]
    names: list[str] = []
    for alternative in alternatives:
        if alternative.get("requires"):
            raise ExtensionError(
                f'extension {extension_id} outputs "requires" which is not allowed',
                exit_code=DETECT_PLAN_ERROR,
            )
        for provided in alternative.get("provides", []):
            name = provided.get("name") if isinstance(provided, dict) else None
            if not isinstance(name, str) or not name:
                raise ExtensionError(
                    f"extension {extension_id}: every [[provides]] in plan.toml needs a name",
                    exit_code=DETECT_PLAN_ERROR,
                )
            if name not in names:
                names.append(name)
    return tuple(names)


def read_generate_output(output_dir: Path, extension_id: str, version: str) -> GeneratedOutput:
    """Dockerfiles, extend-config.toml args and context folders, checked against the spec."""

    def text(name: str) -> str | None:
        path = output_dir / name
        return path.read_text() if path.is_file() else None

    args: dict[str, dict[str, str]] = {"build": {}, "run": {}}
    config_text = text("extend-config.toml")
    if config_text is not None:
        try:
            config = tomllib.loads(config_text)
        except tomllib.TOMLDecodeError as err:
            raise ExtensionError(
                f"extension {extension_id}: invalid extend-config.toml: {err}",
                exit_code=GENERATE_OUTPUT_ERROR,
            ) from None
        for kind in ("build", "run"):
            for arg in config.get(kind, {}).get("args", []):
                name, value = str(arg.get("name", "")), str(arg.get("value", ""))
                if name in RESERVED_ARGS:
                    raise ExtensionError(
                        f"extension {extension_id}: arg with name {name!r} is not allowed",
                        exit_code=GENERATE_OUTPUT_ERROR,
                        hint="build_id, user_id and group_id are set by the extender",
                    )
                if not name:
                    raise ExtensionError(
                        f"extension {extension_id}: every [[{kind}.args]] needs a name",
                        exit_code=GENERATE_OUTPUT_ERROR,
                    )
                args[kind][name] = value
    shared = output_dir / "context"
    specific = {kind: output_dir / f"context.{kind}" for kind in ("build", "run")}
    if shared.is_dir() and any(p.is_dir() for p in specific.values()):
        raise ExtensionError(
            f"extension {extension_id}: generate wrote both `context` and "
            "`context.build`/`context.run`; use one or the other",
            exit_code=GENERATE_OUTPUT_ERROR,
        )
    contexts = {
        kind: specific[kind] if specific[kind].is_dir() else (shared if shared.is_dir() else None)
        for kind in ("build", "run")
    }
    return GeneratedOutput(
        extension_id=extension_id,
        extension_version=version,
        build_dockerfile=text("build.Dockerfile"),
        run_dockerfile=text("run.Dockerfile"),
        build_args=args["build"],
        run_args=args["run"],
        build_context=contexts["build"],
        run_context=contexts["run"],
    )


@dataclass(frozen=True)
class ExtenderStep:
    """One Dockerfile to apply: on the previous step's result, or on ``switch_to``."""

    kind: DockerfileKind
    extension_id: str
    extension_version: str
    dockerfile: str
    args: dict[str, str]
    context: Path | None  # None: the app dir
    switch_to: str | None  # run.Dockerfile only: the image its FROM switches to
    sets_rebasable: bool  # LABEL io.buildpacks.rebasable=true


@dataclass(frozen=True)
class ExtenderPlan:
    kind: DockerfileKind
    steps: tuple[ExtenderStep, ...]
    ignored: tuple[str, ...]  # extension ids whose run.Dockerfile a later switch overrides
    warnings: tuple[str, ...]

    @property
    def switched_to(self) -> str | None:
        return self.steps[0].switch_to if self.steps and self.steps[0].switch_to else None

    @property
    def rebasable(self) -> bool:
        """True only if every applied run.Dockerfile says so (unset counts as false)."""
        return bool(self.steps) and all(step.sets_rebasable for step in self.steps)


def plan_extender(outputs: Sequence[GeneratedOutput], kind: DockerfileKind) -> ExtenderPlan:
    """Lint and order one kind's Dockerfiles; for run, apply the run-image switch rule."""
    steps: list[ExtenderStep] = []
    warnings: list[str] = []
    errors: list[str] = []
    for output in outputs:
        text = output.dockerfile(kind)
        if text is None:
            continue
        file = f"{output.extension_id}/{kind.value}.Dockerfile"
        for finding in lint(text, kind):
            if finding.severity is Severity.ERROR:
                errors.append(finding.format(file))
            else:
                warnings.append(finding.format(file))
        steps.append(
            ExtenderStep(
                kind=kind,
                extension_id=output.extension_id,
                extension_version=output.extension_version,
                dockerfile=text,
                args=output.args(kind),
                context=output.context(kind),
                switch_to=_switch_target(text) if kind is DockerfileKind.RUN else None,
                sets_rebasable=_sets_rebasable(text),
            )
        )
    if errors:
        raise ExtensionError(
            "extension Dockerfiles break the image extension rules:\n" + "\n".join(errors),
            exit_code=DOCKERFILE_ERROR,
        )
    ignored: tuple[str, ...] = ()
    switching = [i for i, step in enumerate(steps) if step.switch_to]
    if switching:
        # The last switch wins: run.Dockerfiles before it would extend an image nobody uses.
        last = switching[-1]
        ignored = tuple(step.extension_id for step in steps[:last])
        steps = steps[last:]
    return ExtenderPlan(kind, tuple(steps), ignored, tuple(warnings))


def _switch_target(dockerfile: str) -> str | None:
    for instruction in parse_instructions(dockerfile):
        if instruction.keyword == "FROM":
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            if words and not BASE_IMAGE_FROM.match(words[0]):
                return words[0]
            return None
    return None


_REBASABLE = re.compile(r"""io\.buildpacks\.rebasable\s*=\s*["']?true["']?(\s|$)""")


def _sets_rebasable(dockerfile: str) -> bool:
    return any(
        instruction.keyword == "LABEL" and _REBASABLE.search(instruction.arguments + " ")
        for instruction in parse_instructions(dockerfile)
    )


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
