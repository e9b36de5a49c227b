#!/usr/bin/env bash
# Node 24 LTS for eks-access, wherever the machine's own node is older (Debian/Ubuntu images and CI runners
# often carry Node 20, end-of-life since April 2026).
#
#   bash scripts/node24.sh                 prints the bin directory holding a Node 24 `node`
#   bash scripts/node24.sh npm run dev     runs a command with that Node first on PATH
#
# Where the machine's node is already 24 or newer, that one is used. Otherwise the official Linux build is
# taken from the npm registry's `node-linux-<arch>` package (the same binaries as nodejs.org; the registry is
# reachable where GitHub and nodejs.org may not be), unpacked once into the platform cache and reused. npm
# itself is the machine's npm, run by Node 24 (npm is plain JavaScript).
set -euo pipefail

NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
CACHE="${EKS_ACCESS_PLATFORM_CACHE:-$HOME/.cache/eks-access-platform}"
say() { echo "node24: $*" >&2; }

node_bin_dir() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [[ "$major" -ge 24 ]]; then
    dirname "$(command -v node)"
    return
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) say "no Node 24 package for $(uname -m); install Node 24 yourself"; exit 1 ;;
  esac
  local dir="$CACHE/node-v$NODE24_VERSION-linux-$arch"
  if [[ ! -x "$dir/bin/node" ]]; then
    command -v npm >/dev/null || { say "npm is needed to fetch Node $NODE24_VERSION"; exit 1; }
    say "fetching Node $NODE24_VERSION (node-linux-$arch from the npm registry, once)"
    local work
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    (cd "$work" && npm pack --silent "node-linux-$arch@$NODE24_VERSION" >/dev/null)
    mkdir -p "$work/unpacked"
    tar -xzf "$work"/node-linux-"$arch"-*.tgz -C "$work/unpacked" package/bin/node package/LICENSE
    "$work/unpacked/package/bin/node" --version >/dev/null # refuses a broken download before caching it
    mkdir -p "$CACHE"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    mv "$work/unpacked/package/bin" "$work/unpacked/package/LICENSE" "$dir.tmp/"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/bin"
}

bin=$(node_bin_dir)
if [[ $# -eq 0 ]]; then
  echo "$bin"
  exit 0
fi
PATH="$bin:$PATH" exec "$@"
