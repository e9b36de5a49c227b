#!/usr/bin/env bash
# Starts the test platform in the background (once) and prints its environment; see docs/test-platform.md.
#   eval "$(scripts/platform/up.sh)"   # then: npx vitest run --project int   (attaches to it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/platform/install.sh >&2
exec npx tsx test/platform/cli.ts up
