"""What ``cnbext upgrade`` is asked (`UpgradeOptions`) and what it answers per NAME
(`UpgradeResult`, in one of the states below): the models the upgrade use case, its redo path
and the CLI share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnbext.config.extension_request import ExtensionRequest
from cnbext.errors import CnbextError

UP_TO_DATE = "up to date"
NEEDS_UPGRADE = "needs upgrade"
UPGRADED = "upgraded"
FAILED = "failed"


@dataclass(frozen=True)
class UpgradeOptions:
    names: tuple[str, ...]
    check: bool = False
    publish: bool = False
    rebase: str = "auto"  # auto | never
    build_id: str | None = None
    extensions: tuple[ExtensionRequest, ...] = ()
    # A builder.toml to rebuild a create-builder builder from instead of the recorded one.
    config: Path | None = None
    platform_env: dict[str, str] = field(default_factory=dict)  # --env: over the recorded one
    app_dir: Path | None = None  # --app: instead of the recorded folder
    # --sign: the key a rebuild's images are signed with instead of the recorded one.
    sign_key: str | None = None


@dataclass
class UpgradeResult:
    name: str
    state: str
    kind: str = ""
    reasons: list[str] = field(default_factory=list)
    method: str | None = None  # rebase or rebuild
    before: str | None = None
    after: str | None = None
    error: CnbextError | None = None
    # A rebuild: each package whose installed version changed (platform, name,
    # architecture, before, after), from the images' io.cnbext.packages.
    packages: list[dict[str, str | None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "kind": self.kind,
            "reasons": self.reasons,
            "method": self.method,
            "digestBefore": self.before,
            "digestAfter": self.after,
            "error": self.error.message if self.error else None,
            "packages": list(self.packages),
        }
