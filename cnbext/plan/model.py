"""Plans: everything a command will do, decided before anything is built or published.

A plan is pure data built from config, flags and facts read about the base images. It is what
``--dry-run`` prints, what unit tests check without an engine, and the only input the engine
executes. Nothing in a plan may hold a credential.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnbext.cnb.labels import LabelChange

if TYPE_CHECKING:
    # Annotations only: importing the builder layout (and the module sources behind it) here
    # would put them on `cnbext --help`'s start-up path, which reads PullPolicy.
    from cnbext.cnb.builder_layout import RunImage
    from cnbext.cnb.extender import ExtenderStep


class PullPolicy(StrEnum):
    """pack's meaning: always pull; pull only when missing locally; never pull."""

    ALWAYS = "always"
    IF_NOT_PRESENT = "if-not-present"
    NEVER = "never"


class SbomFormat(StrEnum):
    """The SBOM layer an image gets (docs/sbom.md): CycloneDX JSON, or none."""

    CYCLONEDX = "cdx"
    NONE = "none"


@dataclass(frozen=True)
class ImageBuild:
    """One image to build from a base with a generated Dockerfile."""

    role: str  # what the image is to the user: "image", "builder", "run image"
    base: str  # normalized base reference
    dockerfile: str
    build_args: dict[str, str]
    labels: dict[str, str]  # labels this build sets (merged values, ready to write)
    result_labels: dict[str, str]  # every label the result will have: the base's plus ours
    label_changes: tuple[LabelChange, ...]
    names: tuple[str, ...]  # normalized output names; the first is built, the rest copied
    platforms: tuple[str, ...]
    package_manager: str | None
    packages: tuple[str, ...]
    base_user: str
    # Build context besides the Dockerfile: generated text files and staged directory trees
    # (context path -> content / local directory), and the layer diffIDs the result must have.
    context_files: dict[str, str] = field(default_factory=dict)
    context_trees: dict[str, Path] = field(default_factory=dict)
    expected_diff_ids: tuple[str, ...] = ()
    # Image extensions' Dockerfiles, applied in order before this build's own Dockerfile (each
    # on the previous result, see cnbext.cnb.extender), and the build_id each one gets: a fresh
    # UUID per Dockerfile (the extender's rule) unless --build-id pins it. Chosen once per
    # plan, so building the plan twice (prebuild, then push) is a cache hit.
    extension_steps: tuple[ExtenderStep, ...] = ()
    extension_build_ids: tuple[str, ...] = ()
    app_dir: Path | None = None  # the build context of steps whose extension gave none
    # Set when the steps have been built (cnbext.client.extension_chain): the BuildKit named
    # context (an OCI layout) holding their result, which `base_image` then names.
    base_context: str | None = None
    # Several targets published as pack does: one build per platform (each with that
    # platform's own inputs), each pushed under its own first name (``names[0]``, which the
    # index then replaces, or NAME-os-arch when ``tag_platforms``: --append-image-name-suffix),
    # then joined into one image index under ``names[0]``. Empty: this build is published.
    per_platform: tuple[ImageBuild, ...] = ()
    tag_platforms: bool = False
    # Whether this image's own layers may move onto a new base (an image or run image; None
    # for builders, judged otherwise): recorded in its provenance for upgrade, never written
    # as io.buildpacks.rebasable, which apps built on the image would inherit.
    rebasable: bool | None = None

    @property
    def primary_name(self) -> str:
        return self.names[0]

    @property
    def copies(self) -> tuple[str, ...]:
        return self.names[1:]

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "base": self.base,
            "names": list(self.names),
            "platforms": list(self.platforms),
            "packageManager": self.package_manager,
            "packages": list(self.packages),
            "user": self.base_user,
            "buildArgs": dict(self.build_args),
            "labels": dict(self.labels),
            "labelChanges": [
                {"name": c.name, "old": c.old, "new": c.new} for c in self.label_changes
            ],
            "dockerfile": self.dockerfile,
            "extensions": [
                {
                    "id": step.extension_id,
                    "version": step.extension_version,
                    "kind": step.kind.value,
                    "switchTo": step.switch_to,
                    "extends": step.extends,
                    "buildId": build_id,
                    "args": dict(step.args),
                    "dockerfile": step.dockerfile,
                }
                for step, build_id in zip(
                    self.extension_steps, self.extension_build_ids, strict=True
                )
            ],
            "contextFiles": dict(self.context_files),
            "contextTrees": {path: str(tree) for path, tree in self.context_trees.items()},
            **(
                {"perPlatform": [b.to_dict() for b in self.per_platform]}
                if self.per_platform
                else {}
            ),
        }


@dataclass(frozen=True)
class CreatedBuilderDetails:
    """What --dry-run shows about a builder create-builder makes, besides its builds."""

    build_image: str
    user: str  # the CNB user, uid:gid
    lifecycle: str  # version
    run_images: tuple[RunImage, ...]  # as the builder names them
    buildpacks: tuple[str, ...]  # id@version
    extensions: tuple[str, ...]  # id@version (packaged, not applied)
    files: dict[str, str]  # /cnb/*.toml the builder gets, by path
    flattened: tuple[tuple[str, ...], ...] = ()  # --flatten groups (id@version), a layer each

    def to_dict(self) -> dict[str, Any]:
        return {
            "builder": {
                "buildImage": self.build_image,
                "user": self.user,
                "lifecycle": self.lifecycle,
                "runImages": [r.to_dict() for r in self.run_images],
                "buildpacks": list(self.buildpacks),
                "extensions": list(self.extensions),
                "flattened": [list(group) for group in self.flattened],
                "files": dict(self.files),
            }
        }


@dataclass(frozen=True)
class ExtendedBuilderDetails:
    """What --dry-run shows about a builder extend-builder rewrites, besides its builds."""

    original: str  # the builder extended
    original_run_image: RunImage  # the run image it named
    run_images: tuple[RunImage, ...]  # the run images the result names
    files: dict[str, str]  # /cnb/run.toml and /cnb/stack.toml when rewritten, by path

    def to_dict(self) -> dict[str, Any]:
        return {
            "builder": {
                "original": self.original,
                "originalRunImage": self.original_run_image.to_dict(),
                "runImages": [r.to_dict() for r in self.run_images],
                "files": dict(self.files),
            }
        }


BuilderDetails = CreatedBuilderDetails | ExtendedBuilderDetails


@dataclass(frozen=True)
class Plan:
    """Builds in publish order: they may build concurrently, but with --publish the first is
    pushed (and copied to its other names) before the next is pushed, so nothing published
    names an image that is not there yet (a builder names its run image)."""

    command: str
    builds: tuple[ImageBuild, ...]
    publish: bool
    pull_policy: PullPolicy
    warnings: tuple[str, ...] = field(default_factory=tuple)
    details: BuilderDetails | None = None  # what the builder commands add, for --dry-run
    # What builds that install packages get besides io.cnbext.packages: an SBOM layer.
    sbom: SbomFormat = SbomFormat.NONE
    # The cosign key (file or KMS URI) each published image is signed with in the repository
    # of every name, and verified there, before the next build is named; None: not signed.
    sign_key: str | None = None

    def steps(self) -> list[str]:
        """The order of work, in words: what --dry-run promises and apply follows."""
        steps = []
        if len(self.builds) > 1:
            roles = " and ".join(f"the {b.role}" for b in self.builds)
            steps.append(f"build {roles} concurrently")
        for build in self.builds:
            if build.per_platform:
                steps.extend(_per_platform_steps(build))
                steps += self._signing_steps(build)
                continue
            where = "push" if self.publish else "load into the daemon as"
            steps.append(
                f"build the {build.role} from {build.base} and {where} {build.primary_name}"
            )
            for name in build.copies:
                if self.publish:
                    steps.append(f"copy {build.primary_name} to {name} by digest and verify it")
                else:
                    steps.append(f"tag {build.primary_name} as {name}")
            steps += self._signing_steps(build)
        return steps

    def _signing_steps(self, build: ImageBuild) -> list[str]:
        if not (self.publish and self.sign_key):
            return []
        return [
            f"sign the {build.role}'s digest with cosign (key {self.sign_key}) in the "
            f"repository of each of {', '.join(build.names)}",
            f"verify the signature under {', '.join(build.names)} (cosign verify --key)",
            *(
                f"sign {one.primary_name}'s digest (its platform's image) and verify it there"
                for one in (build.per_platform if build.tag_platforms else ())
            ),
            f"attest the {build.role}: {_attested(self.sbom, build)}, in the repository of "
            f"each of {', '.join(build.names)}, verified under each (cosign verify-attestation)",
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "publish": self.publish,
            "pullPolicy": self.pull_policy.value,
            "sbom": self.sbom.value,
            "signKey": self.sign_key,
            "steps": self.steps(),
            "images": [b.to_dict() for b in self.builds],
            "warnings": list(self.warnings),
            **(self.details.to_dict() if self.details is not None else {}),
        }


def _per_platform_steps(build: ImageBuild) -> list[str]:
    steps = []
    for one in build.per_platform:
        where = f"push it as {one.primary_name}"
        steps.append(
            f"build the {build.role} for {', '.join(one.platforms)} from {one.base}; {where}"
        )
    steps.append(f"join them into one image index {build.primary_name}")
    steps += [
        f"copy {build.primary_name} to {name} by digest and verify it" for name in build.copies
    ]
    return steps


def _attested(sbom: SbomFormat, build: ImageBuild) -> str:
    """What a signed image carries (cnbext.client.attestations)."""
    packages = build.packages or any(one.packages for one in build.per_platform)
    if sbom is SbomFormat.CYCLONEDX and packages:
        return "SLSA provenance on its digest, each platform's CycloneDX SBOM on that platform's"
    return "SLSA provenance on its digest"
