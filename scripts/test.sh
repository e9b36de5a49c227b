#!/usr/bin/env bash
# The test command (`npm test`): installs npm dependencies and the test platform, lints, type-checks and
# runs every vitest project (unit, then integration/e2e against real servers the int project starts and
# stops itself), then builds the container image and smoke-tests it (scripts/image/). Exits non-zero if any step fails; steps after a failure still run, so one run shows
# everything that is wrong. Machine-readable results: .platform/vitest-report.json and
# .platform/failed-steps (read by .ci/run).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=.platform
report="$out/vitest-report.json"
failed_steps="$out/failed-steps"
mkdir -p "$out"
rm -f "$report" "$failed_steps"
touch "$failed_steps"
# The int project's end-of-run check (test/platform/global-setup.ts) records leftover processes here.
export EKS_ACCESS_FAILED_STEPS="$PWD/$failed_steps"
failed=()
started=$SECONDS

# Everything below runs on Node 24 LTS: the machine's node when it is 24 or newer, else one fetched once
# from the npm registry (scripts/node24.sh). Child processes the tests start (bot, worker, tsx) inherit it.
node24_bin=$(bash scripts/node24.sh) || { echo "test.sh: could not obtain Node 24" >&2; echo "node 24" >> "$failed_steps"; exit 1; }
export PATH="$node24_bin:$PATH"
echo "test.sh: node $(node --version), npm $(npm --version)" >&2

step() {
  local name=$1
  shift
  echo "==> $name" >&2
  local t=$SECONDS
  if "$@"; then
    echo "==> $name: ok ($((SECONDS - t)) s)" >&2
  else
    echo "==> $name: FAILED ($((SECONDS - t)) s)" >&2
    failed+=("$name")
    echo "$name" >> "$failed_steps"
  fi
}

# npm ci only when node_modules was not installed from this exact lockfile.
npm_deps() {
  local want have
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  have=$(cat node_modules/.eks-access-lock.sha256 2>/dev/null || true)
  if [[ -d node_modules && "$want" == "$have" ]]; then
    echo "node_modules matches package-lock.json" >&2
    return 0
  fi
  if [[ -L node_modules ]]; then
    # A link to a node_modules shared with other checkouts (git worktrees): npm ci would empty the
    # directory it points to under everyone using it. Installing there is its owner's call.
    echo "test.sh: node_modules links to $(readlink node_modules), which does not match this package-lock.json;" \
      "not running npm ci through the link (it would empty the shared directory). Install there, or remove the link." >&2
    return 1
  fi
  if ! npm ci --no-audit --no-fund; then
    # A safety net, loudly reported: npm ci refuses a lockfile that names an optional dependency the
    # registry does not serve (vite 8.4's napi-windows-process-start-time did; package.json now pins
    # vite through overrides). npm install --no-save installs the locked versions all the same.
    echo "test.sh: npm ci failed; falling back to npm install --no-save (check package-lock.json)" >&2
    npm install --no-save --no-audit --no-fund || return 1
  fi
  echo "$want" > node_modules/.eks-access-lock.sha256
}

step "npm ci" npm_deps
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "test.sh: npm dependencies could not be installed; nothing else can run" >&2
  exit 1
fi
step "platform install" bash scripts/platform/install.sh
step "lint (biome)" npx biome check --diagnostic-level=error .
step "typecheck (tsc)" npx tsc --noEmit
step "tests (vitest)" npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
# The container image, built from the Dockerfile and run as it is deployed (scripts/image/): buildah on a
# locally assembled node:24-bookworm-slim, cached in the platform cache; `cli --help` as uid 10001 and
# the worker's /healthz against a real redis-server.
image_smoke() { bash scripts/image/build.sh && bash scripts/image/smoke.sh; }
step "image (build + smoke)" image_smoke

if [[ ${#failed[@]} -eq 0 ]]; then
  echo "test.sh: all steps passed in $((SECONDS - started)) s" >&2
  exit 0
fi
echo "test.sh: FAILED: $(IFS=,; echo "${failed[*]}") ($((SECONDS - started)) s)" >&2
exit 1
