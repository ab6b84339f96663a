#!/usr/bin/env bash
# Stops the e2e cluster started by up.sh: the kubelet stand-in (which stops its pods), any pod process it left,
# then the scheduler, controller-manager, apiserver and etcd. Removes the cluster state (etcd data, PKI, volumes);
# the component logs are kept in .cache/cluster/last-run-logs for a post-mortem. Idempotent.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
take_lock

[ -d "$run" ] || { log "no cluster running"; exit 0; }
# A real node (CLUSTER_NODE=real, whatever this shell says) leaves test/cluster/node's state: stop it first.
if [ -d "$run/node" ]; then
  [ "$cluster_node" = real ] || source "$repo/test/cluster/node/lib.sh"
  source "$repo/test/cluster/node/stop.sh"
fi

# The stand-in gets 15s: it SIGTERMs its pods, waits their grace period (capped), then SIGKILLs.
stop_group "$run/kubelet.pid" 15
# Pod processes run in their own process groups; the stand-in records each group so nothing outlives the cluster.
if [ -d "$run/standin/pgids" ]; then
  for f in "$run/standin/pgids"/*; do
    [ -e "$f" ] || continue
    pg=$(basename "$f")
    # Every pod process carries STANDIN_POD_IP in its environment; a recycled pid does not.
    if [ ! -e "/proc/$pg" ] || tr '\0' '\n' <"/proc/$pg/environ" 2>/dev/null | grep -q '^STANDIN_POD_IP='; then
      kill -KILL -- "-$pg" 2>/dev/null && log "killed leftover pod process group $pg"
    fi
    rm -f "$f"
  done
fi
# Scheduler, controller-manager and apiserver stop in parallel (each takes 2-3s to shut down gracefully); etcd last.
for c in kube-scheduler kube-controller-manager kube-apiserver; do
  stop_group "$run/$c.pid" 10 &
done
wait
stop_group "$run/etcd.pid" 10

rm -rf "$last_logs"
mkdir -p "$last_logs"
cp "$run"/*.log "$last_logs"/ 2>/dev/null || true
rm -rf "$run" "$volumes" "$snapshots"
log "cluster stopped (logs of this run: ${last_logs#"$repo"/})"
