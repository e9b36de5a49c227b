#!/usr/bin/env bash
# The headless browser of test/e2e/sandbox.test.ts: Debian's chromium (playwright-core drives it; no
# browser download from a CDN). Idempotent: a second run only checks that it is there.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
command -v apt-get >/dev/null || { echo "ensure-chromium: /usr/bin/chromium is missing and apt-get is not available; install Chromium yourself" >&2; exit 1; }
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else echo "ensure-chromium: need root (or sudo) to run: $*" >&2; exit 1
  fi
}
echo "ensure-chromium: apt-get install chromium (once; about a minute)" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
test -x /usr/bin/chromium
