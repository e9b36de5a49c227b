#!/usr/bin/env bash
# The headless browser of test/e2e/sandbox.test.ts: Debian's chromium (playwright-core drives it; no
# browser download from a CDN), and a colour emoji font so the screenshots show eks-access's emoji.
# Idempotent: a second run only checks that both are there.
set -euo pipefail
want=()
[[ -x /usr/bin/chromium ]] || want+=(chromium)
[[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]] || want+=(fonts-noto-color-emoji)
if [[ ${#want[@]} -eq 0 ]]; then
  exit 0
fi
command -v apt-get >/dev/null || { echo "ensure-chromium: ${want[*]} missing and apt-get is not available; install them yourself" >&2; exit 1; }
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else echo "ensure-chromium: need root (or sudo) to run: $*" >&2; exit 1
  fi
}
echo "ensure-chromium: apt-get install ${want[*]} (once; well under a minute)" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
test -x /usr/bin/chromium
