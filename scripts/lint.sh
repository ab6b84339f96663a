#!/usr/bin/env bash
# Chart and image linting (`make lint`, and the `lint` tier of scripts/test-all.sh). Runs every step, never stops
# at the first failure, prints each step's result, and at the end appends one line to $TEST_RESULTS_FILE (if set):
#   {"tier":"lint","passed":N,"failed":N,"skipped":N}      each step counts one
#   {"tier":"helm-unittest","passed":N,"failed":N}          helm-unittest's own test counts (Helm 3 plugin run)
# Exits non-zero when a step failed. Tools come from scripts/tools/linters.sh (make linters) and
# scripts/tools/helm.sh (make tools).
#
# Steps:
#   yamllint            chart YAML and lint configs (.yamllint)
#   helm lint --strict  Helm 3 and Helm 4, every chart/ci/*-values.yaml
#   ct lint             chart-testing (yamllint, Chart.yaml yamale schema, helm lint --strict per ci file), Helm 3 and 4
#   kubeconform         every render (Helm 3 and 4 x every ci file x install and upgrade, hooks and tests included),
#                       strict, against Kubernetes + VolumeSnapshot + ServiceMonitor schemas from .cache/k8s-schemas
#   rejected values     every case of test/chart/fixtures/rejected-values.yaml refused by Helm 3 and Helm 4
#   helm-unittest       chart/tests/*_test.yaml through the unittest plugin of Helm 3 and of Helm 4
#   chart README        chart/README.md equals what scripts/chart-readme.sh generates
#   hadolint            Dockerfile (skipped, with a message, only while there is no Dockerfile)
#   stands alone        no tracked file but .ci/run names the shelf beside CI's clone or its reference files, and
#                       none names an internal work item
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.tools/venv/bin:$root/.tools/bin:$PATH"
export HELM_PLUGINS="$root/.tools/helm-plugins"
K8S_SCHEMA_VERSION=${K8S_SCHEMA_VERSION:-1.34.4}
schemas=$root/.cache/k8s-schemas

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
skipped=0
unittest_passed=0
unittest_failed=0
n=0

# step NAME COMMAND...: runs one step, output kept aside and shown (tail) only on failure.
step() {
  local name=$1
  shift
  n=$((n + 1))
  local log="$work/step-$n.log"
  local t0=$SECONDS
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'PASS  %-70s %3ss\n' "$name" $((SECONDS - t0))
  else
    failed=$((failed + 1))
    printf 'FAIL  %-70s %3ss\n' "$name" $((SECONDS - t0))
    tail -n 40 "$log" | sed 's/^/      /'
  fi
}

skip() {
  skipped=$((skipped + 1))
  printf 'SKIP  %-70s (%s)\n' "$1" "$2"
}

# Steps below are functions so that `step` can time and capture them.

# Only .ci/run knows what lies beside CI's clone (optional inputs such as real Qdrant binaries). Tests, scripts,
# docs and messages may not point there, nor at the reference notes kept there: a user has neither.
standalone_refs_step() {
  local hits
  hits=$(git grep -n -E '\.\./shared|reference/(qdrant|helm)\.md' -- . ':(exclude).ci/run')
  if [ -n "$hits" ]; then
    echo "$hits"
    echo "these tracked files point outside the repository: use test/fixtures/ and docs/ instead"
    return 1
  fi
  # Nor at the project's own work items ("issue" and a small number): readers cannot look them up. Upstream issue
  # numbers have four digits or more.
  hits=$(git grep -n -i -E '\bissues? (and )?[0-9]{1,2}\b' -- . ':(exclude)test/fixtures')
  if [ -n "$hits" ]; then
    echo "$hits"
    echo "these tracked files name internal work items: say what the code does instead"
    return 1
  fi
  echo "no tracked file points outside the repository or at an internal work item"
}
need() { # tool... : fail with the fix when a tool is missing
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "$t not found: run make tools linters (scripts/tools/linters.sh)"; return 1; }
  done
}

yamllint_step() {
  need yamllint || return 1
  yamllint --strict -c .yamllint chart .yamllint ct.yaml
}

helm_lint_step() { # helm values-file
  need "$1" || return 1
  "$1" lint --strict chart -f "$2"
}

ct_lint_step() { # helm binary to put on PATH as `helm`
  need ct yamllint yamale "$1" || return 1
  local bindir="$work/ct-$1"
  mkdir -p "$bindir"
  ln -sf "$(command -v "$1")" "$bindir/helm"
  PATH="$bindir:$PATH" ct lint --config ct.yaml
}

kubeconform_step() { # helm values-file install|upgrade
  need "$1" kubeconform || return 1
  [ -d "$schemas/v$K8S_SCHEMA_VERSION-standalone-strict" ] || {
    echo "no schemas in $schemas: run scripts/tools/k8s-schemas.sh"
    return 1
  }
  local out="$work/render-$n.yaml"
  local args=(template qdrant-ci chart --namespace qdrant-ci -f "$2")
  [ "$3" = upgrade ] && args+=(--is-upgrade)
  "$1" "${args[@]}" >"$out" || return 1
  # No -ignore-missing-schemas: a kind without a schema is an error, not a skip.
  kubeconform -strict -summary -output text -kubernetes-version "$K8S_SCHEMA_VERSION" \
    -schema-location "$schemas/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$schemas/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
    "$out"
}

rejected_step() { # helm
  need "$1" node || return 1
  node test/chart/support/check-rejected.mjs "$(command -v "$1")"
}

unittest_step() { # helm
  need "$1" || return 1
  "$1" unittest --strict chart >"$work/unittest-$1.log" 2>&1
  local rc=$?
  cat "$work/unittest-$1.log"
  return $rc
}

echo "lint: chart/, Helm $(helm3 version --short 2>/dev/null || echo '?') and $(helm4 version --short 2>/dev/null || echo '?')"
step "yamllint (.yamllint)" yamllint_step
for h in helm3 helm4; do
  for f in chart/ci/*-values.yaml; do
    step "$h lint --strict -f $f" helm_lint_step "$h" "$f"
  done
done
for h in helm3 helm4; do
  step "ct lint --config ct.yaml (helm = $h)" ct_lint_step "$h"
done
for h in helm3 helm4; do
  for f in chart/ci/*-values.yaml; do
    for mode in install upgrade; do
      step "kubeconform -strict: $h template ($mode) -f $f" kubeconform_step "$h" "$f" "$mode"
    done
  done
done
for h in helm3 helm4; do
  step "rejected values refused ($h)" rejected_step "$h"
done
for h in helm3 helm4; do
  step "helm-unittest chart/tests ($h unittest plugin)" unittest_step "$h"
done
step "chart/README.md current (scripts/chart-readme.sh --check)" scripts/chart-readme.sh --check
step "the repository stands alone: no tracked file but .ci/run names the CI shelf" standalone_refs_step
if [ -f Dockerfile ]; then
  step "hadolint Dockerfile" hadolint Dockerfile
else
  skip "hadolint Dockerfile" "no Dockerfile in the repository yet"
fi

# helm-unittest's summary line: "Tests:       80 passed, 80 total" or "Tests:       2 failed, 78 passed, 80 total".
if [ -f "$work/unittest-helm3.log" ]; then
  tests_line=$(sed 's/\x1b\[[0-9;]*m//g' "$work/unittest-helm3.log" | grep -E '^Tests:' | tail -n 1)
  unittest_passed=$(grep -oE '[0-9]+ passed' <<<"$tests_line" | grep -oE '[0-9]+' || echo 0)
  unittest_failed=$(grep -oE '[0-9]+ failed' <<<"$tests_line" | grep -oE '[0-9]+' || echo 0)
  [ -n "$tests_line" ] || unittest_failed=1
fi

echo
echo "lint: $passed passed, $failed failed, $skipped skipped (steps); helm-unittest: $unittest_passed passed, $unittest_failed failed (tests)"
if [ -n "${TEST_RESULTS_FILE:-}" ]; then
  echo "{\"tier\":\"lint\",\"passed\":$passed,\"failed\":$failed,\"skipped\":$skipped}" >>"$TEST_RESULTS_FILE"
  if [ -f "$work/unittest-helm3.log" ]; then
    echo "{\"tier\":\"helm-unittest\",\"passed\":$unittest_passed,\"failed\":$unittest_failed}" >>"$TEST_RESULTS_FILE"
  fi
fi
[ "$failed" -eq 0 ]
