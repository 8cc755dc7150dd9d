#!/usr/bin/env bash
# Build the example stack (builder-examples/stack) from the engine's fixture image, push it to
# the local registry and load it into the daemon. Idempotent: BuildKit's cache makes re-runs
# instant. Needs `scripts/engine.sh up` first.
set -euo pipefail
cd "$(dirname "$0")/.."
REGISTRY="${CNBEXT_TEST_REGISTRY:-localhost:5000}"
BASE="${CNBEXT_TEST_BASE_IMAGE:-$REGISTRY/fixtures/debian:bookworm}"
for kind in build run; do
  name="$REGISTRY/cnbext-examples/$kind:bookworm"
  docker buildx build --quiet --network host --provenance=false \
    --build-arg "base_image=$BASE" \
    -f "builder-examples/stack/$kind.Dockerfile" -t "$name" --load builder-examples/stack >/dev/null
  docker push -q "$name" >/dev/null
  echo "example stack: $name" >&2
done

# The alternative run image (the switch-run example extension switches to it).
name="$REGISTRY/cnbext-examples/run-alt:bookworm"
docker buildx build --quiet --network host --provenance=false \
  --build-arg "base_image=$REGISTRY/cnbext-examples/run:bookworm" \
  -f builder-examples/stack/run-alt.Dockerfile -t "$name" --load builder-examples/stack >/dev/null
docker push -q "$name" >/dev/null
echo "example stack: $name" >&2

# The build and run images for linux/amd64 and linux/arm64, where the engine made the
# multi-arch fixture (multi-arch builders are made from them).
MULTIARCH_BASE="${CNBEXT_TEST_MULTIARCH_BASE_IMAGE:-$REGISTRY/fixtures/debian-multiarch:bookworm}"
if docker buildx imagetools inspect "$MULTIARCH_BASE" >/dev/null 2>&1; then
  for kind in run build; do
    name="$REGISTRY/cnbext-examples/$kind-multiarch:bookworm"
    docker buildx build --quiet --network host --provenance=false \
      --platform linux/amd64,linux/arm64 --build-arg "base_image=$MULTIARCH_BASE" \
      -f "builder-examples/stack/$kind.Dockerfile" -t "$name" --push builder-examples/stack >/dev/null
    echo "example stack: $name (linux/amd64, linux/arm64)" >&2
  done
fi
