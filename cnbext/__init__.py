"""cnbext: extend Cloud Native Buildpacks base images, builders and run images ahead of time.

The public Python API (docs/api.md) is what the ``cnbext`` command line runs::

    import cnbext

    result = cnbext.extend("extend.toml", cnbext.ExtendOptions(names=("my/run:1",)))
    print(result.images[0].digest)

Its names are imported on first use, so ``import cnbext`` stays cheap (no Docker client, no
JSON Schema validator until a use case runs).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cnbext.version import __version__

if TYPE_CHECKING:
    from cnbext.client.create_builder import create_builder
    from cnbext.client.extend import extend
    from cnbext.client.extend_builder import extend_builder
    from cnbext.client.inspect import inspect_image
    from cnbext.client.publish import ImageResult
    from cnbext.client.upgrade import upgrade
    from cnbext.client.upgrade_model import UpgradeOptions, UpgradeResult
    from cnbext.client.usecase import Result
    from cnbext.client.validate import ValidateResult, validate
    from cnbext.config.extension_request import ExtensionRequest
    from cnbext.engine.protocol import Engine
    from cnbext.engine.settings import EngineSettings
    from cnbext.errors import CnbextError, ConfigError, ExitCode
    from cnbext.plan.builder_options import BuilderOptions
    from cnbext.plan.extend import ExtendOptions
    from cnbext.plan.model import ImageBuild, Plan, PullPolicy, SbomFormat
    from cnbext.progress import Reporter, SilentReporter

# Public name -> the module that defines it.
_API = {
    "extend": "cnbext.client.extend",
    "extend_builder": "cnbext.client.extend_builder",
    "create_builder": "cnbext.client.create_builder",
    "inspect_image": "cnbext.client.inspect",
    "upgrade": "cnbext.client.upgrade",
    "validate": "cnbext.client.validate",
    "ValidateResult": "cnbext.client.validate",
    "UpgradeOptions": "cnbext.client.upgrade_model",
    "UpgradeResult": "cnbext.client.upgrade_model",
    "ExtendOptions": "cnbext.plan.extend",
    "BuilderOptions": "cnbext.plan.builder_options",
    "ExtensionRequest": "cnbext.config.extension_request",
    "PullPolicy": "cnbext.plan.model",
    "SbomFormat": "cnbext.plan.model",
    "Plan": "cnbext.plan.model",
    "ImageBuild": "cnbext.plan.model",
    "Result": "cnbext.client.usecase",
    "ImageResult": "cnbext.client.publish",
    "Reporter": "cnbext.progress",
    "SilentReporter": "cnbext.progress",
    "Engine": "cnbext.engine.protocol",
    "EngineSettings": "cnbext.engine.settings",
    "CnbextError": "cnbext.errors",
    "ConfigError": "cnbext.errors",
    "ExitCode": "cnbext.errors",
}

__all__ = [
    "BuilderOptions",
    "CnbextError",
    "ConfigError",
    "Engine",
    "EngineSettings",
    "ExitCode",
    "ExtendOptions",
    "ExtensionRequest",
    "ImageBuild",
    "ImageResult",
    "Plan",
    "PullPolicy",
    "Reporter",
    "Result",
    "SbomFormat",
    "SilentReporter",
    "UpgradeOptions",
    "UpgradeResult",
    "ValidateResult",
    "__version__",
    "create_builder",
    "extend",
    "extend_builder",
    "inspect_image",
    "upgrade",
    "validate",
]


if not TYPE_CHECKING:  # type checkers see the imports above; a typo stays an error for them

    def __getattr__(name: str) -> Any:
        module = _API.get(name)
        if module is None:
            raise AttributeError(f"module 'cnbext' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later look-ups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(__all__)
