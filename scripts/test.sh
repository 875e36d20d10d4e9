#!/usr/bin/env bash
# Every test: types, unit and integration tests (real PostgreSQL and Redis), then the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1
echo "== typecheck"
npx tsc --noEmit -p .
echo "== unit and integration tests"
npx vitest run
echo "== browser tests"
npx vitest run --config e2e/vitest.config.ts
