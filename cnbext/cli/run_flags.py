"""What the shared flags (declared in :mod:`cnbext.cli.options`) become: the fields of each
command's option model, which is recorded whole and replayed by ``upgrade``, and the engine
settings, which say where the work runs and are never recorded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnbext.plan.model import PullPolicy, SbomFormat

if TYPE_CHECKING:
    from cnbext.config.extension_request import ExtensionRequest
    from cnbext.engine.settings import EngineSettings
    from cnbext.plan.builder_options import BuilderOptions
    from cnbext.plan.extend import ExtendOptions


@dataclass(frozen=True)
class RunFlags:
    """The flags every command has that shape its options (the Option types of
    :mod:`cnbext.cli.options`)."""

    publish: bool
    pull_policy: PullPolicy
    network: str | None
    platform: list[str] | None
    build_id: str | None
    extension: list[str] | None
    env: list[str] | None
    app: Path | None
    dry_run: bool
    context: str | None = None
    builder: str | None = None
    no_fact_cache: bool = False
    # upgrade has no --sbom: it replays the recorded one.
    sbom: SbomFormat = SbomFormat.CYCLONEDX
    source_date_epoch: int | None = None
    no_cache: bool = False
    sign: bool = False
    sign_key: str | None = None
    lock: Path | None = None
    locked: bool = False

    def extend_options(self, names: list[str]) -> ExtendOptions:
        from cnbext.plan.extend import ExtendOptions

        return ExtendOptions(names=tuple(names), **self._common())

    def builder_options(
        self,
        name: str,
        run_image: str | None,
        run_image_mirrors: list[str] | None,
        *,
        experimental: bool = False,
    ) -> BuilderOptions:
        from cnbext.plan.builder_options import BuilderOptions

        return BuilderOptions(
            names=(name,),
            run_image=run_image,
            run_image_mirrors=tuple(run_image_mirrors or ()),
            experimental=experimental,
            **self._common(),
        )

    def _common(self) -> dict[str, Any]:
        """The options every command's option model has, from these flags."""
        return {
            "publish": self.publish,
            "pull_policy": self.pull_policy,
            "sbom": self.sbom,
            "platforms": tuple(self.platform or ()),
            "build_id": self.build_id,
            "extensions": self.extension_requests(),
            "platform_env": self.platform_env(),
            "app_dir": self.app,
            "source_date_epoch": self.source_date_epoch,
            "sign_key": self.signing_key(),
            "lock": self.lock.resolve() if self.lock is not None else None,  # recorded absolute
            "locked": self.locked,
        }

    def signing_key(self) -> str | None:
        """The key --sign signs with (--sign-key, else $COSIGN_KEY); None without --sign."""
        from cnbext.errors import UsageError

        if not self.sign:
            return None
        if not self.sign_key:
            raise UsageError(
                "--sign needs a key", hint="give --sign-key FILE|KMS-URI or set $COSIGN_KEY"
            )
        return self.sign_key if "://" in self.sign_key else str(Path(self.sign_key).resolve())

    def engine_settings(self) -> EngineSettings:
        """Where the work runs (--network, --context, --builder, --no-fact-cache,
        --no-cache): given to the engine, never recorded in an image."""
        from cnbext.engine.settings import EngineSettings

        return EngineSettings(
            network=self.network or None,
            context=self.context or None,
            builder=self.builder or None,
            fact_cache=not self.no_fact_cache,
            build_cache=not self.no_cache,
        )

    def extension_requests(self) -> tuple[ExtensionRequest, ...]:
        """--extension flags as requests, paths made absolute (see flag_uri); a
        ``#sha256=<hex>`` suffix pins the archive's digest, as ``sha256 =`` does in a config."""
        if not self.extension:
            return ()
        from cnbext.config.extension_request import ExtensionRequest
        from cnbext.errors import UsageError
        from cnbext.sources.download import valid_sha256

        requests = []
        for value in self.extension or ():
            uri, marker, digest = value.rpartition("#sha256=")
            if not marker:
                uri, digest = value, ""
            elif not valid_sha256(digest):
                raise UsageError(
                    f"--extension {value!r}: sha256 should be 64 lowercase hex digits",
                    hint="write --extension URI#sha256=<output of sha256sum>",
                )
            requests.append(ExtensionRequest(flag_uri(uri), sha256=digest or None))
        return tuple(requests)

    def platform_env(self) -> dict[str, str]:
        """--env NAME=VALUE, split on the first '=' only: values may contain '='."""
        from cnbext.errors import UsageError

        env: dict[str, str] = {}
        for pair in self.env or ():
            name, sep, value = pair.partition("=")
            # NAME becomes a file name under CNB_PLATFORM_DIR/env.
            if not sep or not name or "/" in name or name in (".", "..") or "\0" in name:
                raise UsageError(
                    f"--env {pair!r}: expected NAME=VALUE, NAME a file name (no '/', not . or ..)"
                )
            env[name] = value
        return env


def flag_uri(uri: str) -> str:
    """A path given on the command line is relative to where the user is, not to the config
    file's folder (which relative uris in configs use): make it absolute."""
    if "://" in uri or uri.startswith("urn:"):
        return uri
    return str(Path(uri).resolve())
