#!/usr/bin/env bash
# The per-volume guard in two minutes, with the bundled CLI and no cluster:
#   a healthy Qdrant volume (3-peer cluster state from test/fixtures, a WAL, a collection) is archived,
#   a copy is sabotaged the way qdrant/qdrant#6229's deploy pipeline did it (raft_state.json deleted,
#   collections_meta_wal/ left), the guard refuses it with a remedy, the archive is restored, the check passes.
# Every step's exit code is checked, so this also works as a smoke test. Usage: scripts/demo.sh (or make demo)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
fixtures=$(cd "$repo/test/fixtures/raft-state/constructed" && pwd)
cli="$repo/dist/qdrant-upgrade-guard.mjs"
[ -x "$cli" ] || node scripts/bundle.mjs >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/qug-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT

bold=$'\e[1m'; dim=$'\e[2m'; reset=$'\e[0m'
[ -t 1 ] || { bold=''; dim=''; reset=''; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
# run <expected exit code> <args...>: shows the command, runs the bundle, checks the exit code.
run() {
  local want=$1; shift
  printf '%s$ qdrant-upgrade-guard %s%s\n' "$dim" "$*" "$reset"
  local rc=0
  node "$cli" "$@" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "demo: expected exit $want, got $rc" >&2
    exit 1
  fi
  printf '%s(exit %s)%s\n' "$dim" "$rc" "$reset"
}

step "1. A healthy volume of pod qdrant-0: raft state, a 2-segment consensus WAL, a collection"
storage="$work/qdrant-storage-qdrant-0"
mkdir -p "$storage/collections_meta_wal" "$storage/collections/books/0"
cp "$fixtures/v1.13.4_cluster-3peer_qdrant-0.json" "$storage/raft_state.json"
# WAL segments: deterministic bytes standing in for Raft entries (the guard never interprets them).
node -e '
const fs = require("fs"), crypto = require("crypto");
for (const [name, size] of [["open-1", 2 << 20], ["open-2", 512 << 10]]) {
  const b = Buffer.alloc(size); let h = crypto.createHash("sha256").update(name).digest();
  for (let o = 0; o < size; o += 32) { h.copy(b, o); h = crypto.createHash("sha256").update(h).digest(); }
  fs.writeFileSync(process.argv[1] + "/" + name, b);
}' "$storage/collections_meta_wal"
echo '{"params":{"vectors":{"size":4,"distance":"Cosine"}}}' >"$storage/collections/books/config.json"
run 0 inspect --storage "$storage"

step "2. Before 'helm upgrade' 1.13.4 -> 1.13.5: the per-volume step classifies and archives"
run 0 volume --storage "$storage" --from 1.13.4 --to 1.13.5 --pod qdrant-0
run 0 archives --storage "$storage"

step "3. The incident: a copy of the volume loses raft_state.json; the WAL stays"
broken="$work/qdrant-storage-qdrant-0-after-deploy"
cp -a "$storage" "$broken"
rm "$broken/raft_state.json"
echo "rm $broken/raft_state.json"

step "4. The startup check (init container, every Qdrant start) refuses it, with the remedy"
run 1 volume --storage "$broken" --check-only --pod qdrant-0

step "5. Following the remedy: restore the newest archive (Qdrant stopped)"
archive=$(ls -1 "$broken/.upgrade-guard"/raft-qdrant-0-*.tar.gz | sort | tail -n 1)
run 0 restore --archive "$archive" --storage "$broken"

step "6. The same check passes: the peer comes back as itself"
run 0 volume --storage "$broken" --check-only --pod qdrant-0

step "Bonus: a skipped minor version is refused with the path to take"
run 1 volume --storage "$storage" --from 1.11.3 --to 1.13.4 --pod qdrant-0

printf '\n%sDemo complete.%s Next: make test\n' "$bold" "$reset"
