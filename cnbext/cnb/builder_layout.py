"""What a builder image contains, as pack and the lifecycle expect it (CNB platform.md, pack).

Pure functions from resolved parts (modules, lifecycle, order, run images, env) to the files
under /cnb and the builder labels. Keeping them pure means unit tests can compare them to the
shapes pack writes without building anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import tomlkit

from cnbext.version import __version__

# Types only: `inspect` reads builder labels with run_images_of and loads no archive code.
if TYPE_CHECKING:
    from cnbext.sources.lifecycle import Lifecycle
    from cnbext.sources.modules import Module


@dataclass(frozen=True)
class GroupEntry:
    id: str
    version: str
    optional: bool = False
    exec_env: tuple[str, ...] = ()  # pack's ModuleInfo exec-env, written when given

    def to_dict(self) -> dict[str, Any]:
        # pack's ModuleRef: every field omitted when empty (optional when false).
        entry: dict[str, Any] = {"id": self.id, "version": self.version}
        if self.exec_env:
            entry["exec-env"] = list(self.exec_env)
        if self.optional:
            entry["optional"] = True
        return entry


Order = tuple[tuple[GroupEntry, ...], ...]


@dataclass(frozen=True)
class RunImage:
    image: str
    mirrors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "mirrors": list(self.mirrors)}


@dataclass(frozen=True)
class BuildEnvFile:
    """One file under /cnb/build-config/env: NAME, NAME.<suffix>, and NAME.delim."""

    name: str
    value: str
    suffix: str | None
    delim: str | None

    def files(self) -> dict[str, str]:
        base = self.name if self.suffix in (None, "") else f"{self.name}.{self.suffix}"
        result = {f"cnb/build-config/env/{base}": self.value}
        if self.delim is not None and self.suffix in ("append", "prepend"):
            result[f"cnb/build-config/env/{self.name}.delim"] = self.delim
        return result


@dataclass(frozen=True)
class ModuleLayer:
    module: Module
    diff_id: str  # sha256:... of the layer that holds exactly this module


@dataclass(frozen=True)
class BuilderContents:
    description: str
    buildpacks: tuple[ModuleLayer, ...]
    extensions: tuple[ModuleLayer, ...]
    order: Order
    order_extensions: Order
    system_pre: tuple[GroupEntry, ...]
    system_post: tuple[GroupEntry, ...]
    run_images: tuple[RunImage, ...]
    lifecycle: Lifecycle
    build_env: tuple[BuildEnvFile, ...]
    stack_id: str | None
    extra_metadata: Mapping[str, Any] = field(default_factory=dict)  # unknown fields kept


def _dump(document: Mapping[str, Any]) -> str:
    return tomlkit.dumps(document)


def order_toml(order: Order, order_extensions: Order) -> str:
    document: dict[str, Any] = {
        "order": [{"group": [e.to_dict() for e in group]} for group in order]
    }
    if order_extensions:
        document["order-extensions"] = [
            {"group": [e.to_dict() for e in group]} for group in order_extensions
        ]
    return _dump(document)


def run_toml(run_images: Sequence[RunImage]) -> str:
    return _dump({"images": [r.to_dict() for r in run_images]})


def stack_toml(run_images: Sequence[RunImage]) -> str:
    # Legacy platforms read the first run image from here; pack still writes it.
    first = run_images[0]
    return _dump({"run-image": first.to_dict()})


def system_toml(pre: Sequence[GroupEntry], post: Sequence[GroupEntry]) -> str:
    system: dict[str, Any] = {}
    if pre:
        system["pre"] = {"buildpacks": [e.to_dict() for e in pre]}
    if post:
        system["post"] = {"buildpacks": [e.to_dict() for e in post]}
    return _dump({"system": system})


def cnb_files(contents: BuilderContents) -> dict[str, str]:
    """Paths (relative to /) and text of the builder's own files."""
    files = {
        "cnb/order.toml": order_toml(contents.order, contents.order_extensions),
        **run_image_files(contents.run_images),
    }
    if contents.system_pre or contents.system_post:
        files["cnb/system.toml"] = system_toml(contents.system_pre, contents.system_post)
    for env in contents.build_env:
        files.update(env.files())
    return files


# pack's ModuleInfo, in its field order: what pack records of each module in the builder
# metadata (from the module's own descriptor, not from builder.toml), empty fields omitted.
_MODULE_INFO_FIELDS = (
    "id",
    "name",
    "version",
    "description",
    "homepage",
    "keywords",
    "exec-env",
    "licenses",
    "clear-env",
)


_MODULE_INFO_TYPES: dict[str, type] = {
    "keywords": list,
    "exec-env": list,
    "licenses": list,
    "clear-env": bool,
}


def _module_summary(layer: ModuleLayer) -> dict[str, Any]:
    descriptor = layer.module.descriptor
    table = descriptor.raw.get(descriptor.kind)
    table = table if isinstance(table, dict) else {}
    summary: dict[str, Any] = {}
    for key in _MODULE_INFO_FIELDS:
        value = table.get(key)
        # Descriptors are hostile input: only values of ModuleInfo's types are copied.
        if value and isinstance(value, _MODULE_INFO_TYPES.get(key, str)):
            summary[key] = value
    # The descriptor's parsed fields are the ones the module is installed under.
    summary.update({"id": descriptor.id, "version": descriptor.version})
    summary.update(
        {k: v for k, v in (("name", descriptor.name), ("homepage", descriptor.homepage)) if v}
    )
    return {key: summary[key] for key in _MODULE_INFO_FIELDS if key in summary}


def _api_list(apis: Any) -> dict[str, list[str]]:
    return {"deprecated": list(apis.deprecated), "supported": list(apis.supported)}


def builder_metadata(contents: BuilderContents) -> dict[str, Any]:
    """io.buildpacks.builder.metadata, shaped as pack writes it."""
    lifecycle = contents.lifecycle
    first = contents.run_images[0]
    metadata: dict[str, Any] = dict(contents.extra_metadata)
    metadata.update(
        {
            "description": contents.description,
            "buildpacks": [_module_summary(b) for b in contents.buildpacks],
            "stack": {"runImage": first.to_dict()},
            "images": [r.to_dict() for r in contents.run_images],
            "lifecycle": {
                "version": lifecycle.version,
                # The single-version fields are what old platforms read: the earliest of each.
                "api": {
                    "buildpack": _earliest(lifecycle.buildpack_apis.supported),
                    "platform": _earliest(lifecycle.platform_apis.supported),
                },
                "apis": {
                    "buildpack": _api_list(lifecycle.buildpack_apis),
                    "platform": _api_list(lifecycle.platform_apis),
                },
            },
            "createdBy": {"name": "cnbext", "version": __version__},
        }
    )
    if contents.extensions:
        metadata["extensions"] = [_module_summary(e) for e in contents.extensions]
    return metadata


def module_layers_label(layers: Sequence[ModuleLayer]) -> dict[str, Any]:
    """io.buildpacks.buildpack.layers / io.buildpacks.extension.layers."""
    label: dict[str, Any] = {}
    for layer in layers:
        descriptor = layer.module.descriptor
        entry: dict[str, Any] = {"api": descriptor.api, "layerDiffID": layer.diff_id}
        if descriptor.stacks:
            entry["stacks"] = list(descriptor.stacks)
        if descriptor.targets:
            entry["targets"] = list(descriptor.targets)
        if descriptor.order:
            entry["order"] = [
                {
                    "group": [
                        GroupEntry(ref.id, ref.version or "", ref.optional).to_dict()
                        for ref in group
                    ]
                }
                for group in descriptor.order
            ]
        if descriptor.homepage:
            entry["homepage"] = descriptor.homepage
        if descriptor.name:
            entry["name"] = descriptor.name
        label.setdefault(descriptor.id, {})[descriptor.version] = entry
    return label


def order_label(order: Order) -> list[dict[str, Any]]:
    return [{"group": [e.to_dict() for e in g]} for g in order]


def system_label(pre: Sequence[GroupEntry], post: Sequence[GroupEntry]) -> dict[str, Any]:
    """io.buildpacks.buildpack.system, as pack writes it beside /cnb/system.toml."""
    label: dict[str, Any] = {}
    if pre:
        label["pre"] = {"buildpacks": [e.to_dict() for e in pre]}
    if post:
        label["post"] = {"buildpacks": [e.to_dict() for e in post]}
    return label


def _earliest(versions: Sequence[str]) -> str:
    def key(version: str) -> tuple[int, int]:
        major, _, minor = version.partition(".")
        return (int(major or 0), int(minor or 0))

    return min(versions, key=key) if versions else ""


def run_images_of(metadata: Mapping[str, Any]) -> list[RunImage]:
    """The run images a builder names: ``images`` (current pack), else the legacy
    ``stack.runImage``. ``mirrors`` may be JSON null."""
    entries = metadata.get("images")
    if not isinstance(entries, list) or not entries:
        legacy = metadata.get("stack", {}).get("runImage")
        entries = [legacy] if isinstance(legacy, dict) else []
    return [
        RunImage(str(entry["image"]), tuple(entry.get("mirrors") or ()))
        for entry in entries
        if isinstance(entry, dict) and entry.get("image")
    ]


def rewrite_run_image(metadata: Mapping[str, Any], run_image: RunImage) -> dict[str, Any]:
    """The builder metadata naming ``run_image`` first, everywhere pack and the lifecycle look
    (``images[0]`` and ``stack.runImage``). Every other field, known or not, is kept."""
    rewritten: dict[str, Any] = json.loads(json.dumps(metadata))  # a deep, unaliased copy
    images = rewritten.get("images")
    if isinstance(images, list) and images:
        first = images[0] if isinstance(images[0], dict) else {}
        images[0] = {**first, **run_image.to_dict()}
    else:
        rewritten["images"] = [run_image.to_dict()]
    stack = rewritten.get("stack")
    stack = dict(stack) if isinstance(stack, dict) else {}
    previous = stack.get("runImage")
    stack["runImage"] = {**(previous if isinstance(previous, dict) else {}), **run_image.to_dict()}
    rewritten["stack"] = stack
    return rewritten


def run_image_files(run_images: Sequence[RunImage]) -> dict[str, str]:
    """/cnb/run.toml and /cnb/stack.toml for these run images (first = default)."""
    return {"cnb/run.toml": run_toml(run_images), "cnb/stack.toml": stack_toml(run_images)}
