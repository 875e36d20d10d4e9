#!/usr/bin/env bash
# Every test: types, unit and integration tests (real PostgreSQL and Redis), then the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1
# The browser tests drive Debian's Chromium; install it on a fresh machine (as root) when missing.
# A CJK font makes the Chinese UI readable in the screenshots the browser tests keep.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # The LDAP sign-in tests start their own slapd (server/testing/ldap-server.ts).
  [ -x /usr/sbin/slapd ] || missing+=(slapd)
  command -v ldapsearch >/dev/null || missing+=(ldap-utils)
  fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || missing+=(fonts-wqy-microhei)
  # The offline bundle's test (e2e/bundle.e2e.ts) watches the install for outbound connections with strace.
  command -v strace >/dev/null || missing+=(strace)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
echo "== typecheck"
npx tsc --noEmit -p .
mkdir -p test-results
rm -f test-results/flaky.txt
echo "== unit and integration tests"
npx vitest run --reporter=default --reporter=json --reporter=./scripts/flaky-reporter.ts --outputFile=test-results/unit.json
echo "== timing tests (alone: they measure the load generator's own accuracy)"
npx vitest run --config vitest.timing.config.ts --reporter=default --reporter=json --outputFile=test-results/timing.json
echo "== browser tests"
npx vitest run --config e2e/vitest.config.ts --reporter=default --reporter=json --reporter=./scripts/flaky-reporter.ts --outputFile=test-results/e2e.json
echo "== image"
npm run image:build && npm run image:test
# One closing line over both runs, in the plain form CI reads.
node -e '
const fs = require("fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of ["test-results/unit.json", "test-results/timing.json", "test-results/e2e.json"]) {
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
}
const flaky = fs.existsSync("test-results/flaky.txt") ? fs.readFileSync("test-results/flaky.txt", "utf8").trim().split("\n").length : 0;
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped` + (flaky ? ` (${flaky} passed only on a retry: test-results/flaky.txt)` : ""));
'
