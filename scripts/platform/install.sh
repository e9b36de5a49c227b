#!/usr/bin/env bash
# Installs everything the test platform runs (see docs/test-platform.md), idempotently and outside the repo:
#   - redis-server (Debian package) and openssl (certificates for kube-apiserver),
#   - kube-apiserver, kubectl and etcd built from source (scripts/platform/build-k8s.sh, cached by version),
#   - aws-iam-authenticator built from source (scripts/platform/build-authenticator.sh, cached by version),
#   - a Python venv with moto (IAM/STS) and ministack (EKS access entries), pinned,
#   - the aws CLI (awscli from PyPI, pinned) in the same venv: the requester's own tool in the login e2e,
#   - parliament (PyPI, pinned) in the same venv: the offline IAM policy linter (test/int/iam-lint.int.test.ts),
#   - helm, promtool and the prometheus-operator CRDs (scripts/platform/build-ops-tools.sh, cached by version).
# A warm run only checks what is there and takes a second or two.
set -euo pipefail

MOTO_VERSION="5.2.5"
MINISTACK_VERSION="1.5.33"
AWSCLI_VERSION="1.46.3"
PARLIAMENT_VERSION="1.6.4"
CACHE="${EKS_ACCESS_PLATFORM_CACHE:-$HOME/.cache/eks-access-platform}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "install: $*" >&2; }
die() { echo "install: $*" >&2; exit 1; }
mkdir -p "$CACHE"

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else die "need root (or sudo) to run: $*"
  fi
}
apt_install() {
  command -v apt-get >/dev/null || die "$1 is missing and apt-get is not available; install $1 yourself"
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- Redis and openssl (Debian packages) ----------------------------------------------------
command -v redis-server >/dev/null || apt_install redis-server
# The Debian package enables a system-wide redis on :6379; the platform starts its own on a free port.
command -v openssl >/dev/null || apt_install openssl

# --- kube-apiserver, kubectl, etcd ----------------------------------------------------------
k8s_bin="$(bash "$here/build-k8s.sh")"

# --- aws-iam-authenticator ------------------------------------------------------------------
authenticator="$(bash "$here/build-authenticator.sh")"

# --- helm, promtool, prometheus-operator CRDs -------------------------------------------------
bash "$here/build-ops-tools.sh" >/dev/null

# --- moto + ministack -----------------------------------------------------------------------
venv="$CACHE/venv"
want="moto[server]==$MOTO_VERSION ministack==$MINISTACK_VERSION"
if [[ ! -x "$venv/bin/moto_server" || ! -x "$venv/bin/ministack" || "$(cat "$venv/.pinned" 2>/dev/null)" != "$want" ]]; then
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null \
    || die "python3 >= 3.10 is needed for moto/ministack (apt-get install python3 python3-venv)"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    apt_install python3-venv
    python3 -m venv "$venv"
  fi
  say "pip install $want"
  # shellcheck disable=SC2086 # word splitting of $want is intended: two requirements.
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want
  echo "$want" > "$venv/.pinned"
fi
# Kept apart from the pins above, so adding or bumping it never rebuilds moto's venv.
if [[ ! -x "$venv/bin/aws" || "$(cat "$venv/.pinned-awscli" 2>/dev/null)" != "awscli==$AWSCLI_VERSION" ]]; then
  say "pip install awscli==$AWSCLI_VERSION"
  # shellcheck disable=SC2086 # together with $want, so pip keeps moto's boto3/botocore consistent with it
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want "awscli==$AWSCLI_VERSION"
  echo "awscli==$AWSCLI_VERSION" > "$venv/.pinned-awscli"
fi

# The IAM linter, with its own marker like awscli's: bumping it never rebuilds moto's venv.
if [[ ! -x "$venv/bin/parliament" || "$(cat "$venv/.pinned-parliament" 2>/dev/null)" != "parliament==$PARLIAMENT_VERSION" ]]; then
  say "pip install parliament==$PARLIAMENT_VERSION"
  # shellcheck disable=SC2086 # together with $want, so pip keeps moto's boto3/botocore consistent with it
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want "awscli==$AWSCLI_VERSION" "parliament==$PARLIAMENT_VERSION"
  echo "parliament==$PARLIAMENT_VERSION" > "$venv/.pinned-parliament"
fi

say "ready: redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/'), $(basename "$k8s_bin"), $(basename "$(dirname "$authenticator")"), $want awscli==$AWSCLI_VERSION parliament==$PARLIAMENT_VERSION, helm, promtool"
say "cache: $CACHE"
