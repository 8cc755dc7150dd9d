"""The builder image itself: pack's build-image requirements, its labels and its Dockerfile.

Pure helpers of :mod:`cnbext.plan.create_builder`: what the labels say (as pack writes them) and
how the layers are laid out (one per module or --flatten group, each ``COPY --link`` so the same
module always has the same diffID).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cnbext.cnb.builder_layout import (
    BuilderContents,
    builder_metadata,
    module_layers_label,
    order_label,
    system_label,
)
from cnbext.cnb.dockerfile import install_lines, is_root_user, restore_user_lines
from cnbext.cnb.labels import BUILDER_METADATA, STACK_ID, encode_json_label, parse_json_label
from cnbext.config.builder import BuilderConfig, ConfigPath
from cnbext.errors import ConfigError
from cnbext.plan.facts import BaseImage

BUILDPACK_LAYERS = "io.buildpacks.buildpack.layers"
EXTENSION_LAYERS = "io.buildpacks.extension.layers"
BUILDPACK_ORDER = "io.buildpacks.buildpack.order"
EXTENSION_ORDER = "io.buildpacks.buildpack.order-extensions"
SYSTEM_LABEL = "io.buildpacks.buildpack.system"
# What makes an image a builder: --label may not replace these.
BUILDER_LABELS = frozenset(
    {BUILDER_METADATA, BUILDPACK_LAYERS, EXTENSION_LAYERS, BUILDPACK_ORDER, EXTENSION_ORDER}
)


def check_build_image(config: BuilderConfig, base: BaseImage) -> tuple[str, str]:
    """pack's build-image requirements: integer CNB_USER_ID / CNB_GROUP_ID, non-root user."""
    problems = []
    ids = []
    for name in ("CNB_USER_ID", "CNB_GROUP_ID"):
        value = base.env.get(name)
        if value is None or not value.strip().isdigit():
            shown = "missing" if value is None else f"{value!r}, not an integer"
            problems.append(
                config.problem(
                    _build_image_path(config),
                    f"build image {base.reference} must set {name} to an integer ({shown})",
                )
            )
        else:
            ids.append(value.strip())
    if is_root_user(base.user):
        problems.append(
            config.problem(
                _build_image_path(config),
                f"build image {base.reference} runs as root (User {base.user or 'empty'}); "
                "a build image must name its non-root CNB user",
            )
        )
    if problems:
        raise ConfigError(problems)
    return ids[0], ids[1]


def _build_image_path(config: BuilderConfig) -> ConfigPath:
    data = config.source.data()
    return ("build", "image") if "image" in data.get("build", {}) else ("stack", "build-image")


def existing_layers(labels: Mapping[str, str], name: str) -> dict[tuple[str, str], str]:
    try:
        label = parse_json_label(labels, name) or {}
    except (ValueError, json.JSONDecodeError):
        return {}
    return {
        (module_id, version): str(entry.get("layerDiffID", ""))
        for module_id, versions in label.items()
        if isinstance(versions, dict)
        for version, entry in versions.items()
        if isinstance(entry, dict)
    }


def previous_metadata(labels: Mapping[str, str]) -> dict[str, Any]:
    """Fields of an existing builder metadata label that cnbext does not write survive."""
    try:
        return parse_json_label(labels, BUILDER_METADATA) or {}
    except (ValueError, json.JSONDecodeError):
        return {}


def builder_labels(contents: BuilderContents, base_labels: Mapping[str, str]) -> dict[str, str]:
    previous_layers: dict[str, Any] = {}
    try:
        previous_layers = parse_json_label(base_labels, BUILDPACK_LAYERS) or {}
    except (ValueError, json.JSONDecodeError):
        previous_layers = {}
    layers = dict(previous_layers)
    for module_id, versions in module_layers_label(contents.buildpacks).items():
        layers[module_id] = {**layers.get(module_id, {}), **versions}
    labels = {
        BUILDER_METADATA: encode_json_label(builder_metadata(contents)),
        BUILDPACK_LAYERS: encode_json_label(layers),
        BUILDPACK_ORDER: json.dumps(order_label(contents.order), separators=(",", ":")),
    }
    if contents.extensions:
        labels[EXTENSION_LAYERS] = encode_json_label(module_layers_label(contents.extensions))
        labels[EXTENSION_ORDER] = json.dumps(
            order_label(contents.order_extensions), separators=(",", ":")
        )
    if contents.system_pre or contents.system_post:
        labels[SYSTEM_LABEL] = encode_json_label(
            system_label(contents.system_pre, contents.system_post)
        )
    if contents.stack_id:
        labels[STACK_ID] = contents.stack_id
    return labels


def builder_dockerfile(
    install_command: str | None,
    *,
    lifecycle_by_arch: Sequence[str],
    module_paths: Sequence[str],
    user_has_group: bool,
) -> str:
    """Every module and the lifecycle in a layer of its own (``COPY --link``: the layer does
    not depend on what is below it, so the same module always has the same diffID)."""
    lines = ["# Generated by cnbext: builder", "ARG base_image", "FROM ${base_image}"]
    if install_command is not None:
        lines += install_lines(install_command)
    lines += ["ARG TARGETARCH"]
    if len(lifecycle_by_arch) == 1:
        lines.append(f"COPY --link lifecycle/{lifecycle_by_arch[0]}/ /")
    else:
        lines.append("COPY --link lifecycle/${TARGETARCH}/ /")
    lines += [f"COPY --link {path}/ /" for path in module_paths]
    lines += [
        "COPY --link files/ /",
        "ARG user_id",
        "ARG group_id",
        # /workspace and /layers belong to the CNB user: the lifecycle writes there.
        "COPY --link --chown=${user_id}:${group_id} workdirs/ /",
        *restore_user_lines(user_has_group=user_has_group)[2:],
        "WORKDIR /layers",
        "",
    ]
    return "\n".join(lines)
