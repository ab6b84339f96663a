# Shared settings of the e2e cluster scripts (sourced by up.sh, down.sh, demo.sh). Everything binds to loopback.
# Ports sit in an unusual range so a developer's own cluster (6443, 2379, 10250...) never collides, and below the
# kernel's ephemeral range (32768-60999 by default; a busy cluster's outgoing connections would otherwise take a
# listening port before it is bound). Override the base with CLUSTER_PORT_BASE (keep it below 32668) to run a second copy.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cluster_dir="$repo/.cache/cluster"
bin="$cluster_dir/bin"
port_base=${CLUSTER_PORT_BASE:-26400}
# A second copy (another CLUSTER_PORT_BASE) gets its own state folders and pod addresses 127.<octet>.x.y.
if [ "$port_base" = 26400 ]; then suffix=""; pod_ip_octet=1; else suffix="-$port_base"; pod_ip_octet=$((2 + port_base / 100 % 250)); fi
run="$cluster_dir/run$suffix"
pki="$run/pki"
volumes="$cluster_dir/volumes$suffix"
snapshots="$cluster_dir/snapshots$suffix"
last_logs="$cluster_dir/last-run-logs$suffix"
kubeconfig="$run/admin.kubeconfig"
apiserver_port=$((port_base + 43))   # 26443
etcd_port=$((port_base + 79))        # 26479
etcd_peer_port=$((port_base + 80))   # 26480
kcm_port=$((port_base + 57))         # 26457
scheduler_port=$((port_base + 59))   # 26459
kubelet_port_base=$((port_base + 50)) # 26450, 26451, 26452: one per node
nodes=${CLUSTER_NODES:-node-a,node-b,node-c}
# CLUSTER_NODE=real: one real node (kubelet, containerd, runc, kube-proxy, CoreDNS; test/cluster/node) in place of
# the stand-in. Its settings (node/lib.sh) widen the apiserver to the node's veth and turn the endpoint reconciler on.
cluster_node=${CLUSTER_NODE:-standin}
apiserver_bind=127.0.0.1
apiserver_advertise=127.0.0.1
endpoint_reconciler=none

# Control-plane processes in start order; down.sh stops them in reverse.
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet)   # kubelet = the stand-in
if [ "$cluster_node" = real ]; then
  source "$repo/test/cluster/node/lib.sh"
  components=(etcd kube-apiserver kube-controller-manager kube-scheduler "${node_components[@]}")
  nodes=$node_name
elif [ "$cluster_node" != standin ]; then
  echo "cluster: CLUSTER_NODE must be standin or real, not '$cluster_node'" >&2; exit 2
fi

log() { echo "[cluster $(date +%H:%M:%S)] $*" >&2; }
die() { echo "cluster: $*" >&2; exit 1; }

# ours PID: the process was started from this checkout (its command line names the repo), so a pid file left by a
# crashed run never makes us signal an unrelated process that reused the pid.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$repo/"; }

# take_lock: one up.sh/down.sh at a time per cluster copy (a nested call from up.sh inherits the lock).
take_lock() {
  [ -n "${CLUSTER_LOCK_HELD:-}" ] && return 0
  mkdir -p "$cluster_dir"
  # Spawned components close fd 9 (see spawn in up.sh), so only a running up.sh/down.sh holds this lock.
  exec 9>"$cluster_dir/.updown.lock$suffix"
  flock -w 300 9 || die "another up.sh/down.sh holds $cluster_dir/.updown.lock$suffix for 5 minutes"
  export CLUSTER_LOCK_HELD=1
}

# pid_alive FILE: the pid in FILE names a live process of ours.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && ours "$(cat "$1")"; }

# stop_group PIDFILE GRACE: SIGTERM the process group led by the pid, SIGKILL after GRACE seconds.
# Every component is started with setsid, so its pid is its process group id and its children go with it.
stop_group() {
  local file=$1 grace=$2 pid i
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [ -e "/proc/$pid" ] && ! ours "$pid"; then
    echo "cluster: pid $pid from $file is not ours any more; not signalling it" >&2
  elif kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  else
    # The leader is gone; members of its group may still be alive.
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}
