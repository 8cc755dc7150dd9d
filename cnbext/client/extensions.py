"""Running image extensions ahead of time: detect, then generate, each in a container.

Extensions run in a container of the build image as its CNB user (never on the host), with the
environment the lifecycle gives them (image_extension.md): CNB_EXTENSION_DIR, CNB_PLATFORM_DIR
with env/ files, CNB_BUILD_PLAN_PATH for detect, CNB_BP_PLAN_PATH and CNB_OUTPUT_DIR for
generate, CNB_TARGET_* from the run image. What they generate is read by cnbext.cnb.extender.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import tomlkit

from cnbext.client.progress import Reporter
from cnbext.cnb.distro import parse_os_release
from cnbext.cnb.extender import (
    DETECT_ERROR,
    DETECT_PLAN_ERROR,
    GENERATE_ERROR,
    ExtensionError,
    ExtensionPlans,
    GeneratedOutput,
    parse_detect_plan,
    read_generate_output,
)
from cnbext.config.extension import load_extension_config
from cnbext.config.extension_request import ExtensionRequest
from cnbext.engine.models import BaseImage, PhaseRun
from cnbext.engine.protocol import Engine
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
MEMORY_ENV = "CNBEXT_EXTENSION_MEMORY"  # overrides it (bytes)
DEFAULT_PIDS_LIMIT = 512  # processes and threads per container
PIDS_ENV = "CNBEXT_EXTENSION_PIDS"  # overrides it
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


def container_limits() -> ContainerLimits:
    """Memory and process caps for every detect and generate container (docs/security.md):
    an extension is untrusted code, and must not take the machine down with it."""
    return ContainerLimits(
        memory_bytes=int(env_number(MEMORY_ENV, DEFAULT_MEMORY_BYTES, integer=True)),
        pids_limit=int(env_number(PIDS_ENV, DEFAULT_PIDS_LIMIT, integer=True)),
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
    uid, gid = image.env.get("CNB_USER_ID"), image.env.get("CNB_GROUP_ID")
    return f"{uid}:{gid}" if uid and gid else image.user


def run_extensions(
    engine: Engine,
    reporter: Reporter,
    requests: Sequence[ExtensionRequest],
    *,
    build_image: BaseImage,
    run_image: BaseImage,
    platform_env: Mapping[str, str],
    app_dir: Path | None,
    base_dir: Path,
    work_dir: Path,
    cache_dir: Path,
    timeout: float | None = None,
) -> tuple[GeneratedOutput, ...]:
    """Detect, then generate, each extension in order; what the ones that apply generated."""
    if timeout is None:
        timeout = env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT)  # nan or inf would mean no limit
    platform = work_dir / "platform"
    (platform / "env").mkdir(parents=True, exist_ok=True)
    for name, value in platform_env.items():
        (platform / "env" / name).write_text(value)
    app = app_dir if app_dir is not None else _empty_dir(work_dir / "app")
    outputs: list[GeneratedOutput] = []
    for index, request in enumerate(requests):
        module = _fetch(engine, request, base_dir, work_dir / "fetch" / str(index), cache_dir)
        descriptor = module.descriptor
        staged = stage_module(module, work_dir / "staged" / str(index))
        ext_dir = str(module.install_path)
        out = work_dir / "out" / str(index)
        for sub in ("detect", "generate", "plan"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("detect", "generate"):
            (out / sub).chmod(0o777)  # the CNB user writes here, and only here
        shared = ((staged, ext_dir, True), (platform, PLATFORM_DIR, True), (app, APP_DIR, True))
        # Each phase may write only its own output folder; the plan is mounted read-only.
        mounts = (*shared, (out / "detect", f"{OUT_DIR}/detect", False))
        generate_mounts = (
            *shared,
            (out / "plan", f"{OUT_DIR}/plan", True),
            (out / "generate", f"{OUT_DIR}/generate", False),
        )
        base_env = {
            "CNB_EXTENSION_DIR": ext_dir,
            "CNB_PLATFORM_DIR": PLATFORM_DIR,
            **target_env(run_image),
        }
        label = f"{descriptor.id}@{descriptor.version}"
        outcome = _detect(
            engine, reporter, label, staged, build_image, mounts, base_env, timeout, module
        )
        if not outcome.passed:
            reporter.info(f"extension {label} does not apply (detect failed); skipped")
            continue
        plan_text = tomlkit.dumps(
            {"entries": [{"name": n, "metadata": dict(request.metadata)} for n in outcome.provides]}
        )
        write_plan(out / "plan" / "plan.toml", plan_text)
        fresh_output_dir(out / "generate")
        if (staged / "bin" / "generate").is_file():
            with reporter.step(f"Running {label} generate"):
                result = engine.run_phase(
                    PhaseRun(
                        image=build_image.reference,
                        command=(f"{ext_dir}/bin/generate",),
                        env={
                            **base_env,
                            "CNB_BP_PLAN_PATH": f"{OUT_DIR}/plan/plan.toml",
                            "CNB_OUTPUT_DIR": f"{OUT_DIR}/generate",
                        },
                        mounts=generate_mounts,
                        user=cnb_user(build_image),
                        workdir=APP_DIR,
                        timeout=timeout,
                        **container_limits(),
                    )
                )
            if result.timed_out or result.exit_code != 0:
                why = "timed out" if result.timed_out else f"exited {result.exit_code}"
                raise ExtensionError(
                    f"extension {label}: generate {why}\n{result.output.strip()}",
                    exit_code=GENERATE_ERROR,
                )
        elif (staged / "generate").is_dir():
            copy_static_output(staged / "generate", out / "generate")
        check_generate_output(out / "generate", label)
        outputs.append(read_generate_output(out / "generate", descriptor.id, descriptor.version))
    return tuple(outputs)


def extension_plans(
    engine: Engine,
    reporter: Reporter,
    requests: Sequence[ExtensionRequest],
    *,
    build_image: BaseImage,
    run_image: BaseImage,
    platform_env: Mapping[str, str],
    app_dir: Path | None,
    base_dir: Path,
    work_dir: Path,
) -> ExtensionPlans:
    """Run the extensions and turn what they generated into the extender's plans."""
    outputs = run_extensions(
        engine,
        reporter,
        requests,
        build_image=build_image,
        run_image=run_image,
        platform_env=platform_env,
        app_dir=app_dir,
        base_dir=base_dir,
        work_dir=work_dir,
        cache_dir=cache_dir(),
    )
    return ExtensionPlans.from_outputs(outputs)


def _detect(
    engine: Engine,
    reporter: Reporter,
    label: str,
    staged: Path,
    build_image: BaseImage,
    mounts: tuple[tuple[Path, str, bool], ...],
    base_env: dict[str, str],
    timeout: float,
    module: Module,
) -> DetectOutcome:
    """0 passes, 100 does not apply, anything else is an error; a plan must not `require`."""
    descriptor = module.descriptor
    out = mounts[-1][0]
    if (staged / "bin" / "detect").is_file():
        with reporter.step(f"Running {label} detect"):
            result = engine.run_phase(
                PhaseRun(
                    image=build_image.reference,
                    command=(f"{module.install_path}/bin/detect",),
                    env={**base_env, "CNB_BUILD_PLAN_PATH": f"{OUT_DIR}/detect/plan.toml"},
                    mounts=mounts,
                    user=cnb_user(build_image),
                    workdir=APP_DIR,
                    timeout=timeout,
                    **container_limits(),
                )
            )
        if result.timed_out or result.exit_code not in (0, 100):
            why = "timed out" if result.timed_out else f"exited {result.exit_code}"
            raise ExtensionError(
                f"extension {label}: detect {why} (0 = applies, 100 = does not apply, "
                f"anything else is an error)\n{result.output.strip()}",
                exit_code=DETECT_ERROR,
            )
        plan = out / "plan.toml"
        passed = result.exit_code == 0
    else:
        plan = staged / "detect" / "plan.toml"  # static detect output; absent = passes
        passed = True
    text = read_output_file(plan, owner=label, exit_code=DETECT_PLAN_ERROR, root=plan.parents[1])
    provides = parse_detect_plan(text, descriptor.id) if text is not None else ()
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
            f"{'@' + request.version if request.version else ''}"
            f", found {found}",
            hint="set id (and version) on the extension to pick one",
        )
    return matches[0]


def _empty_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
