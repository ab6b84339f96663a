#!/usr/bin/env bash
# Generates the parameter table of chart/README.md from the `## @param` comments of chart/values.yaml
# (@bitnami/readme-generator-for-helm, pinned in devDependencies).
#   scripts/chart-readme.sh           rewrite chart/README.md in place
#   scripts/chart-readme.sh --check   exit 1 (with a diff) when the committed README is not what the generator makes
set -euo pipefail
cd "$(dirname "$0")/.."
generator=node_modules/.bin/readme-generator
[ -x "$generator" ] || { echo "missing $generator: run npm ci" >&2; exit 1; }
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp chart/README.md "$tmp/README.md"
  "$generator" --values chart/values.yaml --readme "$tmp/README.md"
  if ! diff -u chart/README.md "$tmp/README.md"; then
    echo "chart/README.md is not current: run scripts/chart-readme.sh (or make readme) and commit it" >&2
    exit 1
  fi
  echo "chart/README.md is current"
else
  "$generator" --values chart/values.yaml --readme chart/README.md
  echo "chart/README.md regenerated"
fi
