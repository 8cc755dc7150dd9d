#!/usr/bin/env bash
# Bring up (or down) a real local container engine for cnbext's demo and engine tests.
#
#   scripts/engine.sh up     idempotent: Docker daemon + buildx, two registries, the fixture image
#   scripts/engine.sh down   stops only what `up` started (by recorded pid)
#   scripts/engine.sh env    prints the variables tests and the demo use
#
# Where a Docker daemon already answers (a developer's laptop) nothing is installed into the
# system: only the registries and the fixture image are added. Where none answers, the machine
# must be Debian and we must be root: dockerd and buildx are installed from Debian trixie (see
# ../shared/reference/local-engine.md for why) and started with the containerd image store and
# no bridge network, so builds that run commands need `--network host`.
set -euo pipefail

STATE_DIR="${CNBEXT_ENGINE_STATE:-/var/lib/cnbext-engine}"
OPEN_REGISTRY_PORT=5000
AUTH_REGISTRY_PORT=5001
# Test-only credentials for the auth registry on 127.0.0.1:5001 (documented in docs/engine.md).
AUTH_USER="${CNBEXT_TEST_REGISTRY_USER:-cnbext}"
AUTH_PASSWORD="${CNBEXT_TEST_REGISTRY_PASSWORD:-cnbext-test-password}"
FIXTURE_IMAGE="localhost:${OPEN_REGISTRY_PORT}/fixtures/debian:bookworm"
# The same Debian for linux/amd64 and linux/arm64 in one index, for multi-platform tests. Made
# only where BuildKit can run arm64 (emulation), because its second debootstrap stage runs
# arm64 binaries.
MULTIARCH_FIXTURE_IMAGE="localhost:${OPEN_REGISTRY_PORT}/fixtures/debian-multiarch:bookworm"
FIXTURE_SUITE=bookworm
# BuildKit for the tests of buildx's docker-container and remote drivers: an image made from
# the buildkitd and buildctl binaries in ../shared/buildkit (beside the clone; for a git
# worktree, beside the main clone), checked against these sha256 sums of the binaries.
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILDKIT_VERSION=v0.26.3
BUILDKIT_IMAGE="localhost:${OPEN_REGISTRY_PORT}/fixtures/buildkit:${BUILDKIT_VERSION}"
BUILDKITD_SHA256=6c4c0e96c7b313999da16899ebbe302c4f0331fcd722262bced3d0135f996607
BUILDCTL_SHA256=70843922cc3609e73a43037df7363c8126968e17eee0b780dfd2567a61a9ff33

log() { printf 'engine: %s\n' "$*" >&2; }
die() { printf 'engine: error: %s\n' "$*" >&2; exit 1; }

daemon_answers() { docker info >/dev/null 2>&1; }
port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

debian_mirror() {
  # The Debian archive apt already uses (the entry that carries bookworm's main suite), so the
  # engine works wherever apt does. Other vendors' lists and the security archive are skipped.
  local uri
  uri=$(awk '/^URIs:/ {u=$2} /^Suites:.*bookworm( |$)/ {print u; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  [ -n "$uri" ] || uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${uri:-http://deb.debian.org/debian}"
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

require_debian_root() {
  [ "$(id -u)" = 0 ] || die "no Docker daemon answers and we are not root: start Docker yourself, then re-run"
  grep -qi '^ID=debian' /etc/os-release 2>/dev/null \
    || die "no Docker daemon answers and this is not Debian: start Docker yourself, then re-run"
}

add_trixie_suite() {
  # Debian trixie with a low pin: only what is asked for by name comes from it (docker.io,
  # docker-buildx, cosign), dependencies stay bookworm's.
  if ! [ -f /etc/apt/sources.list.d/trixie.sources ]; then
    log "adding Debian trixie with a low pin (only docker.io, docker-buildx and cosign come from it)"
    cat >/etc/apt/sources.list.d/trixie.sources <<SRC
Types: deb
URIs: $(debian_mirror)
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    cat >/etc/apt/preferences.d/trixie <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
    apt_updated=0
  fi
}

install_engine_packages() {
  if ! command -v dockerd >/dev/null || ! [ -x /usr/libexec/docker/cli-plugins/docker-buildx ]; then
    add_trixie_suite
    log "installing dockerd and buildx"
    apt_install docker.io/trixie docker-buildx/trixie
  fi
}

install_tool_packages() {
  local missing=()
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v htpasswd >/dev/null || missing+=(apache2-utils)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them, then re-run"
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  # cosign signs and verifies published images (docs/supply-chain.md); Debian has it from
  # trixie on. Where we cannot install it, the signing tests skip.
  if ! command -v cosign >/dev/null; then
    if [ "$(id -u)" = 0 ] && grep -qi '^ID=debian' /etc/os-release 2>/dev/null; then
      add_trixie_suite
      log "installing cosign"
      apt_install cosign/trixie
    else
      log "cosign is not installed: signing tests skip"
    fi
  fi
}

start_background() {
  # start_background NAME LOGFILE CMD... : detached, pid recorded so `down` stops only ours.
  # The daemon gets none of our other file descriptors: one holding a lock that was taken
  # around `engine.sh up` (flock) would keep that lock for as long as the daemon runs.
  local name=$1 logfile=$2; shift 2
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid nohup "$@" >"$logfile" 2>&1 </dev/null
  ) &
  echo $! >"$STATE_DIR/$name.pid"
}

wait_for() {
  # wait_for DESCRIPTION SECONDS CMD...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq $((seconds * 5))); do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}

enable_emulation() {
  # qemu-user-static registers its interpreters with binfmt_misc, so BuildKit can run (and
  # lists) foreign platforms such as linux/arm64. Only done where we install the engine too.
  if ! [ -x /usr/bin/qemu-aarch64-static ] || ! command -v update-binfmts >/dev/null; then
    log "installing qemu-user-static for multi-platform builds"
    apt_install qemu-user-static binfmt-support
  fi
  mountpoint -q /proc/sys/fs/binfmt_misc 2>/dev/null \
    || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || log "could not enable arm64 emulation"
}

arm64_builds() {
  docker buildx inspect 2>/dev/null | grep -q 'linux/arm64'
}

start_daemon() {
  if daemon_answers; then
    log "a Docker daemon already answers: using it"
    return
  fi
  require_debian_root
  install_engine_packages
  enable_emulation
  mkdir -p /etc/docker
  if ! [ -f /etc/docker/daemon.json ]; then
    # The containerd image store keeps multi-platform images in the daemon.
    echo '{"features":{"containerd-snapshotter":true}}' >/etc/docker/daemon.json
  fi
  log "starting dockerd (log: $STATE_DIR/dockerd.log)"
  start_background dockerd "$STATE_DIR/dockerd.log" \
    dockerd --iptables=false --ip6tables=false --bridge=none
  wait_for "dockerd" 60 daemon_answers || { tail -n 30 "$STATE_DIR/dockerd.log" >&2; die "dockerd did not start"; }
  docker buildx version >/dev/null 2>&1 || die "docker buildx is not available"
}

start_registry() {
  # start_registry NAME PORT [htpasswd-file]
  local name=$1 port=$2 htpasswd_file=${3:-}
  if port_answers "$port"; then
    log "a registry already answers on 127.0.0.1:$port"
    return
  fi
  local dir="$STATE_DIR/$name"
  mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage:"
    echo "  filesystem: {rootdirectory: $dir/data}"
    echo "  delete: {enabled: true}"
    echo "http: {addr: 127.0.0.1:$port}"
    if [ -n "$htpasswd_file" ]; then
      echo "auth:"
      echo "  htpasswd: {realm: cnbext-test, path: $htpasswd_file}"
    fi
  } >"$dir/config.yml"
  log "starting registry $name on 127.0.0.1:$port"
  start_background "$name" "$dir/registry.log" docker-registry serve "$dir/config.yml"
  wait_for "registry $name" 20 port_answers "$port" || { tail -n 20 "$dir/registry.log" >&2; die "registry $name did not start"; }
}

fixture_in_registry() {
  docker buildx imagetools inspect "$FIXTURE_IMAGE" >/dev/null 2>&1
}
fixture_in_daemon() {
  docker image inspect "$FIXTURE_IMAGE" >/dev/null 2>&1
}

make_fixture() {
  if fixture_in_registry && fixture_in_daemon; then
    log "fixture $FIXTURE_IMAGE is present"
    return
  fi
  if ! fixture_in_daemon; then
    if fixture_in_registry; then
      docker pull -q "$FIXTURE_IMAGE" >/dev/null
    else
      local tarball
      tarball=$(debian_tarball amd64)
      log "importing $FIXTURE_IMAGE"
      docker import -c 'CMD ["bash"]' "$tarball" "$FIXTURE_IMAGE" >/dev/null
    fi
  fi
  if ! fixture_in_registry; then
    log "pushing $FIXTURE_IMAGE"
    docker push -q "$FIXTURE_IMAGE" >/dev/null
  fi
}

debian_tarball() {
  # debian_tarball ARCH: a cached minbase rootfs tarball of $FIXTURE_SUITE for ARCH.
  local arch=$1 tarball="$STATE_DIR/debian-$FIXTURE_SUITE-$1-minbase.tar"
  if ! [ -s "$tarball" ]; then
    local root="$STATE_DIR/rootfs-$FIXTURE_SUITE-$arch"
    rm -rf "$root"
    log "debootstrap $FIXTURE_SUITE $arch (minbase) from $(debian_mirror)"
    debootstrap --arch="$arch" --variant=minbase "$FIXTURE_SUITE" "$root" "$(debian_mirror)" \
      >"$STATE_DIR/debootstrap-$arch.log" 2>&1 \
      || { tail -n 20 "$STATE_DIR/debootstrap-$arch.log" >&2; die "debootstrap ($arch) failed"; }
    # Package lists are stale the moment they are made: images ship without them.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
    tar -C "$root" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$root"
  fi
  echo "$tarball"
}

make_multiarch_fixture() {
  if docker buildx imagetools inspect "$MULTIARCH_FIXTURE_IMAGE" >/dev/null 2>&1; then
    log "fixture $MULTIARCH_FIXTURE_IMAGE is present"
    return
  fi
  if ! arm64_builds; then
    log "no linux/arm64 emulation: skipping $MULTIARCH_FIXTURE_IMAGE (multi-platform tests skip)"
    return
  fi
  command -v qemu-aarch64-static >/dev/null || { log "no qemu-aarch64-static: skipping multi-arch fixture"; return; }
  local repo="${MULTIARCH_FIXTURE_IMAGE%:*}" arch platform tarball
  for arch in amd64 arm64; do
    platform="linux/$arch"
    tarball=$(debian_tarball "$arch")
    log "importing $repo:$FIXTURE_SUITE-$arch"
    docker import --platform "$platform" -c 'CMD ["bash"]' "$tarball" "$repo:$FIXTURE_SUITE-$arch" >/dev/null
    docker push -q "$repo:$FIXTURE_SUITE-$arch" >/dev/null
  done
  docker buildx imagetools create -t "$MULTIARCH_FIXTURE_IMAGE" \
    "$repo:$FIXTURE_SUITE-amd64" "$repo:$FIXTURE_SUITE-arm64" >/dev/null 2>&1
}

buildkit_dir() {
  # CNBEXT_BUILDKIT_DIR, else ../shared/buildkit beside this clone, else beside the main clone
  # this one is a worktree of. Prints nothing when there is none.
  local common candidate
  common=$(git -C "$REPO_DIR" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  for candidate in "${CNBEXT_BUILDKIT_DIR:-}" "$REPO_DIR/../shared/buildkit" \
      ${common:+"$(dirname "$common")/../shared/buildkit"}; do
    if [ -n "$candidate" ] && [ -f "$candidate/buildkitd.gz" ]; then
      (cd "$candidate" && pwd)
      return
    fi
  done
}

make_buildkit_image() {
  if docker buildx imagetools inspect "$BUILDKIT_IMAGE" >/dev/null 2>&1; then
    log "fixture $BUILDKIT_IMAGE is present"
    return
  fi
  local dir ctx
  dir=$(buildkit_dir)
  if [ -z "$dir" ]; then
    log "no ../shared/buildkit: skipping $BUILDKIT_IMAGE (builder tests skip)"
    return
  fi
  ctx=$(mktemp -d)
  gunzip -c "$dir/buildkitd.gz" >"$ctx/buildkitd"
  gunzip -c "$dir/buildctl.gz" >"$ctx/buildctl"
  # Refuse binaries that are not the ones built from v0.26.3's source.
  if ! printf '%s  %s\n' "$BUILDKITD_SHA256" "$ctx/buildkitd" "$BUILDCTL_SHA256" "$ctx/buildctl" \
      | sha256sum --check --quiet >&2; then
    rm -rf "$ctx"
    die "the binaries in $dir do not have the expected sha256"
  fi
  chmod +x "$ctx/buildkitd" "$ctx/buildctl"
  # runc for BuildKit's OCI worker; git and pigz for git contexts and faster gzip; buildctl
  # because the docker-container driver runs it to see that buildkitd is up.
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $FIXTURE_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends runc ca-certificates git pigz \\
    && rm -rf /var/lib/apt/lists/*
COPY buildkitd buildctl /usr/bin/
VOLUME /var/lib/buildkit
ENTRYPOINT ["buildkitd"]
DOCKERFILE
  log "building $BUILDKIT_IMAGE from $dir"
  docker buildx build -q --network host -t "$BUILDKIT_IMAGE" --push "$ctx" >/dev/null
  rm -rf "$ctx"
}

up() {
  mkdir -p "$STATE_DIR"
  install_tool_packages
  start_daemon
  start_registry registry-open "$OPEN_REGISTRY_PORT"
  if ! port_answers "$AUTH_REGISTRY_PORT"; then
    htpasswd -Bbn "$AUTH_USER" "$AUTH_PASSWORD" >"$STATE_DIR/htpasswd"
  fi
  start_registry registry-auth "$AUTH_REGISTRY_PORT" "$STATE_DIR/htpasswd"
  make_fixture
  make_multiarch_fixture
  make_buildkit_image
  log "ready: daemon, registries 127.0.0.1:$OPEN_REGISTRY_PORT (open) and 127.0.0.1:$AUTH_REGISTRY_PORT (auth), $FIXTURE_IMAGE"
}

down() {
  local name pid
  for name in registry-auth registry-open dockerd; do
    local pidfile="$STATE_DIR/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $name (pid $pid)"
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
  done
}

env_vars() {
  echo "CNBEXT_NETWORK=host"
  echo "CNBEXT_TEST_REGISTRY=localhost:$OPEN_REGISTRY_PORT"
  echo "CNBEXT_TEST_AUTH_REGISTRY=localhost:$AUTH_REGISTRY_PORT"
  echo "CNBEXT_TEST_REGISTRY_USER=$AUTH_USER"
  echo "CNBEXT_TEST_REGISTRY_PASSWORD=$AUTH_PASSWORD"
  echo "CNBEXT_TEST_BASE_IMAGE=$FIXTURE_IMAGE"
  echo "CNBEXT_TEST_MULTIARCH_BASE_IMAGE=$MULTIARCH_FIXTURE_IMAGE"
  echo "CNBEXT_TEST_BUILDKIT_IMAGE=$BUILDKIT_IMAGE"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  env) env_vars ;;
  *) die "usage: $0 up|down|env" ;;
esac
