#!/usr/bin/env bash
# The test command of the README and of CI: installs Bun and the packages, provisions the local
# servers it needs (or uses the ones named by DATABASE_URL, REDIS_URL, AMQP_URL, KAFKA_BROKERS),
# runs the static checks and the whole bun test suite against real servers, and ends with
# "N passed, N failed". Extra arguments are passed to `bun test` (e.g. a path filter).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS

source scripts/ensure-bun.sh || exit 1
source scripts/deps.sh || exit 1
bash scripts/infra/up.sh || { echo "infrastructure did not come up"; echo "0 passed, 1 failed"; exit 1; }
bash scripts/infra/prometheus.sh || { echo "prometheus did not install"; echo "0 passed, 1 failed"; exit 1; }
bash scripts/infra/chromium.sh || { echo "chromium did not install"; echo "0 passed, 1 failed"; exit 1; }
source scripts/infra/env.sh

passed=0
failed=0
check() {
  local name=$1
  shift
  local t=$SECONDS
  if "$@" >"/tmp/commerce-mesh-check.log" 2>&1; then
    echo "ok   $name ($((SECONDS - t))s)"
    passed=$((passed + 1))
  else
    echo "FAIL $name ($((SECONDS - t))s)"
    tail -n 60 /tmp/commerce-mesh-check.log
    failed=$((failed + 1))
  fi
}

echo "==> static checks"
check "tsc --noEmit" node_modules/.bin/tsc --noEmit
check "effect language service diagnostics" node_modules/.bin/effect-language-service diagnostics --project tsconfig.json
check "formatting (biome)" node_modules/.bin/biome format .
# bun install does not report peer conflicts; npm's resolver does, without writing anything.
check "peer dependencies (npm --strict-peer-deps)" \
  npm install --dry-run --strict-peer-deps --ignore-scripts --no-audit --no-fund --package-lock=false --loglevel=error

echo "==> bun test"
log=$(mktemp)
bun test --timeout 60000 "$@" 2>&1 | tee "$log"
bun_status=${PIPESTATUS[0]}
# bun prints " N pass" and " N fail" on stderr at the end of the run.
bun_pass=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
bun_fail=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
rm -f "$log"
if [[ $bun_status -ne 0 && $bun_fail -eq 0 ]]; then
  # bun failed before or outside a test (a load error, a crash): count it as one failure.
  bun_fail=1
fi
passed=$((passed + bun_pass))
failed=$((failed + bun_fail))

echo "==> finished in $((SECONDS - started))s (static checks count as tests in the line below)"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
