#!/usr/bin/env bash
# `make demo-cluster`: the chart on the e2e cluster (real control plane, kubelet stand-in, Qdrant emulator), driven by
# the real Helm 4. Installs 3 Qdrant replicas, upgrades one minor with the guard, runs `helm test`, then loses one
# peer's raft_state.json and shows the upgrade being refused. Each step prints what it observed; the script exits
# non-zero if a step did not behave as described. DEMO_KEEP_CLUSTER=1 leaves the cluster running afterwards.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
helm=${HELM:-$repo/.tools/bin/helm4}
kubectl_bin="$repo/.tools/bin/kubectl"
ns=qdrant-demo
release=qdrant
from=${DEMO_FROM:-v1.13.5}
to=${DEMO_TO:-v1.14.1}
to2=${DEMO_TO2:-v1.14.2}
failed=0

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
expect() { # expect DESCRIPTION CONDITION-EXIT-CODE
  if [ "$2" -eq 0 ]; then echo "   ok: $1"; else echo "   NOT AS EXPECTED: $1"; failed=1; fi
}

[ -x "$helm" ] || die "$helm missing: run \`make tools\`"
[ -f "$repo/dist/qdrant-upgrade-guard.mjs" ] || die "the hook bundle is missing: run \`make bundle\`"

started_here=0
pid_alive "$run/kube-apiserver.pid" || started_here=1
kubeconfig_path=$("$here/up.sh") || die "up.sh failed"
export KUBECONFIG=$kubeconfig_path
kc() { "$kubectl_bin" "$@"; }
cleanup() {
  if [ "$started_here" = 1 ] && [ -z "${DEMO_KEEP_CLUSTER:-}" ]; then "$here/down.sh"; else kc delete ns "$ns" --wait=false >/dev/null 2>&1; fi
}
trap cleanup EXIT

kc delete ns "$ns" --wait=true --timeout=60s >/dev/null 2>&1
kc create ns "$ns" >/dev/null

step "helm install $release (Qdrant $from, 3 replicas) --wait"
start=$(date +%s)
"$helm" install "$release" "$repo/chart" -n "$ns" --set replicaCount=3 --set image.tag="$from" --wait --timeout 120s >/dev/null
expect "installed in $(( $(date +%s) - start ))s" $?
kc get pods,pvc -n "$ns" -o wide

step "helm upgrade to $to (pre-upgrade guard, staged rollout, post-upgrade verification)"
start=$(date +%s)
"$helm" upgrade "$release" "$repo/chart" -n "$ns" --reuse-values --set image.tag="$to" --wait --timeout 300s
expect "upgraded in $(( $(date +%s) - start ))s" $?
kc get pods -n "$ns" -o custom-columns='POD:.metadata.name,IMAGE:.spec.containers[0].image,READY:.status.containerStatuses[0].ready,NODE:.spec.nodeName'
kc get configmap "$release-upgrade-guard" -n "$ns" -o yaml 2>/dev/null | sed -n '/^data:/,/^kind:/p' | head -40

step "helm test (the same verdict as post-upgrade, once)"
"$helm" test "$release" -n "$ns" --logs --timeout 120s
expect "helm test passed" $?

step "lose qdrant-1's raft_state.json (qdrant/qdrant#6229), then try to upgrade to $to2"
pvc=$(kc get pvc -n "$ns" -o name | grep -- '-1$' | head -1)
pv=$(kc get -n "$ns" "$pvc" -o jsonpath='{.spec.volumeName}')
folder=$(kc get pv "$pv" -o jsonpath='{.spec.hostPath.path}')
echo "   ${pvc#*/} -> $pv -> $folder"
rm -f "$folder/raft_state.json"
"$helm" upgrade "$release" "$repo/chart" -n "$ns" --reuse-values --set image.tag="$to2" --wait --timeout 180s
upgrade_rc=$?
refusals=$(kc get events -n "$ns" --field-selector reason=UpgradeRefused -o custom-columns='REASON:.reason,MESSAGE:.message' --no-headers 2>/dev/null)
echo "${refusals:-   (no UpgradeRefused event)}"
[ "$upgrade_rc" -ne 0 ] && [ -n "$refusals" ]
expect "the upgrade failed with an UpgradeRefused event on the StatefulSet" $?

echo
[ "$failed" = 0 ] && echo "demo finished: every step behaved as described" || echo "demo finished with unexpected results (see NOT AS EXPECTED above)"
exit $failed
