#!/usr/bin/env bash
# Stops the test platform started by up.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
exec npx tsx test/platform/cli.ts down
