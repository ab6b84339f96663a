# Settings of the real e2e node (CLUSTER_NODE=real), sourced after test/cluster/lib.sh by up.sh, down.sh and the
# node scripts. One node, `node-a`: containerd + runc + the kubelet of the control plane's release, kube-proxy and
# CoreDNS, in a network namespace of its own. See test/cluster/README.md, "Real node".
#
# Addresses (i = CLUSTER_PORT_BASE / 100 % 250, 14 for the default base): a veth pair joins the host to the node's
# namespace; pods sit on a bridge inside that namespace. Nothing here is routed off this machine: the host only gets
# a route for the pod range through the veth, and no masquerading or forwarding is turned on in the host namespace.
#   host end of the veth      10.213.i.1/30  kube-apiserver (bound to 0.0.0.0 in this mode) and CoreDNS listen here
#   node end (the node's IP)  10.213.i.2/30  kubelet :10250, containerd's streaming server
#   pods                      10.214.i.0/24  bridge qugbr0 (gateway .1) inside the node namespace
#   services                  10.96.0.0/16   kube-proxy's iptables rules, inside the node namespace only
node_idx=$((port_base / 100 % 250))
node_name=node-a
node_netns="qug-node-$port_base"
node_veth_host="qugh$port_base"
node_host_ip="10.213.$node_idx.1"
node_ip="10.213.$node_idx.2"
pod_cidr="10.214.$node_idx.0/24"
cluster_dns="$node_host_ip"
node_dir="$run/node"
node_images="$repo/.cache/images" # scripts/images/build.mjs writes here
containerd_sock="$node_dir/containerd/containerd.sock"
apiserver_bind=0.0.0.0 # reachable from the node's namespace at $node_host_ip (and still on loopback)
apiserver_advertise=$node_host_ip
endpoint_reconciler=lease # the `kubernetes` Service gets $node_host_ip as its endpoint, which kube-proxy routes to
# Components of the real node in start order (pid files in $run, logs in $run/<name>.log).
node_components=(coredns containerd kubelet kube-proxy provisioner)
# The kubelet's cgroup root (cgroupfs driver, cgroup v1 here): a child of the memory cgroup this shell runs in, made
# in every hierarchy, so pods stay inside whatever memory limit this machine puts on the session that started them,
# and down.sh finds every pod process and cgroup in one place.
node_cgroup_parent=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup 2>/dev/null)
node_cgroup_root="${node_cgroup_parent%/}/qug-e2e-$port_base"
# The kubelet sets these kernel parameters on start (pkg/kubelet/cm/container_manager_linux.go, setupKernelTunables);
# up.sh records their values first and down.sh puts them back, so the machine is left as it was found.
node_sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes)

# in_node CMD...: runs CMD in the node's network namespace only (nsenter, not `ip netns exec`, which would also give
# it a mount namespace of its own: the kubelet's volume mounts must be seen by containerd and runc).
in_node() { nsenter --net="/run/netns/$node_netns" -- "$@"; }
