# Shared by scripts/image/*.sh (sourced): buildah without a daemon, and the names and cache paths every
# image script agrees on.
CACHE="${EKS_ACCESS_PLATFORM_CACHE:-$HOME/.cache/eks-access-platform}"
IMAGE_CACHE="$CACHE/image"
# chroot isolation works on any machine (no runc, no user namespaces). Storage is our own, in the
# platform cache, so the base and every build layer survive between runs and the machine's own container
# storage is untouched: overlay where the kernel offers it (layers are diffs: a warm rebuild takes
# seconds), else vfs, which works everywhere but copies the whole file system for every layer and step
# (measured: a warm rebuild 4 min, ~11 GB of cache). IMAGE_STORAGE_DRIVER=vfs|overlay forces one.
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
RUNROOT="${XDG_RUNTIME_DIR:-/run}/eks-access-buildah"
# Decided at the first buildah call (buildah may only just have been installed by `need`).
storage_driver() {
  if [[ -z "${IMAGE_STORAGE_DRIVER:-}" ]]; then
    IMAGE_STORAGE_DRIVER=vfs
    if buildah --root "$IMAGE_CACHE/storage-overlay" --runroot "$RUNROOT" --storage-driver overlay images \
      >/dev/null 2>&1; then
      IMAGE_STORAGE_DRIVER=overlay
    fi
    export IMAGE_STORAGE_DRIVER
  fi
}
bah() {
  storage_driver
  buildah --root "$IMAGE_CACHE/storage-$IMAGE_STORAGE_DRIVER" --runroot "$RUNROOT" \
    --storage-driver "$IMAGE_STORAGE_DRIVER" "$@"
}

NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
NPM_VERSION="${NPM_VERSION:-11.19.1}"
DEBIAN_SUITE=bookworm
# What the Dockerfile's FROM names; built here as a local stand-in (scripts/image/base.sh).
BASE_IMAGE="${BASE_IMAGE:-localhost/node:24-bookworm-slim}"
IMAGE="${IMAGE:-localhost/eks-access:dev}"
# Bumped when base.sh assembles the base differently, so a cached base of an older recipe is rebuilt.
BASE_RECIPE=1
BASE_ID="node-$NODE24_VERSION-npm-$NPM_VERSION-$DEBIAN_SUITE-r$BASE_RECIPE"

# buildah with vfs storage and debootstrap need root: re-run the calling script under sudo when not root.
as_root_or_reexec() {
  [[ $(id -u) -eq 0 ]] && return 0
  command -v sudo >/dev/null || { echo "image: needs root (or sudo) for buildah and debootstrap" >&2; exit 1; }
  exec sudo -n --preserve-env=EKS_ACCESS_PLATFORM_CACHE,IMAGE_STORAGE_DRIVER,IMAGE,BASE_IMAGE,NODE24_VERSION,NPM_VERSION,PATH bash "scripts/image/$(basename "$0")" "$@"
}

# What every image script does first: root (or sudo), buildah installed, its storage driver chosen.
image_script_setup() {
  as_root_or_reexec "$@"
  need buildah
  storage_driver
}

# Installs a missing tool from Debian's packages, as scripts/platform/install.sh does for redis-server.
need() {
  command -v "$1" >/dev/null && return 0
  command -v apt-get >/dev/null || { echo "image: $1 is missing: install buildah and debootstrap" >&2; exit 1; }
  echo "image: apt-get install buildah debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null
}
