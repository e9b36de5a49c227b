#!/usr/bin/env bash
# Builds the eks-access image from the Dockerfile with buildah (no Docker daemon needed):
#   bash scripts/image/build.sh            → localhost/eks-access:dev (IMAGE=… to name it otherwise)
# on the base scripts/image/base.sh assembles (a stand-in for node:24-bookworm-slim, passed as
# NODE_IMAGE). `--layers` keeps every step's layer in buildah's storage, so a rebuild after a change in
# src/ reuses the `npm ci` layers and costs only the TypeScript build and the final copies.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=common.sh
source scripts/image/common.sh
image_script_setup "$@"
started=$SECONDS
bash scripts/image/base.sh
bah bud --quiet --pull=never --layers --build-arg NODE_IMAGE="$BASE_IMAGE" --tag "$IMAGE" --file Dockerfile . >/dev/null
echo "image/build: $IMAGE built in $((SECONDS - started)) s ($(bah images --format '{{.Size}}' "$IMAGE" | head -1))" >&2
