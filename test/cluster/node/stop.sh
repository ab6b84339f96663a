# Stops the real e2e node (CLUSTER_NODE=real). Sourced by test/cluster/down.sh before the control plane goes, with
# lib.sh and node/lib.sh sourced. Idempotent: every step tolerates a part that never started. Order: the
# provisioner, kube-proxy and kubelet; every container through containerd; containerd and any shim it left; every
# process still in the node's cgroup root; mounts below the node's folder; CoreDNS; the network namespace (its veth,
# bridge, pod interfaces and iptables rules go with it); the kernel parameters the kubelet changed.
containers_sh="$repo/test/cluster/node/containers.sh"
for c in provisioner kube-proxy kubelet; do stop_group "$run/$c.pid" 10; done
if [ -S "$containerd_sock" ] && pid_alive "$run/containerd.pid"; then
  "$containers_sh" remove-all "$containerd_sock"
fi
stop_group "$run/containerd.pid" 10
# Shims outlive containerd by design (they re-parent to init); ours name our socket on their command line.
for p in $(pgrep -f -- "-address $containerd_sock" 2>/dev/null); do
  ours "$p" && kill -KILL "$p" 2>/dev/null && log "killed leftover shim $p"
done
"$containers_sh" kill-cgroup "$(cat "$node_dir/cgroup-root" 2>/dev/null || echo "$node_cgroup_root")"
# The parents of the cgroup root that start.sh made (in hierarchies where the session's cgroup is the root one).
if [ -f "$node_dir/cgroup-created" ]; then
  tac "$node_dir/cgroup-created" | while read -r d; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
fi
"$containers_sh" unmount-below "$node_dir"
stop_group "$run/coredns.pid" 5
if [ -e "/run/netns/$node_netns" ]; then
  ip netns del "$node_netns" 2>/dev/null || log "could not delete network namespace $node_netns"
fi
ip link del "$node_veth_host" 2>/dev/null || true
if [ -f "$node_dir/sysctl.orig" ]; then
  while IFS= read -r kv; do sysctl -qw "$kv" >/dev/null 2>&1 || true; done <"$node_dir/sysctl.orig"
fi
