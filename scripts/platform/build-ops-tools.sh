#!/usr/bin/env bash
# The operators' tools the chart and alert tests run, built from source through the Go module proxy and
# cached by version outside the repo (like build-k8s.sh does kube-apiserver):
#   - helm        (helm.sh/helm/v3/cmd/helm): lint, template, install/upgrade/uninstall of charts/eks-access;
#   - promtool    (github.com/prometheus/prometheus/cmd/promtool): `promtool check rules` and
#                 `promtool test rules` for the chart's alerts;
#   - the prometheus-operator CRDs (ServiceMonitor, PrometheusRule), copied from that project's module
#     source, so the chart's monitoring objects install on the test apiserver for real.
#
# Why wrapper modules: `go install module/cmd/x@v` is refused when the module's go.mod has replace
# directives (Prometheus' has carried them; the build must not depend on it having none today). A
# throwaway module requires the tool's module and repeats its replace directives, then `go build`s it.
# promtool is built with `remove_all_sd`: Prometheus' own build tag that leaves out every service
# discovery plugin (AWS, Azure, GCE, …), which promtool's rule checks and tests never use and which would
# more than double the build.
#
# Prints KEY=path lines (HELM=…, PROMTOOL=…, PROMETHEUS_OPERATOR_CRDS=…). --check prints them only when
# everything is there (exit 3 with the command to run otherwise): tests call it and never build.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.21.4}"
# Prometheus' Go module numbers its releases v0.<major><minor>.<patch>: v0.316.0 is Prometheus 3.16.0.
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
# The newest version of the operator's root module (the one holding the CRDs) the module proxy serves.
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
CACHE="${EKS_ACCESS_PLATFORM_CACHE:-$HOME/.cache/eks-access-platform}"
HELM="$CACHE/bin/helm-$HELM_VERSION/helm"
PROMTOOL="$CACHE/bin/promtool-$PROMETHEUS_VERSION/promtool"
CRDS="$CACHE/crds/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
CRD_FILES=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml)
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
say() { echo "build-ops-tools: $*" >&2; }

built() {
  [[ -x "$HELM" && -x "$PROMTOOL" ]] || return 1
  for f in "${CRD_FILES[@]}"; do [[ -s "$CRDS/$f" ]] || return 1; done
}
report() { printf 'HELM=%s\nPROMTOOL=%s\nPROMETHEUS_OPERATOR_CRDS=%s\n' "$HELM" "$PROMTOOL" "$CRDS"; }
if built; then report; exit 0; fi
if [[ "${1:-}" == "--check" ]]; then
  say "helm $HELM_VERSION, promtool $PROMETHEUS_VERSION or the prometheus-operator $PROMETHEUS_OPERATOR_VERSION CRDs" \
    "are not all in $CACHE; run scripts/platform/install.sh (or scripts/platform/build-ops-tools.sh) first"
  exit 3
fi
command -v go >/dev/null || { [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || { say "Go is needed (a Go toolchain >= 1.26)"; exit 1; }

module_info() { # module@version field → that field of `go mod download -json`
  go mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get(sys.argv[1]) or d.get("Error") or "")' "$2"
}

# wrapper_build NAME MODULE VERSION PACKAGE OUTPUT TAGS LDFLAGS
wrapper_build() {
  local name=$1 module=$2 version=$3 package=$4 output=$5 tags=$6 ldflags=$7
  local dir="$CACHE/build/$name-$version" gomod
  mkdir -p "$dir" "$(dirname "$output")"
  gomod=$(module_info "$module@$version" GoMod)
  [[ -f "$gomod" ]] || { say "cannot download $module@$version: $gomod"; return 1; }
  (
    cd "$dir"
    {
      echo "module eksaccess.local/${name}build"
      echo "go $(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')"
      echo "require $module $version"
    } > go.mod
    # Every replace of the tool's go.mod, block or single line (go mod edit parses both). A replace by a
    # local path cannot be repeated outside the tool's own tree: say so rather than build something else.
    go mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
    path, version = r["New"]["Path"], r["New"].get("Version")
    if not version:
        sys.exit("local replace " + old + " => " + path + ": cannot be built outside its own tree")
    print("-replace=" + old + "=" + path + "@" + version)
' | xargs -r go mod edit
    printf 'package main\nimport _ "%s"\n' "$package" > tools.go
    go mod tidy -tags "$tags" >/dev/null 2>&1 || true
    rm -f tools.go
    say "building $name $version"
    CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$output.tmp" "$package"
    mv "$output.tmp" "$output"
  )
}

[[ -x "$HELM" ]] || wrapper_build helm helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$HELM" "" \
  "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"

[[ -x "$PROMTOOL" ]] || wrapper_build promtool github.com/prometheus/prometheus "$PROMETHEUS_VERSION" \
  github.com/prometheus/prometheus/cmd/promtool "$PROMTOOL" remove_all_sd \
  "-X github.com/prometheus/common/version.Version=3.${PROMETHEUS_VERSION#v0.3}"

crds_there() { for f in "${CRD_FILES[@]}"; do [[ -s "$CRDS/$f" ]] || return 1; done; }
if ! crds_there; then
  source_dir=$(module_info "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" Dir)
  [[ -d "$source_dir" ]] || { say "cannot download prometheus-operator $PROMETHEUS_OPERATOR_VERSION: $source_dir"; exit 1; }
  mkdir -p "$CRDS"
  for f in "${CRD_FILES[@]}"; do
    install -m 0644 "$source_dir/example/prometheus-operator-crd/$f" "$CRDS/$f"
  done
fi
report
