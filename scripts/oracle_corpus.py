"""Build the upstream-verdict corpus under tests/fixtures/oracle (see docs/development.md).

  python3 scripts/oracle_corpus.py collect PACK_DIR LIFECYCLE_DIR BUILDKIT_DIR
  python3 scripts/oracle_corpus.py mutate
  python3 scripts/oracle_corpus.py record ORACLE_BINARY

``collect`` copies pack's, the lifecycle's and BuildKit's own test files (checkouts at the tags
docs/development.md names); ``mutate`` writes the edge cases below; ``record`` runs the oracle
(the upstream check functions compiled into one command, ``ORACLE KIND PATH ...``, one JSON
verdict per line) over every file and writes tests/fixtures/oracle/verdicts.json.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "oracle"
NAMES = {
    "builder": "builder.toml",
    "buildpack": "buildpack.toml",
    "extension": "extension.toml",
    "plan": "plan.toml",
    "extend-config": "extend-config.toml",
    "build.Dockerfile": "build.Dockerfile",
    "run.Dockerfile": "run.Dockerfile",
}
MAX_BYTES = 20_000


def _kind_of_upstream(rel: str) -> str | None:
    name = rel.rsplit("/", 1)[-1]
    if name in ("buildpack.toml", "extension.toml", "plan.toml", "extend-config.toml"):
        return name.removesuffix(".toml")
    if name in ("build.Dockerfile", "run.Dockerfile"):
        return name
    if name == "Dockerfile" and "/generated/" in rel:
        return "build.Dockerfile" if "/build/" in rel else "run.Dockerfile"
    if re.search(r"builder[^/]*\.toml$", name) and "testdata" in rel:
        return "builder"
    return None


def collect(pack: Path, lifecycle: Path, buildkit: Path) -> None:
    seen: set[bytes] = set()  # upstream repeats many files byte for byte: one copy each
    for source, tree in (("pack", pack), ("lifecycle", lifecycle)):
        for path in sorted(tree.rglob("*")):
            rel = path.relative_to(tree).as_posix()
            kind = _kind_of_upstream(rel)
            if kind is None or not path.is_file() or path.stat().st_size > MAX_BYTES:
                continue
            if (data := path.read_bytes()) in seen:
                continue
            seen.add(data)
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", rel.rsplit("/", 1)[0])
            if kind == "builder":
                slug += "_" + path.stem
            _write(kind, f"{source}/{slug}", data)
    # BuildKit's parser test files, as an extension's run.Dockerfile
    for path in sorted((buildkit / "frontend/dockerfile/parser").glob("testfiles*/*/Dockerfile")):
        slug = f"buildkit/{path.parent.parent.name}_{path.parent.name}"
        _write("run.Dockerfile", slug, path.read_bytes())


def _write(kind: str, case: str, data: bytes) -> None:
    target = ROOT / kind / case / NAMES[kind]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


BUILD_HEAD = "ARG base_image\nFROM ${base_image}\n"
# One instruction (or a few lines) after a valid preamble, for build.Dockerfile and
# run.Dockerfile: arity, flags, JSON forms, heredocs, the instruction-level checks.
LINES = {
    "copy-one-arg": "COPY a",
    "copy-ok": "COPY a b",
    "copy-chown": "COPY --chown=1000:1000 a /b",
    "copy-bad-flag": "COPY --bogus=1 a b",
    "copy-from": "COPY --from=busybox /bin/sh /sh",
    "copy-chmod": "COPY --chmod=755 a /b",
    "copy-chmod-bad": "COPY --chmod=abc a /b",
    "copy-link": "COPY --link a /b",
    "copy-parents": "COPY --parents a /b/",
    "copy-exclude": "COPY --exclude=*.txt a /b/",
    "copy-json": 'COPY ["a", "/b"]',
    "copy-json-one": 'COPY ["a"]',
    "copy-heredoc-src": "COPY <<EOF /x\nhello\nEOF",
    "copy-heredoc-dest": "COPY a <<EOF\nhello\nEOF",
    "add-one-arg": "ADD a",
    "add-ok": "ADD a /b",
    "add-checksum": "ADD --checksum=sha256:" + "0" * 64 + " https://example.com/a /b",
    "add-keep-git-dir": "ADD --keep-git-dir=true https://github.com/a/b.git /b",
    "add-unpack": "ADD --unpack=true a.tar /b",
    "add-bad-flag": "ADD --bogus a /b",
    "add-chown": "ADD --chown=1 a /b",
    "run-empty": "RUN",
    "run-ok": "RUN echo hi",
    "run-json": 'RUN ["echo", "hi"]',
    "run-json-broken": 'RUN ["echo", "hi"',
    "run-mount-cache": "RUN --mount=type=cache,target=/var/cache/apt apt-get update",
    "run-mount-bind": "RUN --mount=type=bind,source=a,target=/a cat /a",
    "run-mount-bad-type": "RUN --mount=type=bogus,target=/x true",
    "run-mount-bad-key": "RUN --mount=type=cache,target=/x,bogus=1 true",
    "run-mount-no-target": "RUN --mount=type=cache true",
    "run-mount-secret": "RUN --mount=type=secret,id=a cat /run/secrets/a",
    "run-mount-ssh": "RUN --mount=type=ssh true",
    "run-mount-tmpfs-size": "RUN --mount=type=tmpfs,target=/t,size=1m true",
    "run-mount-tmpfs-badsize": "RUN --mount=type=tmpfs,target=/t,size=abc true",
    "run-network-none": "RUN --network=none true",
    "run-network-bad": "RUN --network=bogus true",
    "run-security": "RUN --security=insecure true",
    "run-security-bad": "RUN --security=bogus true",
    "run-device": "RUN --device=/dev/fuse true",
    "run-bad-flag": "RUN --bogus true",
    "run-flag-no-value": "RUN --network true",
    "run-heredoc": "RUN <<EOF\necho hi\nEOF",
    "run-heredoc-unterminated": "RUN <<EOF\necho hi",
    "run-continuation": "RUN echo a \\\n  && echo b",
    "env-bare": "ENV",
    "env-one-word": "ENV A",
    "env-ok": "ENV A=1",
    "env-legacy": "ENV A 1",
    "env-legacy-words": "ENV A 1 2",
    "env-missing-eq": "ENV A=1 B",
    "env-empty-name": "ENV =1",
    "env-quoted": 'ENV A="x y" B=2',
    "arg-bare": "ARG",
    "arg-empty-name": "ARG =x",
    "arg-empty-value": "ARG a=",
    "arg-two": "ARG a b",
    "arg-two-values": "ARG a=1 b=2",
    "arg-ok": "ARG version=1",
    "shell-not-json": "SHELL /bin/sh -c",
    "shell-ok": 'SHELL ["/bin/bash", "-c"]',
    "shell-empty": "SHELL []",
    "shell-bare": "SHELL",
    "healthcheck-none": "HEALTHCHECK NONE",
    "healthcheck-none-args": "HEALTHCHECK NONE x",
    "healthcheck-cmd": "HEALTHCHECK CMD true",
    "healthcheck-cmd-empty": "HEALTHCHECK CMD",
    "healthcheck-bad-type": "HEALTHCHECK BAD x",
    "healthcheck-bare": "HEALTHCHECK",
    "healthcheck-interval-0": "HEALTHCHECK --interval=0s CMD true",
    "healthcheck-interval-us": "HEALTHCHECK --interval=100us CMD true",
    "healthcheck-interval-ms": "HEALTHCHECK --interval=1ms CMD true",
    "healthcheck-interval-neg": "HEALTHCHECK --interval=-1s CMD true",
    "healthcheck-interval-bad": "HEALTHCHECK --interval=abc CMD true",
    "healthcheck-timeout-us": "HEALTHCHECK --timeout=500us CMD true",
    "healthcheck-start-period": "HEALTHCHECK --start-period=10s CMD true",
    "healthcheck-start-interval-us": "HEALTHCHECK --start-interval=10us CMD true",
    "healthcheck-retries-neg": "HEALTHCHECK --retries=-1 CMD true",
    "healthcheck-retries-0": "HEALTHCHECK --retries=0 CMD true",
    "healthcheck-retries-bad": "HEALTHCHECK --retries=x CMD true",
    "healthcheck-bad-flag": "HEALTHCHECK --bogus=1 CMD true",
    "healthcheck-json": 'HEALTHCHECK CMD ["true"]',
    "volume-empty-json": 'VOLUME [""]',
    "volume-ok": "VOLUME /data",
    "volume-json": 'VOLUME ["/a", "/b"]',
    "volume-json-one-empty": 'VOLUME ["/a", ""]',
    "volume-bare": "VOLUME",
    "volume-empty-list": "VOLUME []",
    "onbuild-from": "ONBUILD FROM busybox",
    "onbuild-onbuild": "ONBUILD ONBUILD RUN true",
    "onbuild-maintainer": "ONBUILD MAINTAINER me",
    "onbuild-run": "ONBUILD RUN true",
    "onbuild-bare": "ONBUILD",
    "onbuild-unknown": "ONBUILD BOGUS x",
    "user-bare": "USER",
    "user-two": "USER a b",
    "user-ok": "USER 1000:1000",
    "workdir-bare": "WORKDIR",
    "workdir-two": "WORKDIR a b",
    "workdir-ok": "WORKDIR /app",
    "label-bare": "LABEL",
    "label-one-word": "LABEL a",
    "label-ok": 'LABEL a=b c="d e"',
    "label-legacy": "LABEL a b",
    "expose-bare": "EXPOSE",
    "expose-ok": "EXPOSE 8080/tcp",
    "entrypoint-bare": "ENTRYPOINT",
    "entrypoint-json": 'ENTRYPOINT ["/bin/app"]',
    "cmd-bare": "CMD",
    "cmd-ok": "CMD app",
    "stopsignal-bare": "STOPSIGNAL",
    "stopsignal-ok": "STOPSIGNAL SIGTERM",
    "stopsignal-two": "STOPSIGNAL a b",
    "maintainer-bare": "MAINTAINER",
    "maintainer-ok": "MAINTAINER me",
    "unknown-instruction": "BOGUS x",
    "lower-case": "run echo hi",
    "comment-only": "# just a comment",
    "crlf": "RUN echo a\r\nRUN echo b\r",
    "trailing-backslash": "RUN echo a \\",
}
# Whole build.Dockerfiles: the FROM line, stage names, the preamble.
WHOLE = {
    "from-as-missing-name": "ARG base_image\nFROM ${base_image} AS\n",
    "from-three-words-bad": "ARG base_image\nFROM ${base_image} AS x y\n",
    "from-trailing-word": "ARG base_image\nFROM ${base_image} extra\n",
    "from-comment-text": "ARG base_image\nFROM ${base_image} # base\n",
    "from-stage-ok": "ARG base_image\nFROM ${base_image} AS build\n",
    "from-stage-upper": "ARG base_image\nFROM ${base_image} AS Build\n",
    "from-stage-digit": "ARG base_image\nFROM ${base_image} AS 1build\n",
    "from-stage-bang": "ARG base_image\nFROM ${base_image} AS bad!\n",
    "from-stage-dash": "ARG base_image\nFROM ${base_image} AS my-stage.v1\n",
    "from-lower-as": "ARG base_image\nFROM ${base_image} as build\n",
    "from-platform": "ARG base_image\nFROM --platform=linux/amd64 ${base_image}\n",
    "from-bad-flag": "ARG base_image\nFROM --bogus=1 ${base_image}\n",
    "from-bare": "ARG base_image\nFROM\n",
    "from-other-base": "ARG base_image\nFROM ubuntu:22.04\n",
    "from-braceless": "ARG base_image\nFROM $base_image\n",
    "multi-stage": "ARG base_image\nFROM ${base_image}\nRUN true\nFROM ${base_image}\n",
    "no-arg": "FROM ${base_image}\nRUN true\n",
    "other-arg": "ARG other\nFROM ${base_image}\n",
    "two-args": "ARG base_image\nARG other\nFROM ${base_image}\n",
    "arg-default": "ARG base_image=ubuntu\nFROM ${base_image}\n",
    "arg-after-from": "FROM ${base_image}\nARG base_image\n",
    "empty": "",
    "only-comments": "# nothing\n# here\n",
    "only-arg": "ARG base_image\n",
    "syntax-directive": "# syntax=docker/dockerfile:1\nARG base_image\nFROM ${base_image}\n",
    "escape-directive": "# escape=`\nARG base_image\nFROM ${base_image}\nRUN echo a `\n  b\n",
    "escape-bad": "# escape=x\nARG base_image\nFROM ${base_image}\n",
    "bom": "\ufeffARG base_image\nFROM ${base_image}\n",
    "instruction-before-from": "ARG base_image\nRUN true\nFROM ${base_image}\n",
    "user-arg": "ARG base_image\nFROM ${base_image}\nARG user_id\nUSER ${user_id}\n",
    "empty-continuation": "ARG base_image\nFROM ${base_image}\nRUN echo a \\\n\n  b\n",
    "tabs": "ARG base_image\nFROM\t${base_image}\nRUN\techo hi\n",
}
# extension.toml: api spellings, keys pack knows, unknown keys, versions, TOML dialect.
EXT_BASE = 'api = "0.10"\n\n[extension]\nid = "samples/ext"\nversion = "0.0.1"\nname = "Ext"\n'
EXT = {
    "ok": EXT_BASE,
    "no-api": EXT_BASE.replace('api = "0.10"\n', ""),
    "api-v": EXT_BASE.replace('"0.10"', '"v0.10"'),
    "api-leading-zero": EXT_BASE.replace('"0.10"', '"0.010"'),
    "api-major-zero": EXT_BASE.replace('"0.10"', '"010"'),
    "api-one": EXT_BASE.replace('"0.10"', '"1"'),
    "api-word": EXT_BASE.replace('"0.10"', '"abc"'),
    "api-three": EXT_BASE.replace('"0.10"', '"0.10.1"'),
    "api-int": EXT_BASE.replace('"0.10"', "10"),
    "api-float": EXT_BASE.replace('"0.10"', "0.10"),
    "api-empty": EXT_BASE.replace('"0.10"', '""'),
    "no-id": EXT_BASE.replace('id = "samples/ext"\n', ""),
    "no-version": EXT_BASE.replace('version = "0.0.1"\n', ""),
    "empty-version": EXT_BASE.replace('"0.0.1"', '""'),
    "version-two": EXT_BASE.replace('"0.0.1"', '"1.0"'),
    "version-rc": EXT_BASE.replace('"0.0.1"', '"1.2.3-rc.1"'),
    "version-snapshot": EXT_BASE.replace('"0.0.1"', '"0.0.1-SNAPSHOT"'),
    "version-slash": EXT_BASE.replace('"0.0.1"', '"1/0"'),
    "version-dotdot": EXT_BASE.replace('"0.0.1"', '".."'),
    "version-int": EXT_BASE.replace('"0.0.1"', "1"),
    "no-extension-table": 'api = "0.10"\n',
    "empty": "",
    "unknown-top-key": EXT_BASE + "\n[bogus]\na = 1\n",
    "stacks": EXT_BASE + '\n[[stacks]]\nid = "*"\n',
    "sbom-formats": EXT_BASE + 'sbom-formats = ["application/vnd.cyclonedx+json"]\n',
    "unknown-ext-key": EXT_BASE + "bogus = 1\n",
    "clear-env": EXT_BASE + "clear-env = true\n",
    "clear-env-string": EXT_BASE + 'clear-env = "yes"\n',
    "exec-env": EXT_BASE + 'exec-env = ["production"]\n',
    "keywords": EXT_BASE + 'keywords = ["a", "b"]\n',
    "description": EXT_BASE + 'description = "d"\nhomepage = "https://example.com"\n',
    "licenses": EXT_BASE + '\n[[extension.licenses]]\ntype = "MIT"\n',
    "licenses-uri": EXT_BASE + '\n[[extension.licenses]]\nuri = "https://x/l"\n',
    "licenses-unknown": EXT_BASE + '\n[[extension.licenses]]\nkind = "MIT"\n',
    "metadata": EXT_BASE + "\n[metadata]\nanything = { a = 1 }\n[metadata.deep]\nb = 2\n",
    "targets": EXT_BASE + '\n[[targets]]\nos = "linux"\narch = "amd64"\n',
    "targets-distros": EXT_BASE
    + '\n[[targets]]\nos = "linux"\n[[targets.distros]]\nname = "ubuntu"\nversion = "22.04"\n',
    "targets-variant": EXT_BASE + '\n[[targets]]\nos = "linux"\narch = "arm"\nvariant = "v6"\n',
    "targets-arch-variant": EXT_BASE
    + '\n[[targets]]\nos = "linux"\narch = "arm"\narch-variant = "v6"\n',
    "targets-unknown": EXT_BASE + '\n[[targets]]\nos = "linux"\nbogus = 1\n',
    "id-upper": EXT_BASE.replace("samples/ext", "Samples/Ext"),
    "id-underscore": EXT_BASE.replace("samples/ext", "samples_ext"),
    "id-non-ascii": EXT_BASE.replace("samples/ext", "samples/ëxt"),
    "id-space": EXT_BASE.replace("samples/ext", "samples ext"),
    "id-config": EXT_BASE.replace("samples/ext", "config"),
    "id-app": EXT_BASE.replace("samples/ext", "app"),
    "id-empty": EXT_BASE.replace('"samples/ext"', '""'),
    "name-int": EXT_BASE.replace('"Ext"', "1"),
}
TOML_DIALECT = {
    "inline-newline": "x = { a = 1,\n  b = 2 }\n",
    "inline-trailing-comma": "x = { a = 1, }\n",
    "escape-e": 'x = "\\e"\n',
    "escape-x": 'x = "\\x41"\n',
    "time-no-seconds": "x = 07:32\n",
    "datetime-no-seconds": "x = 1979-05-27T07:32Z\n",
    "duplicate-key": "x = 1\nx = 2\n",
    "broken": "x = [\n",
    "bare-unicode-key": "ë = 1\n",
}
# buildpack.toml
BP_BASE = (
    'api = "0.10"\n\n[buildpack]\nid = "samples/bp"\nversion = "0.0.1"\n\n[[stacks]]\nid = "*"\n'
)
BP_COMPOSITE = (
    'api = "0.10"\n\n[buildpack]\nid = "samples/meta"\nversion = "0.0.1"\n\n'
    '[[order]]\n[[order.group]]\nid = "samples/bp"\nversion = "0.0.1"\n'
)
BP = {
    "ok": BP_BASE,
    "no-api": BP_BASE.replace('api = "0.10"\n', ""),
    "api-v": BP_BASE.replace('"0.10"', '"v0.10"'),
    "api-leading-zero": BP_BASE.replace('"0.10"', '"0.010"'),
    "api-word": BP_BASE.replace('"0.10"', '"x.y"'),
    "no-id": BP_BASE.replace('id = "samples/bp"\n', ""),
    "no-version": BP_BASE.replace('version = "0.0.1"\n', ""),
    "version-two": BP_BASE.replace('"0.0.1"', '"1.0"'),
    "version-slash": BP_BASE.replace('"0.0.1"', '"1/0"'),
    "sbom-formats": BP_BASE.replace(
        '"0.0.1"\n', '"0.0.1"\nsbom-formats = ["application/spdx+json"]\n', 1
    ),
    "unknown-key": BP_BASE + "\n[bogus]\na = 1\n",
    "unknown-bp-key": BP_BASE.replace('"0.0.1"\n', '"0.0.1"\nbogus = true\n', 1),
    "metadata": BP_BASE + '\n[metadata]\n[[metadata.dependencies]]\nid = "x"\n',
    "no-stacks-no-targets": BP_BASE.split("\n[[stacks]]")[0] + "\n",
    "targets": BP_BASE.split("\n[[stacks]]")[0] + '\n[[targets]]\nos = "linux"\narch = "amd64"\n',
    "stack-mixins": BP_BASE + 'mixins = ["build:git"]\n',
    "composite": BP_COMPOSITE,
    "composite-targets": BP_COMPOSITE + '\n[[targets]]\nos = "linux"\n',
    "composite-stacks": BP_COMPOSITE + '\n[[stacks]]\nid = "*"\n',
    "composite-optional": BP_COMPOSITE + "optional = true\n",
    "composite-group-unknown": BP_COMPOSITE + "bogus = 1\n",
    "composite-group-no-version": BP_COMPOSITE.replace(
        'id = "samples/bp"\nversion = "0.0.1"\n', 'id = "samples/bp"\n'
    ),
    "clear-env": BP_BASE.replace('"0.0.1"\n', '"0.0.1"\nclear-env = true\n', 1),
    "licenses": BP_BASE + '\n[[buildpack.licenses]]\ntype = "MIT"\n',
    "keywords": BP_BASE.replace('"0.0.1"\n', '"0.0.1"\nkeywords = ["k"]\n', 1),
    "id-upper": BP_BASE.replace("samples/bp", "Samples/BP"),
    "id-underscore": BP_BASE.replace("samples/bp", "samples_bp"),
    "id-config": BP_BASE.replace('"samples/bp"', '"config"'),
    "empty": "",
}
# builder.toml
BUILDER_BASE = (
    'description = "b"\n\n[[buildpacks]]\nuri = "docker://example.com/bp:1"\n\n'
    '[[order]]\n[[order.group]]\nid = "samples/bp"\n\n'
    '[build]\nimage = "example.com/build:1"\n\n[[run.images]]\nimage = "example.com/run:1"\n'
)
STACK = (
    '\n[stack]\nid = "io.buildpacks.stacks.jammy"\n'
    'build-image = "example.com/build:1"\nrun-image = "example.com/run:1"\n'
)
BUILDER_STACK_ONLY = BUILDER_BASE.split("[build]")[0] + STACK
BUILDER = {
    "ok": BUILDER_BASE,
    "no-order": BUILDER_BASE.replace('[[order]]\n[[order.group]]\nid = "samples/bp"\n\n', ""),
    "stack-only": BUILDER_STACK_ONLY,
    "stack-same": BUILDER_BASE + STACK,
    "stack-other-run": BUILDER_BASE + STACK.replace("run:1", "run:2"),
    "stack-other-build": BUILDER_BASE + STACK.replace("build:1", "build:2"),
    "stack-no-id": BUILDER_STACK_ONLY.replace('id = "io.buildpacks.stacks.jammy"\n', ""),
    "stack-no-run": BUILDER_STACK_ONLY.replace('run-image = "example.com/run:1"\n', ""),
    "stack-no-build": BUILDER_STACK_ONLY.replace('build-image = "example.com/build:1"\n', ""),
    "stack-mirrors": BUILDER_STACK_ONLY + 'run-image-mirrors = ["m.example.com/run:1"]\n',
    "stack-run-with-build": BUILDER_BASE.split("[[run.images]]")[0] + STACK,
    "no-build-image": BUILDER_BASE.replace('[build]\nimage = "example.com/build:1"\n\n', ""),
    "no-run-images": BUILDER_BASE.split("[[run.images]]")[0],
    "run-image-empty": BUILDER_BASE.replace('image = "example.com/run:1"', 'mirrors = ["x"]'),
    "run-mirrors": BUILDER_BASE + 'mirrors = ["m.example.com/run:1"]\n',
    "two-run-images": BUILDER_BASE + '\n[[run.images]]\nimage = "example.com/run:2"\n',
    "build-env": BUILDER_BASE + '\n[[build.env]]\nname = "A"\nvalue = "1"\n',
    "build-env-suffix": BUILDER_BASE
    + '\n[[build.env]]\nname = "A"\nvalue = "1"\nsuffix = "append"\ndelim = ":"\n',
    "unknown-top-key": BUILDER_BASE + "\n[bogus]\na = 1\n",
    "typo-buildpack": BUILDER_BASE.replace("[[buildpacks]]", "[[buildpack]]"),
    "unknown-module-key": BUILDER_BASE.replace(
        'uri = "docker://example.com/bp:1"', 'uri = "docker://example.com/bp:1"\nbogus = 1'
    ),
    "lifecycle-version": BUILDER_BASE + '\n[lifecycle]\nversion = "0.21.17"\n',
    "lifecycle-uri": BUILDER_BASE + '\n[lifecycle]\nuri = "https://example.com/l.tgz"\n',
    "lifecycle-unknown": BUILDER_BASE + '\n[lifecycle]\nversio = "0.21.17"\n',
    "extensions": BUILDER_BASE + '\n[[extensions]]\nuri = "docker://example.com/ext:1"\n'
    '\n[[order-extensions]]\n[[order-extensions.group]]\nid = "samples/ext"\n',
    "module-image": BUILDER_BASE.replace('uri = "docker://example.com/bp:1"', 'image = "x/bp:1"'),
    "module-id-version": BUILDER_BASE.replace(
        'uri = "docker://example.com/bp:1"',
        'id = "samples/bp"\nversion = "0.0.1"\nuri = "docker://example.com/bp:1"',
    ),
    "targets": BUILDER_BASE + '\n[[targets]]\nos = "linux"\narch = "amd64"\n',
    "targets-distros": BUILDER_BASE
    + '\n[[targets]]\nos = "linux"\n[[targets.distros]]\nname = "ubuntu"\nversion = "22.04"\n',
    "system": BUILDER_BASE
    + '\n[system]\n[system.pre]\nbuildpacks = [{ id = "samples/pre", version = "1" }]\n',
    "order-group-optional": BUILDER_BASE.replace(
        'id = "samples/bp"\n', 'id = "samples/bp"\noptional = true\n'
    ),
    "order-group-unknown": BUILDER_BASE.replace(
        'id = "samples/bp"\n', 'id = "samples/bp"\nx = 1\n'
    ),
    "empty": "",
    "build-image-type": BUILDER_BASE.replace('image = "example.com/build:1"', "image = 1"),
}
PLAN = {
    "provides": '[[provides]]\nname = "node"\n',
    "empty": "",
    "requires": '[[provides]]\nname = "node"\n\n[[requires]]\nname = "node"\n',
    "requires-version": '[[requires]]\nname = "node"\nversion = "1"\n',
    "requires-both-versions": '[[requires]]\nname = "n"\nversion = "1"\n[requires.metadata]\n'
    'version = "1"\n',
    "or": '[[provides]]\nname = "a"\n\n[[or]]\n[[or.provides]]\nname = "b"\n',
    "or-requires": '[[or]]\n[[or.requires]]\nname = "b"\n',
    "unknown-key": '[[provides]]\nname = "node"\nbogus = 1\n',
    "unknown-top": '[[provides]]\nname = "node"\n\n[bogus]\na = 1\n',
    "provides-no-name": "[[provides]]\n",
    "provides-empty-name": '[[provides]]\nname = ""\n',
    "or-provides-no-name": "[[or]]\n[[or.provides]]\n",
    "provides-name-int": "[[provides]]\nname = 1\n",
    "provides-table": '[provides]\nname = "node"\n',
    "provides-metadata": '[[provides]]\nname = "node"\n[provides.metadata]\na = 1\n',
}
EXTEND_CONFIG = {
    "build-args": '[[build.args]]\nname = "A"\nvalue = "1"\n',
    "run-args": '[[run.args]]\nname = "A"\nvalue = "1"\n',
    "empty": "",
    "build-id": '[[build.args]]\nname = "build_id"\nvalue = "1"\n',
    "user-id": '[[run.args]]\nname = "user_id"\nvalue = "1"\n',
    "group-id": '[[build.args]]\nname = "group_id"\nvalue = "1"\n',
    "base-image": '[[build.args]]\nname = "base_image"\nvalue = "x"\n',
    "value-int": '[[build.args]]\nname = "A"\nvalue = 1\n',
    "value-bool": '[[run.args]]\nname = "A"\nvalue = true\n',
    "no-name": '[[build.args]]\nvalue = "1"\n',
    "no-value": '[[build.args]]\nname = "A"\n',
    "unknown-arg-key": '[[build.args]]\nname = "A"\nvalue = "1"\nbogus = 1\n',
    "unknown-top": '[[build.args]]\nname = "A"\nvalue = "1"\n\n[bogus]\na = 1\n',
    "args-table": '[build.args]\nname = "A"\nvalue = "1"\n',
    "build-not-table": 'build = "x"\n',
}


def mutate() -> None:
    for i, (case, line) in enumerate(LINES.items()):
        # every case as a build.Dockerfile, every other one as a run.Dockerfile too (the
        # instruction checks are the same; the run kind has its own preamble rules)
        for kind in ("build.Dockerfile", "run.Dockerfile")[: 2 - i % 2]:
            _write(kind, f"mut/{case}", (BUILD_HEAD + line + "\n").encode())
    for case, text in WHOLE.items():
        _write("build.Dockerfile", f"mut/{case}", text.encode())
    tables: dict[str, tuple[dict[str, str], str]] = {
        "extension": (EXT, EXT_BASE),
        "buildpack": (BP, BP_BASE),
        "builder": (BUILDER, BUILDER_BASE),
        "plan": (PLAN, '[[provides]]\nname = "node"\n'),
        "extend-config": (EXTEND_CONFIG, '[[build.args]]\nname = "A"\nvalue = "1"\n'),
    }
    for kind, (cases, base) in tables.items():
        for case, text in cases.items():
            _write(kind, f"mut/{case}", text.encode())
        for case, text in TOML_DIALECT.items():
            # under [metadata] (a free table) where the kind has one, else at the top
            extra = "\n[metadata]\n" + text if kind in ("extension", "buildpack") else text
            _write(kind, f"mut/toml-{case}", (base + extra if kind != "plan" else text).encode())
    _write("extension", "mut/not-utf8", EXT_BASE.encode() + b'\n[metadata]\nx = "\xff"\n')


def record(oracle: Path) -> None:
    files = sorted(p for p in ROOT.rglob("*") if p.is_file() and p.name != "verdicts.json")
    argv: list[str] = [str(oracle)]
    for path in files:
        argv += [_kind(path), str(path)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout.splitlines()
    verdicts = {}
    for path, line in zip(files, out, strict=True):
        verdict = json.loads(line)
        verdicts[path.relative_to(ROOT).as_posix()] = {"kind": _kind(path), **verdict}
    (ROOT / "verdicts.json").write_text(json.dumps(verdicts, indent=1, ensure_ascii=False) + "\n")


def _kind(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def main(argv: list[str]) -> None:
    if argv[:1] == ["collect"] and len(argv) == 4:
        collect(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    elif argv == ["mutate"]:
        mutate()
    elif argv[:1] == ["record"] and len(argv) == 2:
        record(Path(argv[1]).resolve())
    elif argv == ["clean"]:
        shutil.rmtree(ROOT, ignore_errors=True)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
