#!/usr/bin/env bash
# Runs every test tier and prints one closing line `N passed, N failed` summing them all.
# Each tier appends {"tier","passed","failed"} to $TEST_RESULTS_FILE; a tier that crashes
# before reporting counts as one failure, so a broken tier can never read as green.
# Usage: scripts/test-all.sh [tier ...]   (default: every tier)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit lint chart integration e2e)
results=$(mktemp)
export TEST_RESULTS_FILE="$results"

run_tier() {
  local tier=$1; shift
  local before after
  before=$(wc -l <"$results")
  echo "=== tier: $tier"
  TEST_TIER=$tier "$@"
  local rc=$?
  after=$(wc -l <"$results")
  if [ "$rc" -ne 0 ] && [ "$after" -eq "$before" ]; then
    echo "{\"tier\":\"$tier\",\"passed\":0,\"failed\":1,\"skipped\":0}" >>"$results"
  fi
}

for tier in "${tiers[@]}"; do
  case $tier in
    unit|chart|integration|e2e) run_tier "$tier" npx mocha "test/$tier/**/*.test.ts" ;;
    lint) run_tier lint scripts/lint.sh ;;
    *) echo "unknown tier: $tier" >&2; exit 2 ;;
  esac
done

node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
let p = 0, f = 0, s = 0;
for (const r of lines) { p += r.passed; f += r.failed; s += r.skipped || 0;
  console.log(`  ${r.tier.padEnd(14)} ${r.passed} passed, ${r.failed} failed${r.skipped ? ", " + r.skipped + " skipped" : ""}`); }
console.log(`${p} passed, ${f} failed` + (s ? `, ${s} skipped` : ""));
process.exit(f > 0 || lines.length === 0 ? 1 : 0);
' "$results"
