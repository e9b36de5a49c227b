#!/usr/bin/env bash
# `npm run sandbox`: runs sandbox/main.ts on Node 24 (scripts/node24.sh, as `npm test` does), after
# installing the npm dependencies when this clone has none yet. `exec` here and in package.json's script
# (`exec bash sandbox/sandbox.sh`): npm's child is the sandbox's node process itself, not a shell that
# would die of the SIGTERM npm forwards (or sit on its SIGINT) and leave the sandbox running. The sandbox
# also stops when npm is gone (sandbox/main.ts), and everything it starts dies with it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
node24_bin=$(bash scripts/node24.sh)
export PATH="$node24_bin:$PATH"
if [[ ! -e node_modules/.bin/tsx ]]; then
  echo "sandbox: npm ci (first run in this clone)" >&2
  npm ci --no-audit --no-fund
fi
exec node --import tsx sandbox/main.ts "$@"
