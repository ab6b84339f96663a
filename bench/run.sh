#!/usr/bin/env bash
# Runs every benchmark (bench/*.bench.ts) and prints their figures. Not timed tests: nothing here fails
# a build for being slow; a benchmark that crashes makes this exit non-zero.
# Usage: bench/run.sh [name-filter]     (make bench builds the bundle first)
set -uo pipefail
cd "$(dirname "$0")/.."
filter=${1:-}
status=0
for f in bench/*.bench.ts; do
  [ -z "$filter" ] || [[ "$f" == *"$filter"* ]] || continue
  echo "=== $f"
  npx tsx "$f" || { echo "benchmark $f failed" >&2; status=1; }
done
exit $status
