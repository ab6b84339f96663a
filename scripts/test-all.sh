#!/usr/bin/env bash
# Runs every test tier and prints one closing line `N passed, N failed` summing them all.
# Each tier appends {"tier","passed","failed"} to $TEST_RESULTS_FILE; a tier that crashes
# before reporting counts as one failure, so a broken tier can never read as green.
# Usage: scripts/test-all.sh [tier ...]   (default: every tier; `standalone` runs scripts/standalone.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit lint chart integration e2e real-qdrant real-node)
results=$(mktemp)
# Results of checks run before this script (CI's stand-alone copy, scripts/standalone.sh) join the sum.
if [ -n "${TEST_RESULTS_SEED:-}" ] && [ -f "$TEST_RESULTS_SEED" ]; then cat "$TEST_RESULTS_SEED" >>"$results"; fi
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

# The real-Qdrant tier runs the upstream server binaries found in QDRANT_BIN_DIR (README "Real Qdrant binaries").
# With none it is reported as skipped, never as passed; with QDRANT_BIN_DIR set under CI (or QDRANT_BIN_REQUIRED,
# which .ci/run sets), that is a failure.
real_qdrant_tier() {
  local have
  have=$(node --import tsx -e 'import("./test/support/real-qdrant/binaries.ts").then((m) => console.log(m.availableQdrantVersions().join(" ")))')
  if [ -z "$have" ]; then
    echo "real-Qdrant tier skipped: set QDRANT_BIN_DIR=<folder with qdrant-v<version> binaries, v<version>/qdrant folders or .xz> (see README, \"Real Qdrant binaries\")"
    if { [ -n "${CI:-}" ] || [ -n "${QDRANT_BIN_REQUIRED:-}" ]; } && [ -n "${QDRANT_BIN_DIR:-}" ]; then
      echo "CI (or QDRANT_BIN_REQUIRED) is set and QDRANT_BIN_DIR=$QDRANT_BIN_DIR holds no Qdrant binary: the tier fails"
      echo '{"tier":"real-qdrant","passed":0,"failed":1,"skipped":0,"note":"QDRANT_BIN_DIR holds no binary under CI"}' >>"$TEST_RESULTS_FILE"
      return 1
    fi
    echo '{"tier":"real-qdrant","passed":0,"failed":0,"skipped":1,"note":"tier skipped: set QDRANT_BIN_DIR, see README"}' >>"$TEST_RESULTS_FILE"
    return 0
  fi
  echo "real Qdrant binaries from ${QDRANT_BIN_DIR}: $have"
  npx mocha --timeout 300000 'test/real-qdrant/**/*.test.ts'
}

# The real node (test/cluster/README.md, "Real node"): a kubelet with containerd and runc, the chart's pods with their
# security context enforced and real Qdrant in them. Needs Debian's containerd, runc and CNI plugins
# (scripts/tools/system.sh) and Qdrant 1.13.4/1.13.5 in QDRANT_BIN_DIR; without them it is reported as skipped,
# never as passed; with REAL_NODE_REQUIRED (set by .ci/run) that is a failure. Its own cluster, on another port base.
real_node_tier() {
  local missing=()
  for p in containerd runc ctr iptables nsenter gcc; do command -v "$p" >/dev/null || missing+=("$p"); done
  [ -x /usr/lib/cni/bridge ] || missing+=("containernetworking-plugins")
  local have
  have=$(node --import tsx -e 'import("./test/support/real-qdrant/binaries.ts").then((m) => console.log(m.availableQdrantVersions().join(" ")))')
  case " $have " in *" 1.13.4 "*) ;; *) missing+=("Qdrant 1.13.4 in QDRANT_BIN_DIR") ;; esac
  case " $have " in *" 1.13.5 "*) ;; *) missing+=("Qdrant 1.13.5 in QDRANT_BIN_DIR") ;; esac
  if [ ${#missing[@]} -gt 0 ]; then
    echo "real-node tier skipped: missing ${missing[*]} (scripts/tools/system.sh installs the packages; see README, \"Real Qdrant binaries\")"
    if [ -n "${REAL_NODE_REQUIRED:-}" ]; then
      echo "REAL_NODE_REQUIRED is set: the tier fails"
      echo '{"tier":"real-node","passed":0,"failed":1,"skipped":0,"note":"prerequisites missing under REAL_NODE_REQUIRED"}' >>"$TEST_RESULTS_FILE"
      return 1
    fi
    echo '{"tier":"real-node","passed":0,"failed":0,"skipped":1,"note":"tier skipped: containerd, runc, CNI plugins or Qdrant binaries missing"}' >>"$TEST_RESULTS_FILE"
    return 0
  fi
  CLUSTER_NODE=real test/cluster/build.sh || return 1
  env CLUSTER_NODE=real CLUSTER_PORT_BASE="${REAL_NODE_PORT_BASE:-27600}" npx mocha --timeout 400000 test/e2e/real-node.test.ts
}

for tier in "${tiers[@]}"; do
  case $tier in
    unit|chart|integration|e2e) run_tier "$tier" npx mocha "test/$tier/**/*.test.ts" ;;
    lint) run_tier lint scripts/lint.sh ;;
    standalone) run_tier standalone scripts/standalone.sh ;;
    real-qdrant) run_tier real-qdrant real_qdrant_tier ;;
    real-node) run_tier real-node real_node_tier ;;
    *) echo "unknown tier: $tier" >&2; exit 2 ;;
  esac
done

node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
let p = 0, f = 0, s = 0;
for (const r of lines) { p += r.passed; f += r.failed; s += r.skipped || 0;
  console.log(`  ${r.tier.padEnd(14)} ${r.passed} passed, ${r.failed} failed${r.skipped ? ", " + r.skipped + " skipped" : ""}${r.note ? " (" + r.note + ")" : ""}`); }
console.log(`${p} passed, ${f} failed` + (s ? `, ${s} skipped` : ""));
process.exit(f > 0 || lines.length === 0 ? 1 : 0);
' "$results"
