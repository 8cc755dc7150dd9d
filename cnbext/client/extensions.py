"""Running image extensions ahead of time: detect, then generate, each in a container.

Extensions run in a container of the build image as its CNB user (never on the host), with the
environment the lifecycle gives them (image_extension.md): CNB_EXTENSION_DIR, CNB_PLATFORM_DIR
with env/ files, CNB_BUILD_PLAN_PATH for detect, CNB_BP_PLAN_PATH and CNB_OUTPUT_DIR for
generate, CNB_TARGET_* from the run image. What they generate is read by cnbext.cnb.extender.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypedDict

import tomlkit

from cnbext.client.concurrency import concurrently
from cnbext.cnb.distro import parse_os_release
from cnbext.cnb.dockerfile import is_root_user
from cnbext.cnb.extender import ExtensionPlans, GeneratedOutput, parse_detect_plan
from cnbext.config.extend_config import load_extend_config
from cnbext.config.extension import load_extension_config
from cnbext.config.extension_request import ExtensionRequest
from cnbext.engine.models import PhaseResult, PhaseRun
from cnbext.engine.protocol import Engine
from cnbext.errors import (
    DETECT_ERROR,
    DETECT_PLAN_ERROR,
    GENERATE_ERROR,
    GENERATE_OUTPUT_ERROR,
    ConfigError,
    ExtensionError,
    ImageError,
)
from cnbext.plan.facts import BaseImage
from cnbext.progress import Reporter
from cnbext.sources.cache import cache_dir
from cnbext.sources.extension_output import (
    check_generate_output,
    copy_static_output,
    fresh_output_dir,
    read_output_file,
    write_plan,
)
from cnbext.sources.limits import env_number
from cnbext.sources.modules import Module, ModuleError, fetch_modules, stage_module
from cnbext.sources.uri import redact_url

DEFAULT_TIMEOUT = 300.0  # seconds for each detect and generate
TIMEOUT_ENV = "CNBEXT_EXTENSION_TIMEOUT"  # overrides it (seconds)
DEFAULT_MEMORY_BYTES = 2 << 30  # per detect or generate container
# Detects run at the same time (the lifecycle's detector runs a group's detects in
# goroutines); at most this many containers, so their memory caps add up to a bounded total.
MAX_DETECTS = 4
MEMORY_ENV = "CNBEXT_EXTENSION_MEMORY"  # overrides it (bytes)
DEFAULT_PIDS_LIMIT = 512  # processes and threads per container
PIDS_ENV = "CNBEXT_EXTENSION_PIDS"  # overrides it
# What one detect or generate may write (its output, a tmpfs: held in memory, so within the
# container's memory limit too).
DEFAULT_OUTPUT_BYTES = 1 << 30
OUTPUT_ENV = "CNBEXT_EXTENSION_OUTPUT_BYTES"  # overrides it (bytes)
PLATFORM_DIR = "/platform"
APP_DIR = "/workspace"
OUT_DIR = "/cnbext/out"


@dataclass(frozen=True)
class DetectOutcome:
    passed: bool
    provides: tuple[str, ...]


class ContainerLimits(TypedDict):
    memory_bytes: int
    pids_limit: int
    output_bytes: int


def container_limits() -> ContainerLimits:
    """Memory and process caps for every detect and generate container (docs/security.md):
    an extension is untrusted code, and must not take the machine down with it."""
    return ContainerLimits(
        memory_bytes=int(env_number(MEMORY_ENV, DEFAULT_MEMORY_BYTES, integer=True)),
        pids_limit=int(env_number(PIDS_ENV, DEFAULT_PIDS_LIMIT, integer=True)),
        output_bytes=int(env_number(OUTPUT_ENV, DEFAULT_OUTPUT_BYTES, integer=True)),
    )


def target_env(run_image: BaseImage) -> dict[str, str]:
    """CNB_TARGET_* describe where the app will run: the run image."""
    env = {"CNB_TARGET_OS": run_image.os or "linux", "CNB_TARGET_ARCH": run_image.architecture}
    if run_image.os_release:
        distro = parse_os_release(run_image.os_release)
        env["CNB_TARGET_DISTRO_NAME"] = distro.id
        env["CNB_TARGET_DISTRO_VERSION"] = distro.version_id
    return env


def cnb_user(image: BaseImage) -> str:
    """Who detect and generate run as: the CNB ids, else the image's User; never root (an
    extension is a stranger's code, and its output folders are host folders)."""
    uid, gid = image.env.get("CNB_USER_ID"), image.env.get("CNB_GROUP_ID")
    user = f"{uid}:{gid}" if uid and gid else image.user
    if is_root_user(user) or user.split(":", 1)[0] == "0":
        shown = f"User {user!r}" if user else "no CNB_USER_ID/CNB_GROUP_ID and an empty User"
        raise ImageError(
            f"{image.reference}: image extensions would run as root in it ({shown})",
            hint="extensions run as the build image's CNB user: set CNB_USER_ID and "
            "CNB_GROUP_ID (and a non-root User) in the build image",
        )
    return user


@dataclass(frozen=True)
class ExtensionRun:
    """Everything running one command's image extensions needs."""

    requests: tuple[ExtensionRequest, ...]
    build_image: BaseImage  # detect and generate run in it, as its CNB user
    run_image: BaseImage  # CNB_TARGET_* describe it
    platform_env: Mapping[str, str]  # --env: files in $CNB_PLATFORM_DIR/env
    app_dir: Path | None  # --app; None: an empty folder
    base_dir: Path  # relative extension URIs resolve here
    work_dir: Path  # scratch for fetched modules and outputs; must outlive the plan
    cache_dir: Path = field(default_factory=cache_dir)
    # nan, inf or 0 would mean no limit: env_number refuses them (exit 2).
    timeout: float = field(default_factory=lambda: env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT))


@dataclass(frozen=True)
class _Mounts:
    """One extension's folders, on the host and in its detect/generate containers."""

    staged: Path  # the extension's files
    out: Path  # detect/ and generate/ outputs, plan/plan.toml
    shared: tuple[tuple[Path, str, bool], ...]  # read-only: files, platform, app
    env: dict[str, str]  # what both phases get

    def volumes(self, phase: str) -> tuple[tuple[Path, str, bool], ...]:
        """Each phase may write only its own output folder; generate reads the plan
        read-only, so nothing a phase leaves behind can redirect cnbext's writes."""
        own: tuple[tuple[Path, str, bool], ...] = ((self.out / phase, f"{OUT_DIR}/{phase}", False),)
        if phase == "generate":
            own = ((self.out / "plan", f"{OUT_DIR}/plan", True), *own)
        return (*self.shared, *own)


def run_extensions(
    engine: Engine, reporter: Reporter, run: ExtensionRun
) -> tuple[GeneratedOutput, ...]:
    """Detect every extension (at the same time, as the lifecycle's detector does), then
    generate, in order, for the ones that apply; what they generated."""
    platform = run.work_dir / "platform"
    (platform / "env").mkdir(parents=True, exist_ok=True)
    for name, value in run.platform_env.items():
        (platform / "env" / name).write_text(value)
    app = run.app_dir if run.app_dir is not None else _empty_dir(run.work_dir / "app")
    runnings = [
        _prepare(engine, reporter, run, index, platform, app) for index in range(len(run.requests))
    ]
    outcomes = concurrently([partial(_detect, r) for r in runnings], limit=MAX_DETECTS)
    outputs: list[GeneratedOutput] = []
    for running, request, outcome in zip(runnings, run.requests, outcomes, strict=True):
        if not outcome.passed:
            reporter.info(f"extension {running.label} does not apply (detect failed); skipped")
            continue
        outputs.append(_generate(running, request, outcome))
    return tuple(outputs)


def _prepare(
    engine: Engine, reporter: Reporter, run: ExtensionRun, index: int, platform: Path, app: Path
) -> _Running:
    """The ``index``th extension fetched, staged and given its folders."""
    fetch_dir = run.work_dir / "fetch" / str(index)
    module = _fetch(engine, run.requests[index], run.base_dir, fetch_dir, run.cache_dir)
    return _Running(engine, reporter, run, module, _mount(module, run, index, platform, app))


def extension_plans(engine: Engine, reporter: Reporter, run: ExtensionRun) -> ExtensionPlans:
    """Run the extensions and turn what they generated into the extender's plans."""
    return ExtensionPlans.from_outputs(run_extensions(engine, reporter, run))


def _mount(module: Module, run: ExtensionRun, index: int, platform: Path, app: Path) -> _Mounts:
    staged = stage_module(module, run.work_dir / "staged" / str(index))
    out = run.work_dir / "out" / str(index)
    for sub in ("detect", "generate", "plan"):
        # The engine copies each phase's output into its folder (as this user).
        (out / sub).mkdir(parents=True, exist_ok=True)
    ext_dir = str(module.install_path)
    shared = ((staged, ext_dir, True), (platform, PLATFORM_DIR, True), (app, APP_DIR, True))
    env = {
        "CNB_EXTENSION_DIR": ext_dir,
        "CNB_PLATFORM_DIR": PLATFORM_DIR,
        **target_env(run.run_image),
    }
    return _Mounts(staged, out, shared, env)


def _phase(
    run: ExtensionRun, mounts: _Mounts, phase: str, command: str, env: dict[str, str]
) -> PhaseRun:
    return PhaseRun(
        image=run.build_image.reference,
        command=(command,),
        env={**mounts.env, **env},
        mounts=mounts.volumes(phase),
        user=cnb_user(run.build_image),
        workdir=APP_DIR,
        timeout=run.timeout,
        output=mounts.out / phase,
        **container_limits(),
    )


@dataclass(frozen=True)
class _Running:
    """One extension's detect and generate: the engine and progress, the run, its files."""

    engine: Engine
    reporter: Reporter
    run: ExtensionRun
    module: Module
    mounts: _Mounts

    @property
    def label(self) -> str:
        return f"{self.module.descriptor.id}@{self.module.descriptor.version}"

    def phase(
        self,
        phase: str,
        env: dict[str, str],
        *,
        passing: tuple[int, ...],
        exit_code: int,
        codes: str = "",
    ) -> PhaseResult:
        """Run ``bin/<phase>``; a timeout or an exit code not ``passing`` is an error (its
        message explains the exit ``codes``)."""
        command = f"{self.module.install_path}/bin/{phase}"
        request = _phase(self.run, self.mounts, phase, command, env)  # refuses a root user
        with self.reporter.step(f"Running {self.label} {phase}"):
            result = self.engine.run_phase(request)
        if result.over_output:
            limit = container_limits()["output_bytes"]
            raise ExtensionError(
                f"extension {self.label}: {phase} wrote more than {limit} bytes to its output "
                f"and was stopped (set {OUTPUT_ENV} to allow more)\n{result.output.strip()}",
                exit_code=exit_code,
            )
        if result.timed_out or result.exit_code not in passing:
            why = "timed out" if result.timed_out else f"exited {result.exit_code}"
            raise ExtensionError(
                f"extension {self.label}: {phase} {why}{codes}\n{result.output.strip()}",
                exit_code=exit_code,
            )
        return result


def _generate(
    running: _Running, request: ExtensionRequest, outcome: DetectOutcome
) -> GeneratedOutput:
    """generate with a Buildpack Plan of what detect provided; or its static output."""
    module, label = running.module, running.label
    out, staged = running.mounts.out, running.mounts.staged
    entries = [{"name": n, "metadata": dict(request.metadata)} for n in outcome.provides]
    write_plan(out / "plan" / "plan.toml", tomlkit.dumps({"entries": entries}))
    fresh_output_dir(out / "generate")
    source = None
    if (staged / "bin" / "generate").is_file():
        env = {
            "CNB_BP_PLAN_PATH": f"{OUT_DIR}/plan/plan.toml",
            "CNB_OUTPUT_DIR": f"{OUT_DIR}/generate",
        }
        running.phase("generate", env, passing=(0,), exit_code=GENERATE_ERROR)
    elif (staged / "generate").is_dir():
        copy_static_output(staged / "generate", out / "generate")
        source = module.root / "generate"  # the extension's own files, for error messages
    check_generate_output(out / "generate", label)
    descriptor = module.descriptor
    return read_generate_output(out / "generate", descriptor.id, descriptor.version, source=source)


def _detect(running: _Running) -> DetectOutcome:
    """0 passes, 100 does not apply, anything else is an error; a plan must not `require`."""
    label, mounts = running.label, running.mounts
    staged = mounts.staged
    if (staged / "bin" / "detect").is_file():
        env = {"CNB_BUILD_PLAN_PATH": f"{OUT_DIR}/detect/plan.toml"}
        result = running.phase(
            "detect",
            env,
            passing=(0, 100),
            exit_code=DETECT_ERROR,
            codes=" (0 = applies, 100 = does not apply, anything else is an error)",
        )
        plan = mounts.out / "detect" / "plan.toml"
        passed = result.exit_code == 0
    else:
        plan = staged / "detect" / "plan.toml"  # static detect output; absent = passes
        passed = True
    text = read_output_file(plan, owner=label, exit_code=DETECT_PLAN_ERROR, root=plan.parents[1])
    provides = parse_detect_plan(text, running.module.descriptor.id) if text is not None else ()
    return DetectOutcome(passed, provides)


def _fetch(
    engine: Engine, request: ExtensionRequest, base_dir: Path, work_dir: Path, cache_dir: Path
) -> Module:
    def export(image: str, dest: Path) -> None:
        engine.export_tree(image, ["/cnb/extensions"], dest)

    modules = fetch_modules(
        request.uri,
        kind="extension",
        base_dir=base_dir,
        work_dir=work_dir,
        cache_dir=cache_dir,
        image_exporter=export,
        sha256=request.sha256,
    )
    matches = [
        m
        for m in modules
        if (request.id is None or m.descriptor.id == request.id)
        and (request.version is None or m.descriptor.version == request.version)
    ]
    for module in modules:
        # Positioned errors (file:line:col) for the extension's own descriptor.
        load_extension_config(
            module.root / "extension.toml", f"{redact_url(request.uri)}: extension.toml"
        )
    if len(matches) != 1:
        found = ", ".join(f"{m.descriptor.id}@{m.descriptor.version}" for m in modules) or "none"
        wanted = request.id or "one extension"
        raise ModuleError(
            f"{redact_url(request.uri)}: expected {wanted}"
            f"{'@' + request.version if request.version else ''}, found {found}",
            hint="set id (and version) on the extension to pick one",
        )
    return matches[0]


def _empty_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_generate_output(
    output_dir: Path, extension_id: str, version: str, *, source: Path | None = None
) -> GeneratedOutput:
    """Dockerfiles, extend-config.toml args and context folders, checked against the spec.
    ``source`` is where the files are on disk for a user to open (default: ``output_dir``)."""

    def text(name: str) -> str | None:
        # Never through a link: generate wrote these in a container (docs/security.md).
        owner = f"{extension_id}@{version}"
        return read_output_file(output_dir / name, owner=owner, exit_code=GENERATE_OUTPUT_ERROR)

    args: dict[str, dict[str, str]] = {"build": {}, "run": {}}
    config_text = text("extend-config.toml")
    if config_text is not None:
        try:
            args = load_extend_config(config_text, f"{extension_id}/extend-config.toml")
        except ConfigError as err:
            raise ExtensionError(
                f"extension {extension_id}: invalid extend-config.toml (reading extend config):\n"
                + "\n".join(str(p) for p in err.problems)
                + f"\n{extension_id}/extend-config.toml is "
                + str((source or output_dir) / "extend-config.toml"),
                exit_code=GENERATE_OUTPUT_ERROR,
            ) from None
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
        source=source or output_dir,
    )
