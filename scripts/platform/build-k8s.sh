#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl and etcd from source through the Go module proxy and caches the
# binaries by version, outside the repo. Only the first run on a machine pays (10-20 min on 2 cores).
#
# Why a wrapper module: `go install k8s.io/kubernetes/cmd/kube-apiserver@vX` is refused because
# k8s.io/kubernetes replaces its k8s.io/* dependencies with ./staging/..., which module zips omit.
# We require k8s.io/kubernetes and replace each staging module with its published v0.N.M twin.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE="${EKS_ACCESS_PLATFORM_CACHE:-$HOME/.cache/eks-access-platform}"
BIN="$CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

# kube-controller-manager runs only the controllers a test cluster needs: clusterrole-aggregation (the
# bootstrap ClusterRoles admin/edit/view are aggregated and empty without it) and namespace deletion.
K8S_CMDS=(kube-apiserver kube-controller-manager kubectl)
built() { for b in "${K8S_CMDS[@]}" etcd; do [[ -x "$BIN/$b" ]] || return 1; done; }
if built; then
  echo "$BIN"; exit 0
fi
# --check: report where the binaries would be without building them (used by the test platform, which
# must fail with a hint rather than start a 10-minute build inside a test run).
if [[ "${1:-}" == "--check" ]]; then
  echo "build-k8s: kube-apiserver/kube-controller-manager/kubectl/etcd ($K8S_VERSION, etcd $ETCD_VERSION) are not all built in $BIN;" \
    "run scripts/platform/install.sh (or scripts/platform/build-k8s.sh) first" >&2
  exit 3
fi
# Go from go.dev's tarball lives in /usr/local/go/bin, which non-login shells (CI) may not have on PATH.
command -v go >/dev/null || { [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || { echo "build-k8s: Go is needed (apt-get install golang, or a Go toolchain >= 1.24)" >&2; exit 1; }
mkdir -p "$BIN"
work="$CACHE/build"; mkdir -p "$work"

# --- kube-apiserver, kube-controller-manager, kubectl ----------------------------------------
staging_version="v0.${K8S_VERSION#v1.}"
kmod="$work/k8s-$K8S_VERSION"; mkdir -p "$kmod"
(
  cd "$kmod"
  gomod_file=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module eksaccess.local/k8sbuild"
    echo "go $(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    grep -E '^\s*k8s\.io/[^ ]+ => \./staging/' "$gomod_file" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  echo 'package main' > tools.go
  echo 'import _ "k8s.io/kubernetes/cmd/kube-apiserver"' >> tools.go
  go mod tidy >/dev/null 2>&1 || true
  rm -f tools.go
  for cmd in "${K8S_CMDS[@]}"; do
    [[ -x "$BIN/$cmd" ]] && continue
    echo "build-k8s: building $cmd $K8S_VERSION" >&2
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION" \
      -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$BIN/$cmd.tmp" "$BIN/$cmd"
  done
)

# --- etcd -----------------------------------------------------------------------------------
emod="$work/etcd-$ETCD_VERSION"; mkdir -p "$emod"
[[ -x "$BIN/etcd" ]] || (
  cd "$emod"
  cat > go.mod <<GOMOD
module eksaccess.local/etcdbuild
go $(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  echo 'package main' > tools.go
  echo 'import _ "go.etcd.io/etcd/server/v3"' >> tools.go
  go mod tidy >/dev/null 2>&1 || true
  rm -f tools.go
  echo "build-k8s: building etcd $ETCD_VERSION" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd.tmp" "$BIN/etcd"
)
echo "$BIN"
