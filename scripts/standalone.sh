#!/usr/bin/env bash
# Proves the repository stands alone: copies the committed tree (HEAD) into an empty temporary directory (nothing
# beside it, so nothing CI keeps next to its clone), then runs there what a new user runs first: `make demo` and the unit
# tier. node_modules is linked from this checkout (npm ci again would only be slow), and QDRANT_BIN_DIR is unset, so
# an optional real-Qdrant input cannot leak in.
#
# Prints both results and, when $TEST_RESULTS_FILE is set, appends one line for scripts/test-all.sh's sum:
#   {"tier":"standalone","passed":N,"failed":M}     the unit tier's counts, plus `make demo` as one test
# Exits non-zero when anything failed. Usage: scripts/standalone.sh (.ci/run calls it).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

[ -d node_modules ] || { echo "standalone: no node_modules here: run npm ci first" >&2; exit 2; }

outer=$(mktemp -d "${TMPDIR:-/tmp}/qug-standalone-XXXXXX")
trap 'rm -rf "$outer"' EXIT
copy=$outer/qdrant-upgrade-guard
mkdir "$copy"

# The committed tree, as a clone would have it (work in progress in this checkout is not part of it).
git archive --format=tar HEAD | tar -xf - -C "$copy"
ln -s "$root/node_modules" "$copy/node_modules"
# make's node_modules rule would run `npm ci` in the copy (git archive dates every file at the commit), and npm ci
# empties node_modules through the link, i.e. this checkout's. So the copy's make gets its own stamp, newer than
# package.json, and never installs.
touch -d '2000-01-01T00:00:00Z' "$copy/package.json" "$copy/package-lock.json"
touch "$copy/.standalone-node-stamp"

beside=$(ls -A "$outer")
if [ "$beside" != "qdrant-upgrade-guard" ]; then
  echo "standalone: the copy is not alone in $outer: $beside" >&2
  exit 2
fi
echo "standalone: $(git ls-tree -r --name-only HEAD | wc -l) files of $(git rev-parse --short HEAD) copied to $copy (nothing beside it)"

passed=0
failed=0

echo "standalone: make demo"
if (cd "$copy" && env -u QDRANT_BIN_DIR -u TEST_RESULTS_FILE make --no-print-directory NODE_STAMP=.standalone-node-stamp demo >"$outer/demo.log" 2>&1); then
  passed=$((passed + 1))
  echo "PASS  make demo ($(grep -c '^\$ qdrant-upgrade-guard' "$outer/demo.log") commands)"
else
  failed=$((failed + 1))
  echo "FAIL  make demo"
  tail -n 30 "$outer/demo.log" | sed 's/^/      /'
fi

echo "standalone: scripts/test-all.sh unit"
(cd "$copy" && env -u QDRANT_BIN_DIR -u TEST_RESULTS_FILE scripts/test-all.sh unit >"$outer/unit.log" 2>&1)
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$outer/unit.log" | tail -n 1)
if [ -z "$summary" ]; then
  failed=$((failed + 1))
  echo "FAIL  unit tier: no summary line"
  tail -n 30 "$outer/unit.log" | sed 's/^/      /'
else
  up=$(grep -oE '^[0-9]+' <<<"$summary")
  uf=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+')
  passed=$((passed + up))
  failed=$((failed + uf))
  echo "unit tier in the copy: $summary"
  [ "$uf" -eq 0 ] || grep -E '^\s+[0-9]+\) ' "$outer/unit.log" | head -n 20 | sed 's/^/      /'
fi

# The copy must have used this checkout's packages read-only.
if [ ! -e "$root/node_modules/.package-lock.json" ]; then
  failed=$((failed + 1))
  echo "FAIL  $root/node_modules was changed by the run in the copy"
fi

echo "standalone: $passed passed, $failed failed"
if [ -n "${TEST_RESULTS_FILE:-}" ]; then
  echo "{\"tier\":\"standalone\",\"passed\":$passed,\"failed\":$failed}" >>"$TEST_RESULTS_FILE"
fi
[ "$failed" -eq 0 ]
