#!/usr/bin/env bash
# Every test: types, unit and integration tests (real PostgreSQL and Redis), then the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1
# The browser tests drive Debian's Chromium; install it on a fresh machine (as root) when missing.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "== typecheck"
npx tsc --noEmit -p .
echo "== unit and integration tests"
npx vitest run
echo "== browser tests"
npx vitest run --config e2e/vitest.config.ts
