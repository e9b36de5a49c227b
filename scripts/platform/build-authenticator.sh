#!/usr/bin/env bash
# Builds aws-iam-authenticator (the webhook EKS runs in front of every cluster) from source through the Go
# module proxy and caches the binary by version, outside the repo, like build-k8s.sh does kube-apiserver.
#
# Why a wrapper module: its go.mod carries a `replace` directive (google.golang.org/protobuf pinned to a
# pseudo-version), so `go install sigs.k8s.io/aws-iam-authenticator/cmd/aws-iam-authenticator@vX` is
# refused. A throwaway module requires it and repeats each of its replace directives.
set -euo pipefail

AUTHENTICATOR_VERSION="${AUTHENTICATOR_VERSION:-v0.7.18}"
CACHE="${EKS_ACCESS_PLATFORM_CACHE:-$HOME/.cache/eks-access-platform}"
BIN="$CACHE/bin/aws-iam-authenticator-$AUTHENTICATOR_VERSION"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

if [[ -x "$BIN/aws-iam-authenticator" ]]; then
  echo "$BIN/aws-iam-authenticator"; exit 0
fi
# --check: say where it would be without building (the test platform must fail with a hint, not build).
if [[ "${1:-}" == "--check" ]]; then
  echo "build-authenticator: aws-iam-authenticator $AUTHENTICATOR_VERSION is not built in $BIN;" \
    "run scripts/platform/install.sh (or scripts/platform/build-authenticator.sh) first" >&2
  exit 3
fi
command -v go >/dev/null || { [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || { echo "build-authenticator: Go is needed (a Go toolchain >= 1.26)" >&2; exit 1; }
mkdir -p "$BIN"
mod="$CACHE/build/aws-iam-authenticator-$AUTHENTICATOR_VERSION"; mkdir -p "$mod"
(
  cd "$mod"
  gomod_file=$(go mod download -json "sigs.k8s.io/aws-iam-authenticator@$AUTHENTICATOR_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module eksaccess.local/authenticatorbuild"
    echo "go $(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')"
    echo "require sigs.k8s.io/aws-iam-authenticator $AUTHENTICATOR_VERSION"
    # Single-line replace directives only; a replace block would need its own parsing (none today).
    grep -E '^replace ' "$gomod_file" || true
  } > go.mod
  echo 'package main' > tools.go
  echo 'import _ "sigs.k8s.io/aws-iam-authenticator/cmd/aws-iam-authenticator"' >> tools.go
  go mod tidy >/dev/null 2>&1 || true
  rm -f tools.go
  echo "build-authenticator: building aws-iam-authenticator $AUTHENTICATOR_VERSION" >&2
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/aws-iam-authenticator/pkg.Version=$AUTHENTICATOR_VERSION" \
    -o "$BIN/aws-iam-authenticator.tmp" sigs.k8s.io/aws-iam-authenticator/cmd/aws-iam-authenticator
  mv "$BIN/aws-iam-authenticator.tmp" "$BIN/aws-iam-authenticator"
)
echo "$BIN/aws-iam-authenticator"
