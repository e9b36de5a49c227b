#!/usr/bin/env bash
# `npm run sandbox`: runs sandbox/main.ts on Node 24 (scripts/node24.sh, as `npm test` does), after
# installing the npm dependencies when this clone has none yet. `exec`: Ctrl-C goes straight to the
# sandbox, which stops everything it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
node24_bin=$(bash scripts/node24.sh)
export PATH="$node24_bin:$PATH"
if [[ ! -e node_modules/.bin/tsx ]]; then
  echo "sandbox: npm ci (first run in this clone)" >&2
  npm ci --no-audit --no-fund
fi
exec node --import tsx sandbox/main.ts "$@"
