"""``cnbext upgrade``: check images against their recorded bases; rebase or redo the work.

Each NAME's provenance (cnbext.cnb.provenance) says what made it. ``--check`` only compares
digests (registry lookups, concurrently). An upgrade rebases registry-side when the image is
rebasable and only its base moved, and otherwise redoes the recorded command through the same
client paths as extend / extend-builder / create-builder, to the same name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from cnbext.client.concurrency import concurrently
from cnbext.client.image_checks import checked_view
from cnbext.client.names import keep_names, normalize_names, saved_names
from cnbext.client.publish import ImageResult, sign_names
from cnbext.client.signatures import platform_names, recorded_key, unverified, unverified_by_digest
from cnbext.client.status import upgrade_reasons
from cnbext.client.upgrade_model import (
    FAILED,
    NEEDS_UPGRADE,
    UP_TO_DATE,
    UPGRADED,
    UpgradeOptions,
    UpgradeResult,
)
from cnbext.cnb.imageref import parse_reference
from cnbext.cnb.installed import PACKAGES_LABEL, parse_packages_label, rebuild_changes
from cnbext.cnb.provenance import Provenance, has_own_sbom, layers_rebasable, read_provenance
from cnbext.config.extension_request import ExtensionRequest
from cnbext.engine.models import ImageView
from cnbext.engine.protocol import Engine, RegistryAccess
from cnbext.engine.settings import EngineSettings
from cnbext.errors import CnbextError, ImageError, PublishError, UsageError
from cnbext.progress import Reporter

MAX_CHECKS = 8  # registry lookups are light
MAX_UPGRADES = 2  # builds share the machine's cores


@dataclass(frozen=True)
class _Checked:
    result: UpgradeResult
    provenance: Provenance | None
    labels: dict[str, str]
    names: tuple[str, ...] = ()  # every name the image was saved under, the NAME first
    names_known: bool = True  # False: a published image with no record of its names
    current: str = ""  # the image as it is now: repository@digest in a registry, else its name
    # The reasons are only names whose signature does not verify: re-signing is the upgrade.
    resign: bool = False
    # --append-image-name-suffix: each platform's own name and the digest it serves.
    platform_names: dict[str, str] = field(default_factory=dict)


def upgrade(
    options: UpgradeOptions,
    *,
    reporter: Reporter | None = None,
    settings: EngineSettings | None = None,
) -> list[UpgradeResult]:
    """Check every NAME (``options.check``: only that), then upgrade the stale ones by rebase
    or rebuild on the Docker engine ``settings`` name; one result per NAME, failures included
    (never raised for one NAME)."""
    from cnbext.progress import SilentReporter

    return run_upgrade(options, reporter or SilentReporter(), settings=settings)


def run_upgrade(
    options: UpgradeOptions,
    reporter: Reporter,
    engine: Engine | None = None,
    settings: EngineSettings | None = None,
) -> list[UpgradeResult]:
    """Check every NAME concurrently; with anything to do (and not --check), upgrade those.
    Images are read and rebuilt through ``engine`` (the Docker one ``settings`` name by
    default)."""
    from cnbext.client.engines import reading_engine

    reader = engine or reading_engine(reporter, settings)
    registry = reader.registry()
    options = replace(options, names=normalize_names(options.names))
    if options.rebase not in ("auto", "never"):
        raise UsageError(f"--rebase {options.rebase}: expected auto or never")
    checked = concurrently(
        [partial(_check, n, options, registry, reader) for n in options.names], MAX_CHECKS
    )
    if options.check:
        return [c.result for c in checked]
    todo, covered = _split_covered([c for c in checked if c.result.state == NEEDS_UPGRADE])
    upgrades = [partial(_upgrade, c, options, reporter, registry, reader) for c in todo]
    concurrently(upgrades, MAX_UPGRADES)
    for follower, leader in covered:
        done = leader.result
        follower.result.state, follower.result.error = done.state, done.error
        if _role(leader) == "builder" and _role(follower) == "run image":
            # A run image its builder's upgrade republished: that image's digest is not known
            # here, only that it was saved with the builder.
            follower.result.method = f"with {done.name}"
        else:
            follower.result.method, follower.result.after = done.method, done.after
    return [c.result for c in checked]


def _role(checked: _Checked) -> str | None:
    return checked.provenance.role if checked.provenance is not None else None


def _split_covered(
    todo: Sequence[_Checked],
) -> tuple[list[_Checked], list[tuple[_Checked, _Checked]]]:
    """NAMEs that are other names of the same image as an earlier NAME are republished by
    that one's upgrade (it saves every recorded name), not upgraded a second time; so is a run
    image whose builder is upgraded too (its rebuild publishes the run image and its mirrors
    first), which would otherwise be published twice, by two upgrades at once."""
    leaders: list[_Checked] = []
    covered: list[tuple[_Checked, _Checked]] = []
    for candidate in todo:
        builder = _builder_saving(candidate, todo)
        if builder is not None:
            covered.append((candidate, builder))
            continue
        leader = next(
            (
                lead
                for lead in leaders
                if lead.provenance is not None
                and candidate.result.before == lead.result.before
                and candidate.result.name in lead.names
            ),
            None,
        )
        if leader is None:
            leaders.append(candidate)
        else:
            covered.append((candidate, leader))
    return leaders, covered


def _builder_saving(candidate: _Checked, todo: Sequence[_Checked]) -> _Checked | None:
    """The builder in ``todo`` whose recorded run image (or a mirror) is ``candidate``."""
    if _role(candidate) != "run image":
        return None
    for other in todo:
        run = other.provenance.run_image if other.provenance is not None else None
        if _role(other) == "builder" and run and candidate.result.name in (run.image, *run.mirrors):
            return other
    return None


def _check(
    name: str, options: UpgradeOptions, registry: RegistryAccess, engine: Engine
) -> _Checked:
    try:
        view = checked_view(engine.read_image(name, daemon=not options.publish))
        provenance = read_provenance(view.labels)
    except CnbextError as err:
        return _Checked(UpgradeResult(name, FAILED, error=err), None, {})
    except (ValueError, KeyError) as err:
        error = ImageError(f"{name}: unreadable provenance ({err})")
        return _Checked(UpgradeResult(name, FAILED, error=error), None, {})
    if provenance is None:
        error = ImageError(
            f"{name} has no cnbext provenance: it was not made by cnbext (or by an older one)",
            hint="extend it again with cnbext to record how it was made",
        )
        return _Checked(UpgradeResult(name, FAILED, error=error), None, view.labels)
    from cnbext.sources.lifecycle_release import DEFAULT_LIFECYCLE_VERSION

    reasons = upgrade_reasons(
        provenance,
        registry,
        build_id=options.build_id,
        default_lifecycle=DEFAULT_LIFECYCLE_VERSION,
    )
    names = saved_names(name, provenance, view, registry)
    # Only a name that must verify needs its per-platform names (a read of the names record).
    signing = options.publish and _sign_key(provenance, options) is not None
    own = platform_names(provenance, name, view, registry) if signing else {}
    unsigned = _unsigned(engine, provenance, options, names or (name,), view, own)
    resign = bool(unsigned) and not reasons
    reasons += unsigned
    result = UpgradeResult(
        name,
        NEEDS_UPGRADE if reasons else UP_TO_DATE,
        kind=f"{provenance.command} {provenance.role}",
        reasons=reasons,
        before=view.digest or view.image_id,
    )
    current = name
    if view.source == "registry" and view.digest:
        current = f"{parse_reference(name).repository}@{view.digest}"
    known = names is not None
    labels = view.labels
    return _Checked(result, provenance, labels, names or (name,), known, current, resign, own)


def _unsigned(
    engine: Engine,
    provenance: Provenance,
    options: UpgradeOptions,
    names: Sequence[str],
    view: ImageView,
    own: dict[str, str],
) -> list[str]:
    """A reason for each name of a published image signed when it was made (or asked to be
    now, --sign) whose signature or attestations do not verify for the digest it serves
    (missing, or made for an earlier digest: cnbext.client.signatures, .attestations);
    ``own``: per-platform names, each serving its platform's digest."""
    key = _sign_key(provenance, options)
    digest = view.digest
    if key is None or digest is None or not options.publish:
        return []
    # Attestations (SLSA and SBOM statements) are loaded only for images signed with a key.
    from cnbext.client.attestations import published_attestations, unverified_attestations

    failing = unverified(engine, names, digest, key) | unverified_by_digest(engine, own, key)
    reasons = [f"signature missing or stale under {name} ({why})" for name, why in failing.items()]
    reference = f"{parse_reference(names[0]).repository}@{digest}"
    try:
        expected = published_attestations(
            engine, reference, view.labels, provenance, documents=False
        )
    except CnbextError as err:
        return [*reasons, f"cannot read what {names[0]} should attest ({err.message})"]
    missing = unverified_attestations(engine, names, expected, key)
    return reasons + [
        f"attestations missing or stale under {name} ({why})" for name, why in missing.items()
    ]


def _upgrade(
    checked: _Checked,
    options: UpgradeOptions,
    reporter: Reporter,
    registry: RegistryAccess,
    engine: Engine,
) -> None:
    result, provenance = checked.result, checked.provenance
    assert provenance is not None
    try:
        extensions = _extensions(result.name, provenance, options)
        names = checked.names
        if not checked.names_known:
            reporter.warn(
                f"{result.name}: no record of the other names it was saved under is kept "
                f"beside it; only {result.name} is republished"
            )
        if checked.resign:
            digest = result.before or ""
            key = _sign_key(provenance, options)
            assert key is not None
            sign_names(engine, names, digest, key)
            for platform_name, own_digest in checked.platform_names.items():
                sign_names(engine, [platform_name], own_digest, key)
            _attest(engine, names, digest, key, provenance, checked.labels)
            result.state, result.method, result.after = UPGRADED, "re-sign", digest
            return
        if _rebasable(checked, options):
            from cnbext.client.rebase import RebaseImpossibleError, rebase

            try:
                with reporter.step(f"Rebasing {result.name}"):
                    builder = provenance.role == "builder"
                    rebased = rebase(result.name, provenance, registry, same_config=builder)
            except RebaseImpossibleError as err:
                reporter.warn(f"{result.name}: cannot rebase ({err.message}); rebuilding")
            else:
                _copy_to(names, rebased.digest, engine)
                key = _sign_key(provenance, options)
                if key is not None:
                    sign_names(engine, names, rebased.digest, key)
                    _attest(engine, names, rebased.digest, key, provenance, None)
                keep_names(engine, reporter, [_rebased(names, rebased.digest)])
                result.state, result.method, result.after = UPGRADED, "rebase", rebased.digest
                return
        from cnbext.client.redo import redo

        env, app_dir = replay_inputs(result.name, provenance, options)
        redo_options = replace(options, platform_env=env, app_dir=app_dir)
        current = checked.current or result.name
        result.after, labels = redo(
            names, provenance, redo_options, extensions, reporter, engine, current
        )
        result.state, result.method = UPGRADED, "rebuild"
        # Per package, what the rebuild installed differently (io.cnbext.packages).
        result.packages = rebuild_changes(
            parse_packages_label(checked.labels.get(PACKAGES_LABEL)),
            parse_packages_label(labels.get(PACKAGES_LABEL)),
        )
    except CnbextError as err:
        result.state, result.error = FAILED, err


def _attest(
    engine: Engine,
    names: Sequence[str],
    digest: str,
    key: str,
    provenance: Provenance,
    labels: dict[str, str] | None,
) -> None:
    """Attach fresh attestations of ``digest`` under every name and verify them; ``labels``
    None: read them from the image (a rebase wrote new ones)."""
    from cnbext.client.attestations import attest_names, published_attestations

    reference = f"{parse_reference(names[0]).repository}@{digest}"
    if labels is None:
        labels = engine.read_image(reference, daemon=False).labels
    made = published_attestations(engine, reference, labels, provenance, documents=True)
    attest_names(engine, names, made, key)


def _sign_key(provenance: Provenance, options: UpgradeOptions) -> str | None:
    """The key an upgraded image is signed with: --sign's, else the one its request
    recorded (a rebuild replays that itself)."""
    return options.sign_key if options.sign_key is not None else recorded_key(provenance)


def _rebased(names: tuple[str, ...], digest: str) -> ImageResult:
    return ImageResult("image", names, digest, {}, (), True)


def _copy_to(names: Sequence[str], digest: str, engine: Engine) -> None:
    """Copy a rebased ``names[0]`` to the other names by digest, each checked."""
    repository = parse_reference(names[0]).repository
    for name in names[1:]:
        copied = engine.copy_by_digest(repository, digest, name)
        if copied != digest:
            raise PublishError(
                f"{name} has digest {copied} after the copy, but {names[0]} has {digest}"
            )


def replay_inputs(
    name: str, provenance: Provenance, options: UpgradeOptions
) -> tuple[dict[str, str], Path | None]:
    """The platform env and app folder the extensions saw, for a rebuild: the recorded ones,
    --env / --app over them. A value recorded by name only (it looked secret) must be given
    again, and a recorded app folder must still exist: errors naming them, before any build."""
    env = {k: v for k, v in provenance.platform_env.items() if v is not None}
    env.update(options.platform_env)
    missing = sorted(k for k in provenance.platform_env if k not in env)
    if missing:
        raise UsageError(
            f"{name}: the extensions were given {', '.join(missing)}, whose value is not "
            "recorded (it looked secret); nothing was upgraded",
            hint=" ".join(f"--env {k}=..." for k in missing),
        )
    if options.app_dir is not None or provenance.app is None:
        return env, options.app_dir
    if not Path(provenance.app).is_dir():
        raise UsageError(
            f"{name}: the extensions saw the app folder {provenance.app}, which no longer "
            "exists; nothing was upgraded",
            hint="give --app with where the application is now",
        )
    return env, Path(provenance.app)


def _rebasable(checked: _Checked, options: UpgradeOptions) -> bool:
    """Rebase only a published image whose base alone moved, and only where its own layers
    stay right on the new base: an extended image or a builder command's run image whose own
    layers are rebasable (cnbext.cnb.provenance.layers_rebasable), or a builder none of whose
    own changes touched the build image's files (no packages, no image extensions)."""
    provenance = checked.provenance
    assert provenance is not None
    if not (
        options.rebase == "auto"
        and options.publish
        and not options.extensions
        and all(r.startswith("base ") for r in checked.result.reasons)
    ):
        return False
    if provenance.command == "extend" or provenance.role == "run image":
        # An own SBOM lists the base's packages too: on a new base only a rebuild keeps it true.
        return layers_rebasable(provenance, checked.labels) and not has_own_sbom(provenance)
    return (
        provenance.role == "builder"
        and not provenance.metadata.get("packages")
        and not provenance.extensions
    )


def _extensions(
    name: str, provenance: Provenance, options: UpgradeOptions
) -> tuple[ExtensionRequest, ...]:
    """The recorded extensions (or --extension's); a recorded local folder that is gone is
    an error naming it, before anything is built."""
    if options.extensions:
        return options.extensions
    requests = []
    for record in provenance.extensions:
        local = "://" not in record.uri and not record.uri.startswith("urn:")
        if local and not Path(record.uri).exists():
            raise UsageError(
                f"{name}: extension {record.id or record.uri} was applied from {record.uri}, "
                "which no longer exists; nothing was upgraded",
                hint="give --extension with where the extension is now",
            )
        requests.append(
            ExtensionRequest(
                record.uri,
                record.id,
                record.version,
                metadata=dict(record.metadata),
                sha256=record.sha256,
            )
        )
    return tuple(requests)
