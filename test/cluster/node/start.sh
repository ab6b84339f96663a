# Starts the real e2e node (CLUSTER_NODE=real). Sourced by test/cluster/up.sh once the control plane answers, in
# place of the kubelet stand-in: it uses up.sh's spawn, wait_for, cert, write_kubeconfig, kc and log, and
# node/lib.sh's settings (sourced by lib.sh in this mode). Steps: check the tools; build missing images; the
# network namespace with its veth; certificates and kubeconfigs; CoreDNS; containerd (images imported once into
# its persistent store); the kubelet; kube-proxy; the local-volume provisioner. up.sh then waits for node-a Ready.

node_start=$(date +%s)
for b in kubelet kube-proxy coredns; do
  [ -x "$bin/$b" ] || die "$bin/$b missing: run \`CLUSTER_NODE=real make cluster-build\` (test/cluster/node/build.sh)"
done
for p in containerd containerd-shim-runc-v2 ctr runc nsenter ip iptables gcc; do
  command -v "$p" >/dev/null || die "$p missing: the real node needs Debian's containerd, runc, containernetworking-plugins, iptables (scripts/tools/system.sh node)"
done
for p in bridge host-local loopback portmap; do
  [ -x "/usr/lib/cni/$p" ] || die "/usr/lib/cni/$p missing: install Debian's containernetworking-plugins"
done
[ -f "$repo/dist/qdrant-upgrade-guard.mjs" ] || die "dist/qdrant-upgrade-guard.mjs missing: run \`make bundle\` (the hook image is made from it)"
[ -e "/run/netns/$node_netns" ] && die "network namespace $node_netns exists: a previous real node was not stopped (run down.sh)"
mkdir -p "$node_dir"/{containerd,cni/net.d,cni/ipam,kubelet,kube-proxy} "$volumes" "$snapshots"

# --- images: the hook image always (it is the bundle of this checkout), the others when missing. ---
want_images=(pause hook)
qdrant_missing=0
for v in $(QDRANT_BIN_DIR=${QDRANT_BIN_DIR:-} node --import tsx -e \
  "import('$repo/test/support/real-qdrant/binaries.ts').then(m => console.log(m.availableQdrantVersions().join(' ')))"); do
  [ -f "$node_images/qdrant-v$v/index.json" ] || qdrant_missing=1
done
log "assembling images (scripts/images/build.mjs)"
images_start=$(date +%s)
build_args=(hook)
[ -f "$node_images/pause/index.json" ] || build_args+=(pause)
[ "$qdrant_missing" = 1 ] && build_args+=(qdrant)
node --import tsx "$repo/scripts/images/build.mjs" "${build_args[@]}" >"$run/images.log" 2>&1 ||
  { cat "$run/images.log" >&2; die "building the node's images failed (log: $run/images.log)"; }
for d in "$node_images"/qdrant-v*/; do [ -f "$d/index.json" ] && want_images+=("$(basename "$d")"); done

# image_name LAYOUT / image_digest LAYOUT: the name and manifest digest build.mjs wrote into the layout's index.
image_name() { sed -n 's/.*"io.containerd.image.name":"\([^"]*\)".*/\1/p' "$1/index.json"; }
image_digest() { sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$1/index.json" | head -n1; }

# --- sysctls the kubelet will change: recorded so down.sh can put them back. ---
for s in "${node_sysctls[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$node_dir/sysctl.orig"

# --- network: a namespace for the node, a veth to the host, a route to the pod range. ---
log "network namespace $node_netns: node $node_ip, pods $pod_cidr, host end $node_host_ip"
ip netns add "$node_netns"
ip link add "$node_veth_host" type veth peer name eth0 netns "$node_netns"
ip addr add "$node_host_ip/30" dev "$node_veth_host"
ip link set "$node_veth_host" up
in_node ip link set lo up
in_node ip addr add "$node_ip/30" dev eth0
in_node ip link set eth0 up
in_node ip route add default via "$node_host_ip"
ip route add "$pod_cidr" via "$node_ip" dev "$node_veth_host"
# Forwarding between the veth and the pod bridge happens inside the node's namespace only; bridged pod-to-pod
# traffic passes iptables there so a pod reaching a Service that lands on itself (hairpin) is translated back.
in_node sysctl -qw net.ipv4.ip_forward=1
in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "net.bridge.bridge-nf-call-iptables not settable in the namespace (hairpin to a Service may fail)"
cat >"$node_dir/cni/net.d/10-e2e-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "e2e-pods",
  "plugins": [
    {
      "type": "bridge", "bridge": "qugbr0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$pod_cidr" }]], "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": "$node_dir/cni/ipam" }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

# --- certificates and kubeconfigs of the node's components (the apiserver's certificate names $node_host_ip). ---
cert "kubelet-$node_name" "/O=system:nodes/CN=system:node:$node_name" clientAuth
cert "kubelet-serving-$node_name" "/CN=$node_name" serverAuth "IP:$node_ip,DNS:$node_name"
cert kube-proxy "/CN=system:kube-proxy" clientAuth
chmod 600 "$pki"/*.key
# node_kubeconfig FILE CERTNAME: like write_kubeconfig, but the server is the apiserver as the node's namespace sees it.
node_kubeconfig() {
  write_kubeconfig "$1" "$2"
  sed -i "s|server: https://127.0.0.1:$apiserver_port|server: https://$node_host_ip:$apiserver_port|" "$1"
}
node_kubeconfig "$node_dir/kubelet.kubeconfig" "kubelet-$node_name"
node_kubeconfig "$node_dir/kube-proxy.kubeconfig" kube-proxy

# --- CoreDNS: on the host end of the veth, answering for cluster.local from the apiserver (admin credentials). ---
cat >"$node_dir/Corefile" <<EOF
.:53 {
    bind $cluster_dns
    errors
    health 127.0.0.1:$((port_base + 53))
    ready 127.0.0.1:$((port_base + 54))
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $kubeconfig e2e
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    loadbalance
}
EOF
log "starting CoreDNS on $cluster_dns:53"
spawn coredns "$bin/coredns" -conf "$node_dir/Corefile"

# --- containerd: its own socket and state; a persistent content store so images are imported once. ---
containerd_root="$cluster_dir/containerd$suffix"
mkdir -p "$containerd_root"
cat >"$node_dir/containerd/config.toml" <<EOF
version = 2
root = "$containerd_root"
state = "$node_dir/containerd/state"
[grpc]
  address = "$containerd_sock"
[ttrpc]
  address = "$containerd_sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$node_dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(image_name "$node_images/pause")"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  # This machine withholds CAP_SYS_RESOURCE even from root, so no process may lower its oom_score_adj: the
  # kubelet's -998 for pod sandboxes would kill runc's init ("can't get final child's PID from pipe: EOF").
  # containerd then uses no score below its own (0) instead.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node_dir/cni/net.d"
    max_conf_num = 1
EOF
log "starting containerd ($(containerd --version | awk '{print $3}')) in $node_netns"
spawn containerd nsenter --net="/run/netns/$node_netns" -- containerd --config "$node_dir/containerd/config.toml"
wait_for "containerd on $containerd_sock" ctr --address "$containerd_sock" version
# Containers a crashed run left in the persistent store go before the kubelet sees them.
"$repo/test/cluster/node/containers.sh" remove-all "$containerd_sock" >&2
for img in "${want_images[@]}"; do
  layout="$node_images/$img"
  name=$(image_name "$layout")
  digest=$(image_digest "$layout")
  if ctr --address "$containerd_sock" -n k8s.io images ls "name==$name" 2>/dev/null | grep -qF "$digest"; then continue; fi
  log "importing $name"
  tar -C "$layout" -c . | ctr --address "$containerd_sock" -n k8s.io images import - >/dev/null ||
    die "ctr images import of $name failed"
done
log "images ready in $(( $(date +%s) - images_start ))s"

# --- kubelet: cgroupfs under its own cgroup root, so down.sh finds every pod process and cgroup it made. ---
cat >"$node_dir/resolv.conf" <<EOF
# Pods get only the cluster DNS (the kubelet adds it); nothing upstream is reachable.
EOF
cat >"$node_dir/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $pki/kubelet-serving-$node_name.crt
tlsPrivateKeyFile: $pki/kubelet-serving-$node_name.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$containerd_sock
cgroupDriver: cgroupfs
cgroupRoot: $node_cgroup_root
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
clusterDNS: [$cluster_dns]
clusterDomain: cluster.local
resolvConf: $node_dir/resolv.conf
staticPodPath: ""
registerNode: true
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
shutdownGracePeriod: 0s
EOF
# The kubelet wants its cgroup root present in every v1 hierarchy; a new cpuset cgroup starts with no CPUs or memory
# nodes, so it gets its parent's.
echo "$node_cgroup_root" >"$node_dir/cgroup-root"
: >"$node_dir/cgroup-created" # folders made here, parents first: down.sh removes them again (when empty)
for h in /sys/fs/cgroup/*/; do
  [ "$(basename "$h")" = unified ] && continue
  d=${h%/}
  for part in ${node_cgroup_root//\// }; do
    d="$d/$part"
    [ -d "$d" ] || echo "$d" >>"$node_dir/cgroup-created"
  done
  mkdir -p "$h${node_cgroup_root#/}"
  [ -f "$h/cpuset.cpus" ] || continue
  d=${h%/}
  for part in ${node_cgroup_root//\// }; do
    d="$d/$part"
    [ -n "$(cat "$d/cpuset.cpus")" ] || cat "$(dirname "$d")/cpuset.cpus" >"$d/cpuset.cpus"
    [ -n "$(cat "$d/cpuset.mems")" ] || cat "$(dirname "$d")/cpuset.mems" >"$d/cpuset.mems"
  done
done
log "starting the kubelet ($node_name, $node_ip) in $node_netns"
spawn kubelet nsenter --net="/run/netns/$node_netns" -- "$bin/kubelet" \
  --config "$node_dir/kubelet-config.yaml" --kubeconfig "$node_dir/kubelet.kubeconfig" \
  --root-dir "$node_dir/kubelet" --cert-dir "$node_dir/kubelet/pki" \
  --hostname-override "$node_name" --node-ip "$node_ip" \
  --node-labels "topology.kubernetes.io/zone=zone-a" --v=1

# --- kube-proxy: iptables rules for Services inside the node's namespace; conntrack sysctls left alone. ---
cat >"$node_dir/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $node_dir/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $pod_cidr
hostnameOverride: $node_name
bindAddress: $node_ip
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {masqueradeAll: false, syncPeriod: 10s, minSyncPeriod: 0s}
EOF
log "starting kube-proxy in $node_netns"
spawn kube-proxy nsenter --net="/run/netns/$node_netns" -- "$bin/kube-proxy" --config "$node_dir/kube-proxy-config.yaml" --v=1

log "starting the local-volume provisioner"
spawn provisioner node --import tsx "$repo/test/cluster/node/provisioner.ts" \
  --kubeconfig "$kubeconfig" --volumes-dir "$volumes" --snapshots-dir "$snapshots" --node "$node_name"
node_started_in=$(( $(date +%s) - node_start ))
